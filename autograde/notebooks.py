"""Reading course notebooks: nbgrader cell metadata and the marked regions of a cell's source."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat

SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN_TESTS_MARKERS = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
NOTEBOOK_NAME = re.compile(r"^\d\d_[a-z0-9_]+$")


def read_notebook(path: str | Path) -> nbformat.NotebookNode:
    """Read a notebook file as nbformat 4 (raises on invalid JSON or schema)."""
    return nbformat.read(str(path), as_version=4)


def nbgrader_metadata(cell) -> dict:
    """The cell's ``metadata.nbgrader`` dictionary, empty when the cell has none."""
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def is_solution_cell(cell) -> bool:
    """Is this a code cell that the student completes (nbgrader ``solution``, not ``grade``)?"""
    meta = nbgrader_metadata(cell)
    return cell.cell_type == "code" and bool(meta.get("solution")) and not meta.get("grade")


def is_test_cell(cell) -> bool:
    """Is this a locked autograder test cell (nbgrader ``grade`` code cell, not a solution)?"""
    meta = nbgrader_metadata(cell)
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def grade_id(cell) -> str | None:
    """The nbgrader ``grade_id`` of a cell, or None."""
    return nbgrader_metadata(cell).get("grade_id")


def cell_points(cell) -> float:
    """The points an autograder test cell is worth (0.0 for any other cell)."""
    return float(nbgrader_metadata(cell).get("points", 0.0)) if is_test_cell(cell) else 0.0


def cell_label(notebook_name: str, index: int, cell) -> str:
    """A name for a cell in messages: ``01_numpy_basics cell 7 (sigmoid_test)``."""
    gid = grade_id(cell)
    return f"{notebook_name} cell {index}" + (f" ({gid})" if gid else "")


def split_regions(source: str, markers: tuple[str, str]) -> tuple[list[str], str]:
    """Split a cell's source into the regions between ``markers`` and the text outside them.

    Parameters
    ----------
    source : str
        The cell source.
    markers : tuple of str
        The begin and end marker lines, e.g. ``SOLUTION_MARKERS``.

    Returns
    -------
    regions : list of str
        The text of each marked region, without its marker lines.
    outside : str
        The remaining lines (marker lines dropped).

    Raises
    ------
    ValueError
        When markers are nested or a region is not closed.
    """
    begin, end = markers
    regions, outside, current = [], [], None
    for line in source.splitlines():
        if begin in line:
            if current is not None:
                raise ValueError(f"nested {begin!r}")
            current = []
        elif end in line:
            if current is None:
                raise ValueError(f"{end!r} without {begin!r}")
            regions.append("\n".join(current))
            current = None
        elif current is not None:
            current.append(line)
        else:
            outside.append(line)
    if current is not None:
        raise ValueError(f"{begin!r} is never closed by {end!r}")
    return regions, "\n".join(outside)


def passed_call(source: str) -> tuple[str, float] | None:
    """``(name, points)`` when the last statement of ``source`` is ``checks.passed("name", points)``.

    >>> passed_call('checks.assert_close(f(1), 2, name="f")\\nchecks.passed("f", 2)')
    ('f', 2.0)
    >>> passed_call('checks.passed("f", points=0.5)')
    ('f', 0.5)
    >>> passed_call('checks.passed("f", 2)\\nprint("done")') is None
    True
    """
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return None
    call = body[-1].value if body and isinstance(body[-1], ast.Expr) else None
    if not (isinstance(call, ast.Call) and ast.unparse(call.func) == "checks.passed"):
        return None
    arguments = dict(zip(("name", "points"), call.args)) | {k.arg: k.value for k in call.keywords}
    if set(arguments) != {"name", "points"} or len(call.args) + len(call.keywords) != 2:
        return None
    if not all(isinstance(a, ast.Constant) for a in arguments.values()):
        return None
    name, points = arguments["name"].value, arguments["points"].value
    if not isinstance(name, str) or isinstance(points, bool) or not isinstance(points, (int, float)):
        return None
    return name, float(points)
