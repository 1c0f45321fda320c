"""Who submitted what, read from real export layouts (no kernels): Canvas, Moodle, Blackboard, nbgrader, patterns."""
from __future__ import annotations

import csv
import os
import unicodedata
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from grading.autograde.cli import main as cli_main
from grading.autograde.submissions import discover

from grading_helpers import FIXTURE, FIXTURE_COURSE
from lms_exports import NB, blackboard_receipt, write_zip, zipped

A, B, C = b'{"a": 1}', b'{"b": 2}', b'{"c": 3}'


def _by_id(found):
    return {s.student_id: s for s in found.submissions}


def test_canvas_ids_are_user_ids_with_late_marks_resubmissions_and_unicode(tmp_path):
    path = write_zip(tmp_path / "canvas.zip", {
        f"leeanna_10004_5551_{NB}": A,
        f"leeanna_LATE_10005_5552_{NB}": B,                  # same name, another person
        f"müllerjörg_10006_5553_{NB}": C,                    # non-ASCII name slug
        f"smithbob_10007_5554_{NB}": b"old",
        f"smithbob_10007_5555_{FIXTURE}-1.ipynb": b"new",    # the same file name uploaded again
        "brownce_10008_5556_work.zip": zipped({f"{FIXTURE}/{NB}": A, "__MACOSX/._x": b""}),
        "brownce_10008_5556_helpers.py": b"x = 1",
        f"ngtom_10009_5557_{NB}": A,
        "ngtom_10009_5558_scratch.ipynb": B,                 # another notebook beside the assignment's
        f"o_brien_10010_5559_{NB}": C,                       # a name slug with an underscore
        "__MACOSX/._leeanna_10004_5551_fx_tensors.ipynb": b"junk",
        f".ipynb_checkpoints/leeanna_10004_5551_{FIXTURE}-checkpoint.ipynb": b"autosave",
    })
    found = discover(path, FIXTURE, NB)
    assert found.lms == "canvas" and found.unidentified == []
    by = _by_id(found)
    assert sorted(by) == ["10004", "10005", "10006", "10007", "10008", "10009", "10010"]
    assert (by["10010"].raw, by["10010"].name) == (C, "o_brien")
    assert by["10009"].raw == A and by["10009"].problem is None
    assert by["10009"].notes == [f"also submitted ngtom_10009_5558_scratch.ipynb (not graded: the notebook is {NB})"]
    assert (by["10004"].raw, by["10004"].name, by["10004"].late) == (A, "leeanna", False)
    assert (by["10005"].raw, by["10005"].name, by["10005"].late) == (B, "leeanna", True)
    assert (by["10006"].raw, by["10006"].name) == (C, "müllerjörg")
    assert by["10007"].raw == b"new" and "2 notebooks were submitted" in by["10007"].problem
    assert "--only 10007" in by["10007"].problem
    assert by["10008"].raw == A and by["10008"].problem is None
    assert by["10008"].notes == ["also submitted brownce_10008_5556_helpers.py (not a notebook: not graded)"]
    assert any("__MACOSX" in n and "macOS" in n for n in found.notes)
    assert any(".ipynb_checkpoints" in n and "checkpoint" in n for n in found.notes)


def test_moodle_folder_and_flat_exports_use_the_participant_id(tmp_path):
    folder = write_zip(tmp_path / "moodle.zip", {
        f"Anna Lee_123401_assignsubmission_file_/{NB}": A,
        f"Anna Lee_123402_assignsubmission_file_/{NB}": B,          # namesake
        f"Jörg Müller_123403_assignsubmission_file_/sub/{NB}": C,
        "Jörg Müller_123403_assignsubmission_onlinetext_onlinetext.html": b"<p>hi</p>",
    })
    by = _by_id(discover(folder, FIXTURE, NB))
    assert {k: (v.raw, v.name) for k, v in by.items()} == {
        "123401": (A, "Anna Lee"), "123402": (B, "Anna Lee"), "123403": (C, "Jörg Müller")}
    flat = write_zip(tmp_path / "flat.zip", {f"Ana_Maria Lima_123404_assignsubmission_file_{NB}": A})
    found = discover(flat, FIXTURE, NB)
    assert found.lms == "moodle"
    assert [(s.student_id, s.name, s.raw) for s in found.submissions] == [("123404", "Ana_Maria Lima", A)]


def test_blackboard_usernames_from_the_receipt_and_the_latest_attempt(tmp_path):
    first = f"Homework 2_j_smith_attempt_2026-10-01-10-00-00_{NB}"
    last = f"Homework 2_j_smith_attempt_2026-10-02-09-30-00_{NB}"
    path = write_zip(tmp_path / "bb.zip", {
        first: A, "Homework 2_j_smith_attempt_2026-10-01-10-00-00.txt": blackboard_receipt("j_smith", "Jo Smith", first),
        last: B, "Homework 2_j_smith_attempt_2026-10-02-09-30-00.txt": blackboard_receipt("j_smith", "Jo Smith", last),
        f"Homework 2_alee_attempt_2026-10-01-23-58-01_{NB}": C,      # no receipt: the name part is the username
    })
    found = discover(path, FIXTURE, NB, tz=ZoneInfo("Europe/Berlin"))
    assert found.lms == "blackboard" and found.unidentified == []
    by = _by_id(found)
    assert sorted(by) == ["alee", "j_smith"]
    assert (by["j_smith"].raw, by["j_smith"].name) == (B, "Jo Smith")
    assert by["j_smith"].submitted_at == datetime(2026, 10, 2, 9, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    assert "2 notebooks were submitted" in by["j_smith"].problem
    assert by["alee"].submitted_at == datetime(2026, 10, 1, 21, 58, 1, tzinfo=timezone.utc)


def test_nbgrader_folders_keep_unicode_ids_and_read_timestamps(tmp_path):
    for student, data in (("jörg", A), ("Ana Lima", B)):
        (tmp_path / student / FIXTURE).mkdir(parents=True)
        (tmp_path / student / FIXTURE / NB).write_bytes(data)
    (tmp_path / "jörg" / FIXTURE / "timestamp.txt").write_text("2026-10-02 08:00:00.123456 UTC")
    (tmp_path / "jörg" / FIXTURE / ".ipynb_checkpoints").mkdir()
    (tmp_path / "jörg" / FIXTURE / ".ipynb_checkpoints" / f"{FIXTURE}-checkpoint.ipynb").write_bytes(C)
    (tmp_path / "ben" / FIXTURE).mkdir(parents=True)
    (tmp_path / "ben" / FIXTURE / "other.ipynb").write_text("{}")
    (tmp_path / "cat" / "another_assignment").mkdir(parents=True)
    (tmp_path / "cat" / "another_assignment" / "x.ipynb").write_text("{}")
    found = discover(tmp_path, FIXTURE, NB)
    assert found.lms == "nbgrader" and found.unidentified == []
    by = _by_id(found)
    assert sorted(by) == ["Ana Lima", "ben", "cat", "jörg"]
    assert by["jörg"].raw == A and by["Ana Lima"].raw == B
    assert by["jörg"].submitted_at == datetime(2026, 10, 2, 8, 0, 0, 123456, tzinfo=timezone.utc)
    assert by["ben"].raw is None and "other.ipynb" in by["ben"].problem and not by["ben"].missing
    assert by["cat"].missing and f"no {FIXTURE}/ folder" in by["cat"].problem


def test_unreadable_ids_and_shared_ids_are_reported_not_guessed(tmp_path):
    path = write_zip(tmp_path / "canvas.zip", {
        f"leeanna_10004_5551_{NB}": A,
        f"smithbob_10004_5552_{NB}": B,      # two names, one Canvas id
        f"brownce_10009_5553_{NB}": C,
        "README.txt": b"no owner",
    })
    found = discover(path, FIXTURE, NB)
    assert [s.student_id for s in found.submissions] == ["10009"]
    problems = found.bad_entries
    assert len(problems) == 2
    assert any(p.startswith("README.txt: no student id") and "--grade-the-rest" in p for p in problems)
    assert any("10004: one id, 2 different names (leeanna, smithbob)" in p for p in problems)
    assert all(s.raw is None for s in found.unidentified)


def test_ids_differing_only_in_accent_encoding_are_ambiguous(tmp_path):
    for form in ("NFC", "NFD"):
        student = unicodedata.normalize(form, "jörg")
        (tmp_path / student / FIXTURE).mkdir(parents=True)
        (tmp_path / student / FIXTURE / NB).write_bytes(A)
    found = discover(tmp_path, FIXTURE, NB)
    assert found.submissions == [] and len(found.unidentified) == 2
    assert "differ only in how their accents are encoded" in found.bad_entries[0]


def test_id_pattern_reads_the_whole_path(tmp_path):
    path = write_zip(tmp_path / "x.zip", {f"section1/s-0042 (Ann Bo)/{NB}": A, f"section2/s-0043 (Cy Do)/{NB}": B})
    found = discover(path, FIXTURE, NB, id_pattern=r"/s-(?P<student_id>\d+) \((?P<name>[^)]*)\)/")
    assert [(s.student_id, s.name, s.raw) for s in found.submissions] == [("0042", "Ann Bo", A), ("0043", "Cy Do", B)]
    with pytest.raises(SystemExit, match="named group"):
        discover(path, FIXTURE, NB, id_pattern=r"s-(\d+)")
    with pytest.raises(SystemExit, match="not a valid regular expression"):
        discover(path, FIXTURE, NB, id_pattern=r"(?P<student_id>")


@pytest.mark.parametrize("entries, match", [
    ({}, "empty zip"),
    ({"__MACOSX/._a": b""}, "holds no submissions"),
    ({"notes.txt": b"x", "b.pdf": b"y"}, "cannot tell which LMS made this export"),
    ({"canvas_export.zip": zipped({f"leeanna_10004_5551_{NB}": A})}, "a zip inside a zip. Unzip it once"),
])
def test_unusable_exports_stop_with_the_fix(tmp_path, entries, match):
    with pytest.raises(SystemExit, match=match):
        discover(write_zip(tmp_path / "x.zip", entries), FIXTURE, NB)


def test_damaged_and_missing_inputs_name_the_fix(tmp_path):
    good = write_zip(tmp_path / "good.zip", {f"leeanna_10004_5551_{NB}": A})
    (tmp_path / "cut.zip").write_bytes(good.read_bytes()[:-30])
    with pytest.raises(SystemExit, match="download the export"):
        discover(tmp_path / "cut.zip", FIXTURE, NB)
    with pytest.raises(SystemExit, match="submissions not found"):
        discover(tmp_path / "nope", FIXTURE, NB)


def test_bad_uploads_inside_an_export_fail_that_student_with_a_reason(tmp_path):
    path = write_zip(tmp_path / "canvas.zip", {
        f"aa_1_1_{FIXTURE}.zip": b"PK\x03\x04 broken",
        "bb_2_2_box.zip": zipped({"inner.zip": zipped({NB: A})}),
        "cc_3_3_two.zip": zipped({"a.ipynb": A, "b.ipynb": B}),
        "dd_4_4_report.pdf": b"%PDF",
    })
    by = _by_id(discover(path, FIXTURE, NB))
    assert by["1"].raw is None and "not a readable zip" in by["1"].problem
    assert by["2"].raw is None and "another zip inside it" in by["2"].problem
    assert by["3"].raw is None and "holds 2 notebooks" in by["3"].problem
    assert by["4"].raw is None and "no notebook was submitted (got dd_4_4_report.pdf)" in by["4"].problem


def test_cli_stops_before_grading_on_ambiguity_and_unknown_only_ids(tmp_path, capsys):
    path = write_zip(tmp_path / "canvas.zip", {f"leeanna_10004_5551_{NB}": A, "README.txt": b"?"})
    out = tmp_path / "out"
    common = ["--out", str(out), "--course", str(FIXTURE_COURSE), "--no-sandbox", "--no-progress"]
    assert cli_main([FIXTURE, str(path), *common]) == 2
    err = capsys.readouterr().err
    assert "stopped before grading: 1 entries" in err and "README.txt" in err
    assert not out.exists()
    ok = write_zip(tmp_path / "ok.zip", {f"leeanna_10004_5551_{NB}": A})
    assert cli_main([FIXTURE, str(ok), *common, "--only", "10005"]) == 2
    assert "'10005' not found" in capsys.readouterr().err and not out.exists()
    with pytest.raises(SystemExit, match="has no time zone"):
        cli_main([FIXTURE, str(ok), *common, "--due", "2026-10-01T23:59"])
    with pytest.raises(SystemExit, match="--late-penalty 'half'"):
        cli_main([FIXTURE, str(ok), *common, "--late-penalty", "half"])


def test_grade_the_rest_gives_each_ambiguous_entry_a_failed_row(tmp_path, capsys):
    """No notebook here can be graded, so no kernel starts: the run only writes the failed rows."""
    path = write_zip(tmp_path / "canvas.zip", {
        f"leeanna_10004_5551_{NB}": A, f"smithbob_10004_5552_{NB}": B, "README.txt": b"?"})
    out = tmp_path / "out"
    assert cli_main([FIXTURE, str(path), "--out", str(out), "--course", str(FIXTURE_COURSE), "--no-sandbox",
                     "--no-progress", "--grade-the-rest"]) == 0
    with open(out / "grades.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["student_id"], r["status"], r["score"]) for r in rows] == [
        ("10004", "failed", ""), ("unidentified-README.txt", "failed", "")]
    assert "one id, 2 different names (leeanna, smithbob)" in rows[0]["reason"]
    assert "README.txt: no student id can be read" in rows[1]["reason"]
    assert "done: 2 added, 0 updated, 0 unchanged, 2 failed; 2 unusable entries" in capsys.readouterr().err


def test_a_roster_from_another_lms_stops_the_run(tmp_path, capsys):
    path = write_zip(tmp_path / "moodle.zip", {f"Anna Lee_123401_assignsubmission_file_/{NB}": A})
    roster = tmp_path / "canvas.csv"
    roster.write_text("Student,ID,SIS User ID,SIS Login ID,Section\n\"Lee, Anna\",10004,,,\n")
    out = tmp_path / "out"
    assert cli_main([FIXTURE, str(path), "--out", str(out), "--course", str(FIXTURE_COURSE), "--no-sandbox",
                     "--roster", str(roster)]) == 2
    err = capsys.readouterr().err
    assert "the canvas roster" in err and "matches none of the 1 submissions in this moodle export" in err
    assert "roster ids such as 10004; export ids such as 123401" in err and not out.exists()


def test_symlinks_and_undecodable_folder_names_never_become_a_grade(tmp_path):
    (tmp_path / "ann" / FIXTURE).mkdir(parents=True)
    (tmp_path / "ann" / FIXTURE / NB).write_bytes(A)
    (tmp_path / "bob" / FIXTURE).mkdir(parents=True)
    (tmp_path / "bob" / FIXTURE / NB).symlink_to(tmp_path / "ann" / FIXTURE / NB)   # bob's "work" is ann's
    latin1 = os.path.join(os.fsencode(tmp_path), b"j\xf6rg", os.fsencode(FIXTURE))  # a Latin-1 name, not UTF-8
    os.makedirs(latin1)
    with open(os.path.join(latin1, os.fsencode(NB)), "wb") as fh:
        fh.write(B)
    found = discover(tmp_path, FIXTURE, NB)
    by = _by_id(found)
    assert by["ann"].raw == A
    assert by["bob"].raw is None and not by["bob"].missing
    assert by["bob"].problem.startswith("bob/fx_tensors/fx_tensors.ipynb could not be read (OSError: it is a "
                                        "symbolic link, which is never followed")
    assert len(found.unidentified) == 1 and "is not usable" in found.bad_entries[0]


def test_two_runs_never_write_one_out_at_once(tmp_path, capsys):
    import fcntl
    out = tmp_path / "out"
    out.mkdir()
    path = write_zip(tmp_path / "canvas.zip", {f"leeanna_10004_5551_{NB}": A})
    with open(out / ".grading.lock", "a") as held:   # as a run in progress holds it
        fcntl.flock(held, fcntl.LOCK_EX)
        assert cli_main([FIXTURE, str(path), "--out", str(out), "--course", str(FIXTURE_COURSE), "--no-sandbox"]) == 2
    assert "another grading run is writing to" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == [".grading.lock"]
