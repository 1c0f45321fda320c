"""End to end on a real course assignment, submitted as an LMS zip: expectations come from the source notebook."""
from __future__ import annotations

import io
import zipfile

import nbformat
import pytest

from grading.autograde.assignment import load_assignment
from grading.autograde.fake_class import solution_answers, student_notebook

from grading_helpers import NEEDS_BWRAP, REPO, read_grades, read_result, run_grade

pytestmark = [NEEDS_BWRAP, pytest.mark.slow]
CANDIDATES = ["02_tensors", "03_numpy_bridge", "04_devices", "05_autograd", "06_jacobians", "07_minigrad"]
RELEASED = [a for a in CANDIDATES if (REPO / "exercises" / a).is_dir() and (REPO / "solutions" / a).is_dir()]


@pytest.mark.skipif(not RELEASED, reason="no course assignment has been released yet")
def test_real_assignment_from_an_lms_zip(tmp_path):
    name = RELEASED[0]
    assignment = load_assignment(REPO, name)
    answers = list(solution_answers(REPO, name))
    half = set(answers[::2])
    notebooks = {"full": student_notebook(REPO, name), "blank": student_notebook(REPO, name, answered=set()),
                 "half": student_notebook(REPO, name, answered=half)}
    ids = {"full": "1001", "blank": "1002", "half": "1003", "zipped": "1004", "nobody": "1005"}  # Canvas user ids
    path = tmp_path / "canvas_export.zip"
    with zipfile.ZipFile(path, "w") as z:
        for student, nb in notebooks.items():
            z.writestr(f"{student}_{ids[student]}_2002_{name}.ipynb", nbformat.writes(nb))
        inner = io.BytesIO()
        with zipfile.ZipFile(inner, "w") as iz:
            iz.writestr(f"{name}/{name}.ipynb", nbformat.writes(notebooks["full"]))
        z.writestr("zipped_1004_2_upload.zip", inner.getvalue())
        z.writestr("nobody_1005_3_notes.pdf", b"%PDF")
    out = tmp_path / "out"
    proc = run_grade(name, path, out, "--jobs", "2", course=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    grades = {student: row for student in ids for row in read_grades(out).values() if row["student_id"] == ids[student]}
    assert set(grades) == set(ids)
    nobody = grades.pop("nobody")  # a pdf and no notebook: a failed row that says so, never a 0
    assert (nobody["status"], nobody["score"]) == ("failed", "") and "nobody_1005_3_notes.pdf" in nobody["reason"]
    assert float(grades["full"]["score"]) == assignment.max_score == float(grades["full"]["max_score"])
    assert float(grades["zipped"]["score"]) == assignment.max_score
    assert float(grades["blank"]["score"]) == 0
    assert all(grades[s]["status"] == "graded" for s in grades), grades
    # every test of an answered question passes; its points add up to the half score
    half_result = read_result(out, ids["half"])
    assert 0 < float(grades["half"]["score"]) < assignment.max_score
    assert float(grades["half"]["score"]) == sum(t["points"] for t in half_result["tests"] if t["outcome"] == "passed")
    # the gradebook agrees, so formgrader shows the same numbers
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:
        for student, row in grades.items():
            assert gb.find_submission(name, ids[student]).score == float(row["score"])
    # feedback never shows hidden tests
    page = (out / "feedback" / ids["blank"] / name / f"{name}.html").read_text()
    for test in assignment.tests:
        hidden = test.source.split("### BEGIN HIDDEN TESTS", 1)[-1] if "BEGIN HIDDEN" in test.source else ""
        for line in hidden.splitlines():
            line = line.strip()
            if len(line) > 25 and "HIDDEN" not in line:
                assert line not in page
    assert (out / "reports" / f"{assignment.name}.html").read_text().count("<tr>") >= len(assignment.tests)
