"""Tests of the student self-check, ``python -m autograde check course/NN_name.ipynb``, run as a student runs it."""
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograde import notebooks as nbs
from autograde import selfcheck

REPO = Path(__file__).resolve().parents[2]
COURSE = REPO / "course" / "01_numpy_basics.ipynb"
SOURCE = REPO / "solutions" / "01_numpy_basics.ipynb"

pytestmark = pytest.mark.lesson01


def run_check(path):
    return subprocess.run([sys.executable, "-m", "autograde", "check", str(path)], cwd=REPO, capture_output=True,
                          text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(REPO)})


def rows(stdout: str) -> dict[str, tuple[str, str]]:
    """exercise -> (points, result) from the printed table."""
    table = {}
    for line in stdout.splitlines()[2:]:
        match = re.match(r"^(\S+)\s+(\d+(?:\.\d+)?/\d+(?:\.\d+)?)\s*(.*)$", line)
        if match:
            table[match[1]] = (match[2], match[3])
    return table


def student_version(tmp_path, edits: dict[str, tuple[str, str]]) -> Path:
    """The course notebook with every exercise solved, except ``edits``: grade_id -> (old, new) text."""
    solutions = {nbs.grade_id(c): c.source for c in nbs.read_notebook(SOURCE).cells if nbs.is_solution_cell(c)}
    nb = nbs.read_notebook(COURSE)
    for cell in nb.cells:
        if nbs.is_solution_cell(cell):
            code = re.sub(r"\n\s*### (BEGIN|END) SOLUTION", "", solutions[nbs.grade_id(cell)])
            old, new = edits.get(nbs.grade_id(cell), ("", ""))
            cell.source = code.replace(old, new) if old else code
    path = tmp_path / COURSE.name
    nbformat.write(nb, str(path))
    return path


@pytest.mark.slow
def test_blank_course_notebook_scores_zero_and_says_what_is_missing():
    """Does the self-check of the blank release exit 0 and show 0 points with the stub's message for each exercise?"""
    result = run_check(COURSE)
    assert result.returncode == 0, result.stderr
    table = rows(result.stdout)
    assert list(table) == ["sigmoid", "sigmoid_derivative", "image2vector", "normalize_rows", "softmax", "L1",
                           "L2", "total"]
    assert table["total"][0] == "0/9"
    assert table["softmax"] == ("0/2", "NotImplementedError: softmax is not implemented yet: this exercise is still "
                                       "a stub. Replace `raise NotImplementedError()` with your code and run its "
                                       "cell again.")


@pytest.mark.slow
def test_two_wrong_answers_get_specific_messages(tmp_path):
    """With a sign error in sigmoid and no keepdims in normalize_rows, do both rows say what is wrong, the rest pass?"""
    path = student_version(tmp_path, {"sigmoid": ("np.exp(-z)", "np.exp(z)"),
                                      "normalize_rows": ("axis=1, keepdims=True", "axis=1")})
    result = run_check(path)
    assert result.returncode == 0, result.stderr
    table = rows(result.stdout)
    assert table["total"][0] == "6/9"
    assert table["sigmoid"][0] == "0/1" and "check the sign of the exponent" in table["sigmoid"][1]
    assert table["normalize_rows"] == ("0/2", "ValueError: operands could not be broadcast together with shapes "
                                              "(2,3) (2,)")
    assert table["softmax"] == ("2/2", "passed")


def test_first_line_skips_a_bare_type_name():
    """Does the table show the explanation after a bare exception name, and a one-line message as it is?"""
    assert selfcheck.first_line("NotImplementedError\nf is a stub.") == "NotImplementedError: f is a stub."
    assert selfcheck.first_line("f(x) has shape (2,) but expected (2, 1).\nmore") == \
        "f(x) has shape (2,) but expected (2, 1)."
    assert selfcheck.first_line("") == "failed"
