"""Results store, roster, late rules, final scores and export files (no kernels)."""
from __future__ import annotations

import csv
import io
import json
import os
import re
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from grading.autograde.export import canvas_csv, questions_csv
from grading.autograde.late import LateRule, assess, parse_rule
from grading.autograde.outputs import CSV_COLUMNS, write_grades_csv
from grading.autograde.records import finish, missing_record
from grading.autograde.roster import read_roster
from grading.autograde.store import ResultStore, safe_name
from grading.autograde.submissions import Submission

DUE = datetime(2026, 10, 1, 23, 59, tzinfo=timezone.utc)


# --- store --------------------------------------------------------------------------------------------------------

@given(st.text(min_size=1, max_size=60), st.text(min_size=1, max_size=60))
def test_safe_names_are_plain_deterministic_and_distinct(a, b):
    name = safe_name(a)
    assert re.fullmatch(r"[A-Za-z0-9._@+-]+", name) and not name.startswith(".")
    assert safe_name(a) == name
    if a != b:
        assert safe_name(b) != name


def test_plain_ids_are_their_own_file_names():
    assert safe_name("alee") == "alee" and safe_name("10004") == "10004"
    assert safe_name("jörg").startswith("jorg-") and safe_name("Ana Lima").startswith("Ana-Lima-")
    assert safe_name("..") != ".." and safe_name(".hidden") != ".hidden"


def _rec(sid, assignment="a1", score=1.0, status="graded", **kw):
    return {"student_id": sid, "assignment": assignment, "score": score, "max_score": 6.0, "status": status,
            "reason": "", "tests": [], "key": "k", **kw}


def test_store_keys_by_assignment_and_student_and_keeps_replaced_results(tmp_path):
    store = ResultStore(tmp_path)
    store.save(_rec("jörg", "a1", 1.0))
    store.save(_rec("jörg", "a2", 2.0))
    store.save(_rec("ann", "a1", 3.0))
    assert [(r["assignment"], r["student_id"], r["score"]) for r in store.all_records()] == [
        ("a1", "ann", 3.0), ("a1", "jörg", 1.0), ("a2", "jörg", 2.0)]
    assert [r["student_id"] for r in store.records("a1")] == ["ann", "jörg"]
    store.save(_rec("ann", "a1", 5.0))
    history = list((tmp_path / "results" / "a1" / "history").iterdir())
    assert len(history) == 1 and json.loads(history[0].read_text())["score"] == 3.0
    assert store.load("a1", "ann")["score"] == 5.0 and store.load("a3", "ann") is None


def test_results_of_the_previous_layout_are_migrated_not_lost(tmp_path):
    (tmp_path / "results").mkdir()
    old = {"student_id": "ann", "assignment": "a1", "score": 4.0, "max_score": 6.0, "status": "graded",
           "reason": "", "tests": [], "key": "k0"}
    (tmp_path / "results" / "ann.json").write_text(json.dumps(old))
    (tmp_path / "results" / ".bob.json.x.tmp").write_text("{half")
    store = ResultStore(tmp_path)
    assert not (tmp_path / "results" / "ann.json").exists()
    rec = store.load("a1", "ann")
    assert rec["score"] == rec["auto_score"] == 4.0 and rec["name"] == "" and rec["manual_score"] is None
    assert [p.name for p in (tmp_path / "results").iterdir()] == ["a1"]


# --- roster -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, kind, names", [
    ("student_id,name\nalee,Anna Lee\njörg,Jörg Müller\n", "plain", {"alee": "Anna Lee", "jörg": "Jörg Müller"}),
    ("Student,ID,SIS User ID,SIS Login ID,Section,HW 2 (123)\n    Points Possible,,,,,6\n"
     "\"Lee, Anna\",10004,s1,alee,A,\n\"Müller, Jörg\",10006,s3,jm,A,\n", "canvas",
     {"10004": "Lee, Anna", "10006": "Müller, Jörg"}),
    ("\ufeffIdentifier,Full name,Email address,Status,Grade\nParticipant 123401,Anna Lee,a@x,Submitted,\n",
     "moodle", {"123401": "Anna Lee"}),
    ("Last Name,First Name,Username,Student ID\nSmith,Jo,j_smith,1\n", "blackboard", {"j_smith": "Jo Smith"}),
])
def test_rosters_of_every_lms(tmp_path, text, kind, names):
    (tmp_path / "r.csv").write_text(text, encoding="utf-8")
    roster = read_roster(tmp_path / "r.csv")
    assert (roster.kind, roster.names) == (kind, names)


@pytest.mark.parametrize("text, match", [
    ("", "is empty"), ("who,what\nx,y\n", "is not a roster's"),
    ("student_id,name\na,A\na,B\n,C\n", "2 problem\\(s\\): line 3: student id 'a' is listed twice; line 4: no student id"),
])
def test_bad_rosters_say_what_to_fix(tmp_path, text, match):
    (tmp_path / "r.csv").write_text(text)
    with pytest.raises(SystemExit, match=match):
        read_roster(tmp_path / "r.csv")


# --- late rules and the final score ----------------------------------------------------------------------------------

@pytest.mark.parametrize("rule, delay, earned, penalty", [
    ("none", timedelta(days=3), 5.0, 0.0),
    ("zero", timedelta(minutes=1), 5.0, 5.0),
    ("0.1", timedelta(minutes=1), 5.0, 0.6),            # one started day: 10% of 6 points
    ("0.1", timedelta(days=1, minutes=1), 5.0, 1.2),    # two started days
    ("0.5", timedelta(days=3), 2.0, 2.0),               # never below 0
    ("0.1", timedelta(seconds=0), 5.0, 0.0),            # on the dot is on time
])
def test_late_rules(rule, delay, earned, penalty):
    got = assess(parse_rule(rule, DUE), DUE + delay, False, earned, 6.0)
    assert got.penalty == pytest.approx(penalty) and got.late == (delay > timedelta(0))


def test_an_lms_late_mark_without_a_time_is_late_but_never_guessed_into_days():
    got = assess(parse_rule("0.1", DUE), None, True, 5.0, 6.0)
    assert got.late and got.penalty == 0.0 and "submission time unknown" in got.note
    assert assess(parse_rule("zero", None), None, True, 5.0, 6.0).penalty == 5.0


def test_final_score_is_auto_plus_manual_minus_penalty_and_empty_when_failed():
    sub = Submission("10004", b"{}", None, "x.ipynb", "leeanna", "canvas", DUE + timedelta(hours=2))
    graded_by_hand = {"essay": {"kind": "manual", "max": 1.0, "auto": None, "manual": 1.0, "extra": 0.0, "comment": ""}}
    rec = finish({"score": 5.0, "max_score": 6.0, "status": "graded", "reason": "", "tests": [],
                  "manual": graded_by_hand}, sub, LateRule(DUE, "per_day", 0.25), name="Lee, Anna")
    assert (rec["auto_score"], rec["manual_score"], rec["late_penalty"], rec["score"]) == (5.0, 1.0, 1.5, 4.5)
    assert rec["status"] == "graded"
    waiting = finish(json.loads(json.dumps(rec)) | {"manual": {"essay": graded_by_hand["essay"] | {"manual": None}}},
                     sub, LateRule(DUE, "zero"))   # the zero rule takes what was earned, manual points included
    assert (waiting["status"], waiting["manual_score"], waiting["late_penalty"], waiting["score"]) == \
        ("needs_manual_grade", 0.0, 5.0, 0.0)
    assert rec["late"] and rec["name"] == "Lee, Anna" and rec["submitted_at"] == "2026-10-02T01:59:00+00:00"
    again = finish(json.loads(json.dumps(rec)), sub, LateRule(DUE, "none"), name="Lee, Anna")
    assert again["score"] == 6.0 and again["late_penalty"] == 0.0 and again["late"]   # a new rule re-applies
    failed = finish({"score": None, "max_score": 6.0, "status": "failed", "reason": "broken", "tests": []},
                    Submission("x", None, "broken"), LateRule(DUE, "zero"))
    assert failed["score"] is None and failed["status"] == "failed"
    missing = finish(missing_record("y", "a1", 6.0, "nothing was submitted"), Submission("y", None, missing=True),
                     LateRule())
    assert (missing["status"], missing["score"], missing["reason"]) == ("missing", None, "nothing was submitted")


def test_grades_csv_columns_order_and_long_student_text(tmp_path):
    records = [_rec("b", "a2", 3.0, auto_score=3.0, name="Bo"),
               _rec("a", "a2", None, "failed", reason="x" * 5000),
               _rec("z", "a1", None, "missing", reason="nothing was submitted", name="Zed, " + "y" * 500)]
    write_grades_csv(tmp_path, records)
    with open(tmp_path / "grades.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == CSV_COLUMNS == ["student_id", "name", "assignment", "score", "max_score", "auto_score",
                                      "manual_score", "late_penalty", "submitted_at", "status", "reason"]
    assert [(r[0], r[2], r[3], r[9]) for r in rows[1:]] == [("z", "a1", "", "missing"), ("a", "a2", "", "failed"),
                                                           ("b", "a2", "3", "graded")]
    assert len(rows[1][1]) == 200 and len(rows[2][10]) == 1000


# --- exports ------------------------------------------------------------------------------------------------------

def _graded(sid, points, status="graded", **kw):
    tests = [{"grade_id": g, "max_points": m, "points": p} for (g, m), p in zip((("q1", 2.0), ("q2", 4.0)), points)]
    score = None if status in ("failed", "missing") else sum(points)
    return _rec(sid, "a1", score, status, tests=tests, **kw)


def test_question_export_never_turns_failed_or_missing_into_zero():
    rows = list(csv.reader(io.StringIO(questions_csv([_graded("b", (2, 1), late_penalty=0.5),
                                                      _graded("a", (0, 0), "failed")]))))
    assert rows == [["student_id", "name", "status", "q1 (2)", "q2 (4)", "late_penalty", "score"],
                    ["a", "", "failed", "", "", "0", ""], ["b", "", "graded", "2", "1", "0.5", "3"]]
    zero = list(csv.reader(io.StringIO(questions_csv([_graded("a", (0, 0), "failed")], missing_as_zero=True))))
    assert zero[1][-1] == "0"


def test_canvas_export_fills_the_roster_columns():
    roster = {"columns": ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "HW 2 (123)"],
              "rows": {"10004": {"Student": "Lee, Anna", "SIS User ID": "s1", "SIS Login ID": "alee", "Section": "A"},
                       "10005": {"Student": "Lee, Anna", "SIS User ID": "s2", "SIS Login ID": "alee2", "Section": "B"},
                       "10006": {"Student": "Müller, Jörg", "SIS User ID": "s3", "SIS Login ID": "jm", "Section": "A"}}}
    records = [_graded("10004", (2, 4), lms="canvas"), _graded("10005", (0, 0), "failed", lms="canvas")]
    text, warnings = canvas_csv(records, "HW 2 (123)", roster)
    assert list(csv.reader(io.StringIO(text))) == [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "HW 2 (123)"],
        ["    Points Possible", "", "", "", "", "6"],
        ["Lee, Anna", "10004", "s1", "alee", "A", "6"],
        ["Lee, Anna", "10005", "s2", "alee2", "B", ""],
        ["Müller, Jörg", "10006", "s3", "jm", "A", ""]]
    assert warnings == ["1 student(s) on the Canvas roster have no result here (left empty): 10006"]
    _, warnings = canvas_csv([_graded("alee", (2, 4), lms="nbgrader")], "a1", None)
    assert "did not come from a Canvas export" in warnings[0]


def test_without_options_the_rule_comes_from_nbgraders_gradebook_and_config(tmp_path, monkeypatch):
    from nbgrader.api import Gradebook
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")  # its `alembic`

    from grading.autograde.late import rule_for
    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}") as gb:
        gb.update_or_create_assignment("a1", duedate=datetime(2026, 10, 1, 23, 59))   # nbgrader: naive UTC
    config = tmp_path / "nbgrader_config.py"
    config.write_text("c = get_config()\nc.LateSubmissionPlugin.penalty_method = 'zero'\n")
    rule = rule_for(None, None, config, [tmp_path / "gradebook.db"], "a1")
    assert (rule.due, rule.method) == (DUE, "zero")
    rule = rule_for("2026-10-05T12:00:00+02:00", "0.2", config, [tmp_path / "gradebook.db"], "a1")
    assert (rule.due.isoformat(), rule.method, rule.per_day) == ("2026-10-05T12:00:00+02:00", "per_day", 0.2)
    rule = rule_for(None, None, tmp_path / "none.py", [tmp_path / "none.db"], "a1")
    assert (rule.due, rule.method) == (None, "none")


def test_moodle_worksheet_comes_back_with_grades_filled(tmp_path):
    from grading.autograde.export import moodle_csv
    sheet = tmp_path / "worksheet.csv"
    sheet.write_text("Identifier,Full name,Email address,Status,Grade,Maximum Grade,Grade can be changed,"
                     "Last modified (submission),Last modified (grade),Feedback comments\n"
                     "Participant 123401,Anna Lee,a@x,Submitted for grading,,6,Yes,\"Thursday, 1 October 2026\",-,\n"
                     "Participant 123402,Anna Lee,b@x,No submission,,6,Yes,-,-,\n", encoding="utf-8")
    records = [_graded("123401", (2, 3), lms="moodle"), _graded("123402", (0, 0), "missing", lms="moodle"),
               _graded("123499", (2, 4), lms="moodle")]
    text, warnings = moodle_csv(records, sheet)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][4] == "Grade" and [r[4] for r in rows[1:]] == ["5", ""]
    assert rows[1][:4] == ["Participant 123401", "Anna Lee", "a@x", "Submitted for grading"]
    assert warnings == ["1 result(s) are not in the worksheet, so Moodle would not take them: 123499"]
    minimal, _ = moodle_csv(records[:1], None)
    assert list(csv.reader(io.StringIO(minimal))) == [["Identifier", "Full name", "Grade", "Maximum Grade"],
                                                      ["Participant 123401", "", "5", "6"]]
