"""The instructor's journey after grading, in a real browser (issue 10): formgrader inside JupyterLab.

Headless Chromium on the server `python -m grading formgrader DIR` starts, on a grading folder of one student of
the fixture course with manually graded cells (tests/grading/fixtures/course, fx_manual: 2 points autograded,
4 graded by hand):

0. JupyterLab opens; nbgrader's menu opens formgrader in a tab: the assignment has its one submission;
1. Manual Grading -> the assignment -> the notebook: the submission's total is the autograded 2 / 6;
2. open the submission, type 1.5 for the written answer; back in the list the total is 3.5 / 6;
3. the next `grade` run (nothing to regrade) puts the manual score into grades.csv.
Screenshots go to artifacts/browser/1N_step.png.
"""
from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grading.autograde.fake_class import student_notebook, write_submission
from grading.formgrader import formgrader_launch
from grading.lab import REPO_ROOT

pytest.importorskip("playwright.sync_api", reason="the `playwright` Python package is not installed (it is pinned "
                    "in pyproject.toml: run `make setup`)")
from lab_server import running_lab  # noqa: E402
from lab_ui import Lab  # noqa: E402
from playwright.sync_api import expect  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(shutil.which("bwrap") is None, reason="grading needs bubblewrap (`make system-deps`)")]

COURSE = REPO_ROOT / "tests" / "grading" / "fixtures" / "course"
ASSIGNMENT = "fx_manual"
WRITTEN_ANSWER = "explain_broadcasting"   # a manually graded markdown answer worth 2 points


def grade(submissions: Path, out: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "grading", "grade", ASSIGNMENT, str(submissions), "--out", str(out),
           "--course", str(COURSE), "--no-progress"]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def grades_row(out: Path, student: str) -> dict:
    with open(out / "grades.csv", newline="") as fh:
        return next(row for row in csv.DictReader(fh) if row["student_id"] == student)


def test_instructor_grades_a_written_answer_in_formgrader(browser_page, shots, tmp_path):
    submissions, out = tmp_path / "submitted", tmp_path / "grading-out"
    write_submission(submissions, "ann", ASSIGNMENT, f"{ASSIGNMENT}.ipynb", student_notebook(COURSE, ASSIGNMENT))
    grade(submissions, out)
    assert (grades_row(out, "ann")["score"], grades_row(out, "ann")["status"]) == ("2", "needs_manual_grade")

    with running_lab(out, tmp_path / "jupyter-state", launcher=formgrader_launch) as server:
        lab = Lab(browser_page, server, shots)
        page = lab.page
        page.goto(server.url("/lab"))
        page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
        page.locator(".lm-Menu-itemLabel", has_text="Formgrader").first.click()
        formgrader = page.frame_locator("iframe")
        row = formgrader.locator("tr", has=formgrader.get_by_role("link", name=ASSIGNMENT, exact=True))
        expect(row).to_contain_text("draft")
        assert row.inner_text().split()[-1] == "1", row.inner_text()   # "# Submissions"
        lab.screenshot("10_formgrader_in_lab")

        # Each page has a link named after the assignment, so wait for each page by its breadcrumb before
        # clicking again, and for the submission rows before "Show All Names" (it only reveals rows already there).
        breadcrumb = formgrader.locator(".breadcrumb li")
        formgrader.get_by_role("link", name="Manual Grading").click()
        expect(breadcrumb).to_have_text(["Manual Grading"])
        formgrader.get_by_role("link", name=ASSIGNMENT, exact=True).click()
        expect(breadcrumb).to_have_text(["Manual Grading", ASSIGNMENT])
        formgrader.get_by_role("link", name=ASSIGNMENT, exact=True).click()   # its notebook
        expect(breadcrumb).to_have_text(["Manual Grading", ASSIGNMENT, ASSIGNMENT])
        expect(formgrader.get_by_role("link", name="Submission #1", exact=True)).to_be_visible()
        expect(formgrader.locator("tbody tr")).to_contain_text("2 / 6")
        formgrader.get_by_role("button", name="Show All Names").click()
        expect(formgrader.get_by_role("button", name="Hide All Names")).to_be_visible()
        formgrader.get_by_role("link", name="ann", exact=True).click()

        score = formgrader.locator(f"input.score#{WRITTEN_ANSWER}")
        expect(formgrader.locator("input.score#double_test")).to_have_attribute("placeholder", "2")  # grades loaded
        expect(formgrader.locator(".text_cell_render", has_text="Shapes are aligned from the right")).to_be_visible()
        score.fill("1.5")
        score.press("Tab")   # formgrader saves on change
        lab.screenshot("11_formgrader_manual_score")
        formgrader.locator(".breadcrumb a", has_text=ASSIGNMENT).last.click()
        expect(formgrader.locator("tbody tr")).to_contain_text("3.5 / 6")
        lab.screenshot("12_formgrader_new_total")

    proc = grade(submissions, out)
    assert "0 to grade, 1 unchanged" in proc.stderr
    row = grades_row(out, "ann")
    assert (row["score"], row["status"]) == ("3.5", "needs_manual_grade")   # two more cells wait for a person
