"""Command line: ``python -m autograde {release,check,grade,student-lab}``.

Each subcommand lives in its own module, which exposes ``register(subparsers)``; the parser it adds
sets ``func(args) -> int`` (the exit status).
"""
from __future__ import annotations

import argparse
import importlib
import sys

# The modules that register a subcommand, in the order ``--help`` lists them.
COMMAND_MODULES = (
    "autograde.release",       # release [--check]: instructor, regenerate and validate course/
    "autograde.selfcheck",     # check NOTEBOOK: student, run the visible tests as the grader will
    "autograde.grade_command",  # grade --submissions DIR --out DIR: grader, the whole class
    "autograde.student_lab",   # student-lab: hide nbgrader's instructor tools in JupyterLab
)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand registered."""
    parser = argparse.ArgumentParser(prog="python -m autograde", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand; returns its exit status."""
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
