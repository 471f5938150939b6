"""Tests of the command line, run as a user runs it: ``python -m autograde ...`` in a subprocess."""
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from autograde import student_lab

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "autograde", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "PYTHONPATH": str(REPO)})


def test_help_lists_the_subcommands():
    """Does --help list release, check and student-lab?"""
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("release", "check", "student-lab"):
        assert command in result.stdout


def test_no_subcommand_is_a_usage_error():
    """Does running without a subcommand exit non-zero with argparse's usage message?"""
    result = run_cli()
    assert result.returncode == 2
    assert "usage: python -m autograde" in result.stderr


def test_check_of_a_missing_notebook_says_so(tmp_path):
    """Does `check` on a missing file exit 2 and name the file?"""
    result = run_cli("check", str(tmp_path / "01_missing.ipynb"))
    assert result.returncode == 2
    assert "01_missing.ipynb: no such notebook" in result.stderr


def test_check_rejects_a_notebook_without_tests(tmp_path):
    """Does `check` refuse a notebook that has no autograded test cells?"""
    path = tmp_path / "01_plain.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("x = 1")]), str(path))
    result = run_cli("check", str(path))
    assert result.returncode == 2
    assert "not a course notebook" in result.stderr


def test_check_rejects_an_instructor_notebook():
    """Does `check` refuse a solutions notebook (it holds hidden tests) and point to course/?"""
    result = run_cli("check", "solutions/01_numpy_basics.ipynb")
    assert result.returncode == 2
    assert "instructor notebook with hidden tests" in result.stderr


def test_check_rejects_invalid_json(tmp_path):
    """Does `check` report a broken notebook file instead of a traceback?"""
    path = tmp_path / "01_broken.ipynb"
    path.write_text("{not json")
    result = run_cli("check", str(path))
    assert result.returncode == 2
    assert "not a readable notebook" in result.stderr and "Traceback" not in result.stderr


def test_release_without_sources_is_an_error(tmp_path):
    """Does `release` in a folder without solutions/ exit non-zero with a message?"""
    result = run_cli("release", "--check", cwd=tmp_path)
    assert result.returncode == 2
    assert "no source notebooks" in result.stderr


def test_student_lab_hides_nbgrader_and_is_idempotent():
    """Does `student-lab` leave nbgrader's extensions disabled, print nothing with --quiet, and change nothing twice?"""
    quiet = run_cli("student-lab", "--quiet")
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""
    again = run_cli("student-lab")
    assert again.returncode == 0
    assert "nothing to change" in again.stdout
    page_config = Path(sys.prefix, "etc", "jupyter", "labconfig", "page_config.json")
    disabled = json.loads(page_config.read_text())["disabledExtensions"]
    assert disabled["@jupyter/nbgrader"] and disabled["@jupyter/nbgrader:formgrader"]
    assert student_lab.server_extensions() == dict.fromkeys(student_lab.NBGRADER_SERVER_EXTENSIONS, False)
