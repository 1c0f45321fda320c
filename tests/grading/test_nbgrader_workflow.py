"""nbgrader's instructor workflow around our grader, end to end on one machine, with real nbgrader commands and a
local exchange root (issue 10):

release_assignment -> two students fetch_assignment and submit -> collect -> python -m grading grade
-> formgrader sees both -> a manual score -> generate_feedback -> release_feedback -> a student fetch_feedback.

The course is the fixture course with manually graded cells (tests/grading/fixtures/course, fx_manual).
"""
from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from grading.autograde.fake_class import solution_answers

from grading_helpers import FIXTURE_COURSE, NEEDS_BWRAP, REPO, read_grades, run_grade
from nbgrader_helpers import formgrader

ASSIGNMENT = "fx_manual"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
COURSE_ID = "fx-course"
HIDDEN_LINE = "double([0, 1, 2]) should be [0, 2, 4]"  # in a hidden test of fx_manual's solutions only
WRONG_DOUBLE = "def double(x):\n    return 2 *\n"      # a SyntaxError on line 2


def nbgrader(*args: str, cwd: Path, user: str | None = None, exchange: Path) -> str:
    """A real nbgrader command. A student's (`user`) runs in their own folder `cwd`, which is also their home
    (nbgrader keeps a per-user cache of submissions there) and names the student, as their own login would."""
    env = dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    cmd = [sys.executable, "-m", "nbgrader", *args, f"--Exchange.root={exchange}"]
    if user:
        cmd.append(f"--student={user}")
        env.update(HOME=str(cwd), JUPYTER_DATA_DIR=str(cwd / ".jupyter-data"))
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    if user is None:  # instructors' commands find the course's configuration (students need none)
        assert "No nbgrader_config.py file found" not in proc.stderr
    return proc.stderr


@pytest.fixture
def course(tmp_path) -> Path:
    """A copy of the fixture course with its own nbgrader_config.py (course id, source and release folders)."""
    root = tmp_path / "course"
    for part in ("solutions", "exercises"):
        shutil.copytree(FIXTURE_COURSE / part / ASSIGNMENT, root / part / ASSIGNMENT)
    (root / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\n"
        f"c.CourseDirectory.course_id = {COURSE_ID!r}\n"
        "c.CourseDirectory.source_directory = 'solutions'\n"
        "c.CourseDirectory.release_directory = 'exercises'\n"
        "c.NbGrader.logfile = ''\n")
    return root


def answer(path: Path, overrides: dict[str, str]) -> None:
    """What a student does in the fetched notebook: write answers (grade_id -> source)."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in overrides:
            cell.source = overrides[gid]
    nbformat.write(nb, path)


def test_the_readme_config_flag_loads_the_course_configuration_without_a_warning(tmp_path):
    readme_flag = re.search(r"--NbGrader\.config_file=(\S+?)`", (REPO / "README.md").read_text())
    assert readme_flag, "README.md no longer shows how to point nbgrader at the course configuration"
    config = REPO / "grading" / "nbgrader_config.py"
    assert readme_flag.group(0).rstrip("`") in config.read_text()   # the config's docstring says the same
    stderr = nbgrader("list", "--debug", readme_flag.group(0).rstrip("`"), cwd=REPO, exchange=tmp_path)
    assert f"Loaded config file: {config}" in stderr
    assert "Released assignments" in stderr


@NEEDS_BWRAP
@pytest.mark.slow
def test_exchange_journey(tmp_path, course):
    exchange, out = tmp_path / "exchange", tmp_path / "grading-out"
    exchange.mkdir()
    exchange.chmod(0o777)
    nbgrader("db", "assignment", "add", ASSIGNMENT, cwd=course, exchange=exchange)
    nbgrader("release_assignment", ASSIGNMENT, cwd=course, exchange=exchange)

    solved = solution_answers(FIXTURE_COURSE, ASSIGNMENT)
    work = {"ann": dict(solved), "cy": {**solved, "double": WRONG_DOUBLE}}
    for student, answers in work.items():
        home = tmp_path / "students" / student
        home.mkdir(parents=True)
        nbgrader("fetch_assignment", ASSIGNMENT, f"--course={COURSE_ID}", cwd=home, user=student, exchange=exchange)
        answer(home / ASSIGNMENT / NOTEBOOK, answers)
        (home / ASSIGNMENT / "helper.py").write_text("SCALE = 2\n") if student == "cy" else None
        nbgrader("submit", ASSIGNMENT, f"--course={COURSE_ID}", cwd=home, user=student, exchange=exchange)
    nbgrader("collect", ASSIGNMENT, cwd=course, exchange=exchange)
    submitted = course / "submitted"
    assert sorted(p.name for p in submitted.iterdir()) == ["ann", "cy"]

    proc = run_grade(ASSIGNMENT, submitted, out, course=course)
    assert proc.returncode == 0, proc.stderr[-3000:]
    grades = read_grades(out)
    assert {s: (g["score"], g["status"]) for s, g in grades.items()} == {
        "ann": ("2", "needs_manual_grade"), "cy": ("0", "needs_manual_grade")}
    assert float(grades["ann"]["max_score"]) == 6  # 2 autograded + 2 + 1 + 1 graded by hand

    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}", course_id=COURSE_ID) as gb:
        assert gb.find_assignment(ASSIGNMENT).course_id == COURSE_ID
        stamp = (submitted / "ann" / ASSIGNMENT / "timestamp.txt").read_text().strip()
        assert gb.find_submission(ASSIGNMENT, "ann").timestamp.strftime("%Y-%m-%d %H:%M:%S") == stamp[:19]

    with formgrader(out, tmp_path / "jupyter-state") as fg:
        assert fg.get("assignments")[0]["num_submissions"] == 2
        ann = fg.submission(ASSIGNMENT, ASSIGNMENT, "ann")
        fg.grade(ann["id"], "explain_broadcasting", 2, "Clear and right.")
        for gid in ("mean_of", "own_data_task"):
            fg.grade(ann["id"], gid, 1)
        assert fg.submission(ASSIGNMENT, ASSIGNMENT, "ann")["score"] == 6.0

    nbgrader("generate_feedback", ASSIGNMENT, cwd=out, exchange=exchange)
    page = (out / "feedback" / "ann" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert "Clear and right." in page and HIDDEN_LINE not in page
    nbgrader("release_feedback", ASSIGNMENT, cwd=out, exchange=exchange)
    home = tmp_path / "students" / "ann"
    nbgrader("fetch_feedback", ASSIGNMENT, f"--course={COURSE_ID}", cwd=home, user="ann", exchange=exchange)
    fetched = list((home / ASSIGNMENT / "feedback").glob(f"*/{ASSIGNMENT}.html"))
    assert len(fetched) == 1 and fetched[0].read_text() == page

    # the next grade run reads the manual scores back: grades.csv and nbgrader export agree, nothing regraded
    proc = run_grade(ASSIGNMENT, submitted, out, course=course)
    assert "2 unchanged, skipped" in proc.stderr, proc.stderr[-2000:]
    grades = read_grades(out)
    assert (grades["ann"]["score"], grades["ann"]["status"]) == ("6", "graded")
    assert (grades["cy"]["score"], grades["cy"]["status"]) == ("0", "needs_manual_grade")
    nbgrader("export", cwd=out, exchange=exchange)
    with open(out / "nbgrader_export.csv", newline="") as fh:
        exported = {row["student_id"]: row for row in csv.DictReader(fh)}
    assert {s: float(r["score"]) for s, r in exported.items()} == {s: float(g["score"]) for s, g in grades.items()}
