"""Shared fixtures for the grading tests: the tiny fixture course and a CLI runner."""
from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURE_COURSE = Path(__file__).parent / "fixtures" / "course"
FIXTURE = "fx_tensors"
NEEDS_BWRAP = pytest.mark.skipif(shutil.which("bwrap") is None,
                                 reason="bubblewrap (bwrap) is not installed: `make system-deps` installs it")


def run_grade(assignment: str, submissions: Path, out: Path, *extra: str, course: Path = FIXTURE_COURSE,
              timeout: float = 600) -> subprocess.CompletedProcess:
    """The real CLI, in a subprocess, exactly as an instructor runs it."""
    cmd = [sys.executable, "-m", "grading", "grade", assignment, str(submissions), "--out", str(out),
           "--course", str(course), "--no-progress", *extra]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout)


def read_grades(out: Path) -> dict[str, dict]:
    with open(out / "grades.csv", newline="") as fh:
        return {row["student_id"]: row for row in csv.DictReader(fh)}


def read_result(out: Path, student: str, assignment: str | None = None) -> dict:
    """The stored result of a student (of `assignment`, or of the only assignment graded into `out`)."""
    from grading.autograde.store import safe_name
    folders = [out / "results" / safe_name(assignment)] if assignment else \
        [p for p in (out / "results").iterdir() if p.is_dir()]
    assert len(folders) == 1, f"several assignments in {out}: pass assignment="
    return json.loads((folders[0] / f"{safe_name(student)}.json").read_text())
