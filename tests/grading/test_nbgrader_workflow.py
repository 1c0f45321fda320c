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
from grading.autograde.late import LateRule

from grading_helpers import FIXTURE_COURSE, NEEDS_BWRAP, REPO, read_grades, run_grade
from nbgrader_helpers import formgrader

ASSIGNMENT = "fx_manual"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
COURSE_ID = "fx-course"
DUE = "2030-01-01 12:00:00"   # kept in the course's gradebook, as nbgrader keeps due dates
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
    from grading.autograde.nbcourse import course_config_file, course_id_of   # the grader reads the same file
    assert course_config_file(REPO) == config and course_id_of(REPO) == "torch-ground-up"


@NEEDS_BWRAP
@pytest.mark.slow
def test_exchange_journey(tmp_path, course):
    exchange, out = tmp_path / "exchange", tmp_path / "grading-out"
    exchange.mkdir()
    exchange.chmod(0o777)
    nbgrader("db", "assignment", "add", ASSIGNMENT, f"--duedate={DUE}", cwd=course, exchange=exchange)
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
        assert str(gb.find_assignment(ASSIGNMENT).duedate) == DUE
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
    # (that manual scores then reach grades.csv and `nbgrader export`: tests/grading/test_formgrader.py)


# --- the pieces, without kernels --------------------------------------------------------------------------------

def test_safe_names_are_plain_ids_or_distinct_ascii_slugs():
    """The one safe_name (store.py) names results, nbgrader's student folders and gradebook ids alike."""
    from grading.autograde.store import safe_name

    assert [safe_name(s) for s in ("ann", "10004", "a.b@x+y-z")] == ["ann", "10004", "a.b@x+y-z"]
    names = {s: safe_name(s) for s in ("jörg", "jorg", "Ana Lima", "Ana_Lima", "..", "李雷")}
    assert names["jorg"] == "jorg" and names["Ana_Lima"] == "Ana_Lima"
    assert re.fullmatch(r"jorg-[0-9a-f]{8}", names["jörg"]) and re.fullmatch(r"Ana-Lima-[0-9a-f]{8}", names["Ana Lima"])
    assert re.fullmatch(r"id-[0-9a-f]{8}", names["李雷"])
    assert len(set(names.values())) == len(names)
    assert all(re.fullmatch(r"[A-Za-z0-9._@+-]+", n) and not n.startswith(".") for n in names.values())


def test_manual_cells_count_in_max_score_and_questions_are_named_by_headings():
    from grading.autograde.assignment import load_assignment

    a = load_assignment(FIXTURE_COURSE, ASSIGNMENT)
    assert [(c.grade_id, c.kind, c.cell_type, c.points) for c in a.graded] == [
        ("double_test", "test", "code", 2), ("explain_broadcasting", "manual", "markdown", 2),
        ("mean_of", "manual", "code", 1), ("own_data_task", "task", "markdown", 1)]
    assert a.max_score == 6
    assert [a.question_name(c.grade_id) for c in a.graded] == [
        "Doubling a tensor", "Why broadcasting", "A readable mean", "Task: try it on your own data"]
    tensors = load_assignment(FIXTURE_COURSE, "fx_tensors")   # one heading over three tests: the id is added
    assert tensors.question_name("test_scale") == "Fixture: tensors (test_scale)"


def _record(student, name, outcome="passed", status="graded", digest="d1"):
    points = 2.0 if outcome == "passed" else 0.0
    return {"student_id": student, "name": name, "assignment": ASSIGNMENT, "status": status, "reason": "",
            "score": None if status == "failed" else points, "max_score": 6.0,
            "submitted_at": "2026-12-01T10:00:00+00:00",
            "tests": [{"grade_id": "double_test", "max_points": 2.0, "points": points, "outcome": outcome,
                       "message": ""}],
            "answer_digests": {"explain_broadcasting": digest, "mean_of": "m", "*": digest}}


def test_gradebook_is_updated_in_place_and_manual_scores_come_back(tmp_path):
    """Unicode ids, real timestamps and the course id; a manual score survives a sync, is dropped (and said so)
    when its answer changes; a failed submission exports as an empty score, not 0."""
    from nbgrader.api import Gradebook

    from grading.autograde.assignment import load_assignment
    from grading.autograde.gradebook import sync_gradebook
    from grading.autograde.store import safe_name
    from grading.autograde.nbexport import GradesCsvExport

    a = load_assignment(FIXTURE_COURSE, ASSIGNMENT)
    db, jorg = tmp_path / "gradebook.db", safe_name("jörg")
    records = [_record("jörg", "Jörg Müller"), _record("bo", "Bo", "not_run", "failed")]
    sync_gradebook(db, a, records, COURSE_ID, LateRule())
    assert (records[0]["score"], records[0]["status"], records[0]["manual_score"]) == (2.0, "needs_manual_grade", 0.0)
    assert (records[1]["score"], records[1]["status"]) == (None, "failed")
    with Gradebook(f"sqlite:///{db}", course_id=COURSE_ID) as gb:
        student = gb.find_student(jorg)
        assert (student.lms_user_id, student.first_name, student.last_name) == ("jörg", "Jörg", "Müller")
        assert gb.find_assignment(ASSIGNMENT).course_id == COURSE_ID
        assert str(gb.find_submission(ASSIGNMENT, jorg).timestamp) == "2026-12-01 10:00:00"
        for gid, score in (("explain_broadcasting", 1.5), ("mean_of", 1.0), ("own_data_task", 1.0)):
            gb.find_grade(gid, ASSIGNMENT, ASSIGNMENT, jorg).manual_score = score
        gb.db.commit()
    again = [_record("jörg", "Jörg Müller"), _record("bo", "Bo", "not_run", "failed")]
    sync_gradebook(db, a, again, COURSE_ID, LateRule())
    assert (again[0]["score"], again[0]["status"], again[0]["manual_score"]) == (5.5, "graded", 3.5)
    changed = [_record("jörg", "Jörg Müller", digest="d2")]
    sync_gradebook(db, a, changed, COURSE_ID, LateRule())
    assert (changed[0]["score"], changed[0]["status"]) == (3.0, "needs_manual_grade")
    assert "'Why broadcasting' (1.5) was dropped: the answer changed" in changed[0]["reason"]
    with Gradebook(f"sqlite:///{db}", course_id=COURSE_ID) as gb:
        assert gb.find_grade("mean_of", ASSIGNMENT, ASSIGNMENT, jorg).manual_score == 1.0
        assert gb.find_grade("explain_broadcasting", ASSIGNMENT, ASSIGNMENT, jorg).manual_score is None
        exporter = GradesCsvExport(to=str(tmp_path / "export.csv"))
        exporter.export(gb)
    with open(tmp_path / "export.csv", newline="") as fh:
        rows = {r["student_id"]: r for r in csv.DictReader(fh)}
    assert rows[jorg]["score"] == "3.0" and rows[jorg]["lms_user_id"] == "jörg"
    assert rows["bo"]["score"] == ""


def test_the_runners_outputs_land_on_the_autograded_notebooks_cells():
    """Record cells in the runner's shape (issue 14) give the autograded notebook's code cells their outputs, by
    grade id (answers, tests) or source (other cells); the notebook keeps the release's order and metadata, the
    student's written answer and added cells, and never a hidden test line."""
    from grading.autograde.assignment import load_assignment
    from grading.autograde.nbcourse import autograded_notebook, with_runner_outputs

    a = load_assignment(FIXTURE_COURSE, ASSIGNMENT)
    submission = nbformat.read(FIXTURE_COURSE / "exercises" / ASSIGNMENT / NOTEBOOK, as_version=4)
    answers = {"double": "def double(x):\n    return x", "explain_broadcasting": "Sizes align from the right."}
    for cell in submission.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        cell.source = answers.get(gid, cell.source)
    submission.cells.append(nbformat.v4.new_code_cell("print(double(3))"))
    error = {"output_type": "error", "ename": "AssertionError", "evalue": "double(ones(2)) should be [2, 2]",
             "traceback": ["AssertionError: double(ones(2)) should be [2, 2]"]}
    printed = {"output_type": "stream", "name": "stdout", "text": "3\n"}
    cells = [{"cell_type": "code", "source": answers["double"], "grade_id": "double", "kind": "answer", "outputs": []},
             {"cell_type": "code", "source": a.cell("double_test").source, "grade_id": "double_test",
              "kind": "test", "outputs": [error]},
             {"cell_type": "code", "source": "print(double(3))", "grade_id": "", "kind": "added", "outputs": [printed]}]
    record = {"tests": [], "answer_errors": {}}
    nb = with_runner_outputs(autograded_notebook(a, record, submission, answers), cells)
    by_gid = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
    assert by_gid["double_test"].metadata["nbgrader"]["points"] == 2
    assert by_gid["double_test"].outputs[0]["ename"] == "AssertionError"
    assert by_gid["explain_broadcasting"].source == "Sizes align from the right."
    assert nb.cells[-1].source == "print(double(3))" and nb.cells[-1].outputs[0]["text"] == "3\n"
    assert HIDDEN_LINE not in nbformat.writes(nb)


def test_check_names_questions_by_heading_and_shows_an_answers_syntax_error(tmp_path, capsys):
    """`python -m grading check` on an exercise with a broken answer: the question under its heading, the
    SyntaxError and its line next to the test's NameError, and the points that are graded by hand."""
    from grading import student_check

    path = tmp_path / NOTEBOOK
    shutil.copy(FIXTURE_COURSE / "exercises" / ASSIGNMENT / NOTEBOOK, path)
    answer(path, {"double": WRONG_DOUBLE})
    assert student_check.main([str(path)]) == 1
    out = capsys.readouterr().out
    lines = out.splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("double "))
    assert lines[row - 1] == "# Doubling a tensor"
    message = " ".join(" ".join(lines[row:row + 4]).split())
    assert "NameError: name 'double' is not defined" in message
    assert "your answer 'double' has a SyntaxError on line 2: `return 2 *`" in message
    assert "0 of 1 questions pass (0 of 2 points)" in out
    assert "4 more points are graded by hand, after you submit: explain_broadcasting, mean_of, own_data_task." in out


def test_formgrader_needs_a_grading_folder(tmp_path, capsys):
    from grading.formgrader import main

    assert main([str(tmp_path), "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path} is not a grading folder" in err and "python -m grading grade" in err


def test_feedback_follows_the_notebook_one_section_per_heading():
    from grading.autograde.assignment import load_assignment
    from grading.autograde.feedback import feedback_html
    from grading.autograde.gradebook import merge_grader_only

    a = load_assignment(FIXTURE_COURSE, ASSIGNMENT)
    record = _record("ann", "Ann Lee", outcome="failed")
    record["tests"][0]["message"] = "AssertionError: double(ones(2)) should be [2, 2]"
    record["answer_errors"] = {"double": {"ename": "SyntaxError", "evalue": "invalid syntax", "line": 2,
                                          "text": "return 2 *"}}
    merge_grader_only(a, record)
    answers = {"double": WRONG_DOUBLE, "mean_of": "def mean_of(x):\n    return x.mean()\n",
               "explain_broadcasting": "Sizes are aligned from the right."}
    page = feedback_html(a, record, answers)
    titles = re.findall(r"<h2>(.*?)</h2>", page)
    assert titles == ["Doubling a tensor", "Why broadcasting", "A readable mean", "Task: try it on your own data"]
    assert page.count("return x.mean()") == 1 and "Sizes are aligned from the right." in page
    assert "SyntaxError on line 2: <code>return 2 *</code>" in page
    assert "double(ones(2)) should be [2, 2]" in page and HIDDEN_LINE not in page
    assert "Ann Lee" in page and "not graded yet" in page


def test_an_unreadable_submission_still_gets_a_page_for_formgrader(tmp_path):
    from grading.autograde.assignment import load_assignment
    from grading.autograde.nbcourse import autograded_path, publish, submitted_path

    a = load_assignment(FIXTURE_COURSE, ASSIGNMENT)
    record = _record("jörg", "Jörg Müller", "not_run", "failed")
    record["reason"] = "the notebook could not be read (JSONDecodeError)"
    publish(tmp_path, a, record, b'{"cells": [', folder=None)
    nb = nbformat.read(autograded_path(tmp_path, a, "jörg"), as_version=4)
    assert nb.cells[0].source.startswith("**Not graded: the notebook could not be read (JSONDecodeError).**")
    assert HIDDEN_LINE not in nbformat.writes(nb)
    assert submitted_path(tmp_path, a, "jörg").read_bytes() == b'{"cells": ['   # kept as received
    assert autograded_path(tmp_path, a, "jörg").parent.parent.name.startswith("jorg-")
    assert (record["status"], record["score"]) == ("failed", None)
