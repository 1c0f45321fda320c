"""A whole class on the course's JupyterHub, for real (issue 13).

The hub `make hub` starts (deploy/jupyterhub/hub.py, configurable-http-proxy, PAM logins, local process spawner)
on localhost, with one instructor and two students as system users, driven in headless Chromium:

1. the instructor releases 06_jacobians to the exchange (nbgrader release_assignment, in their terminal);
2. alice logs in: her Nbgrader menu has no formgrader; she fetches the assignment from the Assignments tab,
   answers one question and submits, then answers the rest and submits again (a double submit);
3. the hub restarts: alice's server, her login and both submissions are still there;
4. the due date passes; the exchange's disk is full when bob submits: he gets a clear message and nothing
   partial is left; space is freed, bob (one answer of three) submits, late;
5. isolation: neither student can read the other's home, list the exchange's inbound, or read solutions/ (the
   course directory's or the checkout's) or the gradebook;
6. the instructor collects (alice's latest submission, bob's late one), grades with `python -m grading grade`
   (sandboxed) into the course directory, and opens formgrader, which lists both students;
7. the instructor releases feedback; each student fetches it from the Assignments tab and reads only their own.

Steps 6 and 7 run on the grader's nbgrader course directory (`grade --out` the course directory itself):
formgrader lists autograded/<student>/<assignment>/, release_feedback sends feedback/<student>/<assignment>/.
Screenshots go to artifacts/hub/; the time of each step is printed.
"""
from __future__ import annotations

import csv
from datetime import datetime, timezone

import nbformat
import pytest

from grading.autograde.fake_class import solution_answers
from grading.lab import REPO_ROOT
from grading.nbgrader_util import nbgrader_meta

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ASSIGNMENT = "06_jacobians"
NOTEBOOK = f"{ASSIGNMENT}/{ASSIGNMENT}.ipynb"  # where nbgrader's fetch puts it, in the student's home
NBGRADER = str(REPO_ROOT / ".venv" / "bin" / "nbgrader")
PYTHON = str(REPO_ROOT / ".venv" / "bin" / "python")


def answer_cells(hub, account) -> dict[str, int]:
    """grade_id -> cell index of the answer cells in the student's fetched notebook."""
    cells = nbformat.read(account.home / NOTEBOOK, as_version=4).cells
    return {nbgrader_meta(c)["grade_id"]: i for i, c in enumerate(cells)
            if nbgrader_meta(c) and nbgrader_meta(c).get("solution")}


def saved_sources(account) -> dict[str, str]:
    cells = nbformat.read(account.home / NOTEBOOK, as_version=4).cells
    return {nbgrader_meta(c)["grade_id"]: c.source for c in cells if nbgrader_meta(c)}


def test_a_class_on_the_hub(class_hub, browser, shots, record_property):
    from hub_ui import Timer

    hub, timer = class_hub, Timer()
    answers = solution_answers(REPO_ROOT, ASSIGNMENT)
    first, *rest = sorted(answers)
    try:
        _journey(hub, browser, shots, timer, answers, first, rest)
    finally:
        report = timer.report()
        (shots / "timings.txt").write_text(report + "\n")
        record_property("hub_timings", report)


def _journey(hub, browser, shots, timer, answers, first, rest):
    from hub_ui import HubUser

    timer.lap("hub up, accounts made")
    s, course, inbound = hub.settings, hub.settings.course_dir, hub.settings.exchange / hub.settings.course_id / "inbound"

    # 1. the instructor releases ---------------------------------------------------------------------------------
    out = hub.run_as(hub.instructor, NBGRADER, "release_assignment", ASSIGNMENT)
    assert "Released as" in out.stdout + out.stderr
    timer.lap("1. instructor: release_assignment")

    # 2. alice: Assignments tab, fetch, answer one, submit; answer the rest, submit again ------------------------
    alice = HubUser(browser.new_context(viewport={"width": 1400, "height": 900}).new_page(), hub.url,
                    hub.alice.name, shots)
    alice.page.set_default_timeout(60_000)
    alice.log_in(hub.alice.password)
    menu = alice.menu_labels()
    assert "Assignment List" in menu and "Formgrader" not in menu, f"a student's Nbgrader menu shows {menu}"
    alice.open_assignments()
    alice.fetch(ASSIGNMENT)
    alice.screenshot("01_alice_fetched")
    cells = answer_cells(hub, hub.alice)
    alice.answer(NOTEBOOK, {cells[first]: answers[first]})
    assert saved_sources(hub.alice)[first] == answers[first], "the answer typed in the browser was not saved"
    alice.open_assignments()
    assert alice.submit(ASSIGNMENT) == ""
    alice.answer(NOTEBOOK, {cells[gid]: answers[gid] for gid in rest})
    alice.open_assignments()
    assert alice.submit(ASSIGNMENT) == ""
    listed = alice.submissions(ASSIGNMENT)
    assert len(listed) == 2, f"two submissions should be listed, the Assignments tab shows {listed}"
    alice.screenshot("02_alice_submitted_twice")
    timer.lap("2. alice: log in, fetch, answer, submit twice")

    # 3. the hub restarts: servers, logins and submissions survive -------------------------------------------------
    server = hub.server_pid(hub.alice)
    hub.restart()
    assert hub.server_pid(hub.alice) == server, "a hub restart must leave the students' servers running"
    alice.open_assignments()  # the same browser session: no new login
    assert len(alice.submissions(ASSIGNMENT)) == 2
    timer.lap("3. hub restart: alice's server, login, submissions kept")

    # 4. the due date passes; bob meets a full exchange, then submits late -----------------------------------------
    due = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    hub.run_as(hub.instructor, NBGRADER, "db", "assignment", "add", ASSIGNMENT, f"--duedate={due}",
               cwd=course)
    bob = HubUser(browser.new_context(viewport={"width": 1400, "height": 900}).new_page(), hub.url,
                  hub.bob.name, shots)
    bob.page.set_default_timeout(60_000)
    bob.log_in(hub.bob.password)
    bob.open_assignments()
    bob.fetch(ASSIGNMENT)
    bob_cells = answer_cells(hub, hub.bob)
    bob.answer(NOTEBOOK, {bob_cells[first]: answers[first]})
    bob.open_assignments()
    filler = s.exchange / "filler"
    hub.fill_disk(filler)
    before = sorted(p.name for p in inbound.iterdir())
    message = bob.submit(ASSIGNMENT)
    bob.screenshot("03_bob_exchange_full")
    assert "NOT submitted: the exchange is full" in message and "still in your home" in message, \
        f"a submit to a full exchange should say so; the student saw {message!r}"
    assert sorted(p.name for p in inbound.iterdir()) == before, "a failed submit left a partial submission"
    assert saved_sources(hub.bob)[first] == answers[first], "bob's own work must survive the failed submit"
    filler.unlink()
    assert bob.submit(ASSIGNMENT) == ""
    timer.lap("4. bob: full exchange refused clearly, then a late submit")

    # 5. isolation ---------------------------------------------------------------------------------------------
    a_home, b_home = hub.alice.home, hub.bob.home
    for who, other_home in [(hub.bob, a_home), (hub.alice, b_home)]:
        assert not hub.can_read(who, other_home / NOTEBOOK), f"{who.name} can read {other_home / NOTEBOOK}"
        assert not hub.can_read(who, other_home), f"{who.name} can list {other_home}"
        assert not hub.can_read(who, inbound), f"{who.name} can list the exchange's inbound"
        for secret in (course / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
                       REPO_ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", course / "gradebook.db"):
            assert not hub.can_read(who, secret), f"{who.name} can read {secret}"
    assert hub.can_read(hub.instructor, inbound) and hub.can_read(hub.instructor, REPO_ROOT / "solutions")
    assert hub.can_read(hub.alice, a_home / NOTEBOOK), "negative control: alice reads her own notebook"
    timer.lap("5. isolation checks")

    # 6. the instructor collects, grades (sandboxed), opens formgrader --------------------------------------------
    hub.run_as(hub.instructor, NBGRADER, "collect", ASSIGNMENT)
    submitted = course / "submitted"
    got = {p.name for p in submitted.iterdir()}
    assert got == {hub.alice.name, hub.bob.name}, f"collected {got}"
    alice_collected = nbformat.read(submitted / hub.alice.name / NOTEBOOK, as_version=4)
    assert {nbgrader_meta(c)["grade_id"]: c.source for c in alice_collected.cells if nbgrader_meta(c)}[rest[-1]] \
        == answers[rest[-1]], "collect must take alice's latest submission"
    bob_time = (submitted / hub.bob.name / ASSIGNMENT / "timestamp.txt").read_text()
    assert bob_time > due.replace(" UTC", ""), f"bob's submission ({bob_time}) should be after the due date {due}"
    grading = hub.run_as(hub.instructor, PYTHON, "-m", "grading", "grade", ASSIGNMENT, str(submitted), "--course",
                         str(course), "--out", str(course), "--jobs", "2", "--no-progress", cwd=REPO_ROOT)
    assert "sandbox: bwrap" in grading.stderr, grading.stderr
    with open(course / "grades.csv") as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f)}
    assert rows[hub.alice.name]["status"] == "graded"
    assert float(rows[hub.alice.name]["score"]) == float(rows[hub.alice.name]["max_score"]) > 0
    assert 0 < float(rows[hub.bob.name]["score"]) < float(rows[hub.bob.name]["max_score"])
    timer.lap("6a. instructor: collect, grade (sandboxed)")

    instructor = HubUser(browser.new_context(viewport={"width": 1400, "height": 900}).new_page(), hub.url,
                         hub.instructor.name, shots)
    instructor.page.set_default_timeout(60_000)
    instructor.log_in(hub.instructor.password)
    assert "Formgrader" in instructor.menu_labels()
    instructor.page.goto(instructor.url(f"/formgrader/manage_submissions/{ASSIGNMENT}"))
    try:
        instructor.page.locator("#main-table").wait_for(state="attached")
    except Exception as exc:
        shot = instructor.screenshot("04_formgrader_failed")
        raise AssertionError(f"formgrader did not open at {instructor.page.url} ({shot}):\n"
                             f"{instructor.page.content()[:2000]}") from exc
    for student in (hub.alice, hub.bob):
        instructor.page.locator("#main-table tr", has_text=student.name).wait_for()
    instructor.screenshot("04_formgrader_submissions")
    timer.lap("6b. instructor: formgrader lists both submissions")

    # 7. feedback: released by the instructor, each student fetches and reads only their own -------------------
    released = hub.run_as(hub.instructor, NBGRADER, "release_feedback", ASSIGNMENT)
    log = released.stdout + released.stderr
    assert log.count("Feedback released to") == 2, f"release_feedback should release two students' feedback:\n{log}"
    for user, account in [(alice, hub.alice), (bob, hub.bob)]:
        user.open_assignments()
        user.fetch_feedback(ASSIGNMENT)
        files = sorted((account.home / ASSIGNMENT / "feedback").rglob("*.html"))
        other = hub.bob if account is hub.alice else hub.alice
        own = (course / "feedback" / account.name / ASSIGNMENT / f"{ASSIGNMENT}.html").read_bytes()
        theirs = (course / "feedback" / other.name / ASSIGNMENT / f"{ASSIGNMENT}.html").read_bytes()
        assert own != theirs, "negative control: the two students' feedback differs"
        assert files and all(f.read_bytes() == own for f in files), \
            f"{account.name} should receive exactly their own feedback, got {files}"
        assert not hub.can_read(account, other.home / ASSIGNMENT / "feedback")
        user.screenshot(f"05_{account.name.split('-')[-1]}_feedback")
    timer.lap("7. feedback released, fetched, each student sees their own")
