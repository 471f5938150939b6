"""Per-student feedback pages: the score, each test with its points and failure message, the student's code.

The page is built from a ``NotebookResult`` only, which holds no test code and, for hidden tests,
only redacted messages: nothing of the solutions, hidden tests or reference values can reach it.
It is a single self-contained HTML file (inline CSS, no scripts).
"""
from __future__ import annotations

import html
from pathlib import Path

STATUS_TEXT = {
    "graded": "graded", "timeout": "stopped: time limit", "crashed": "stopped: the kernel crashed",
    "memory": "stopped: out of memory", "invalid": "not graded: the file is not a valid notebook",
    "missing": "not graded: no notebook found", "error": "not graded: grader error",
}

CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 60em;
       padding: 0 1em; color: #1d2330; }
h1 { font-size: 1.5em; margin-bottom: .2em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
.summary { display: flex; gap: 1.5em; align-items: baseline; flex-wrap: wrap; }
.score { font-size: 2em; font-weight: 600; } .reason { color: #555; }
.badge { padding: .1em .6em; border-radius: 1em; font-size: .85em; background: #eee; }
.badge.graded { background: #e3f4e6; color: #1b6b2c; } .badge.bad { background: #fde8e6; color: #9b2418; }
table { border-collapse: collapse; width: 100%; } td, th { padding: .45em .6em; border-bottom: 1px solid #eee;
       text-align: left; vertical-align: top; }
td.points { white-space: nowrap; font-variant-numeric: tabular-nums; }
.ok { color: #1b6b2c; font-weight: 600; } .fail { color: #9b2418; font-weight: 600; }
pre { background: #f6f7f9; padding: .7em .9em; border-radius: 6px; overflow-x: auto; font-size: 13px;
      white-space: pre-wrap; margin: .4em 0; }
pre.message { background: #fff6f5; border-left: 3px solid #d9534f; }
details summary { cursor: pointer; color: #555; font-size: .9em; }
.cell-label { font-weight: 600; margin-top: 1.2em; } .cell-error { color: #9b2418; font-size: .9em; }
"""


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _points(value: float) -> str:
    return f"{value:g}"


def _code(source: str) -> str:
    """Highlighted Python (pygments when installed) inside a <pre>."""
    try:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import PythonLexer
    except ImportError:
        return f"<pre>{_e(source)}</pre>"
    return highlight(source, PythonLexer(), HtmlFormatter(nowrap=False, noclasses=True, style="friendly"))


def _test_row(cell) -> str:
    mark = '<span class="ok">passed</span>' if cell.passed else '<span class="fail">failed</span>'
    body = ""
    if not cell.passed and cell.message:
        body += f'<pre class="message">{_e(cell.message)}</pre>'
    if not cell.passed and cell.traceback:
        body += f"<details><summary>where in your code</summary><pre>{_e(cell.traceback)}</pre></details>"
    return (f"<tr><td>{_e(cell.grade_id)}</td><td class=\"points\">{_points(cell.points)} / {_points(cell.max_points)}</td>"
            f"<td>{mark}{body}</td></tr>")


def _student_cell(cell) -> str:
    error = f'<div class="cell-error">this cell raised {_e(cell.error)}</div>' if cell.error else ""
    return f'<div class="cell-label">{_e(cell.label)}</div>{error}{_code(cell.source)}'


def render_feedback(result, *, student: str, assignment: str) -> str:
    """The feedback page for one student's notebook, as HTML text.

    Parameters
    ----------
    result : autograde.grading.NotebookResult
    student, assignment : str
        Shown in the title.
    """
    badge = "graded" if result.status == "graded" else "bad"
    tests = "".join(_test_row(c) for c in result.cells)
    cells = "".join(_student_cell(c) for c in result.student_cells) or "<p>No code of yours was run.</p>"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_e(assignment)}: feedback for {_e(student)}</title>
<style>{CSS}</style></head><body>
<h1>{_e(assignment)}</h1>
<div class="summary"><span class="score">{_points(result.score)} / {_points(result.max_score)}</span>
<span class="badge {badge}">{_e(STATUS_TEXT.get(result.status, result.status))}</span>
<span>student: {_e(student)}</span></div>
<p class="reason">{_e(result.reason)}</p>
<h2>Tests</h2>
<table><thead><tr><th>test</th><th>points</th><th>result</th></tr></thead><tbody>{tests}</tbody></table>
<h2>Your code, as it was graded</h2>
{cells}
</body></html>
"""


def write_feedback(path, result, *, student: str, assignment: str) -> Path:
    """Write ``render_feedback(...)`` to ``path`` (parents created); the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_feedback(result, student=student, assignment=assignment), encoding="utf-8")
    return path
