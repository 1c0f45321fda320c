"""kill -9 of the grader mid-run loses no finished grade and leaves no half-written file; a re-run finishes."""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from grading.autograde.fake_class import student_notebook, write_submission
from grading.autograde.outputs import CSV_COLUMNS

from grading_helpers import FIXTURE, FIXTURE_COURSE, NEEDS_BWRAP, REPO, read_grades, run_grade

pytestmark = [NEEDS_BWRAP, pytest.mark.slow]


def _class(root):
    plans = {"s1": None, "s2": {"scale"}, "s3": set(), "s4": {"make_range", "total"}, "s5": None, "s6": {"total"}}
    for student, answered in plans.items():
        write_submission(root, student, FIXTURE, f"{FIXTURE}.ipynb",
                         student_notebook(FIXTURE_COURSE, FIXTURE, answered=answered))


def _assert_sandboxes_die_with(grader_pid):
    """No kernel outlives the killed grader (checked through its per-sandbox cgroups, when there are any)."""
    groups = list(Path("/sys/fs/cgroup/pids").glob(f"grading-{grader_pid}-*"))
    deadline = time.monotonic() + 10
    alive = []
    while time.monotonic() < deadline:
        alive = [pid for g in groups if g.exists() for pid in (g / "cgroup.procs").read_text().split()]
        if not alive:
            break
        time.sleep(0.1)
    assert not alive, f"sandbox processes survived the grader: {alive}"


def _assert_whole(out):
    """Every visible file is complete: JSON parses, the CSV has its header and full rows."""
    for path in (out / "results").rglob("*.json"):
        json.loads(path.read_text())
    if (out / "grades.csv").exists():
        with open(out / "grades.csv", newline="") as fh:
            rows = list(csv.reader(fh))
        assert rows[0] == CSV_COLUMNS
        assert all(len(r) == len(CSV_COLUMNS) for r in rows)


def test_kill_9_then_rerun_matches_an_uninterrupted_run(tmp_path):
    subs = tmp_path / "submitted"
    _class(subs)
    reference = run_grade(FIXTURE, subs, tmp_path / "ref", "--jobs", "2")
    assert reference.returncode == 0, reference.stderr

    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "grading", "grade", FIXTURE, str(subs), "--out", str(out),
           "--course", str(FIXTURE_COURSE), "--jobs", "2", "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    results = out / "results" / FIXTURE          # results are kept per (assignment, student)
    while time.monotonic() < deadline and len(list(results.glob("*.json"))) < 2:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    _assert_sandboxes_die_with(proc.pid)
    finished = {p.stem for p in results.glob("*.json")}
    assert 2 <= len(finished) < 6, "the kill should land mid-run"
    _assert_whole(out)
    before = {s: (results / f"{s}.json").read_text() for s in finished}

    left = list(Path(tempfile.gettempdir()).glob(f"grade-{proc.pid}-*"))
    rerun = run_grade(FIXTURE, subs, out, "--jobs", "2")
    assert not [p for p in left if p.exists()], "the re-run removes the killed run's private folders"
    assert rerun.returncode == 0, rerun.stderr
    assert f"{6 - len(finished)} to grade, {len(finished)} unchanged" in rerun.stderr
    assert f"done: {6 - len(finished)} added, 0 updated, {len(finished)} unchanged" in rerun.stderr
    for student, text in before.items():  # finished grades were kept, not redone
        assert (results / f"{student}.json").read_text() == text
    _assert_whole(out)
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    strip = lambda rows: {k: {c: v for c, v in r.items()} for k, r in rows.items()}  # noqa: E731
    assert strip(read_grades(out)) == strip(read_grades(tmp_path / "ref"))
