"""Grading throughput: N copies of a course notebook, ``nbgrader autograde`` (serial) vs ``grade_class``.

``python -m benchmarks.grading_throughput [--n 20] [--jobs 2] [--notebook 01_numpy_basics]``

Each submission is the student release (``course/``) with the solutions of ``solutions/`` filled
in, so every test passes. nbgrader grades them in one ``nbgrader autograde`` call on a throwaway
course directory (its per-call import cost counted once); autograde grades them with
``grade_class(..., jobs=N)``: one grader process and one sandboxed kernel per submission. Both
timings are wall clock for the whole batch, divided by N.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent


def filled_release(name: str) -> nbformat.NotebookNode:
    """The student release with every solution cell holding the source's solution (markers removed)."""
    from autograde import notebooks as nbs
    source = nbs.read_notebook(ROOT / "solutions" / f"{name}.ipynb")
    release = nbs.read_notebook(ROOT / "course" / f"{name}.ipynb")
    answers = {nbs.grade_id(c): c.source for c in source.cells if nbs.is_solution_cell(c)}
    for cell in release.cells:
        if nbs.is_solution_cell(cell) and nbs.grade_id(cell) in answers:
            text = answers[nbs.grade_id(cell)]
            cell.source = "\n".join(line for line in text.splitlines() if "### BEGIN SOLUTION" not in line
                                    and "### END SOLUTION" not in line)
    return release


def write_submissions(folder: Path, name: str, n: int) -> None:
    notebook = filled_release(name)
    for i in range(n):
        path = folder / f"student{i:03d}" / name / f"{name}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, str(path))


def time_nbgrader(name: str, n: int, work: Path) -> float:
    """Seconds for one ``nbgrader autograde`` call grading ``n`` submissions (setup not counted)."""
    course = work / "nbgrader_course"
    (course / "source" / name).mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / f"{name}.ipynb", course / "source" / name / f"{name}.ipynb")
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        "c.ExecutePreprocessor.timeout = 300\n")
    env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    nbgrader = [sys.executable, "-m", "nbgrader"]
    subprocess.run(nbgrader + ["generate_assignment", name, "--force"], cwd=course, env=env, check=True,
                   capture_output=True)
    write_submissions(course / "submitted", name, n)
    start = time.perf_counter()
    done = subprocess.run(nbgrader + ["autograde", name, "--create", "--force"], cwd=course, env=env,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"nbgrader autograde failed:\n{done.stderr[-2000:]}")
    return seconds


def time_autograde(name: str, n: int, jobs: int, work: Path) -> tuple[float, list]:
    """Seconds for ``grade_class`` on ``n`` submissions, and its rows."""
    from autograde import grading
    submissions = work / "submissions"
    write_submissions(submissions, name, n)
    sources = work / "sources"
    sources.mkdir()
    shutil.copy(ROOT / "solutions" / f"{name}.ipynb", sources / f"{name}.ipynb")
    start = time.perf_counter()
    rows = grading.grade_class(submissions, sources, work / "graded", jobs=jobs)
    return time.perf_counter() - start, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.grading_throughput", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="number of submissions (default 20)")
    parser.add_argument("--jobs", type=int, default=2, help="grade_class workers (default 2)")
    parser.add_argument("--notebook", default="01_numpy_basics", help="course notebook to grade")
    parser.add_argument("--skip-nbgrader", action="store_true", help="time autograde only")
    args = parser.parse_args(argv)
    from autograde import sandbox
    print(f"\ngrading throughput: {args.n} copies of {args.notebook} (solutions filled in), "
          f"isolation: {'namespaces+chroot+uid' if sandbox.isolation_available() else 'none'}, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="grading-bench-") as tmp:
        work = Path(tmp)
        ours, rows = time_autograde(args.notebook, args.n, args.jobs, work / "autograde")
        full = sum(r.status == "graded" and r.score == r.max_score for r in rows)
        print(f"  autograde grade_class (jobs={args.jobs}): {ours:7.1f} s total, {ours / args.n:6.2f} s per submission "
              f"({full}/{len(rows)} full marks)")
        if args.skip_nbgrader:
            return 0
        theirs = time_nbgrader(args.notebook, args.n, work / "nbgrader")
        print(f"  nbgrader autograde (serial, one call):  {theirs:7.1f} s total, {theirs / args.n:6.2f} s per submission")
        print(f"  ratio nbgrader / autograde: {theirs / ours:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
