"""Hostile submissions graded as one class: every student gets a row, cheats earn nothing, nothing leaks.

The batch (``fixtures/tiny_course.py``: about 25 students, two of them honest) is graded once per
test run, shared by the pytest-xdist workers through a lock file, and each test below reads what it
needs from its grades.csv, feedback pages and log.
"""
from __future__ import annotations

import csv
import fcntl
import importlib.util
import json
import os
import re
from pathlib import Path

import pytest

import autograde
from autograde import grading, sandbox

HERE = Path(__file__).resolve().parent
spec = importlib.util.spec_from_file_location("tiny_course", HERE / "fixtures" / "tiny_course.py")
tiny = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tiny)

pytestmark = pytest.mark.skipif(not sandbox.isolation_available(), reason="isolating kernels needs root on Linux")

LIMITS = grading.Limits(cell_timeout_s=6.0, notebook_timeout_s=90.0)
REPO = Path(autograde.__file__).resolve().parent.parent
OSERRORS = {"FileNotFoundError", "PermissionError", "OSError", "ProcessLookupError"}


def _shared_dir(tmp_path_factory) -> Path:
    """A directory shared by all xdist workers of this run (this run's own under plain pytest)."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    base = tmp_path_factory.getbasetemp()
    return (base.parent / f"hostile-{run}") if run else (base / "hostile")


def _grade_batch(root: Path) -> dict:
    source_dir, subs, out = root / "source", root / "submissions", root / "out"
    source = tiny.write_source(source_dir)
    out.mkdir(parents=True)
    (out / "gradebook.db").write_text("GRADEBOOK")
    paths = {"gradebook": out / "gradebook.db", "source": source,
             "other": subs / "honest_a" / tiny.ASSIGNMENT / f"{tiny.ASSIGNMENT}.ipynb",
             "submissions": subs, "package": REPO / "dlkit", "git": REPO / ".git" / "HEAD"}
    expected = tiny.write_class(subs, paths)
    before = sorted(str(p.relative_to(subs)) for p in subs.rglob("*"))
    rows = grading.grade_class(subs, source_dir, out, jobs=2, limits=LIMITS)
    after = sorted(str(p.relative_to(subs)) for p in subs.rglob("*"))
    return {"root": str(root), "expected": expected, "rows": [r.__dict__ for r in rows],
            "submissions_unchanged": before == after}


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> dict:
    """The graded batch (graded by the first worker that asks; the others wait and read)."""
    shared = _shared_dir(tmp_path_factory)
    shared.mkdir(parents=True, exist_ok=True)
    with open(shared / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = shared / "batch.json"
        if not done.exists():
            done.write_text(json.dumps(_grade_batch(shared / "class")))
        result = json.loads(done.read_text())
    result["out"] = Path(result["root"]) / "out"
    result["by_student"] = {r["student_id"]: r for r in result["rows"]}
    return result


def feedback(batch, student: str) -> str:
    return (batch["out"] / "feedback" / student / f"{tiny.ASSIGNMENT}.html").read_text()


def cell_errors(page: str) -> list[str]:
    """The exception types the feedback page reports for the student's own cells."""
    return re.findall(r"this cell raised (\w+)", page)


def test_every_student_gets_one_row(batch):
    """Does every student folder, whatever it holds, end as exactly one row in grades.csv?"""
    with open(batch["out"] / "grades.csv", newline="") as handle:
        students = [row["student_id"] for row in csv.DictReader(handle)]
    assert sorted(students) == sorted(batch["expected"])
    assert len(students) == len(set(students))


@pytest.mark.parametrize("student", sorted(tiny.SUBMISSIONS) + ["renamer", "ghost", "garbled", "twice", "linker"])
def test_status_and_score(batch, student):
    """Does each hostile or broken submission end with the status and score it deserves?"""
    row = batch["by_student"][student]
    status, score = batch["expected"][student]
    assert (row["status"], row["score"]) == (status, score), row["reason"]
    assert row["max_score"] == 3.0
    assert row["reason"]


def test_honest_students_get_full_marks(batch):
    """Do the two honest students get every point despite the hostile batch around them?"""
    for student in ("honest_a", "honest_b"):
        row = batch["by_student"][student]
        assert (row["status"], row["score"]) == ("graded", 3.0)


def test_reasons_say_what_happened(batch):
    """Does each unusual row's reason say what happened in a person's terms?"""
    reason = {s: r["reason"] for s, r in batch["by_student"].items()}
    assert "ran past the 6 s limit and was interrupted" in reason["looper"]
    assert "ignored the interrupt" in reason["stubborn"]
    assert "your cell 3 ran past the 6 s limit and was interrupted" in reason["spinner"]
    assert "exited with code 3" in reason["exiter"]
    assert "SIGSEGV" in reason["segfaulter"]
    assert "ran out of memory" in reason["hog"]
    assert "appears more than once" in reason["duplicator"]
    assert "renamed" in reason["renamer"]
    assert "no notebook" in reason["ghost"]
    assert "not valid notebook JSON" in reason["garbled"]
    assert "symbolic link" in reason["linker"]
    assert "_resubmit" in reason["twice"] and "scratch.ipynb" in reason["twice"]


def test_intrusions_fail_and_change_nothing(batch):
    """Do writes to the gradebook and the package, reads of the source, of others' work and of .git, the network and init all fail?"""
    errors = cell_errors(feedback(batch, "intruder"))
    assert len(errors) == 8 and set(errors) <= OSERRORS, errors
    assert (batch["out"] / "gradebook.db").read_text() == "GRADEBOOK"
    assert not (REPO / "dlkit" / "hacked.py").exists()
    assert batch["submissions_unchanged"]


def test_signals_reach_no_other_process(batch):
    """Can a kernel that kills every process it may signal hurt anyone (init, other students)?"""
    assert set(cell_errors(feedback(batch, "signaller"))) <= OSERRORS
    assert batch["by_student"]["honest_a"]["status"] == "graded"


def test_reference_use_is_named_in_feedback(batch):
    """Does the feedback of a student who called dlkit's implementation say so?"""
    for student in ("copier_alias", "copier_direct"):
        assert "calls dlkit&#x27;s own implementation" in feedback(batch, student)


def test_feedback_never_shows_hidden_tests(batch):
    """Is every feedback page free of hidden test code and of the hidden values?"""
    for page in (batch["out"] / "feedback").rglob("*.html"):
        text = page.read_text()
        assert tiny.SECRET not in text and "HIDDEN" not in text and "default_rng(7)" not in text, page


def test_partial_results_survive_a_crash(batch):
    """After the kernel dies in the second test, is the first test's grade kept and the second marked?"""
    page = feedback(batch, "exiter")
    assert "2 / 2" in page and "not graded: the kernel crashed during scale_test" in page


def test_log_records_the_choice_among_submissions(batch):
    """Does grading.log state the rule and which of a student's submissions was graded?"""
    log = (batch["out"] / "grading.log").read_text()
    assert "rule: " in log
    assert "twice/01_tiny: chose 01_tiny_resubmit/01_tiny.ipynb" in log


def test_timeouts_are_graded_again_alone(batch):
    """Beside another job, a timeout could be the neighbour's doing: are the timed-out notebooks graded
    again one at a time, each still with one row, and does the log say so?"""
    log = (batch["out"] / "grading.log").read_text()
    timed_out = sorted(s for s, r in batch["by_student"].items() if r["status"] == "timeout")
    assert {"looper", "stubborn", "spinner"} <= set(timed_out)
    assert f"grading again, one at a time, the {len(timed_out)} notebook(s) that timed out beside other jobs" in log
    for student in timed_out:
        assert f"{student}/{tiny.ASSIGNMENT}: timeout" in log.split("grading again")[0]  # first, beside others
        assert f"{student}/{tiny.ASSIGNMENT}: timeout" in log.split("grading again")[1]  # then alone, kept
