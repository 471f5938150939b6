"""Release: generate course/ from solutions/ through nbgrader, validate it, and check it is current.

``python -m autograde release`` regenerates every student notebook and replaces the files in
``course/`` only when every notebook generated and passed validation; ``--check`` regenerates into a
temporary directory and fails when ``course/`` differs from what ``solutions/`` generates.

The steps, in order, and why:

1. ``generate``: nbgrader's generate_assignment, driven once in this process (importing nbgrader
   costs seconds) on a throwaway nbgrader course directory that holds only the notebooks, so no
   other file of ``solutions/`` can be copied along, and without a gradebook (nothing would read
   it); the release then gets a python3 kernelspec (JupyterLab opens it straight into a kernel)
   and no outputs.
2. ``static_problems``: structure (unique grade ids, a test cell after every solution cell, every
   test cell ending with ``checks.passed(name, points)`` that matches its points) and leaks (no
   solution or hidden-test line, no distinctive number of a hidden test, in the release).
3. ``file_leaks``: no file of ``solutions/`` other than the released notebooks appears in ``course/``.
4. ``grading_problems`` (not with ``--check``): the solutions earn full marks through the real
   grading path and the blank release earns zero, every test failing on its stub.
"""
from __future__ import annotations

import ast
import hashlib
import io
import json
import os
import re
import shutil
import sys
import tempfile
import tokenize
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import nbformat

from autograde import notebooks as nbs

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
STUB_ERROR = "NotImplementedError"
MIN_SECRET_LINE = 12  # shorter solution lines (``return s``) are too common to call a leak
MIN_SECRET_DIGITS = 4  # numbers with fewer significant digits (1e-7, 0.5, 100) are not secrets


@dataclass
class NotebookReport:
    """What happened to one notebook during a release."""

    name: str
    tests: int = 0
    points: float = 0.0
    solution_score: float | None = None
    blank_score: float | None = None
    problems: list[str] = field(default_factory=list)
    stale: str = ""

    def status(self, check: bool) -> str:
        if self.problems:
            return "FAILED"
        if self.stale:
            return "stale" if check else "updated"
        return "ok"


# ----------------------------------------------------------------------------- discovery


def find_sources(solutions_dir: Path) -> list[Path]:
    """The source notebooks ``NN_name.ipynb`` directly under ``solutions_dir``, in course order."""
    found = [p for p in solutions_dir.glob("*.ipynb") if nbs.NOTEBOOK_NAME.match(p.stem)]
    return sorted(found)


# ----------------------------------------------------------------------------- 1. generate


def _finish_release(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Give a generated notebook the python3 kernelspec and drop every output and counter."""
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata.pop("celltoolbar", None)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def generate(sources: list[Path], out_dir: Path) -> dict[str, str]:
    """Generate the student version of each source notebook into ``out_dir/<stem>.ipynb``.

    Parameters
    ----------
    sources : list of Path
        Source notebooks (``solutions/NN_name.ipynb``).
    out_dir : Path
        An existing directory that receives the generated notebooks.

    Returns
    -------
    errors : dict of str to str
        The notebooks nbgrader could not generate, mapped to its error.
    """
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.converters import GenerateAssignment
    from nbgrader.preprocessors import SaveCells
    from traitlets.config import Config

    errors = {}
    with tempfile.TemporaryDirectory(prefix="autograde-nbgrader-") as root:
        config = Config()
        config.CourseDirectory.root = os.path.abspath(root)
        # The gradebook of this throwaway course would be deleted unread: skip it, and with it the
        # `alembic` subprocess (found on PATH) that creates it, most of the time of a small release.
        config.GenerateAssignment.no_database = True
        config.GenerateAssignment.preprocessors = [
            step for step in GenerateAssignment.class_traits()["preprocessors"].default() if step is not SaveCells]
        api = NbGraderAPI(config=config)
        for source in sources:
            folder = Path(root, "source", source.stem)
            folder.mkdir(parents=True)
            shutil.copyfile(source, folder / source.name)
            result = api.generate_assignment(source.stem, force=True, create=True)
            released = Path(root, "release", source.stem, source.name)
            if not result["success"] or not released.exists():
                errors[source.stem] = _last_line(result.get("error") or result.get("log") or "")
                continue
            nb = _finish_release(nbs.read_notebook(released))
            nbformat.write(nb, str(out_dir / source.name))
    return errors


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "nbgrader failed without a message"


# ----------------------------------------------------------------------------- 2. static checks


def static_problems(name: str, source, release) -> list[str]:
    """Structure and leak problems of one source notebook and its generated release."""
    problems = structure_problems(name, source) + release_problems(name, release)
    # A test that reads data an ordinary cell made would trust what the student's kernel holds.
    from autograde import grading  # deferred like in grading_problems: the engine imports the sandbox
    problems += grading.kernel_data_problems(name, source)
    try:
        return problems + content_leaks(name, source, release)
    except ValueError as error:  # unbalanced markers, already named by structure_problems
        return problems or [f"{name}: {error}"]


def structure_problems(name: str, nb) -> list[str]:
    """Unique grade ids, a test cell after each solution cell, ``checks.passed`` closing each test."""
    problems, seen, awaiting_test = [], {}, None
    for index, cell in enumerate(nb.cells):
        label = nbs.cell_label(name, index, cell)
        gid = nbs.grade_id(cell)
        if gid is not None and gid in seen:
            problems.append(f"{label}: grade_id {gid!r} is also used by cell {seen[gid]}")
        if gid is not None:
            seen.setdefault(gid, index)
        if cell.cell_type != "code":
            continue
        if awaiting_test is not None and not nbs.is_test_cell(cell):
            problems.append(f"{awaiting_test}: the next code cell is not a test cell")
        awaiting_test = None
        if nbs.is_solution_cell(cell):
            awaiting_test = label
            problems += _solution_cell_problems(label, cell)
        elif nbs.is_test_cell(cell):
            problems += _test_cell_problems(label, cell)
    if awaiting_test is not None:
        problems.append(f"{awaiting_test}: no test cell follows this solution cell")
    return problems


def _solution_cell_problems(label: str, cell) -> list[str]:
    try:
        regions, _ = nbs.split_regions(cell.source, nbs.SOLUTION_MARKERS)
    except ValueError as error:
        return [f"{label}: {error}"]
    if not regions:
        return [f"{label}: no '{nbs.SOLUTION_MARKERS[0]}' region"]
    return []


def _test_cell_problems(label: str, cell) -> list[str]:
    try:
        _, visible = nbs.split_regions(cell.source, nbs.HIDDEN_TESTS_MARKERS)
    except ValueError as error:
        return [f"{label}: {error}"]
    if len(_statements(visible)) < 2:
        return [f"{label}: no visible check before checks.passed: the student would get no feedback"]
    points = nbs.nbgrader_metadata(cell).get("points")
    if not points or float(points) <= 0:
        return [f"{label}: a test cell needs positive points, has {points!r}"]
    passed = nbs.passed_call(cell.source)
    if passed is None:
        return [f"{label}: the last statement must be checks.passed(name, points)"]
    if passed[1] != float(points):
        return [f"{label}: checks.passed gives {passed[1]:g} points but the cell is worth {float(points):g}"]
    return []


def _statements(code: str) -> list:
    try:
        return ast.parse(code).body
    except SyntaxError:
        return []


def release_problems(name: str, nb) -> list[str]:
    """A release must open in a python3 kernel, carry no outputs, stubs in place, tests locked."""
    problems = []
    if nb.metadata.get("kernelspec", {}).get("name") != "python3":
        problems.append(f"{name}: the release has no python3 kernelspec")
    for index, cell in enumerate(nb.cells):
        label = nbs.cell_label(name, index, cell)
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count")):
            problems.append(f"{label}: the release carries outputs")
        if nbs.is_solution_cell(cell) and "raise NotImplementedError()" not in cell.source:
            problems.append(f"{label}: the release has no `raise NotImplementedError()` stub")
        if nbs.is_test_cell(cell) and cell.metadata.get("editable", True):
            problems.append(f"{label}: the test cell is not locked in the release")
    return problems


# ----------------------------------------------------------------------------- leaks


class Secrets(NamedTuple):
    """What of a source notebook must not reach its release, each item with its cell's grade_id."""

    hidden_lines: list[tuple[str, str]]  # every line of a hidden test
    solutions: list[tuple[str, list[str]]]  # the lines of each solution region
    numbers: list[tuple[str, str]]  # distinctive numeric literals of hidden tests


def _secrets(nb) -> Secrets:
    """The secret lines and numbers of a source notebook, whitespace-normalised.

    Lines shorter than MIN_SECRET_LINE are too common to tell anything. A line that the
    notebook's public code (outside every marked region) also holds, e.g. in a docstring or a
    visible test, is shown on purpose and is not a secret; one copied into markdown still is.
    """
    public_code, public_numbers, hidden, solutions, numbers = [], set(), [], [], []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        solution, rest = nbs.split_regions(cell.source, nbs.SOLUTION_MARKERS)
        hidden_regions, rest = nbs.split_regions(rest, nbs.HIDDEN_TESTS_MARKERS)
        public_code += [_normalise(line) for line in rest.splitlines()]
        public_numbers.update(_numbers(rest))
        gid = nbs.grade_id(cell) or "?"
        hidden += [(gid, _normalise(line)) for region in hidden_regions for line in region.splitlines()]
        solutions += [(gid, [_normalise(line) for line in region.splitlines()]) for region in solution]
        numbers += [(gid, number) for region in hidden_regions for number in _numbers(region)]
    public_text = "\n".join(public_code)

    def secret(line: str) -> bool:
        return len(line) >= MIN_SECRET_LINE and line not in public_text

    return Secrets(
        hidden_lines=[(gid, line) for gid, line in hidden if secret(line)],
        solutions=[(gid, [line for line in lines if secret(line)]) for gid, lines in solutions],
        numbers=[(gid, number) for gid, number in numbers if number not in public_numbers],
    )


def _normalise(line: str) -> str:
    return " ".join(line.split())


def _numbers(code: str) -> set[str]:
    """Numeric literals of ``code`` with at least MIN_SECRET_DIGITS significant digits."""
    found = set()
    try:
        for token in tokenize.generate_tokens(io.StringIO(code).readline):
            if token.type == tokenize.NUMBER and _significant_digits(token.string) >= MIN_SECRET_DIGITS:
                found.add(token.string)
    except (tokenize.TokenError, SyntaxError, IndentationError):
        found.update(n for n in re.findall(r"\d[\d.]*", code) if _significant_digits(n) >= MIN_SECRET_DIGITS)
    return found


def _significant_digits(literal: str) -> int:
    mantissa = re.split(r"[eEjJ]", literal.replace("_", ""))[0]
    return len(mantissa.replace(".", "").strip("0"))


def _all_text(node) -> str:
    """Every string of a notebook (sources, metadata, outputs), whitespace-normalised line by line."""
    if isinstance(node, dict):
        return "\n".join(_all_text(k) + "\n" + _all_text(v) for k, v in node.items())
    if isinstance(node, list):
        return "\n".join(_all_text(item) for item in node)
    if isinstance(node, str):
        return "\n".join(_normalise(line) for line in node.splitlines())
    return ""


def content_leaks(name: str, source, release) -> list[str]:
    """Hidden-test lines and numbers, and solutions, found in the release.

    Any hidden-test line or distinctive number is a leak. A solution leaks when the release shows
    its only line or two or more of its lines: one line of a longer solution is a hint an author
    may give on purpose (e.g. ``rng = np.random.default_rng(seed)`` in the instructions).
    """
    text = _all_text(release)
    secrets = _secrets(source)
    problems = [f"{name}: the release still contains the marker {marker!r}"
                for marker in nbs.SOLUTION_MARKERS + nbs.HIDDEN_TESTS_MARKERS if marker in text]
    for gid, line in secrets.hidden_lines:
        if line in text:
            problems.append(f"{name}: leak of a hidden test line of cell {gid!r} into the release: {line!r}")
    for gid, number in secrets.numbers:
        if re.search(rf"(?<![\w.]){re.escape(number)}(?![\w.])", text):
            problems.append(f"{name}: leak of the hidden test value {number} of cell {gid!r} into the release")
    for gid, lines in secrets.solutions:
        shown = [line for line in lines if line in text]
        if shown and len(shown) >= min(2, len(lines)):
            problems.append(f"{name}: leak of the solution of cell {gid!r} into the release: "
                            + "; ".join(repr(line) for line in shown))
    return problems


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def file_leaks(solutions_dir: Path, course_dir: Path, released: list[str]) -> list[str]:
    """Files of ``course_dir`` that come from ``solutions_dir`` (same relative path or same bytes).

    The released notebooks (names in ``released``) may share a name with their source, never
    its bytes.
    """
    if not course_dir.is_dir():
        return []
    source_files = [p for p in solutions_dir.rglob("*") if p.is_file()]
    by_digest = {_digest(p): p for p in source_files}
    by_path = {p.relative_to(solutions_dir) for p in source_files}
    problems = []
    for path in sorted(p for p in course_dir.rglob("*") if p.is_file()):
        relative = path.relative_to(course_dir)
        origin = by_digest.get(_digest(path))
        if origin is not None:
            problems.append(f"{course_dir.name}/{relative}: a copy of {solutions_dir.name}/{origin.relative_to(solutions_dir)}")
        elif relative in by_path and str(relative) not in released:
            problems.append(f"{course_dir.name}/{relative}: a file of {solutions_dir.name}/ in the release folder")
    return problems


# ----------------------------------------------------------------------------- 4. grading


def grading_problems(report: NotebookReport, source: Path, release: Path) -> None:
    """Grade the solutions (full marks expected) and the blank release (zero expected) into ``report``.

    Both go through ``autograde.grading.grade_notebook``, the path every submission takes. Each test
    of the blank release must fail, and because of its stub: the failure mentions
    NotImplementedError, not another error and not a vacuous pass.
    """
    from autograde import grading

    full = grading.grade_notebook(source, source)
    report.solution_score = full.score
    if full.status != "graded":
        report.problems.append(f"{report.name}: the solutions could not be graded ({full.status}): {full.reason}")
    for test in full.tests:
        if not test.passed:
            report.problems.append(
                f"{report.name} {test.grade_id}: the solution fails its own test: {_first_line(test.message)}")
    blank = grading.grade_notebook(source, release)
    report.blank_score = blank.score
    if blank.status != "graded":
        report.problems.append(f"{report.name}: the blank release could not be graded ({blank.status}): {blank.reason}")
    for test in blank.tests:
        if test.passed:
            report.problems.append(f"{report.name} {test.grade_id}: the blank release passes this test")
        elif STUB_ERROR not in f"{test.message}\n{test.traceback}":
            report.problems.append(
                f"{report.name} {test.grade_id}: the blank release fails for another reason than its stub: "
                f"{_first_line(test.message)}")


def _first_line(text: str) -> str:
    lines = [line for line in (text or "").splitlines() if line.strip()]
    return lines[0].strip() if lines else "(no message)"


# ----------------------------------------------------------------------------- driving it


def _same_notebook(a: Path, b: Path) -> bool:
    """Same JSON content (formatting ignored): nbgrader's checksums are md5s of the cells, deterministic."""
    return json.loads(a.read_text(encoding="utf-8")) == json.loads(b.read_text(encoding="utf-8"))


def _stale_reason(generated: Path, course_file: Path) -> str:
    if not course_file.exists():
        return "missing from course/"
    try:
        return "" if _same_notebook(generated, course_file) else "differs from what solutions/ generates"
    except (ValueError, OSError) as error:
        return f"unreadable ({error})"


def build(sources: list[Path], course_dir: Path, out_dir: Path, *, grade: bool, jobs: int) -> list[NotebookReport]:
    """Generate the releases of ``sources`` into ``out_dir`` and validate them; one report per source."""
    errors = generate(sources, out_dir)
    reports = []
    for source in sources:
        report = NotebookReport(source.stem)
        reports.append(report)
        if source.stem in errors:
            report.problems.append(f"{source.stem}: nbgrader could not generate it: {errors[source.stem]}")
            continue
        source_nb, release_nb = nbs.read_notebook(source), nbs.read_notebook(out_dir / source.name)
        tests = [c for c in source_nb.cells if nbs.is_test_cell(c)]
        report.tests, report.points = len(tests), sum(nbs.cell_points(c) for c in tests)
        report.problems += static_problems(source.stem, source_nb, release_nb)
        report.stale = _stale_reason(out_dir / source.name, course_dir / source.name)
    if grade:
        todo = [(report, source) for report, source in zip(reports, sources) if not report.problems]
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            list(pool.map(lambda item: grading_problems(item[0], item[1], out_dir / item[1].name), todo))
    return reports


def orphans(solutions_dir: Path, course_dir: Path) -> list[Path]:
    """Course notebooks whose source no longer exists in solutions/."""
    names = {p.name for p in find_sources(solutions_dir)}
    return sorted(p for p in course_dir.glob("*.ipynb") if nbs.NOTEBOOK_NAME.match(p.stem) and p.name not in names)


def _score(value: float | None, points: float) -> str:
    return "-" if value is None else f"{value:g}/{points:g}"


def print_table(reports: list[NotebookReport], *, check: bool = False, stream=sys.stdout) -> None:
    """One row per notebook: tests, points, score of the solutions and of the blank release, status."""
    header = ("notebook", "tests", "points", "solutions", "blank", "status")
    rows = [header] + [
        (r.name, str(r.tests), f"{r.points:g}", _score(r.solution_score, r.points),
         _score(r.blank_score, r.points), r.status(check))
        for r in reports
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip(), file=stream)


def _install(out_dir: Path, course_dir: Path, reports: list[NotebookReport], stale: list[Path]) -> list[str]:
    """Replace course/'s notebooks by the generated ones (atomic per file); remove orphans."""
    course_dir.mkdir(parents=True, exist_ok=True)
    changed = []
    for report in reports:
        if report.stale:
            target = course_dir / f"{report.name}.ipynb"
            temporary = course_dir / f".{report.name}.ipynb.tmp"
            shutil.copyfile(out_dir / target.name, temporary)
            os.replace(temporary, target)
            changed.append(f"wrote {course_dir.name}/{target.name}")
    for path in stale:
        path.unlink()
        changed.append(f"removed {course_dir.name}/{path.name} (no source in solutions/)")
    return changed


def select(solutions_dir: Path, names: list[str]) -> list[Path]:
    """The source notebooks named in ``names`` (``NN_name``, ``NN_name.ipynb`` or a path); all if empty."""
    sources = find_sources(solutions_dir)
    if not names:
        return sources
    by_stem = {source.stem: source for source in sources}
    unknown = [name for name in names if Path(name).stem not in by_stem]
    if unknown:
        raise ValueError(f"no source notebook {', '.join(unknown)} in {solutions_dir}/")
    return [by_stem[stem] for stem in dict.fromkeys(Path(name).stem for name in names)]


def run(solutions_dir: Path, course_dir: Path, *, check: bool = False, jobs: int = 2,
        only: list[str] | None = None) -> int:
    """Release (or with ``check``, only compare) and print the summary; the exit status.

    With ``only``, just those notebooks are regenerated and validated, and course/ notebooks
    without a source are left alone (they are reported and removed only when all are released).
    """
    solutions_dir, course_dir = Path(solutions_dir), Path(course_dir)
    try:
        sources = select(solutions_dir, only or [])
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not sources:
        print(f"error: no source notebooks NN_name.ipynb in {solutions_dir}/", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="autograde-release-") as out:
        reports = build(sources, course_dir, Path(out), grade=not check, jobs=jobs)
        problems = [p for r in reports for p in r.problems]
        # Every source notebook's release legitimately shares its name, released now or earlier.
        problems += file_leaks(solutions_dir, course_dir, [p.name for p in find_sources(solutions_dir)])
        stale = [] if only else orphans(solutions_dir, course_dir)
        print_table(reports, check=check)
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        if check:
            return _report_check(reports, stale, course_dir, problems)
        if problems:
            print(f"release FAILED: {len(problems)} problem(s); {course_dir}/ left untouched", file=sys.stderr)
            return 1
        changed = _install(Path(out), course_dir, reports, stale)
    print("\n".join(changed) if changed else f"{course_dir}/ was already up to date")
    print(f"release ok: {len(reports)} notebook(s) validated")
    return 0


def _report_check(reports, stale, course_dir: Path, problems: list[str]) -> int:
    outdated = [f"{course_dir.name}/{r.name}.ipynb: {r.stale}" for r in reports if r.stale]
    outdated += [f"{course_dir.name}/{p.name}: has no source in solutions/" for p in stale]
    for line in outdated:
        print(f"stale: {line}", file=sys.stderr)
    if outdated:
        print("course/ is out of date with solutions/: run `make release`", file=sys.stderr)
    if outdated or problems:
        return 1
    print(f"{course_dir}/ is up to date with solutions/")
    return 0


def register(subparsers) -> None:
    """Add the ``release`` subcommand."""
    parser = subparsers.add_parser(
        "release", help="regenerate course/ from solutions/ and validate it",
        description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="only regenerate into a temporary directory and fail if course/ differs "
                             "(structure and leaks are checked, the notebooks are not graded)")
    parser.add_argument("--solutions", type=Path, default=Path("solutions"), help="source notebooks (default: solutions)")
    parser.add_argument("--course", type=Path, default=Path("course"), help="release folder (default: course)")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks graded at once during validation (default: 2)")
    parser.add_argument("notebooks", nargs="*", metavar="NOTEBOOK",
                        help="only these notebooks (NN_name or a path); default: every notebook of solutions/")
    parser.set_defaults(func=lambda args: run(args.solutions, args.course, check=args.check, jobs=args.jobs,
                                              only=args.notebooks))
