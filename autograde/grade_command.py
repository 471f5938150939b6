"""The ``grade`` subcommand: ``python -m autograde grade --submissions DIR --out DIR [--jobs N] [--source DIR]``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_SOURCE = Path(__file__).resolve().parent.parent / "solutions"


def register(subparsers) -> argparse.ArgumentParser:
    """Add ``grade`` to the CLI's subparsers; the parser sets ``func(args) -> int``."""
    parser = subparsers.add_parser(
        "grade", help="grade a class: every DIR/<student>/<assignment>/<notebook>.ipynb, in isolation and in parallel",
        description="Grade every submission in a sandboxed kernel; write grades.csv (one row per student and "
                    "notebook, with a status and a reason), feedback/<student>/<assignment>.html and grading.log.")
    parser.add_argument("--submissions", type=Path, required=True, metavar="DIR",
                        help="one folder per student, each with one folder per assignment (nbgrader's layout)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="where the grades, feedback and log go")
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, metavar="DIR",
                        help="the source notebooks with solutions and hidden tests (default: solutions/)")
    parser.add_argument("--jobs", type=int, default=2, metavar="N", help="submissions graded at once (default: 2)")
    parser.add_argument("--cell-timeout", type=float, default=None, metavar="S", help="seconds per cell (default: 60)")
    parser.add_argument("--notebook-timeout", type=float, default=None, metavar="S",
                        help="seconds per notebook (default: 300)")
    parser.add_argument("--memory", type=float, default=None, metavar="GIB", help="memory per kernel in GiB (default: 2)")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Grade the class; exit status 0 when every submission got a row (whatever its status), 2 on bad arguments."""
    from autograde import grading, sandbox
    for name, path in (("--submissions", args.submissions), ("--source", args.source)):
        if not path.is_dir():
            print(f"{name} {path}: not a directory", file=sys.stderr)
            return 2
    if args.out.resolve().is_relative_to(args.submissions.resolve()):
        print("--out must not be inside --submissions", file=sys.stderr)
        return 2
    changes = {"cell_timeout_s": args.cell_timeout, "notebook_timeout_s": args.notebook_timeout,
               "memory_bytes": None if args.memory is None else int(args.memory * 2**30)}
    limits = grading.Limits(**{k: v for k, v in changes.items() if v is not None})
    if not sandbox.isolation_available():
        print("warning: not running as root: student code will run WITHOUT isolation (see grading.log)", file=sys.stderr)
    rows = grading.grade_class(args.submissions, args.source, args.out, jobs=args.jobs, limits=limits)
    by_status = {}
    for row in rows:
        by_status[row.status] = by_status.get(row.status, 0) + 1
    print(f"{len(rows)} notebooks graded: " + ", ".join(f"{n} {s}" for s, n in sorted(by_status.items())))
    print(f"grades: {args.out / 'grades.csv'}  feedback: {args.out / 'feedback'}  log: {args.out / 'grading.log'}")
    return 0
