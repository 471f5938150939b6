"""Tests of autograde.release: generation through nbgrader, validation, leaks, --check, safe failure."""
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograde import notebooks as nbs
from autograde import release

REPO = Path(__file__).resolve().parents[2]

DOUBLE_TEST = """\
checks.assert_close(double(np.array([1.0, 2.0])), np.array([2.0, 4.0]), name="double(x)")
### BEGIN HIDDEN TESTS
checks.assert_close(double(np.array([1.2345, -3.0])), np.array([2.469, -6.0]), name="double(x)")
### END HIDDEN TESTS
checks.passed("double", 2)"""

SQUARES_TEST = """\
checks.assert_close(sum_of_squares(np.array([3.0, 4.0])), 25.0, name="sum_of_squares(x)")
### BEGIN HIDDEN TESTS
checks.assert_close(sum_of_squares(np.array([0.5, -1.5, 2.0])), 6.5, name="sum_of_squares(x)")
### END HIDDEN TESTS
checks.passed("sum_of_squares", 1)"""


def _cell(source, **nbgrader):
    cell = new_code_cell(source)
    if nbgrader:
        cell.metadata["nbgrader"] = {"schema_version": 3, "grade": False, "solution": False, "locked": False,
                                     **nbgrader}
    return cell


def tiny_source():
    """A two-exercise source notebook in the course's format."""
    nb = new_notebook(cells=[
        _cell("import numpy as np\nfrom autograde import checks", grade_id="imports", locked=True),
        new_markdown_cell("# Tiny\nWrite `double` and `sum_of_squares`."),
        _cell('def double(x):\n    """Twice x; x : ndarray of shape (n,)."""\n    ### BEGIN SOLUTION\n'
              '    doubled = 2 * x\n    return doubled\n    ### END SOLUTION', grade_id="double", solution=True),
        _cell(DOUBLE_TEST, grade_id="double_test", grade=True, locked=True, points=2),
        _cell('def sum_of_squares(x):\n    """Sum of x_i ** 2; x : ndarray of shape (n,)."""\n'
              '    ### BEGIN SOLUTION\n    total = float(np.dot(x, x))\n    return total\n    ### END SOLUTION',
              grade_id="sum_of_squares", solution=True),
        _cell(SQUARES_TEST, grade_id="sum_of_squares_test", grade=True, locked=True, points=1),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"tiny-{index}"
    return nb


def write_solutions(root: Path, nb=None) -> Path:
    solutions = root / "solutions"
    solutions.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb or tiny_source(), str(solutions / "01_tiny.ipynb"))
    return solutions


def run_cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "autograde", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "PYTHONPATH": str(REPO)})


@pytest.fixture(scope="module")
def generated_paths(tmp_path_factory):
    """The tiny source generated once through nbgrader: (source path, release path)."""
    root = tmp_path_factory.mktemp("generated")
    solutions = write_solutions(root)
    out = root / "out"
    out.mkdir()
    assert release.generate(release.find_sources(solutions), out) == {}
    return solutions / "01_tiny.ipynb", out / "01_tiny.ipynb"


@pytest.fixture
def generated(generated_paths):
    """Fresh copies of (source notebook, release notebook), free to modify."""
    return tuple(nbs.read_notebook(path) for path in generated_paths)


def test_release_has_stubs_locked_tests_kernelspec_and_no_hidden_tests(generated):
    """Does the generated release carry stubs, locked visible tests, a python3 kernelspec and no outputs?"""
    _, nb = generated
    assert nb.metadata["kernelspec"]["name"] == "python3"
    solutions = [c for c in nb.cells if nbs.is_solution_cell(c)]
    tests = [c for c in nb.cells if nbs.is_test_cell(c)]
    assert [nbs.grade_id(c) for c in solutions] == ["double", "sum_of_squares"]
    assert all("raise NotImplementedError()" in c.source and "2 * x" not in c.source for c in solutions)
    assert all(c.metadata["editable"] is False and "HIDDEN" not in c.source for c in tests)
    assert "checks.passed(\"double\", 2)" in tests[0].source
    assert release.static_problems("01_tiny", *generated) == []


def test_generation_is_deterministic(generated, tmp_path):
    """Does generating the same source twice give the same notebook (nbgrader checksums included)?"""
    solutions = write_solutions(tmp_path)
    assert release.generate(release.find_sources(solutions), tmp_path) == {}
    assert json.loads(nbformat.writes(nbs.read_notebook(tmp_path / "01_tiny.ipynb"))) == \
        json.loads(nbformat.writes(generated[1]))


def test_hidden_test_copied_into_markdown_is_a_leak(generated):
    """Is a hidden test line pasted into a markdown cell reported, naming the notebook and the cell?"""
    source, nb = generated
    leaked = new_markdown_cell('Hint: `checks.assert_close(double(np.array([1.2345, -3.0])), '
                               'np.array([2.469, -6.0]), name="double(x)")`')
    source.cells.insert(1, leaked)
    nb.cells.insert(1, leaked)
    problems = release.content_leaks("01_tiny", source, nb)
    assert any("01_tiny" in p and "'double_test'" in p and "1.2345" in p for p in problems)
    assert any("hidden test value 2.469" in p for p in problems)


def test_solution_in_release_is_a_leak(generated):
    """Is a solution pasted into the release (here into a markdown cell) reported?"""
    source, nb = generated
    pasted = new_markdown_cell("```python\ndoubled = 2 * x\nreturn doubled\n```")
    source.cells.insert(1, pasted)
    nb.cells.insert(1, pasted)
    assert release.content_leaks("01_tiny", source, nb) == [
        "01_tiny: leak of the solution of cell 'double' into the release: 'doubled = 2 * x'; 'return doubled'"]


def test_one_line_of_a_longer_solution_is_a_hint_not_a_leak(generated):
    """Is one line of a two-line solution, given in the instructions, accepted as a hint?"""
    source, nb = generated
    hint = new_markdown_cell("Start with `doubled = 2 * x`.")
    source.cells.insert(1, hint)
    nb.cells.insert(1, hint)
    assert release.content_leaks("01_tiny", source, nb) == []


def test_line_shown_in_public_code_is_not_a_secret():
    """Is a solution line that the source also shows in its public code (a docstring) not a secret?"""
    source = tiny_source()
    source.cells[4].source = source.cells[4].source.replace('"""Sum', '"""total = float(np.dot(x, x)). Sum')
    solutions = dict(release._secrets(source).solutions)
    assert solutions == {"double": ["doubled = 2 * x", "return doubled"], "sum_of_squares": ["return total"]}


def test_test_reading_data_made_by_an_ordinary_cell_is_reported(generated):
    """Is a test cell that takes its expected data from the student's kernel a release problem?"""
    source, released = generated
    source.cells.insert(1, _cell("expected_double = np.array([2.0, 4.0])"))
    source.cells[4].source = source.cells[4].source.replace("np.array([2.0, 4.0]), name", "expected_double, name", 1)
    problems = release.static_problems("01_tiny", source, released)
    assert any("reads expected_double" in problem and "01_tiny cell 4" in problem for problem in problems), problems


def test_structure_problems_name_the_cell():
    """Are wrong points, duplicate grade ids and an untested solution reported with the cell?"""
    nb = tiny_source()
    nb.cells[3].source = nb.cells[3].source.replace('checks.passed("double", 2)', 'checks.passed("double", 3)')
    nb.cells[5].metadata["nbgrader"]["grade_id"] = "double"
    nb.cells.append(_cell("def extra():\n    ### BEGIN SOLUTION\n    pass\n    ### END SOLUTION",
                          grade_id="extra", solution=True))
    problems = release.structure_problems("01_tiny", nb)
    assert "01_tiny cell 3 (double_test): checks.passed gives 3 points but the cell is worth 2" in problems
    assert "01_tiny cell 5 (double): grade_id 'double' is also used by cell 2" in problems
    assert "01_tiny cell 6 (extra): no test cell follows this solution cell" in problems


def test_test_cell_must_end_with_passed():
    """Is a test cell whose last statement is not checks.passed(name, points) reported?"""
    nb = tiny_source()
    nb.cells[5].source += "\nprint('done')"
    assert release.structure_problems("01_tiny", nb) == [
        "01_tiny cell 5 (sum_of_squares_test): the last statement must be checks.passed(name, points)"]


def test_test_cell_without_visible_checks_is_reported():
    """Is a test cell whose checks are all hidden reported (the student would get no feedback)?"""
    nb = tiny_source()
    nb.cells[5].source = "### BEGIN HIDDEN TESTS\n" + SQUARES_TEST.replace("### BEGIN HIDDEN TESTS\n", "")
    assert release.structure_problems("01_tiny", nb) == [
        "01_tiny cell 5 (sum_of_squares_test): no visible check before checks.passed: the student would get "
        "no feedback"]


def test_file_of_solutions_in_course_is_a_leak(tmp_path):
    """Is a data file of solutions/ found in course/ (by path or by content) reported?"""
    solutions, course = tmp_path / "solutions", tmp_path / "course"
    (solutions / "data").mkdir(parents=True)
    (solutions / "data" / "reference.npz").write_bytes(b"reference outputs")
    (solutions / "01_tiny.ipynb").write_text("{}")
    (course / "data").mkdir(parents=True)
    (course / "data" / "reference.npz").write_bytes(b"other bytes, same name")
    (course / "copy.bin").write_bytes(b"reference outputs")
    (course / "01_tiny.ipynb").write_text('{"cells": []}')
    assert release.file_leaks(solutions, course, ["01_tiny.ipynb"]) == [
        "course/copy.bin: a copy of solutions/data/reference.npz",
        "course/data/reference.npz: a file of solutions/ in the release folder",
    ]


@pytest.mark.slow
def test_release_end_to_end_full_marks_for_solutions_zero_for_the_blank(tmp_path):
    """Does `release` grade the solutions 3/3 and the blank release 0/3, then write course/?"""
    write_solutions(tmp_path)
    result = run_cli("release", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[1].split() == ["01_tiny", "2", "3", "3/3", "0/3", "updated"]
    assert "wrote course/01_tiny.ipynb" in result.stdout
    assert nbs.read_notebook(tmp_path / "course" / "01_tiny.ipynb").metadata["kernelspec"]["name"] == "python3"


def _grading_problems(tmp_path, nb) -> list[str]:
    solutions = write_solutions(tmp_path, nb)
    assert release.generate(release.find_sources(solutions), tmp_path) == {}
    report = release.NotebookReport("01_tiny")
    release.grading_problems(report, solutions / "01_tiny.ipynb", tmp_path / "01_tiny.ipynb")
    return report.problems


@pytest.mark.slow
def test_a_vacuous_test_and_a_broken_test_are_caught(tmp_path):
    """Is a test that the blank release passes reported, and one that fails for another reason than the stub?"""
    nb = tiny_source()
    nb.cells[3].source = 'checks.passed("double", 2)'
    nb.cells[5].source = SQUARES_TEST.replace("sum_of_squares(np.array([3.0, 4.0]))", "sum_of_square(np.array([3.0]))")
    problems = _grading_problems(tmp_path, nb)
    assert "01_tiny double_test: the blank release passes this test" in problems
    assert any(p.startswith("01_tiny sum_of_squares_test: the solution fails its own test: sum_of_square is not defined")
               for p in problems)
    assert any(p.startswith("01_tiny sum_of_squares_test: the blank release fails for another reason than its stub")
               for p in problems)


@pytest.mark.slow
def test_check_catches_a_stale_course_and_a_failed_release_changes_nothing(tmp_path):
    """Does --check fail on a stale course/, and does a release with a planted leak leave course/ alone?"""
    solutions = write_solutions(tmp_path)
    (solutions / "reference.npz").write_bytes(b"secret reference values")  # never copied
    course = tmp_path / "course"
    course.mkdir()
    assert release.generate(release.find_sources(solutions), course) == {}
    assert not (course / "reference.npz").exists()
    ok = run_cli("release", "--check", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "01_tiny" in ok.stdout and "up to date" in ok.stdout

    changed = tiny_source()
    hidden_line = DOUBLE_TEST.splitlines()[2]
    changed.cells[1].source += f"\nA planted leak: `{hidden_line}`"
    nbformat.write(changed, str(solutions / "01_tiny.ipynb"))
    before = (course / "01_tiny.ipynb").read_bytes()
    stale = run_cli("release", "--check", cwd=tmp_path)
    assert stale.returncode == 1
    assert "course/01_tiny.ipynb: differs from what solutions/ generates" in stale.stderr
    failed = run_cli("release", cwd=tmp_path)
    assert failed.returncode == 1
    assert "error: 01_tiny: leak of a hidden test line of cell 'double_test' into the release" in failed.stderr
    assert "left untouched" in failed.stderr
    assert (course / "01_tiny.ipynb").read_bytes() == before
    assert sorted(p.name for p in course.iterdir()) == ["01_tiny.ipynb"]


@pytest.mark.slow
def test_course_is_up_to_date_with_solutions():
    """Is the committed course/ exactly what solutions/ generates (`make release-check`)?"""
    result = run_cli("release", "--check", cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_naming_one_notebook_leaves_the_other_releases_legitimate(tmp_path):
    """After a full release, does naming one notebook accept the other notebooks' releases in course/?"""
    solutions = write_solutions(tmp_path)
    nbformat.write(tiny_source(), str(solutions / "02_tiny.ipynb"))
    assert run_cli("release", cwd=tmp_path).returncode == 0
    result = run_cli("release", "--check", "02_tiny", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "a file of solutions/" not in result.stderr
