"""The grading engine: one submission in a sandboxed kernel with tests run by the grader, or a whole class.

``grade_notebook(source, submission)`` grades one notebook in three moves:

1. **Plan** from the SOURCE notebook (the instructor's, with hidden tests): a solution cell takes
   the student's code for its ``grade_id`` (missing -> the release stub, which scores zero), every
   other code cell takes the source's text, test cells always come from the source, and cells the
   student added run after the cell they followed. Students cannot edit, delete, duplicate,
   retype or strip test cells to their advantage.
2. **Run** the non-test cells in a sandboxed kernel (``autograde.sandbox``): no network, a private
   read-only root without solutions, submissions or outputs, its own uid, memory/CPU/time/output
   limits. A cell that fails does not stop the notebook; a kernel that dies keeps the grades
   already given.
3. **Test** in this (trusted) process: each test cell runs here with the source's imports and a
   proxy (``autograde.remote``) for every name it reads from the notebook (not for names an
   earlier test cell made: those stay the grader's), so patching NumPy, ``autograde.checks`` or
   IPython inside the kernel changes nothing. Hidden tests run under
   ``checks.redacted()``. A test cell passes iff it raises nothing; it earns the points of its
   metadata. During the checks, the dlkit function a student's function is compared with is
   refused inside the kernel (``ReferenceUsedError``). A student's function that changes its
   arguments in place changes the test's objects the same way (so the checks report it as in the
   student's kernel), and the test cell fails even if its checks pass: the change reached the
   test's own data, which it must not be able to bend.

``grade_class`` grades ``DIR/<student>/<assignment>/<notebook>.ipynb`` in parallel (one grader
process per submission), writes ``grades.csv``, ``feedback/<student>/<assignment>.html`` and
``grading.log``.
"""
from __future__ import annotations

import ast
import builtins
import contextlib
import csv
import dataclasses
import dis
import functools
import inspect
import json
import os
import re
import shutil
import signal
import symtable
import tempfile
import time
import types
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograde import checks as real_checks
from autograde import notebooks as nbs
from autograde import remote, sandbox
from autograde.errors import ReferenceUsedError, StudentError

STATUSES = ("graded", "timeout", "crashed", "memory", "invalid", "missing", "error")
MAX_NOTEBOOK_BYTES = 64 << 20
STUB = "raise NotImplementedError()"
TIMED_OUT = "took longer than"  # how a cell's or test's time-out message starts


@dataclass(frozen=True)
class Limits:
    """Limits for one submission.

    Attributes
    ----------
    cell_timeout_s : float
        Wall time of one cell (a non-test cell in the kernel, or a test cell with its calls).
    notebook_timeout_s : float
        Wall time of the whole notebook, kernel start included.
    cpu_s : float
        CPU time of the kernel process (SIGXCPU, then SIGKILL).
    memory_bytes : int
        Address space of the kernel process (allocations past it raise MemoryError).
    output_bytes : int
        Output kept per cell; the rest is counted and dropped. Also caps the kernel's log file.
    """

    cell_timeout_s: float = 60.0
    notebook_timeout_s: float = 300.0
    cpu_s: float = 600.0
    memory_bytes: int = 2 << 30
    output_bytes: int = 1 << 20


@dataclass
class CellResult:
    """The grade of one test cell: ``message`` says why it failed (never hidden test code or values)."""

    grade_id: str
    points: float
    max_points: float
    passed: bool
    message: str = ""
    traceback: str = ""


@dataclass
class StudentCell:
    """A cell of the student's own code as it ran: ``label`` names it, ``error`` is its exception (one line)."""

    label: str
    source: str
    error: str = ""


@dataclass
class NotebookResult:
    """The grade of one notebook; ``status`` is one of ``STATUSES`` and ``reason`` explains it."""

    score: float
    max_score: float
    status: str
    reason: str
    cells: list[CellResult]
    student_cells: list[StudentCell] = field(default_factory=list)
    isolation: str = ""
    seconds: float = 0.0

    @property
    def tests(self) -> list[CellResult]:
        """The test cells' results (same as ``cells``)."""
        return self.cells


# ============================================================================ reading notebooks

def _text(value) -> str:
    """A cell source (str or list of str in the JSON) as one string; anything else is empty."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(part, str) for part in value):
        return "".join(value)
    return ""


def _meta(cell) -> dict:
    metadata = cell.get("metadata") if isinstance(cell, dict) else None
    nbgrader = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    return nbgrader if isinstance(nbgrader, dict) else {}


def _gid(cell) -> str | None:
    gid = _meta(cell).get("grade_id")
    return gid if isinstance(gid, str) and gid else None


def read_submission(path) -> tuple[list[dict] | None, str, str]:
    """The submission's cells as plain dicts, or None with a status ("missing"/"invalid") and a reason."""
    path = Path(path)
    if path.is_symlink():
        return None, "invalid", f"{path.name} is a symbolic link, not a notebook file"
    if not path.is_file():
        return None, "missing", f"no notebook at {path.name}"
    if path.stat().st_size > MAX_NOTEBOOK_BYTES:
        return None, "invalid", f"{path.name} is larger than {MAX_NOTEBOOK_BYTES >> 20} MiB"
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as handle:
            data = json.loads(handle.read().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        return None, "invalid", f"{path.name} is not valid notebook JSON ({type(exc).__name__}: {str(exc)[:200]})"
    cells = data.get("cells") if isinstance(data, dict) else None
    if isinstance(data, dict) and "worksheets" in data:  # nbformat 3
        sheets = data.get("worksheets") or [{}]
        cells = sheets[0].get("cells") if isinstance(sheets[0], dict) else None
    if not isinstance(cells, list):
        return None, "invalid", f"{path.name} has no list of cells: not a Jupyter notebook"
    cells = [c for c in cells if isinstance(c, dict)]
    for cell in cells:
        if "source" not in cell and "input" in cell:  # nbformat 3 code cells
            cell["source"] = cell["input"]
    return cells, "graded", ""


def read_source(path) -> nbformat.NotebookNode:
    """The instructor's notebook (trusted; raises ValueError when it is not a valid source)."""
    try:
        notebook = nbs.read_notebook(path)
    except Exception as exc:  # noqa: BLE001 - nbformat raises several types
        raise ValueError(f"cannot read the source notebook {path}: {exc}") from exc
    ids = [nbs.grade_id(c) for c in notebook.cells if nbs.grade_id(c)]
    if len(ids) != len(set(ids)):
        raise ValueError(f"the source notebook {path} has duplicated grade ids")
    return notebook


# ============================================================================ 1. the plan

@dataclass
class Step:
    """One cell to run: ``kind`` is "kernel" (student's sandbox) or "test" (the grader)."""

    kind: str
    label: str
    code: str
    origin: str  # "student", "source", "stub" or "added"
    grade_id: str | None = None
    points: float = 0.0


def release_stub(source: str) -> str:
    """The student's starting version of a solution cell: each solution region becomes ``raise NotImplementedError()``."""
    begin, end = nbs.SOLUTION_MARKERS
    if begin not in source:
        return STUB
    out, inside = [], False
    for line in source.splitlines():
        if begin in line:
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out += [f"{indent}# YOUR CODE HERE", f"{indent}{STUB}"]
        elif end in line:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


def _release_text(cell) -> str:
    """A source cell as the student's release shows it (stubs in, hidden tests out)."""
    text = cell.source
    if nbs.is_solution_cell(cell):
        return release_stub(text)
    if nbs.HIDDEN_TESTS_MARKERS[0] in text:
        return nbs.split_regions(text, nbs.HIDDEN_TESTS_MARKERS)[1]
    return text


def _normalized(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines() if line.strip())


def build_plan(source: nbformat.NotebookNode, cells: list[dict]) -> tuple[list[Step], list[str]]:
    """The steps to run for a submission's ``cells``, and notes on what was found (for the reason)."""
    notes: list[str] = []
    by_gid, duplicates = {}, []
    for cell in cells:
        gid = _gid(cell)
        if gid is not None:
            if gid in by_gid:
                duplicates.append(gid)
            else:
                by_gid[gid] = cell
    if duplicates:
        notes.append(f"grade id {', '.join(sorted(set(duplicates)))} appears more than once: the first cell was used")
    added = _added_cells(source, cells, by_gid)
    steps = [Step("kernel", f"your cell {n}", code, "added") for n, code in added.get(-1, [])]
    for index, cell in enumerate(source.cells):
        steps += _steps_for(index, cell, by_gid, notes)
        steps += [Step("kernel", f"your cell {n}", code, "added") for n, code in added.get(index, [])]
    return steps, notes


def _steps_for(index: int, cell, by_gid: dict, notes: list[str]) -> list[Step]:
    if cell.cell_type != "code":
        return []
    gid = nbs.grade_id(cell)
    if nbs.is_test_cell(cell):
        return [Step("test", gid or f"cell {index}", cell.source, "source", gid or f"cell {index}", nbs.cell_points(cell))]
    if nbs.nbgrader_metadata(cell).get("solution"):
        mine = by_gid.get(gid)
        if mine is not None and mine.get("cell_type") == "code":
            return [Step("kernel", gid, _text(mine.get("source")), "student", gid)]
        notes.append(f"answer cell {gid} not found in the notebook (deleted, or its metadata changed): "
                     "its blank version was run")
        return [Step("kernel", gid, release_stub(cell.source), "stub", gid)]
    return [Step("kernel", gid or f"cell {index}", cell.source, "source", gid)]


def _added_cells(source, cells: list[dict], by_gid: dict) -> dict[int, list[tuple[int, str]]]:
    """The student's own code cells (not matching any source cell), keyed by the source cell they follow."""
    source_index = {nbs.grade_id(c): i for i, c in enumerate(source.cells) if nbs.grade_id(c)}
    known = {}
    for i, cell in enumerate(source.cells):
        if cell.cell_type == "code":
            for text in (cell.source, _release_text(cell)):
                known.setdefault(_normalized(text), i)
    added: dict[int, list] = {}
    anchor = -1
    for number, cell in enumerate(cells, 1):
        gid = _gid(cell)
        if gid in source_index and by_gid.get(gid) is cell:
            anchor = source_index[gid]
            continue
        if cell.get("cell_type") != "code" or gid in source_index:  # markdown, or a duplicate grade id
            continue
        text = _text(cell.get("source"))
        if _normalized(text) in known:
            anchor = known[_normalized(text)]
        elif text.strip():
            added.setdefault(anchor, []).append((number, text))
    return added


# ============================================================================ 3. tests in the grader

def free_names(code: str) -> set[str]:
    """Names a cell reads without defining them itself (lambdas and comprehensions included)."""
    table = symtable.symtable(code, "<test>", "exec")
    defined = {s.get_name() for s in table.get_symbols() if s.is_assigned() or s.is_imported()}
    names = {s.get_name() for s in table.get_symbols() if s.is_referenced()}

    def visit(scope) -> None:
        for child in scope.get_children():
            names.update(s.get_name() for s in child.get_symbols() if s.is_global() and s.is_referenced())
            visit(child)

    visit(table)
    return names - defined


def source_imports(source: nbformat.NotebookNode) -> list[str]:
    """The top-level import statements of the source's code cells, as code, in order."""
    out = []
    for cell in source.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(_without_magics(cell.source))
        except SyntaxError:
            continue
        out += [ast.unparse(node) for node in tree.body
                if isinstance(node, (ast.Import, ast.ImportFrom)) and getattr(node, "module", None) != "__future__"]
    return list(dict.fromkeys(out))


def bound_names(code: str) -> dict[str, str]:
    """Names a cell binds for the cells after it: name -> "function" (def, class), "module" or "value".

    >>> bound_names("import numpy as np\\nX = np.ones(2)\\ndef f(x):\\n    global seen\\n    seen = x\\n    return x")
    {'np': 'module', 'X': 'value', 'f': 'function', 'seen': 'value'}
    """
    try:
        table = symtable.symtable(_without_magics(code), "<cell>", "exec")
    except SyntaxError:
        return {}
    kinds = {}
    for symbol in table.get_symbols():
        if symbol.is_namespace():
            kinds[symbol.get_name()] = "function"
        elif symbol.is_imported():
            kinds[symbol.get_name()] = "module"
        elif symbol.is_assigned():
            kinds[symbol.get_name()] = "value"

    def visit(scope) -> None:  # ``global x`` then ``x = ...`` inside a function
        for child in scope.get_children():
            kinds.update({s.get_name(): "value" for s in child.get_symbols()
                          if s.is_declared_global() and s.is_assigned() and s.get_name() not in kinds})
            visit(child)

    visit(table)
    return kinds


@dataclass(frozen=True)
class Read:
    """A name a test cell of the source reads (not one of the source's imports) and where it comes from."""

    test: int  # index of the test cell in the source
    name: str
    cell: int | None  # the source cell that binds it last before the test (None: no cell does)
    kind: str  # that binding: "function", "module", "value" ("" when none)


def reads_by_tests(source: nbformat.NotebookNode) -> list[Read]:
    """Every name each test cell reads from the notebook, with the source cell that defines it for that test.

    In grading, a name last bound by an earlier test cell is the grader's own (``Examiner``); any
    other comes from the student's kernel. Static, on the instructor's code: names bound through
    ``exec``, ``globals()`` or magics are not seen.
    """
    imported = _imported_names(source)
    last: dict[str, tuple[int, str]] = {}
    reads = []
    for index, cell in enumerate(source.cells):
        if cell.cell_type != "code":
            continue
        if nbs.is_test_cell(cell):
            with contextlib.suppress(SyntaxError):
                for name in sorted(free_names(cell.source) - imported):
                    if not hasattr(builtins, name):
                        cell_index, kind = last.get(name, (None, ""))
                        reads.append(Read(index, name, cell_index, kind))
        last.update({name: (index, kind) for name, kind in bound_names(cell.source).items()})
    return reads


def _imported_names(source: nbformat.NotebookNode) -> set[str]:
    names = set()
    for statement in source_imports(source):
        for alias in ast.parse(statement).body[0].names:
            names.add(alias.asname or alias.name.split(".")[0])
    return names


def kernel_data_problems(notebook_name: str, source: nbformat.NotebookNode) -> list[str]:
    """Test cells that take, from the student's kernel, data or code made by an ordinary cell of the source.

    In grading such a name is read from the kernel, where the student's code ran and could have
    rebound it: expected values or inputs made there are the student's to choose. Names made by
    solution cells (the student's answers) and by earlier test cells (kept in the grader) are fine.
    """
    problems = []
    for read in reads_by_tests(source):
        if read.cell is None or read.kind == "module":
            continue
        maker = source.cells[read.cell]
        if nbs.is_test_cell(maker) or nbs.is_solution_cell(maker):
            continue
        what = "a function" if read.kind == "function" else "data"
        problems.append(f"{nbs.cell_label(notebook_name, read.test, source.cells[read.test])}: reads {read.name} "
                        f"({what} made by cell {read.cell}) from the student's kernel, where their code can rebind it: "
                        f"make it in the test cell itself (load or generate it there) or take it from dlkit")
    return problems


def _without_magics(code: str) -> str:
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in code.splitlines())


def _split_hidden(code: str) -> list[tuple[bool, str]]:
    """The cell's segments in order as (hidden, code), each padded so line numbers match the cell."""
    begin, end = nbs.HIDDEN_TESTS_MARKERS
    segments, current, hidden, lines = [], [], False, code.splitlines()
    for number, line in enumerate(lines):
        if (begin in line and not hidden) or (end in line and hidden):
            segments.append((hidden, current))
            current, hidden = [], not hidden
        current.append((number, "" if begin in line or end in line else line))
    segments.append((hidden, current))
    out = []
    for is_hidden, numbered in segments:
        if any(text.strip() for _, text in numbered):
            first = numbered[0][0]
            out.append((is_hidden, "\n" * first + "\n".join(text for _, text in numbered)))
    return out


def dlkit_functions(fn) -> list[str]:
    """Dotted names of the dlkit functions ``fn`` is, or calls directly (for a lambda or partial)."""
    if isinstance(fn, remote.RemoteHandle):  # the student's: nothing of dlkit to refuse
        return []
    fn = fn.func if isinstance(fn, functools.partial) else fn
    if _is_dlkit_function(fn):
        return [f"{fn.__module__}.{fn.__name__}"]
    if not isinstance(fn, types.FunctionType):
        return []
    found = []
    for code in _code_objects(fn.__code__):
        current = None
        for instruction in dis.get_instructions(code):
            if instruction.opname == "LOAD_GLOBAL":
                current = fn.__globals__.get(instruction.argval, None)
            elif instruction.opname in ("LOAD_ATTR", "LOAD_METHOD") and isinstance(current, types.ModuleType):
                current = getattr(current, instruction.argval, None)
            else:
                current = None
            if _is_dlkit_function(current):
                found.append(f"{current.__module__}.{current.__name__}")
    return found


def _code_objects(code):
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_objects(const)


def _is_dlkit_function(obj) -> bool:
    module = getattr(obj, "__module__", None)
    return (isinstance(obj, types.FunctionType) and isinstance(module, str)
            and (module == "dlkit" or module.startswith("dlkit.")) and obj.__qualname__ == obj.__name__)


def _backward_siblings(names: list[str]) -> list[str]:
    """``dlkit.m.f_forward`` -> ``dlkit.m.f_backward`` (and ``dlkit.m.f`` -> ``dlkit.m.f_backward``) when it exists."""
    import importlib
    out = []
    for dotted in names:
        module, _, name = dotted.rpartition(".")
        sibling = (name[: -len("_forward")] if name.endswith("_forward") else name) + "_backward"
        with contextlib.suppress(ImportError):
            if _is_dlkit_function(getattr(importlib.import_module(module), sibling, None)):
                out.append(f"{module}.{sibling}")
    return out


def _refused_for(check_name: str, arguments: dict) -> list[str]:
    """The dlkit functions refused in the kernel while ``checks.<check_name>`` runs with ``arguments``."""
    if check_name == "compare_to_reference":
        return dlkit_functions(arguments.get("reference_fn"))
    if check_name == "check_backward":
        forwards = dlkit_functions(arguments.get("reference_forward")) + dlkit_functions(arguments.get("forward_fn"))
        return dlkit_functions(arguments.get("backward_fn")) + _backward_siblings(forwards)
    return []


def guarded_checks() -> types.ModuleType:
    """A copy of ``autograde.checks`` whose comparisons refuse their dlkit reference in the kernel,
    and whose ``passed`` prints nothing (its points come from the metadata anyway)."""
    module = types.ModuleType(real_checks.__name__, real_checks.__doc__)
    module.__dict__.update({k: v for k, v in vars(real_checks).items() if not k.startswith("__")})
    for name in ("compare_to_reference", "check_backward"):
        setattr(module, name, _guard(name, getattr(real_checks, name)))
    module.passed = lambda name, points: None
    return module


def _guard(check_name: str, check):
    signature = inspect.signature(check)

    @functools.wraps(check)
    def guarded(*args, **kwargs):
        try:
            arguments = signature.bind(*args, **kwargs).arguments
        except TypeError:
            arguments = {}
        with remote.forbidden_references(_refused_for(check_name, arguments)):
            return check(*args, **kwargs)

    return guarded


class Examiner:
    """Runs a source's test cells in this process against proxies for the student's names.

    A test cell's name comes from the kernel unless the source's imports define it or, in the
    source, an earlier test cell is the last to bind it: a student cannot shadow a test's helper
    or data by defining the same name (see ``reads_by_tests``).
    """

    def __init__(self, source: nbformat.NotebookNode, cell_timeout_s: float):
        self.cell_timeout_s = cell_timeout_s
        os.environ.setdefault("MPLBACKEND", "Agg")  # should a source import pyplot: no window from the grader
        self.namespace: dict = {"__name__": "__autograde_tests__", "__builtins__": builtins,
                                "print": lambda *args, **kwargs: None}  # a test's output goes nowhere
        self.import_errors: list[str] = []
        guarded = guarded_checks()
        for statement in source_imports(source):
            try:
                exec(statement, self.namespace)  # noqa: S102 - the instructor's import statements
            except Exception as exc:  # noqa: BLE001 - a test that needs it will fail with the name
                self.import_errors.append(f"{statement}: {exc}")
        replaced = {id(real_checks): guarded}
        for name in ("compare_to_reference", "check_backward", "passed"):
            replaced[id(getattr(real_checks, name))] = getattr(guarded, name)
        for name, value in list(self.namespace.items()):
            self.namespace[name] = replaced.get(id(value), value)
        self.imported = {k for k in self.namespace if not k.startswith("__")}
        self.kept: dict[str, set[str]] = {}  # test label -> names an earlier test cell binds
        for read in reads_by_tests(source):
            if read.cell is not None and nbs.is_test_cell(source.cells[read.cell]):
                test = source.cells[read.test]
                self.kept.setdefault(nbs.grade_id(test) or f"cell {read.test}", set()).add(read.name)

    def run(self, step: Step, client: remote.KernelClient) -> CellResult:
        """Grade one test cell (KernelLost propagates: the caller ends the notebook)."""
        result = CellResult(step.grade_id, 0.0, step.points, False)
        hidden = False
        try:
            kept = self.imported | self.kept.get(step.grade_id, set())
            names = sorted(n for n in free_names(step.code) if n not in kept and not hasattr(builtins, n))
            fetched = client.fetch(names) if names else {}
            self.namespace.update(fetched)
            client.changed_inputs.clear()
            try:
                for hidden, code in _split_hidden(step.code):
                    compiled = compile(code, f"<test {step.grade_id}>", "exec")
                    with real_checks.redacted() if hidden else contextlib.nullcontext():
                        exec(compiled, self.namespace)  # noqa: S102 - the instructor's test code
            finally:
                for name in fetched:
                    self.namespace.pop(name, None)
                client.release()
            if client.changed_inputs:  # the changes reached the test's own data: they must not help
                raise remote.ArgumentChanged(client.changed_inputs[0])
        except remote.CellTimeout:
            result.message = f"{TIMED_OUT} {self.cell_timeout_s:g} s: interrupted"
        except NameError as exc:
            result.message = _name_error_message(exc)
        except Exception as exc:  # noqa: BLE001 - any failure of a test cell is a failed test
            result.message, result.traceback = failure_message(exc, hidden)
        else:
            result.passed, result.points = True, step.points
        return result


def _name_error_message(exc: NameError) -> str:
    name = getattr(exc, "name", None) or str(exc)
    return (f"{name} is not defined: your notebook does not define it "
            "(was its cell deleted, renamed, or did it fail before defining it?)")


def failure_message(exc: BaseException, hidden: bool) -> tuple[str, str]:
    """A failed test's message and traceback for the student: no hidden test code, no hidden values."""
    notes = [n for n in getattr(exc, "__notes__", []) if isinstance(n, str)]
    if isinstance(exc, StudentError):
        notes = [n for n in notes if n != exc.traceback_text.rstrip("\n")]
        text = str(exc)
        if hidden and len(text) > 300:
            text = text[:297] + "..."
        if exc.is_a("NotImplementedError") and not any("not implemented" in n for n in notes):
            notes.insert(0, "this exercise is still a stub: replace `raise NotImplementedError()` with your code.")
        return _join(text, notes), exc.traceback_text
    if isinstance(exc, (ReferenceUsedError, remote.ArgumentChanged)):
        return _join(str(exc), notes), ""
    if isinstance(exc, AssertionError) and (not hidden or _raised_by_checks(exc)):
        return _join(str(exc) or "a check failed", notes), ""
    if not hidden:
        return _join(f"{type(exc).__name__}: {exc}", notes), ""
    kind = "a hidden check failed" if isinstance(exc, AssertionError) else f"a hidden check raised {type(exc).__name__}"
    return f"{kind} (details are not shown for hidden tests)", ""


def _raised_by_checks(exc: BaseException) -> bool:
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb.tb_frame.f_globals.get("__name__")
        tb = tb.tb_next
    return last == real_checks.__name__


def _join(text: str, notes: list[str]) -> str:
    return "\n".join([text] + notes)


# ============================================================================ 2. running a notebook

class _Run:
    """The state of grading one notebook."""

    def __init__(self, steps: list[Step], source, limits: Limits, notes: list[str]):
        self.steps, self.source, self.limits, self.notes = steps, source, limits, notes
        self.results: dict[str, CellResult] = {}
        self.student_cells: list[StudentCell] = []
        self.events: list[str] = []
        self.timeouts = self.memory_errors = 0
        self.stopped: str | None = None  # why the kernel is gone, if it is

    def run(self, scratch: Path, hide: list) -> str:
        """Run every step; the isolation used."""
        started = time.monotonic()
        deadline = started + self.limits.notebook_timeout_s
        kernel = sandbox.Kernel.start(scratch, memory_bytes=self.limits.memory_bytes, cpu_s=self.limits.cpu_s,
                                      output_bytes=self.limits.output_bytes, hide=hide,
                                      startup_timeout_s=min(60.0, self.limits.notebook_timeout_s))
        client = remote.KernelClient(kernel)
        try:
            tests = Examiner(self.source, self.limits.cell_timeout_s)
            self.notes += [f"source import failed in the grader: {e}" for e in tests.import_errors]
            for step in self.steps:
                if time.monotonic() >= deadline:
                    self._stop(kernel, f"the notebook ran past its {self.limits.notebook_timeout_s:g} s limit", "timeout")
                    break
                with client.time_limit(min(time.monotonic() + self.limits.cell_timeout_s, deadline)):
                    try:
                        self._step(step, client, tests)
                    except remote.KernelLost as lost:
                        self._lost(kernel, step, lost, deadline)
                        break
            client.stop()
        finally:
            kernel.kill()
        return kernel.isolation

    def _step(self, step: Step, client: remote.KernelClient, tests: Examiner) -> None:
        if step.kind == "test":
            result = self.results[step.grade_id] = tests.run(step, client)
            if result.message.startswith(TIMED_OUT):
                self._timed_out(step.label)
            else:
                self._note_memory(step.label, result.message)
            return
        try:
            reply = client.execute(step.code, f"<cell {step.label}>")
            summary = _error_line(reply)
            self._note_memory(step.label, summary)
        except remote.CellTimeout:
            summary = f"{TIMED_OUT} {self.limits.cell_timeout_s:g} s: interrupted"
            self._timed_out(step.label)
        if step.origin in ("student", "added", "stub"):
            self.student_cells.append(StudentCell(step.label, step.code, summary[:300]))

    def _timed_out(self, label: str) -> None:
        self.timeouts += 1
        self.events.append(f"{label} ran past the {self.limits.cell_timeout_s:g} s limit and was interrupted")

    def _note_memory(self, label: str, message: str) -> None:
        if "MemoryError" in message.split("\n", 1)[0]:
            self.memory_errors += 1
            self.events.append(f"{label} ran out of memory (limit {self.limits.memory_bytes / 2**30:g} GiB)")

    def _lost(self, kernel, step: Step, lost: remote.KernelLost, deadline: float) -> None:
        ending = kernel.wait()
        if isinstance(lost, remote.KernelTimeout):
            status, why = "timeout", f"{step.label} ran past the {self.limits.cell_timeout_s:g} s limit and ignored the interrupt"
        elif time.monotonic() >= deadline:
            status, why = "timeout", f"the notebook ran past its {self.limits.notebook_timeout_s:g} s limit"
        elif ending.signal == signal.SIGXCPU or ending.cpu_s >= self.limits.cpu_s:
            status, why = "timeout", f"the kernel used up its {self.limits.cpu_s:g} s of CPU time during {step.label}"
        elif ending.maxrss_bytes >= 0.9 * self.limits.memory_bytes:
            status, why = "memory", f"the kernel ran out of memory during {step.label} ({ending.describe()})"
        else:
            status, why = "crashed", f"the kernel crashed during {step.label} ({ending.describe()})"
        if step.kind == "test":
            self.results[step.grade_id] = CellResult(step.grade_id, 0.0, step.points, False, f"not graded: {why}")
        elif step.origin in ("student", "added", "stub"):
            self.student_cells.append(StudentCell(step.label, step.code, why))
        self.stopped = status
        self.events.append(why)

    def _stop(self, kernel, why: str, status: str) -> None:
        kernel.kill()
        self.stopped = status
        self.events.append(why)

    def result(self, isolation: str, seconds: float) -> NotebookResult:
        cells = []
        for step in self.steps:
            if step.kind == "test":
                cells.append(self.results.get(step.grade_id) or CellResult(
                    step.grade_id, 0.0, step.points, False, f"not graded: {self.events[-1] if self.events else 'stopped'}"))
        score, max_score = sum(c.points for c in cells), sum(c.max_points for c in cells)
        status = self.stopped or ("timeout" if self.timeouts else "memory" if self.memory_errors else "graded")
        passed = sum(c.passed for c in cells)
        reason = "; ".join(self.events + self.notes + [f"{passed} of {len(cells)} tests passed"])
        return NotebookResult(score, max_score, status, reason, cells, self.student_cells, isolation, seconds)


def _error_line(reply: dict) -> str:
    """``Type: first line of the message`` of a failed cell's reply, or ''."""
    error = reply.get("error")
    if reply.get("ok") or not isinstance(error, dict):
        return ""
    lines = str(error.get("message", "")).splitlines()
    return f"{error.get('type', 'Exception')}: {lines[0] if lines else ''}"


def _unrun(source, status: str, reason: str, seconds: float = 0.0) -> NotebookResult:
    """A result for a notebook that could not be run: every test failed with ``reason``."""
    cells = [CellResult(nbs.grade_id(c) or f"cell {i}", 0.0, nbs.cell_points(c), False, f"not graded: {reason}")
             for i, c in enumerate(source.cells) if nbs.is_test_cell(c)]
    return NotebookResult(0.0, sum(c.max_points for c in cells), status, reason, cells, seconds=seconds)


def grade_notebook(source_path, submission_path, *, scratch_dir=None, limits: Limits = Limits()) -> NotebookResult:
    """Grade one submission against its source notebook (see the module docstring).

    Parameters
    ----------
    source_path : path
        The instructor's notebook (solutions and hidden tests).
    submission_path : path
        The student's notebook.
    scratch_dir : path, optional
        An empty directory for the kernel's files (default: a temporary directory, removed after).
    limits : Limits
        Time, CPU, memory and output limits.

    Returns
    -------
    NotebookResult
        Never raises for anything in the submission; ``status`` and ``reason`` say what happened.
    """
    started = time.monotonic()
    source = read_source(source_path)
    cells, status, reason = read_submission(submission_path)
    if cells is None:
        return _unrun(source, status, reason)
    steps, notes = build_plan(source, cells)
    run = _Run(steps, source, limits, notes)
    hide = [Path(source_path).resolve().parent, Path(submission_path).absolute().parent]
    with _scratch(scratch_dir) as scratch:
        try:
            isolation = run.run(scratch, hide)
        except sandbox.SandboxError as exc:
            return _unrun(source, "error", f"the kernel could not start: {exc}", time.monotonic() - started)
        except Exception as exc:  # noqa: BLE001 - a grader bug must not stop a batch
            return _unrun(source, "error", f"grading failed: {type(exc).__name__}: {exc}", time.monotonic() - started)
    return run.result(isolation, time.monotonic() - started)


@contextlib.contextmanager
def _scratch(scratch_dir):
    if scratch_dir is not None:
        path = Path(scratch_dir)
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    path = Path(tempfile.mkdtemp(prefix="autograde-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# ============================================================================ a whole class

@dataclass(frozen=True)
class GradeRow:
    """One line of grades.csv: a student's notebook for one assignment."""

    student_id: str
    assignment: str
    notebook: str
    score: float
    max_score: float
    status: str
    reason: str


CSV_FIELDS = [f.name for f in dataclasses.fields(GradeRow)]
RESUBMISSION_SEPARATORS = " _-.(+"
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?")
SELECTION_RULE = (
    "which notebook is graded when a student submitted more than one: among the folders for the "
    "assignment (named <assignment>, or <assignment> followed by one of ' _-.(+' for resubmissions), the "
    "latest by nbgrader's timestamp.txt wins (a folder without one counts as oldest); at equal times a "
    "resubmission folder beats <assignment> and the last name in sorted order wins. In that folder, "
    "<assignment>.ipynb is graded; if it is absent and exactly one other notebook is there, that one is "
    "graded (renamed); otherwise the next folder is tried.")


@dataclass
class Task:
    """One student's notebook to grade (``notebook`` None when nothing usable was found)."""

    student: str
    assignment: str
    source: Path
    notebook: Path | None
    notes: list[str] = field(default_factory=list)
    missing: str = ""


def find_sources(source_dir) -> dict[str, Path]:
    """The source notebooks directly in ``source_dir``, by assignment id (the file's stem)."""
    return {p.stem: p for p in sorted(Path(source_dir).glob("*.ipynb")) if p.is_file() and not p.name.startswith(".")}


def _visible_dirs(path: Path) -> list[Path]:
    return [d for d in sorted(path.iterdir()) if d.is_dir() and not d.is_symlink() and not d.name.startswith(".")]


def _assignment_of(folder: str, assignments) -> str | None:
    """The assignment a student's folder is for: its exact name, or a resubmission ``<id>_2``, ``<id> (1)``..."""
    if folder in assignments:
        return folder
    matches = [a for a in assignments if folder.startswith(a) and folder[len(a)] in RESUBMISSION_SEPARATORS]
    return max(matches, key=len) if matches else None


def _timestamp(folder: Path) -> str:
    stamp = folder / "timestamp.txt"
    if stamp.is_file() and not stamp.is_symlink():
        with contextlib.suppress(OSError, UnicodeDecodeError):
            with open(stamp, encoding="utf-8") as handle:
                match = TIMESTAMP.match(handle.read(100).strip())
            return match.group(0).replace("T", " ") if match else ""
    return ""


def _pick_notebook(folder: Path, assignment: str) -> tuple[Path | None, str]:
    expected = folder / f"{assignment}.ipynb"
    notebooks = [p for p in sorted(folder.glob("*.ipynb")) if not p.name.startswith(".")]
    if os.path.lexists(expected):
        others = [p.name for p in notebooks if p != expected]
        return expected, (f"ignored {', '.join(others)}" if others else "")
    if len(notebooks) == 1:
        return notebooks[0], f"graded {notebooks[0].name} in place of {expected.name} (renamed)"
    if not notebooks:
        return None, f"no notebook in {folder.name}/"
    return None, f"{len(notebooks)} notebooks in {folder.name}/, none named {expected.name}: {', '.join(p.name for p in notebooks)}"


def find_submissions(submissions_dir, sources: dict[str, Path]) -> tuple[list[Task], list[str]]:
    """Tasks for every student and every assignment present in the batch, and log lines on the choices."""
    log, by_student = [], {}
    for entry in sorted(Path(submissions_dir).iterdir()):
        if entry not in _visible_dirs(Path(submissions_dir)):
            log.append(f"{entry.name}: not a student folder (a file, a link or hidden), skipped")
    for student_dir in _visible_dirs(Path(submissions_dir)):
        folders: dict[str, list[Path]] = {}
        for folder in _visible_dirs(student_dir):
            assignment = _assignment_of(folder.name, sources)
            if assignment is None:
                log.append(f"{student_dir.name}/{folder.name}: no source notebook for this folder, skipped")
            else:
                folders.setdefault(assignment, []).append(folder)
        by_student[student_dir.name] = folders
    assignments = sorted({a for folders in by_student.values() for a in folders})
    tasks = [_choose(student, a, sources[a], folders.get(a, []), log)
             for student, folders in by_student.items() for a in assignments]
    return tasks, log


def _choose(student: str, assignment: str, source: Path, folders: list[Path], log: list[str]) -> Task:
    ranked = sorted(folders, key=lambda d: (_timestamp(d), d.name != assignment, d.name), reverse=True)
    task, tried = Task(student, assignment, source, None), []
    for folder in ranked:
        notebook, note = _pick_notebook(folder, assignment)
        if notebook is not None:
            task.notebook = notebook
            task.notes += [n for n in (note,) if n]
            break
        tried.append(note)
    if task.notebook is not None:
        task.notes = tried + task.notes  # folders passed over on the way
    if len(ranked) > 1 and task.notebook is not None:
        ignored = [d.name for d in ranked if d != task.notebook.parent]
        task.notes.append(f"{len(ranked)} submissions: graded {task.notebook.parent.name}/, ignored {', '.join(ignored)}/")
    if task.notebook is None:
        task.missing = "; ".join(tried) or f"no submission for {assignment}"
    where = f"{task.notebook.parent.name}/{task.notebook.name}" if task.notebook else "nothing"
    log.append(f"{student}/{assignment}: chose {where}" + (f" ({'; '.join(task.notes)})" if task.notes else ""))
    return task


def _grade_task(task: Task, out_dir: Path, work_dir: Path, limits: Limits) -> dict:
    """Grade one task and write its feedback; a plain dict for the parent process."""
    from autograde import feedback
    if task.notebook is None:
        result = _unrun(read_source(task.source), "missing", task.missing)
    else:
        scratch = Path(tempfile.mkdtemp(prefix=f"{task.assignment}-", dir=work_dir))
        try:
            result = grade_notebook(task.source, task.notebook, scratch_dir=scratch, limits=limits)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    if task.notes:
        result.reason = "; ".join([result.reason] + task.notes)
    feedback.write_feedback(out_dir / "feedback" / task.student / f"{task.assignment}.html", result,
                            student=task.student, assignment=task.assignment)
    row = GradeRow(task.student, task.assignment, task.notebook.name if task.notebook else "", result.score,
                   result.max_score, result.status, result.reason)
    return {"row": dataclasses.asdict(row), "seconds": result.seconds, "isolation": result.isolation}


def _worker(task: Task, out_dir: Path, work_dir: Path, limits: Limits, connection) -> None:
    try:
        outcome = _grade_task(task, out_dir, work_dir, limits)
    except BaseException as exc:  # noqa: BLE001 - reported as this submission's error row
        outcome = {"error": f"{type(exc).__name__}: {exc}"}
    connection.send(outcome)
    connection.close()


class _Pool:
    """Runs tasks in at most ``jobs`` grader processes at once, one fresh process per submission.

    A process that dies or overruns its time is reported as that submission's error; the others go on.
    """

    def __init__(self, jobs: int, limits: Limits, preload: list[str]):
        import multiprocessing
        self.context = multiprocessing.get_context("forkserver")
        self.context.set_forkserver_preload(preload)
        self.jobs, self.limits = max(1, int(jobs)), limits
        self.overrun_s = limits.notebook_timeout_s + 120.0

    def run(self, tasks: list[Task], out_dir: Path, work_dir: Path, on_result) -> None:
        from multiprocessing.connection import wait
        pending, running = list(tasks), {}
        while pending or running:
            while pending and len(running) < self.jobs:
                task = pending.pop(0)
                receiver, sender = self.context.Pipe(duplex=False)
                process = self.context.Process(target=_worker, args=(task, out_dir, work_dir, self.limits, sender))
                process.start()
                sender.close()
                running[process.sentinel] = {"process": process, "receiver": receiver, "task": task,
                                             "started": time.monotonic(), "outcome": None}
            listening = [e["receiver"] for e in running.values() if e["outcome"] is None]
            for ready in wait(listening + list(running), timeout=1.0):
                self._collect(ready, running, on_result)
            self._stop_overruns(running)

    def _collect(self, ready, running: dict, on_result) -> None:
        if ready in running:
            entry = running.pop(ready)
            if entry["outcome"] is None and entry["receiver"].poll():
                self._receive(entry)
            entry["process"].join()
            outcome = entry["outcome"] or {"error": f"the grader process died ({_exit_text(entry['process'].exitcode)})"}
            entry["receiver"].close()
            on_result(entry["task"], outcome, time.monotonic() - entry["started"])
            return
        for entry in running.values():
            if entry["receiver"] is ready:
                self._receive(entry)

    @staticmethod
    def _receive(entry: dict) -> None:
        try:
            entry["outcome"] = entry["receiver"].recv()
        except (EOFError, OSError):
            entry["outcome"] = {"error": "the grader process died before reporting"}

    def _stop_overruns(self, running: dict) -> None:
        for entry in running.values():
            if entry["outcome"] is None and time.monotonic() - entry["started"] > self.overrun_s:
                entry["outcome"] = {"error": f"the grader process ran past {self.overrun_s:g} s and was stopped"}
                entry["process"].kill()


def _exit_text(code) -> str:
    if code is not None and code < 0:
        return f"killed by signal {signal.Signals(-code).name}"
    return f"exit code {code}"


def grade_class(submissions_dir, source_dir, out_dir, jobs: int = 2, limits: Limits = Limits()) -> list[GradeRow]:
    """Grade every submission ``submissions_dir/<student>/<assignment>/<notebook>.ipynb``.

    Parameters
    ----------
    submissions_dir : path
        One folder per student (nbgrader's layout).
    source_dir : path
        The source notebooks ``<assignment>.ipynb`` (solutions and hidden tests).
    out_dir : path
        Receives ``grades.csv``, ``feedback/<student>/<assignment>.html`` and ``grading.log``.
    jobs : int
        Submissions graded at once (each in its own grader process and sandboxed kernel).
    limits : Limits
        Per-submission limits.

    Returns
    -------
    list of GradeRow
        One per student and assignment present in the batch, sorted; nothing in a submission stops the batch.

    With several workers, a notebook that timed out is graded once more at the end, alone, and
    that second result is the one kept: a timeout must be the submission's own doing, not the
    work of another submission busy on the same cores (the log says which were graded again).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sources = find_sources(source_dir)
    tasks, choices = find_submissions(submissions_dir, sources)
    rows: list[GradeRow] = []
    with open(out_dir / "grading.log", "w", encoding="utf-8") as log:
        note = _logger(log)
        note(f"grading {len(tasks)} notebooks ({len({t.student for t in tasks})} students) from {submissions_dir} "
             f"against {source_dir} with {jobs} workers; limits {limits}")
        note(f"isolation: {'namespaces+chroot+uid' if sandbox.isolation_available() else 'NONE (not root): student code runs with the grader rights'}")
        note("rule: " + SELECTION_RULE)
        for line in choices:
            note(line)

        timed_out: list[Task] = []  # graded again alone when others ran beside them

        def on_result(task: Task, outcome: dict, seconds: float) -> None:
            row = _row(task, outcome)
            line = f"{row.status} {row.score:g}/{row.max_score:g} in {seconds:.1f} s: {row.reason}"
            if row.status == "timeout" and jobs > 1 and task not in timed_out:
                timed_out.append(task)
                note(f"{row.student_id}/{row.assignment}: {line} (beside other jobs: graded again alone at the end)")
                return
            rows.append(row)
            note(f"{row.student_id}/{row.assignment}: {line}")

        quick = [t for t in tasks if t.notebook is None]
        for task in quick:
            on_result(task, _grade_task(task, out_dir, out_dir, limits), 0.0)
        work_dir = Path(tempfile.mkdtemp(prefix="autograde-grade-"))
        try:
            preload = ["autograde.grading", "autograde.feedback", *_import_targets(sources.values())]
            _Pool(jobs, limits, preload).run([t for t in tasks if t.notebook is not None], out_dir, work_dir, on_result)
            if timed_out:
                note(f"grading again, one at a time, the {len(timed_out)} notebook(s) that timed out beside other jobs")
                _Pool(1, limits, preload).run(list(timed_out), out_dir, work_dir, on_result)
        finally:
            shutil.rmtree(work_dir, ignore_errors=True)
        rows.sort(key=lambda r: (r.student_id, r.assignment))
        _write_csv(out_dir / "grades.csv", rows)
        counts = {s: sum(r.status == s for r in rows) for s in STATUSES if any(r.status == s for r in rows)}
        note(f"done: {len(rows)} rows, " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    return rows


def _row(task: Task, outcome: dict) -> GradeRow:
    if "row" in outcome:
        return GradeRow(**outcome["row"])
    total = sum(nbs.cell_points(c) for c in read_source(task.source).cells)
    name = task.notebook.name if task.notebook else ""
    return GradeRow(task.student, task.assignment, name, 0.0, total, "error", str(outcome.get("error"))[:500])


def _logger(log):
    def note(line: str) -> None:
        log.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}\n")
        log.flush()
    return note


def _import_targets(sources) -> list[str]:
    """Modules the sources import (preloaded once in the grader processes' parent)."""
    names = set()
    for path in sources:
        with contextlib.suppress(ValueError):
            for statement in source_imports(read_source(path)):
                node = ast.parse(statement).body[0]
                if isinstance(node, ast.Import):
                    names.update(alias.name for alias in node.names)
                elif node.module:
                    names.add(node.module)
    return sorted(n for n in names if _module_exists(n))


def _module_exists(name: str) -> bool:
    import importlib.util
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _write_csv(path: Path, rows: list[GradeRow]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for row in rows:
            writer.writerow({**dataclasses.asdict(row), "score": f"{row.score:g}", "max_score": f"{row.max_score:g}"})
