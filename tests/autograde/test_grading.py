"""Tests of autograde.grading: the plan, tests in the grader, messages, choosing submissions, the CLI."""
from __future__ import annotations

import copy
import csv
import functools
import importlib.util
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

from autograde import checks, grading
from autograde.errors import StudentError
from dlkit import activations

HERE = Path(__file__).resolve().parent
spec = importlib.util.spec_from_file_location("tiny_course", HERE / "fixtures" / "tiny_course.py")
tiny = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tiny)

spec = importlib.util.spec_from_file_location("mutation_course", HERE / "fixtures" / "mutation_course.py")
mutation = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mutation)

LIMITS = grading.Limits(cell_timeout_s=20.0, notebook_timeout_s=120.0)


def cells_of(notebook) -> list[dict]:
    return [dict(c) for c in copy.deepcopy(notebook).cells]


def kernel_codes(steps) -> list[str]:
    return [s.code for s in steps if s.kind == "kernel"]


# ------------------------------------------------------------------------------------- the plan

def test_release_stub_keeps_the_signature():
    """Does the stub keep the def line and docstring and put the raise where the solution was?"""
    stub = grading.release_stub(tiny.SIGMOID)
    assert stub.startswith("def sigmoid(z):") and "    raise NotImplementedError()" in stub
    assert "np.exp" not in stub and grading.release_stub("x = 1") == grading.STUB


def test_tests_always_come_from_the_source():
    """Does an edited test cell in the submission leave the planned test code the source's?"""
    notebook = tiny.answered(tiny.HONEST)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            cell.source = "checks.passed('x', 2)"
    steps, _ = grading.build_plan(tiny.source_notebook(), cells_of(notebook))
    assert [s.code for s in steps if s.kind == "test"] == [tiny.SIGMOID_TEST, tiny.SCALE_TEST]


def test_missing_answer_runs_the_stub_and_says_so():
    """When an answer cell is gone, is the blank version run and the reason noted?"""
    notebook = tiny.answered(tiny.HONEST)
    notebook.cells = [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "scale"]
    steps, notes = grading.build_plan(tiny.source_notebook(), cells_of(notebook))
    scale = next(s for s in steps if s.grade_id == "scale")
    assert scale.origin == "stub" and "raise NotImplementedError()" in scale.code
    assert any("scale not found" in n for n in notes)


def test_added_cells_run_after_the_cell_they_followed():
    """Is a student's own cell run right after the graded cell it followed, and release cells not twice?"""
    notebook = tiny.with_cell_after(tiny.answered(tiny.HONEST), "sigmoid", "mine = 1")
    notebook.cells.insert(0, nbformat.v4.new_code_cell("first = 0"))
    steps, _ = grading.build_plan(tiny.source_notebook(), cells_of(notebook))
    codes = kernel_codes(steps)
    assert codes[0] == "first = 0"
    assert codes.index("mine = 1") == codes.index(tiny.HONEST["sigmoid"]) + 1
    assert codes.count("x_demo = np.arange(3.0)  # (3,)\nprint(x_demo)") == 1


def test_stripped_release_test_cells_are_not_run_as_student_code():
    """Is a test cell whose metadata was stripped (text unchanged) recognized and not run in the kernel?"""
    notebook = tiny.answered(tiny.HONEST)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            cell.metadata = {}
    steps, _ = grading.build_plan(tiny.source_notebook(), cells_of(notebook))
    assert all("checks." not in code for code in kernel_codes(steps))


def test_duplicated_grade_ids_use_the_first():
    """With an answer cell duplicated, is the first copy run and the duplication noted?"""
    notebook = tiny.answered({"sigmoid": "first = 1", "scale": tiny.HONEST["scale"]})
    at = next(i for i, c in enumerate(notebook.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "sigmoid")
    second = copy.deepcopy(notebook.cells[at])
    second.source = "second = 2"
    notebook.cells.insert(at + 1, second)
    steps, notes = grading.build_plan(tiny.source_notebook(), cells_of(notebook))
    assert "first = 1" in kernel_codes(steps) and "second = 2" not in kernel_codes(steps)
    assert any("appears more than once" in n for n in notes)


# ------------------------------------------------------------------------------------- tests in the grader

def test_free_names_see_through_lambdas_and_skip_local_names():
    """Are names read inside lambdas and comprehensions found, and names the cell assigns or imports skipped?"""
    code = "import math\nx = 1\nf = lambda z: activations.softmax(z) + x\nys = [g(i) for i in range(3)]\nh(x, k)"
    assert grading.free_names(code) == {"activations", "g", "range", "h", "k"}


def test_hidden_segments_keep_line_numbers():
    """Are the visible and hidden parts split in order, each compiled at its line in the cell?"""
    segments = grading._split_hidden(tiny.SCALE_TEST)
    assert [hidden for hidden, _ in segments] == [False, True, False]
    hidden_code = segments[1][1]
    line = tiny.SCALE_TEST.splitlines().index("x = np.array([[1.5, -2.0], [0.25, 4.0]])")
    assert hidden_code.splitlines()[line] == "x = np.array([[1.5, -2.0], [0.25, 4.0]])"


def test_dlkit_references_are_found_through_lambdas_and_partials():
    """Is the dlkit function behind a reference found whether passed directly, in a lambda or in a partial?"""
    assert grading.dlkit_functions(activations.sigmoid) == ["dlkit.activations.sigmoid"]
    assert grading.dlkit_functions(lambda x: activations.softmax(x, axis=1)) == ["dlkit.activations.softmax"]
    assert grading.dlkit_functions(functools.partial(activations.relu)) == ["dlkit.activations.relu"]
    assert grading.dlkit_functions(np.exp) == [] and grading.dlkit_functions(lambda x: x) == []


def test_check_backward_refuses_the_backward_of_the_reference():
    """While check_backward runs against dlkit's forward, is dlkit's matching backward refused?"""
    refused = grading._refused_for("check_backward", {"reference_forward": activations.relu, "forward_fn": None})
    assert refused == ["dlkit.activations.relu_backward"]


def raised(code: str, namespace: dict) -> BaseException:
    try:
        exec(compile(code, "<test t>", "exec"), namespace)
    except BaseException as exc:  # noqa: BLE001
        return exc
    raise AssertionError("no exception")


def test_hidden_failures_show_no_test_code_or_values():
    """Is a bare assert in hidden tests reported without its code, while checks' redacted messages stay?"""
    bare = raised("assert 0.7321 == 1, 'expected 0.7321'", {})
    assert "0.7321" not in grading.failure_message(bare, hidden=True)[0]
    with checks.redacted():
        redacted = raised("checks.assert_close(np.array([1.0]), np.array([0.7321]), name='y')", {"checks": checks, "np": np})
    message = grading.failure_message(redacted, hidden=True)[0]
    assert "y differs" in message and "0.7321" not in message


def test_student_errors_keep_their_traceback_apart():
    """Is a student's exception shown with its message and their traceback in its own field?"""
    error = StudentError("ValueError", "bad shape", 'File "<cell f>", line 2, in f\n')
    message, trace = grading.failure_message(error, hidden=False)
    assert message.startswith("ValueError: bad shape") and "<cell f>" in trace and "<cell f>" not in message


def with_test_cell(source, code: str, grade_id: str = "extra_test"):
    """``source`` with one more test cell (1 point) at the end."""
    meta = {"nbgrader": {"grade": True, "grade_id": grade_id, "locked": True, "points": 1, "schema_version": 3,
                         "solution": False}}
    source.cells.append(nbformat.v4.new_code_cell(code + "\nchecks.passed('extra', 1)", metadata=meta))
    return source


def test_tests_reading_data_made_in_the_kernel_are_flagged():
    """Is a test cell that reads a value (or a function) made by an ordinary cell flagged, while reading
    the student's functions, the source's imports and an earlier test's data is not?"""
    assert grading.kernel_data_problems(tiny.ASSIGNMENT, tiny.source_notebook()) == []
    source = with_test_cell(tiny.source_notebook(), "checks.assert_close(scale(x_demo, 2.0), 2 * x_demo, name='s')\n"
                                                    "checks.assert_close(scale(x, 1.0), x, name='x')")
    problems = grading.kernel_data_problems(tiny.ASSIGNMENT, source)
    assert len(problems) == 1 and problems[0].startswith(f"{tiny.ASSIGNMENT} cell 8 (extra_test): reads x_demo (data made by cell 5)")
    reads = {r.name: (r.cell, r.kind) for r in grading.reads_by_tests(source) if r.test == 8}
    assert reads == {"x_demo": (5, "value"), "scale": (6, "function"), "x": (7, "value")}


class FakeKernel:
    """Stands for a KernelClient: the names the student's kernel defines, and what the grader asked for."""

    def __init__(self, names: dict):
        self.names, self.asked, self.changed_inputs = names, [], []

    def fetch(self, names) -> dict:
        self.asked += list(names)
        return {name: self.names[name] for name in names if name in self.names}

    def release(self) -> None:
        pass


def test_a_student_cannot_shadow_an_earlier_tests_data():
    """When a test reads data that an earlier test cell made, does it get the grader's, not a name the
    student's notebook defines (here a zero x that would let a wrong scale pass)?"""
    source = with_test_cell(tiny.source_notebook(), "checks.assert_close(scale(x, 2.0), 2 * x, name='scale(x, 2)')")
    examiner = grading.Examiner(source, cell_timeout_s=10.0)
    kernel = FakeKernel({"scale": lambda x, factor: x * factor, "x": np.zeros((2, 2))})
    assert examiner.run(grading.Step("test", "scale_test", tiny.SCALE_TEST, "source", "scale_test", 1.0), kernel).passed
    kernel.names["scale"], kernel.asked = (lambda x, factor: np.zeros_like(x)), []
    result = examiner.run(grading.Step("test", "extra_test", source.cells[-1].source, "source", "extra_test", 1.0), kernel)
    assert not result.passed and "scale(x, 2) differs" in result.message and kernel.asked == ["scale"]


# ------------------------------------------------------------------------------------- whole notebooks

@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    return tiny.write_source(tmp_path_factory.mktemp("source"))


def test_solutions_earn_full_marks_and_the_release_zero(source, tmp_path):
    """Does the source graded against itself earn every point, and the blank release none (on its stubs)?"""
    full = grading.grade_notebook(source, source, limits=LIMITS)
    assert (full.status, full.score, full.max_score) == ("graded", 3.0, 3.0), full.reason
    release = tiny.write_submission(tmp_path, "blank", tiny.release_notebook())
    blank = grading.grade_notebook(source, release, limits=LIMITS)
    assert blank.score == 0.0 and all("NotImplementedError" in t.message for t in blank.tests)


def test_hidden_failure_is_graded_without_leaking(source, tmp_path):
    """Does an answer that passes the visible checks but not the hidden ones fail with a redacted message?"""
    answer = "def scale(x, factor):\n    return x * factor if factor == 3.0 else x\n"
    path = tiny.write_submission(tmp_path, "s", tiny.answered({"sigmoid": tiny.HONEST["sigmoid"], "scale": answer}))
    result = grading.grade_notebook(source, path, scratch_dir=tmp_path / "scratch", limits=LIMITS)
    scale = next(t for t in result.tests if t.grade_id == "scale_test")
    assert not scale.passed and "scale(x, a hidden factor) differs" in scale.message
    assert tiny.SECRET not in scale.message and result.score == 2.0


def test_missing_and_invalid_files_are_rows_not_errors(source, tmp_path):
    """Do a missing file and a broken file give results with a status rather than exceptions?"""
    missing = grading.grade_notebook(source, tmp_path / "nothing.ipynb")
    (tmp_path / "bad.ipynb").write_text("{")
    invalid = grading.grade_notebook(source, tmp_path / "bad.ipynb")
    assert (missing.status, invalid.status) == ("missing", "invalid")
    assert len(missing.cells) == 2 and not any(c.passed for c in invalid.cells)


@pytest.fixture(scope="module")
def graded_tests(tmp_path_factory):
    """``graded_tests(student)``: the test results of a student of ``mutation_course`` by exercise (graded once)."""
    root = tmp_path_factory.mktemp("mutation")
    source = mutation.write(root / f"{mutation.ASSIGNMENT}.ipynb")

    @functools.cache
    def grade(student: str) -> dict:
        path = mutation.write(root / student / f"{mutation.ASSIGNMENT}.ipynb", mutation.ANSWERS[student])
        result = grading.grade_notebook(source, path, limits=LIMITS)
        assert result.status == "graded", result.reason
        return {t.grade_id[: -len("_test")]: t for t in result.tests}

    return grade


def test_functions_that_leave_their_arguments_alone_pass(graded_tests):
    """Does a student whose functions make new values (never touching their arguments) earn every point?"""
    tests = graded_tests("clean")
    assert all(t.passed for t in tests.values()), [t.message for t in tests.values()]


def test_changed_arguments_are_reported_as_in_the_students_kernel(graded_tests):
    """Is a momentum that updates its dict in place, or a double that doubles its array in place, told
    exactly what the checks tell it in the student's own kernel?"""
    tests = graded_tests("mutator")
    for name, what in (("momentum", 'momentum changed its input v (first at v["vW1"][0, 0])'),
                       ("double", "double changed its input x (first at x[0, 0])")):
        in_kernel = mutation.in_kernel_message(mutation.ANSWERS["mutator"], name)
        assert what in in_kernel
        assert not tests[name].passed and tests[name].message.splitlines()[0] == in_kernel


def test_a_dict_entry_replaced_by_another_shape_is_reported(graded_tests):
    """Is a dict entry that the student's function replaced (by an array of another shape) seen by the check?"""
    tests = graded_tests("reshaper")
    in_kernel = mutation.in_kernel_message(mutation.ANSWERS["reshaper"], "momentum")
    assert 'momentum changed its input v (first at v["vW1"])' in in_kernel
    assert tests["momentum"].message.splitlines()[0] == in_kernel and tests["double"].passed


def test_a_change_to_the_tests_own_data_fails_the_test(graded_tests):
    """When a function zeroes its argument so that an expected value computed after the call matches,
    does the test fail on the change (where the student's own kernel would let it pass)?"""
    assert mutation.in_kernel_message(mutation.ANSWERS["mutator"], "total") == ""
    tests = graded_tests("mutator")
    assert not tests["total"].passed and tests["total"].message.startswith("total changed its input x")


# ------------------------------------------------------------------------------------- choosing submissions

def make(path: Path, text: str = "{}") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_latest_timestamp_wins_then_resubmission_folders(tmp_path):
    """Among a student's folders, does the latest nbgrader timestamp win, and without one the resubmission?"""
    sources = {"01_tiny": tmp_path / "01_tiny.ipynb"}
    subs = tmp_path / "subs"
    make(subs / "ann" / "01_tiny" / "01_tiny.ipynb")
    make(subs / "ann" / "01_tiny" / "timestamp.txt", "2024-03-02 10:00:00.000000 UTC")
    make(subs / "ann" / "01_tiny_2" / "01_tiny.ipynb")
    make(subs / "ann" / "01_tiny_2" / "timestamp.txt", "2024-03-01 09:00:00.000000 UTC")
    make(subs / "ben" / "01_tiny" / "01_tiny.ipynb")
    make(subs / "ben" / "01_tiny (1)" / "01_tiny.ipynb")
    make(subs / "ben" / "notes" / "x.ipynb")
    tasks, log = grading.find_submissions(subs, sources)
    chosen = {t.student: t.notebook.parent.name for t in tasks}
    assert chosen == {"ann": "01_tiny", "ben": "01_tiny (1)"}
    assert any("ben/notes: no source notebook" in line for line in log)


def test_notebook_choice_inside_a_folder(tmp_path):
    """Is the exact name preferred, a single renamed notebook taken, and several others refused as missing?"""
    sources = {"01_tiny": tmp_path / "01_tiny.ipynb"}
    subs = tmp_path / "subs"
    make(subs / "a" / "01_tiny" / "01_tiny.ipynb")
    make(subs / "a" / "01_tiny" / "other.ipynb")
    make(subs / "b" / "01_tiny" / "Untitled.ipynb")
    make(subs / "c" / "01_tiny" / "one.ipynb")
    make(subs / "c" / "01_tiny" / "two.ipynb")
    (subs / "d").mkdir()
    tasks = {t.student: t for t in grading.find_submissions(subs, sources)[0]}
    assert tasks["a"].notebook.name == "01_tiny.ipynb" and "ignored other.ipynb" in tasks["a"].notes
    assert tasks["b"].notebook.name == "Untitled.ipynb" and "renamed" in tasks["b"].notes[0]
    assert tasks["c"].notebook is None and "none named 01_tiny.ipynb" in tasks["c"].missing
    assert tasks["d"].notebook is None


# ------------------------------------------------------------------------------------- command line

def test_grade_command_writes_grades_feedback_and_log(source, tmp_path):
    """Does ``python -m autograde grade`` grade a class folder and write the three outputs?"""
    subs, out = tmp_path / "subs", tmp_path / "out"
    tiny.write_submission(subs, "ann", tiny.answered(tiny.HONEST))
    (subs / "bob" / tiny.ASSIGNMENT).mkdir(parents=True)
    done = subprocess.run([sys.executable, "-m", "autograde", "grade", "--submissions", str(subs), "--out", str(out),
                           "--source", str(source.parent), "--jobs", "2"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    with open(out / "grades.csv", newline="") as handle:
        rows = {r["student_id"]: r for r in csv.DictReader(handle)}
    assert (rows["ann"]["score"], rows["ann"]["status"], rows["bob"]["status"]) == ("3", "graded", "missing")
    assert (out / "feedback" / "ann" / f"{tiny.ASSIGNMENT}.html").exists() and (out / "grading.log").exists()


def test_grade_command_refuses_bad_folders(tmp_path):
    """Does the command exit with status 2 when the submissions folder does not exist?"""
    done = subprocess.run([sys.executable, "-m", "autograde", "grade", "--submissions", str(tmp_path / "none"),
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "not a directory" in done.stderr
