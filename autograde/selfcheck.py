"""Student self-check: run a course notebook as the grader will, visible tests only (``check``).

``python -m autograde check course/NN_name.ipynb`` grades the notebook through the grading engine
with the course notebook as its own source, so the student's code runs in a fresh kernel exactly as
in the real grading, and prints one row per exercise: points earned, points possible, and the first
line of the first failure. Failing tests are a result, not an error: the exit status is 0 whenever
the notebook could be checked, and 2 for usage errors (no such file, not a course notebook).
"""
from __future__ import annotations

import sys
from pathlib import Path

from autograde import notebooks as nbs


class UsageError(Exception):
    """The notebook given cannot be self-checked; the message says why."""


def course_notebook(path: Path):
    """Read ``path`` and make sure it is a student notebook of the course; raise UsageError if not."""
    if not path.is_file():
        raise UsageError(f"{path}: no such notebook")
    if path.suffix != ".ipynb":
        raise UsageError(f"{path}: not a notebook (expected course/NN_name.ipynb)")
    try:
        nb = nbs.read_notebook(path)
    except Exception as error:  # nbformat raises several types for broken files
        raise UsageError(f"{path}: not a readable notebook ({type(error).__name__}: {error})") from None
    tests = [cell for cell in nb.cells if nbs.is_test_cell(cell)]
    if not tests:
        raise UsageError(f"{path}: not a course notebook: it has no autograded test cells")
    if any(nbs.HIDDEN_TESTS_MARKERS[0] in cell.source for cell in tests):
        raise UsageError(f"{path}: this is an instructor notebook with hidden tests; check its release in course/")
    return nb


def exercise_names(nb) -> dict[str, str]:
    """grade_id of each test cell -> the exercise name its ``checks.passed`` line gives."""
    names = {}
    for cell in nb.cells:
        if nbs.is_test_cell(cell):
            passed = nbs.passed_call(cell.source)
            names[nbs.grade_id(cell)] = passed[0] if passed else nbs.grade_id(cell)
    return names


def first_line(text: str | None) -> str:
    """The first non-blank line of a failure message, with the next one when it is only a type name.

    >>> first_line("NotImplementedError\\nsigmoid is not implemented yet.\\n(while checking ...)")
    'NotImplementedError: sigmoid is not implemented yet.'
    """
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if not lines:
        return "failed"
    if len(lines) > 1 and lines[0].isidentifier():
        return f"{lines[0]}: {lines[1]}"
    return lines[0]


def table(rows: list[tuple[str, str, str]]) -> str:
    """Rows of (exercise, points, result) as aligned text under a header."""
    rows = [("exercise", "points", "result")] + rows
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    return "\n".join(f"{row[0].ljust(widths[0])}  {row[1].rjust(widths[1])}  {row[2]}".rstrip() for row in rows)


def report(path: Path, nb, result) -> str:
    """The self-check report of a grading result."""
    names = exercise_names(nb)
    rows = []
    for test in result.tests:
        outcome = "passed" if test.passed else first_line(test.message)
        rows.append((names.get(test.grade_id, test.grade_id), f"{test.points:g}/{test.max_points:g}", outcome))
    rows.append(("total", f"{result.score:g}/{result.max_score:g}", ""))
    lines = [f"{path.name}: run from top to bottom in a fresh kernel, as the grader will (visible tests only)",
             table(rows)]
    if result.status != "graded":
        lines.append(f"note ({result.status}): {first_line(result.reason)}")
    lines.append("The grader also runs hidden tests: passing these is necessary, not always sufficient.")
    return "\n".join(lines)


def run(path: Path) -> int:
    """Self-check one course notebook and print the report; the exit status."""
    path = Path(path)
    try:
        nb = course_notebook(path)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    from autograde import grading

    result = grading.grade_notebook(path, path)
    print(report(path, nb, result))
    return 0


def register(subparsers) -> None:
    """Add the ``check`` subcommand."""
    parser = subparsers.add_parser(
        "check", help="run a course notebook as the grader will and print a score table",
        description=__doc__.split("\n\n")[0])
    parser.add_argument("notebook", type=Path, help="a student notebook, e.g. course/01_numpy_basics.ipynb")
    parser.set_defaults(func=lambda args: run(args.notebook))
