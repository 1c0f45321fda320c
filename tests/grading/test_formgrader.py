"""formgrader on a grading folder, as a real server (the one `python -m grading formgrader DIR` starts): it lists
and opens every submission, takes manual scores and comments; they survive `grade` re-runs, reach grades.csv,
`nbgrader export` and the feedback; a resubmission whose answer changed loses exactly the scores of what changed.

One small class of the fixture course with manually graded cells (fx_manual: 2 points autograded, 4 by hand):
ann solves everything; cy's `double` has a SyntaxError and cy also uploads a helper.py the grader does not use.
"""
from __future__ import annotations

import csv
import html
import re
import shutil
import subprocess
import sys

import nbformat
import pytest

from grading.autograde.fake_class import student_notebook, write_submission

from grading_helpers import FIXTURE_COURSE, NEEDS_BWRAP, read_grades, read_result, run_grade
from nbgrader_helpers import formgrader

pytestmark = [NEEDS_BWRAP, pytest.mark.slow]
A = "fx_manual"
NB = f"{A}.ipynb"
HIDDEN_LINE = "double([0, 1, 2]) should be [0, 2, 4]"   # a hidden test of fx_manual (solutions only)
MARK_SCHEME = "One point for a call on a new tensor"     # the task's mark scheme (solutions only)
WRONG_DOUBLE = "def double(x):\n    return 2 *\n"


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("formgrader")
    subs, out = root / "submissions", root / "out"
    write_submission(subs, "ann", A, NB, student_notebook(FIXTURE_COURSE, A))
    write_submission(subs, "cy", A, NB, student_notebook(FIXTURE_COURSE, A, overrides={"double": WRONG_DOUBLE}))
    (subs / "cy" / A / "helper.py").write_text("SCALE = 2\n")
    proc = run_grade(A, subs, out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root, subs, out


def private_copy(graded, tmp_path):
    """The graded class copied for a test that grades by hand or resubmits (tests stay independent)."""
    root, subs, out = graded
    shutil.copytree(subs, tmp_path / "submissions")
    shutil.copytree(out, tmp_path / "out")
    return tmp_path, tmp_path / "submissions", tmp_path / "out"


def test_manual_cells_count_and_wait_for_a_person(graded):
    _, _, out = graded
    grades = read_grades(out)
    assert {s: (g["score"], g["max_score"], g["status"]) for s, g in grades.items()} == {
        "ann": ("2", "6", "needs_manual_grade"), "cy": ("0", "6", "needs_manual_grade")}
    assert "metadata" not in grades["ann"]["reason"]   # nbgrader's manual cells are not tampering
    # feedback waits for the manual grades; the autograded notebook is there for formgrader
    assert not (out / "feedback" / "ann").exists()
    nb = nbformat.read(out / "autograded" / "cy" / A / NB, as_version=4)
    text = nbformat.writes(nb)
    assert HIDDEN_LINE not in text and MARK_SCHEME not in text
    answer = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "double")
    assert answer.source == WRONG_DOUBLE
    assert answer.outputs[0].ename == "SyntaxError" and "line 2" in answer.outputs[0].evalue
    test = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "double_test")
    assert test.outputs[0].ename == "NameError"


def test_formgrader_lists_opens_and_keeps_manual_scores(graded, tmp_path):
    root, subs, out = private_copy(graded, tmp_path)
    with formgrader(out, tmp_path / "jupyter-state") as fg:
        status, page = fg.page("/formgrader")
        assert status == 200 and "formgrader" in page.lower()
        [assignment] = [a for a in fg.get("assignments") if a["name"] == A]
        assert (assignment["num_submissions"], assignment["max_score"]) == (2, 6.0)
        listed = {s["student"]: s for s in fg.get(f"submissions/{A}")}
        assert {s: (v["score"], v["needs_manual_grade"]) for s, v in listed.items()} == {
            "ann": (2.0, True), "cy": (0.0, True)}
        ann = fg.submission(A, A, "ann")
        status, page = fg.page(f"/formgrader/submissions/{ann['id']}/")
        assert status == 200, page[:2000]
        assert "Shapes are aligned from the right" in text_of(page)   # ann's written answer, to grade
        assert HIDDEN_LINE not in page
        fg.grade(ann["id"], "explain_broadcasting", 1.5, "Say which dimensions are stretched.")
        fg.grade(ann["id"], "mean_of", 1)
        fg.grade(ann["id"], "own_data_task", 1, "Nice example.")
        assert fg.submission(A, A, "ann")["score"] == 5.5

    proc = run_grade(A, subs, out)
    assert "0 to grade, 2 unchanged" in proc.stderr
    assert "1 row(s) changed by manual grades entered in formgrader" in proc.stderr and ": ann" in proc.stderr
    grades = read_grades(out)
    assert (grades["ann"]["score"], grades["ann"]["status"]) == ("5.5", "graded")
    assert read_result(out, "ann")["manual_score"] == 3.5
    assert (grades["cy"]["score"], grades["cy"]["status"]) == ("0", "needs_manual_grade")
    page = text_of((out / "feedback" / "ann" / A / f"{A}.html").read_text())
    for expected in ("Why broadcasting", "1.5 / 2", "Say which dimensions are stretched.", "Nice example.",
                     "5.5 / 6", "A readable mean"):
        assert expected in page, expected
    assert HIDDEN_LINE not in page and MARK_SCHEME not in page

    # nbgrader export (run in the folder, with the folder's configuration) gives grades.csv's scores
    subprocess.run([sys.executable, "-m", "nbgrader", "export"], cwd=out, check=True, capture_output=True)
    with open(out / "nbgrader_export.csv", newline="") as fh:
        exported = {row["student_id"]: row["score"] for row in csv.DictReader(fh)}
    assert {s: float(v) for s, v in exported.items()} == {"ann": 5.5, "cy": 0.0}

    # regrading everything keeps every manual score (nothing the student wrote changed)
    run_grade(A, subs, out, "--force")
    assert read_grades(out)["ann"]["score"] == "5.5"

    # ann resubmits with a new explanation: that score is dropped and said so; mean_of's stays (its answer is
    # unchanged); the task's refers to the whole submission, which changed
    nb = student_notebook(FIXTURE_COURSE, A, overrides={"explain_broadcasting": "Sizes line up from the left."})
    write_submission(subs, "ann", A, NB, nb)
    run_grade(A, subs, out)
    row = read_grades(out)["ann"]
    assert (row["score"], row["status"]) == ("3", "needs_manual_grade")
    assert "'Why broadcasting' (1.5) was dropped: the answer changed" in row["reason"]
    assert "'Task: try it on your own data' (1) was dropped" in row["reason"]


def test_feedback_names_questions_shows_the_syntax_error_and_the_unused_file(graded, tmp_path):
    """cy's feedback once graded by hand: the question's heading, cy's own code, the SyntaxError and its line,
    the visible test's message, the file that was not used; never hidden test source."""
    _, subs, out = private_copy(graded, tmp_path)
    with formgrader(out, tmp_path / "jupyter-state") as fg:
        cy = fg.submission(A, A, "cy")
        for gid, score in (("explain_broadcasting", 2), ("mean_of", 1), ("own_data_task", 0)):
            fg.grade(cy["id"], gid, score)
    run_grade(A, subs, out)
    page = text_of((out / "feedback" / "cy" / A / f"{A}.html").read_text())
    for expected in ("Doubling a tensor", "return 2 *", "SyntaxError on line 2", "NameError",
                     "helper.py", "3 / 6"):
        assert expected in page, expected
    assert HIDDEN_LINE not in page and "double(ones(2)) should be" not in page.split("Doubling a tensor")[0]
