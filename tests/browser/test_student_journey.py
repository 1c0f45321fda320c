"""The student's journey in JupyterLab, in a real browser (issue 6).

Headless Chromium (Debian's, driven by Playwright) on the server `python -m grading lab` starts, serving a
temporary copy of course/ and of one exercise folder, so that running and saving never touches tracked files:

0. the server's address opens JupyterLab on course/;
1. open a course notebook, Run All: no error output, and a plot is rendered;
2. open an exercise, type a correct answer, run it and its test cell: the test passes; type a wrong answer:
   the test cell shows the test's own message;
3. type every other answer (from solutions/, by grade_id) and press nbgrader's Validate button: it fails on
   the wrong answer, with the same message; correct it and rerun its test, Validate again: success;
4. a screenshot of each step goes to artifacts/browser/NN_step.png; the time of each step is printed.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from grading.autograde.fake_class import solution_answers
from grading.lab import REPO_ROOT
from grading.nbgrader_util import nbgrader_meta

pytest.importorskip("playwright.sync_api", reason="the `playwright` Python package is not installed (it is pinned "
                    "in pyproject.toml: run `make setup`)")
from lab_server import running_lab  # noqa: E402 (needs playwright's package, checked just above)
from lab_ui import Lab, Timer  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.slow]

COURSE_NOTEBOOK = "course/05_autograd.ipynb"  # has plots: f beside f', the autograd graph, a loss curve
ASSIGNMENT = "02_tensors"
EXERCISE = f"exercises/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
SETUP_CELL = "setup"
QUESTION = "q17_products"  # answer cell; its test cell is QUESTION + "_test"
# The classic mix-up the test cell catches by name: the two products swapped.
WRONG_ANSWER = '''def both_products(a, b):
    """Return (element-wise product, matrix product) of the square matrices a and b."""
    return a @ b, a * b'''
WRONG_ANSWER_MESSAGE = "The element-wise product is a * b (torch.mul); a @ b is the matrix product."


def grade_ids(path) -> dict[str, int]:
    """nbgrader grade_id -> cell index (the browser shows a notebook's cells in file order)."""
    cells = nbformat.read(path, as_version=4).cells
    return {nbgrader_meta(c)["grade_id"]: i for i, c in enumerate(cells) if nbgrader_meta(c)}


@pytest.fixture
def lab_root(tmp_path):
    """A scratch server root holding copies of course/ and of the exercise's folder."""
    root = tmp_path / "root"
    for folder in (COURSE_NOTEBOOK.rsplit("/", 1)[0], EXERCISE.rsplit("/", 1)[0]):
        shutil.copytree(REPO_ROOT / folder, root / folder,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    return root


def test_student_journey(browser_page, lab_root, shots, tmp_path, record_property):
    ids = grade_ids(lab_root / EXERCISE)
    answers = solution_answers(REPO_ROOT, ASSIGNMENT)  # grade_id -> the instructors' answer, markers removed
    assert QUESTION in answers and QUESTION + "_test" in ids, f"{EXERCISE} no longer has question {QUESTION}"
    timer = Timer()
    try:
        with running_lab(lab_root, tmp_path / "jupyter-state") as server:
            timer.lap("server start (until it answers)")
            lab = Lab(browser_page, server, shots)
            lab_opens_on_the_course(lab, timer)
            run_course_notebook(lab, timer)
            answer_one_question(lab, timer, ids, answers[QUESTION])
            validate(lab, timer, ids, answers)
        timer.lap("server stop")
    finally:
        report = timer.report()
        (shots / "timings.txt").write_text(report + "\n")
        record_property("browser_timings", report)


def lab_opens_on_the_course(lab: Lab, timer: Timer) -> None:
    """0. The server's address opens JupyterLab's file browser on course/."""
    lab.page.goto(lab.server.url("/"))
    lab.page.wait_for_url("**/lab/tree/course*")
    notebook = Path(COURSE_NOTEBOOK).name
    lab.page.locator(".jp-DirListing-itemText", has_text=notebook).wait_for()
    assert lab.page.locator(".jp-BreadCrumbs").inner_text().strip(" /").endswith("course")
    lab.screenshot("00_lab_opens_on_course")
    timer.lap("0. JupyterLab opens on course/")


def run_course_notebook(lab: Lab, timer: Timer) -> None:
    """1. Open a course notebook and Run All: every cell runs, none shows an error, a plot is drawn."""
    lab.open(COURSE_NOTEBOOK)
    lab.run_all()
    errors = [text for text in lab.error_outputs() if "Traceback" in text or "Error" in text]
    assert not errors, f"{COURSE_NOTEBOOK} shows error output after Run All:\n" + "\n\n".join(errors)
    unrun = [i for i in lab.code_cell_indices() if not lab.prompt(i).strip("[]: ").isdigit()]
    assert not unrun, f"cells {unrun} of {COURSE_NOTEBOOK} did not run"
    assert lab.images().count() >= 1, f"no plot rendered in {COURSE_NOTEBOOK}"
    plot = lab.images().first
    plot.scroll_into_view_if_needed()
    assert plot.evaluate("img => img.complete && img.naturalWidth > 100"), "the plot image did not load"
    lab.screenshot("01_course_run_all", lab.cells_with_images().first)
    timer.lap("1. course notebook: open, Run All, checks")


def answer_one_question(lab: Lab, timer: Timer, ids: dict[str, int], correct: str) -> None:
    """2. Type a correct answer: its test cell passes (runs, prints nothing). Type a wrong one: the test cell
    shows the test's own message."""
    answer, test = ids[QUESTION], ids[QUESTION + "_test"]
    lab.open(EXERCISE)
    lab.run_cells(ids[SETUP_CELL])
    lab.set_source(answer, correct)
    lab.run_cells(answer, test)
    assert lab.error_outputs() == [], f"the correct answer to {QUESTION} failed:\n{lab.error_outputs()}"
    assert lab.prompt(test).strip("[]: ").isdigit() and lab.outputs_text(test) == ""
    lab.screenshot("02_exercise_correct_answer", lab.cell(answer - 1))
    timer.lap("2a. exercise: a correct answer passes its test")

    assert WRONG_ANSWER_MESSAGE in lab.source(test), f"the test cell of {QUESTION} no longer has the message"
    lab.set_source(answer, WRONG_ANSWER)
    lab.run_cells(answer, test)
    shown = lab.outputs_text(test)
    assert WRONG_ANSWER_MESSAGE in shown, f"the test cell shows {shown!r}, not the test's message"
    lab.screenshot("03_exercise_wrong_answer", lab.cell(answer))
    timer.lap("2b. a wrong answer shows the test's message")


def validate(lab: Lab, timer: Timer, ids: dict[str, int], answers: dict[str, str]) -> None:
    """3. Type every other answer (the instructors' solutions) and press Validate: it fails on the one wrong
    answer left, with its test's message (a negative control). Correct that one, rerun its test, Validate again:
    success."""
    for grade_id, source in answers.items():
        if grade_id != QUESTION:
            lab.set_source(ids[grade_id], source)
    dialog = lab.validate()
    text = dialog.inner_text()
    assert "validation-failed" in (dialog.locator("#validation-message").get_attribute("class") or ""), text
    assert WRONG_ANSWER_MESSAGE in text and "NotImplementedError" not in text, text
    lab.screenshot("04_validate_one_wrong_answer")
    lab.close_dialog(dialog)
    timer.lap(f"3a. {len(answers) - 1} answers typed, Validate names the wrong one")

    answer, test = ids[QUESTION], ids[QUESTION + "_test"]
    lab.set_source(answer, answers[QUESTION])
    lab.run_cells(answer, test)
    assert lab.outputs_text(test) == "", f"the corrected answer still fails: {lab.outputs_text(test)}"
    lab.cell(answer).scroll_into_view_if_needed()
    dialog = lab.validate()
    message = dialog.locator("#validation-message")
    assert "validation-success" in (message.get_attribute("class") or ""), dialog.inner_text()
    assert "Success! Your notebook passes all the tests." in message.inner_text()
    lab.screenshot("05_validate_success")
    lab.close_dialog(dialog)
    timer.lap("3b. the wrong answer corrected, Validate succeeds")
