"""Real exports graded with the real command, row by row: Canvas (+ roster, late, export), Moodle, Blackboard and
nbgrader folders into one --out, subset re-runs and --only. Students are the fixture course's release with the
solutions filled in (all, some or none)."""
from __future__ import annotations

import csv
import json
import shutil
import unicodedata

import pytest

from grading_helpers import FIXTURE, FIXTURE_COURSE, NEEDS_BWRAP, run_grade
from lms_exports import NB, blackboard_receipt, notebook, write_zip, zipped

pytestmark = [NEEDS_BWRAP, pytest.mark.slow]
FULL, HALF, BLANK = 6.0, 2.0, 0.0            # fx_tensors: make_range 2 + scale 3 + total 1 points


def _rows(out):
    with open(out / "grades.csv", newline="") as fh:
        return [(r["assignment"], r["student_id"], r["name"], r["score"], r["auto_score"], r["late_penalty"],
                 r["status"]) for r in csv.DictReader(fh)]


def _course(tmp_path, *names):
    """The fixture course with extra copies of its assignment under other names."""
    course = tmp_path / "course"
    shutil.copytree(FIXTURE_COURSE, course)
    for name in names:
        for part in ("solutions", "exercises"):
            (course / part / name).mkdir()
            shutil.copy(course / part / FIXTURE / NB, course / part / name / f"{name}.ipynb")
    return course


def test_canvas_export_with_roster_late_rule_and_upload_files(tmp_path):
    export = write_zip(tmp_path / "canvas.zip", {
        f"leeanna_10004_5551_{NB}": notebook(),
        f"leeanna_LATE_10005_5552_{FIXTURE}-1.ipynb": notebook({"make_range"}),
        f"müllerjörg_10006_5553_{NB}": notebook(),
        "brownce_10008_5554_upload.zip": zipped({f"{FIXTURE}/{NB}": notebook()}),
        "__MACOSX/._brownce_10008_5554_upload.zip": b"",
    })
    roster = tmp_path / "gradebook.csv"
    roster.write_text("Student,ID,SIS User ID,SIS Login ID,Section,Fx Tensors (777)\n    Points Possible,,,,,6\n"
                      "\"Lee, Anna\",10004,s4,alee,A,\n\"Lee, Anna\",10005,s5,alee2,A,\n"
                      "\"Müller, Jürgen\",10006,s6,jm,B,\n\"Ng, Tom\",10007,s7,tng,B,\n", encoding="utf-8")
    out = tmp_path / "out"
    proc = run_grade(FIXTURE, export, out, "--roster", str(roster), "--late-penalty", "zero", "--jobs", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _rows(out) == [
        (FIXTURE, "10004", "Lee, Anna", "6", "6", "0", "graded"),
        (FIXTURE, "10005", "Lee, Anna", "0", "2", "2", "graded"),     # marked LATE by Canvas; rule: zero
        (FIXTURE, "10006", "Müller, Jürgen", "6", "6", "0", "graded"),    # the roster names the row
        (FIXTURE, "10007", "Ng, Tom", "", "", "0", "missing"),
        (FIXTURE, "10008", "brownce", "6", "6", "0", "graded"),
    ]
    assert "done: 5 added, 0 updated, 0 unchanged, 0 failed, 1 missing" in proc.stderr
    assert "not on the roster (graded, check who they are): 10008" in proc.stderr
    assert "ignored __MACOSX/._brownce_10008_5554_upload.zip" in proc.stderr
    assert "roster mismatch: 10006 is 'Müller, Jürgen' on the roster but 'müllerjörg' in" in proc.stderr

    from grading.autograde.export import main as export_main
    assert export_main([str(out), "--canvas-roster", str(roster)]) == 0
    with open(out / "exports" / FIXTURE / "canvas_gradebook.csv", newline="", encoding="utf-8") as fh:
        upload = list(csv.reader(fh))
    assert upload == [["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Fx Tensors (777)"],
                      ["    Points Possible", "", "", "", "", "6"],
                      ["Lee, Anna", "10004", "s4", "alee", "A", "6"], ["Lee, Anna", "10005", "s5", "alee2", "A", "0"],
                      ["Müller, Jürgen", "10006", "s6", "jm", "B", "6"], ["Ng, Tom", "10007", "s7", "tng", "B", ""],
                      ["brownce", "10008", "", "", "", "6"]]
    with open(out / "exports" / FIXTURE / "questions.csv", newline="", encoding="utf-8") as fh:
        questions = {r["student_id"]: r for r in csv.DictReader(fh)}
    assert (questions["10005"]["test_make_range (2)"], questions["10005"]["test_scale (3)"]) == ("2", "0")
    assert questions["10007"]["test_make_range (2)"] == "" and questions["10007"]["score"] == ""


def test_three_lms_layouts_two_assignments_one_out_and_subset_reruns(tmp_path):
    course = _course(tmp_path, "fx_second", "fx_third")
    out = tmp_path / "out"

    def grade(assignment, submissions, *extra):
        proc = run_grade(assignment, submissions, out, "--jobs", "2", *extra, course=course)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return proc.stderr

    # nbgrader's layout, Unicode folder names, timestamp.txt against a due date, half a point per started day
    folder = tmp_path / "submitted"
    for student, nb in (("jörg", notebook()), ("Ana Lima", notebook(set())), ("cy", notebook({"make_range"}))):
        (folder / student / FIXTURE).mkdir(parents=True)
        (folder / student / FIXTURE / NB).write_text(nb)
    (folder / "jörg" / FIXTURE / "timestamp.txt").write_text("2026-10-02 08:00:00.000000 UTC")
    late = ("--due", "2026-10-01T23:59:00+00:00", "--late-penalty", "0.5")
    grade(FIXTURE, folder, *late)
    first = [(FIXTURE, "Ana Lima", "", "0", "0", "0", "graded"), (FIXTURE, "cy", "", "2", "2", "0", "graded"),
             (FIXTURE, "jörg", "", "3", "6", "3", "graded")]
    assert _rows(out) == first

    # a second assignment from Moodle (folder per participant; two people with one name) into the same --out
    moodle = write_zip(tmp_path / "moodle.zip", {
        "Anna Lee_123401_assignsubmission_file_/fx_second.ipynb": notebook(None, course, "fx_second"),
        "Anna Lee_123402_assignsubmission_file_/fx_second.ipynb": notebook(set(), course, "fx_second"),
        "Anna Lee_123402_assignsubmission_onlinetext_onlinetext.html": b"<p>see file</p>",
    })
    grade("fx_second", moodle)
    second = [("fx_second", "123401", "Anna Lee", "6", "6", "0", "graded"),
              ("fx_second", "123402", "Anna Lee", "0", "0", "0", "graded")]
    assert _rows(out) == second + first
    from grading.autograde.export import main as export_main
    assert export_main([str(out), "--assignment", "fx_second"]) == 0
    with open(out / "exports" / "fx_second" / "moodle_worksheet.csv", newline="") as fh:
        assert list(csv.reader(fh)) == [["Identifier", "Full name", "Grade", "Maximum Grade"],
                                        ["Participant 123401", "Anna Lee", "6", "6"],
                                        ["Participant 123402", "Anna Lee", "0", "6"]]

    # a third from Blackboard, two attempts by one student: the latest is graded and the row says so
    a1 = "HW3_j_smith_attempt_2026-10-01-10-00-00_fx_third.ipynb"
    a2 = "HW3_j_smith_attempt_2026-10-02-10-00-00_fx_third.ipynb"
    blackboard = write_zip(tmp_path / "bb.zip", {
        a1: notebook(set(), course, "fx_third"), a1[:-15] + ".txt": blackboard_receipt("j_smith", "Jo Smith", a1),
        a2: notebook(None, course, "fx_third"), a2[:-15] + ".txt": blackboard_receipt("j_smith", "Jo Smith", a2)})
    err = grade("fx_third", blackboard, "--timezone", "UTC")
    third = [("fx_third", "j_smith", "Jo Smith", "6", "6", "0", "needs_review")]
    assert _rows(out) == second + first + third
    with open(out / "grades.csv", newline="") as fh:
        row = next(r for r in csv.DictReader(fh) if r["assignment"] == "fx_third")
    assert row["submitted_at"] == "2026-10-02T10:00:00+00:00" and "2 notebooks were submitted" in row["reason"]
    assert "done: 1 added" in err

    # a later folder with only cy (now fully solved): cy is updated, everyone else is kept
    subset = tmp_path / "late_batch"
    (subset / "cy" / FIXTURE).mkdir(parents=True)
    (subset / "cy" / FIXTURE / NB).write_text(notebook())
    err = grade(FIXTURE, subset, *late)
    assert "done: 0 added, 1 updated, 0 unchanged, 0 failed" in err
    first[1] = (FIXTURE, "cy", "", "6", "6", "0", "graded")
    assert _rows(out) == second + first + third

    # --only regrades one student of the full folder; a new due date re-applies to the stored results
    typed = unicodedata.normalize("NFD", "jörg")   # as a shell on macOS may spell it
    err = grade(FIXTURE, folder, "--only", typed, "--due", "2026-10-03T00:00:00+00:00", "--late-penalty", "0.5")
    assert "done: 0 added, 1 updated, 0 unchanged" in err
    first[2] = (FIXTURE, "jörg", "", "6", "6", "0", "graded")
    assert _rows(out) == second + first + third

    # a broken re-upload turns cy's row failed, says so, and keeps the graded result in history/
    (subset / "cy" / FIXTURE / NB).write_text('{"cells": [')
    err = grade(FIXTURE, subset)
    assert "done: 0 added, 1 updated, 0 unchanged, 1 failed" in err
    assert "1 student(s) had a score and now have none (their new upload failed): cy" in err
    first[1] = (FIXTURE, "cy", "", "", "", "0", "failed")
    assert _rows(out) == second + first + third
    kept = [json.loads(p.read_text()) for p in (out / "results" / FIXTURE / "history").glob("cy.*.json")]
    assert sorted({r["score"] for r in kept}) == [2.0, 6.0]     # both earlier grades of cy
