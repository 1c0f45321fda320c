"""Unit tests of the grader's pieces that need no kernel: rebuild, scan, submissions, store, outputs, gradebook."""
from __future__ import annotations

import copy
import json
import os
import zipfile
from pathlib import Path

import nbformat
import pytest

from grading.autograde import guard
from grading.autograde.assignment import load_assignment, strip_hidden
from grading.autograde.cli import main as cli_main
from grading.autograde.fake_class import solution_answers, student_notebook
from grading.autograde.feedback import feedback_html
from grading.autograde.gradebook import sync_gradebook
from grading.autograde.late import LateRule
from grading.autograde.outputs import CSV_COLUMNS, class_report_html, score_histogram, write_grades_csv
from grading.autograde.rebuild import build_plan
from grading.autograde.scan import findings
from grading.autograde.store import ResultStore, atomic_write, submission_key
from grading.autograde.submissions import discover

from grading_helpers import FIXTURE, FIXTURE_COURSE

A = load_assignment(FIXTURE_COURSE, FIXTURE)
NB = f"{FIXTURE}.ipynb"


def _tests(nb):
    return [c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")]


# --- the source notebook ------------------------------------------------------------------------------------

def test_assignment_reads_points_and_hidden_tests_from_the_source():
    raw = nbformat.read(FIXTURE_COURSE / "solutions" / FIXTURE / NB, as_version=4)
    expected = sum(c.metadata["nbgrader"].get("points", 0) for c in raw.cells
                   if c.metadata.get("nbgrader", {}).get("grade"))
    assert A.max_score == expected
    for test in A.tests:
        assert "BEGIN HIDDEN TESTS" in test.source          # the grader runs hidden tests
        assert "BEGIN HIDDEN TESTS" not in test.released    # students never had them
        assert test.released.strip() == strip_hidden(test.source).strip()


def test_unknown_assignment_names_the_known_ones():
    with pytest.raises(SystemExit, match="known assignments: fx_manual, fx_tensors"):
        load_assignment(FIXTURE_COURSE, "nope")


# --- rebuilding the notebook to run ---------------------------------------------------------------------------

def test_an_untouched_submission_runs_source_tests_and_student_answers():
    nb = student_notebook(FIXTURE_COURSE, FIXTURE)
    plan = build_plan(A, nb)
    assert plan.flags == []
    assert [c.kind for c in plan.cells] == [c.kind for c in A.cells]
    answers = solution_answers(FIXTURE_COURSE, FIXTURE)
    for cell in plan.cells:
        if cell.kind == "answer":
            assert cell.code == answers[cell.grade_id]
        if cell.kind == "test":
            assert cell.code == A.cell(cell.grade_id).source   # hidden tests included


@pytest.mark.parametrize("attack, expected", [
    ("edit", "was edited (restored from the source)"),
    ("delete", "was deleted (restored from the source)"),
    ("duplicate", "appears 2 times"),
    ("reorder", "reordered"),
    ("points", "metadata of test cell"),
    ("answer_missing", "is missing (graded as unanswered)"),
    ("fake_grade_id", "does not have"),
])
def test_structural_tampering_is_flagged_and_never_trusted(attack, expected):
    nb = student_notebook(FIXTURE_COURSE, FIXTURE)
    tests = _tests(nb)
    if attack == "edit":
        tests[0].source = "pass"
    elif attack == "delete":
        nb.cells.remove(tests[0])
    elif attack == "duplicate":
        nb.cells.append(copy.deepcopy(tests[0]))
    elif attack == "reorder":
        nb.cells.remove(tests[-1])
        nb.cells.insert(0, tests[-1])
    elif attack == "points":
        tests[0].metadata["nbgrader"]["points"] = 99
    elif attack == "answer_missing":
        nb.cells = [c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") != "scale"]
    elif attack == "fake_grade_id":
        nb.cells.append(nbformat.v4.new_code_cell("x = 1", metadata={"nbgrader": {"grade": True, "grade_id": "bonus",
                                                                                     "points": 50}}))
    plan = build_plan(A, nb)
    assert any(expected in f for f in plan.flags), plan.flags
    runs = [c for c in plan.cells if c.kind == "test"]
    assert [(c.grade_id, c.code, c.points) for c in runs] == [(t.grade_id, t.source, t.points) for t in A.tests]


def test_added_cells_run_where_the_student_put_them():
    nb = student_notebook(FIXTURE_COURSE, FIXTURE, extra_cells=[("make_range", "helper = 1")])
    plan = build_plan(A, nb)
    kinds = [(c.kind, c.grade_id) for c in plan.cells]
    assert kinds.index(("extra", "")) == kinds.index(("answer", "make_range")) + 1
    assert plan.flags == []


# --- static scan ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("code, word", [
    ("import sys\nsys.settrace(f)", "trace"), ("get_ipython().set_custom_exc((Exception,), h)", "custom exception"),
    ("torch.equal = lambda *a: True", "monkeypatching"), ("import os\nos._exit(0)", "exits"),
    ("class T(torch.Tensor):\n    def __eq__(self, o): return True", "lie"), ("import ctypes", "ctypes"),
    ("import os\nos.environ['X']", "environment"), ("import socket", "network"),
    ("import builtins\nbuiltins.print = p", "builtins"), ("open('../../solutions/a.ipynb')", "grading files"),
])
def test_scan_names_tamper_tools(code, word):
    assert any(word in f for f in findings(code)), findings(code)


@pytest.mark.parametrize("code, word", [
    ('import sys\ngetattr(sys, "set" "trace")(f)', "trace"), ("b = len.__self__\nb.print = p", "builtins"),
    ('globals()["check_tensor"] = lambda *a, **k: None', "namespaces"), ("from inspect import currentframe", "frames"),
    ("import grading.checks as ck\nck.fail = print", "grader's or the kernel's own modules"),
    ("import linecache", "source code"), ("get_ipython().events.register('pre_run_cell', f)", "IPython"),
    ("import signal\nsignal.setitimer(signal.ITIMER_REAL, 0.1)", "signals"), ("import sys\nsys.last_value", "sys.last_value"),
])
def test_scan_sees_through_the_disguises_of_issue_14(code, word):
    assert any(word in f for f in findings(code)), findings(code)


def test_scan_is_linear_and_capped_so_one_student_cannot_stall_the_grader():
    import time

    started = time.monotonic()
    assert findings("\n" * 60_000 + "x = 1") == []
    assert findings("torch.equal = f" + "\n" * 150_000)        # still read to the end
    assert time.monotonic() - started < 2.0
    assert findings("x = 1\n" * 50_000) == ["the cell is too large to inspect (300000 characters)"]
    assert findings("-" * 100_000 + "1") == ["the cell could not be inspected (nested too deeply or not text)"]


def test_scan_ignores_honest_code_and_what_the_reference_uses():
    assert findings("def scale(x, k):\n    return x * k") == []
    assert findings("return x.all()", reference="return x.all()") == []
    assert findings("import os\nos.environ", reference="import os\nos.environ") == []
    honest = 'def f(x):\n    """Stack, compile and eval: a docstring is prose."""\n    model.eval()\n' \
             '    y = torch.stack([x, x]).sum()\n    kernel = torch.compile(g)\n    return y.modules()'
    assert findings(honest) == []


# --- submissions: folders and LMS zips ---------------------------------------------------------------------------

# Folder and LMS layouts, ids and bad entries: tests/grading/test_lms_discovery.py


def test_bad_inputs_get_clear_errors(tmp_path):
    with pytest.raises(SystemExit, match="submissions not found"):
        discover(tmp_path / "nope", FIXTURE, NB)
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(SystemExit, match="neither a folder nor a zip"):
        discover(tmp_path / "file.txt", FIXTURE, NB)
    with zipfile.ZipFile(tmp_path / "e.zip", "w") as z:
        z.writestr("a_b.ipynb", b"{}")
    with pytest.raises(SystemExit, match="named group"):
        discover(tmp_path / "e.zip", FIXTURE, NB, id_pattern=r"^(\w+)_")
    assert cli_main([FIXTURE, str(tmp_path), "--out", str(tmp_path / "o"), "--jobs", "0"]) == 2


# --- crash-safe store ---------------------------------------------------------------------------------------------

def test_atomic_write_gives_the_permissions_of_a_plain_write(tmp_path):
    """Not mkstemp's 0600: nbgrader's release_feedback copies feedback pages to students with the mode they have
    (a 0600 page gave students 'Permission denied' on the hub)."""
    plain = tmp_path / "plain.html"
    plain.write_text("x")
    atomic_write(tmp_path / "atomic.html", "x")
    assert (tmp_path / "atomic.html").stat().st_mode & 0o777 == plain.stat().st_mode & 0o777
    os.chmod(plain, 0o640)
    atomic_write(plain, "y")   # a rewrite keeps the file's own mode
    assert plain.stat().st_mode & 0o777 == 0o640 and plain.read_text() == "y"


def test_atomic_write_keeps_the_old_file_when_a_write_fails(tmp_path):
    target = tmp_path / "r.json"
    atomic_write(target, "old")

    class Boom(str):
        def encode(self, *a, **k):
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, Boom("new"))
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["r.json"]


def test_store_sweeps_stale_temp_files_and_keys_on_every_input(tmp_path):
    (tmp_path / "results" / FIXTURE).mkdir(parents=True)
    (tmp_path / "results" / FIXTURE / ".ann.json.x.tmp").write_text("{half")
    store = ResultStore(tmp_path)
    assert list((tmp_path / "results" / FIXTURE).iterdir()) == []
    base = submission_key(b"nb", None, "src", "limits")
    assert len({base, submission_key(b"nb2", None, "src", "limits"), submission_key(b"nb", None, "src2", "limits"),
                submission_key(b"nb", None, "src", "limits2")}) == 4
    store.save({"student_id": "ann", "assignment": FIXTURE, "key": base})
    assert store.is_current(FIXTURE, "ann", base) and not store.is_current(FIXTURE, "ann", "other")
    assert not store.is_current("another_assignment", "ann", base)


# --- outputs ------------------------------------------------------------------------------------------------------

def _record(sid, score, status="graded", reason="", outcomes=("passed", "failed", "passed")):
    tests = []
    for t, outcome in zip(A.tests, outcomes):
        tests.append({"grade_id": t.grade_id, "max_points": t.points, "outcome": outcome,
                      "points": t.points if outcome == "passed" else 0.0,
                      "message": "" if outcome == "passed" else "CheckFailed: make_range(4) should be 0, 1, 2, 3"})
    return {"student_id": sid, "assignment": FIXTURE, "score": score, "max_score": A.max_score, "status": status,
            "reason": reason, "tests": tests}


# grades.csv: tests/grading/test_lms_records.py


def test_feedback_shows_messages_but_never_hidden_test_source():
    page = feedback_html(A, _record("ann", 3.0))
    assert "make_range(4) should be 0, 1, 2, 3" in page and "3 / 6" in page
    for test in A.tests:
        hidden = test.source[len(test.released):] if test.source.startswith(test.released) else test.source
        for line in hidden.splitlines():
            if line.strip() and "HIDDEN" not in line:
                assert line.strip() not in page


def test_class_report_has_the_plot_and_pass_rates():
    page = class_report_html(FIXTURE, [_record("a", 3.0), _record("b", 6.0, outcomes=("passed",) * 3)], ["x.txt: bad"])
    assert page.count("<svg") == 2 and "score distribution" in page and "pass rate per question" in page
    assert "2 / 2" in page and "1 / 2" in page and "x.txt: bad" in page
    assert "<title>6: 1</title>" in page and "<title>3: 1</title>" in page and "<title>4: 0</title>" in page
    assert "<title>test_scale: 50</title>" in page


def test_score_histogram_bins_every_score_once():
    labels, counts = score_histogram([0.0, 0.4, 3.0, 6.0, 6.0, 5.99], 6.0)
    assert labels == ["0", "1", "2", "3", "4", "5", "6"] and counts == [2, 0, 0, 1, 0, 1, 2]
    labels, counts = score_histogram([40.0, 39.9, 0.0, 2.0], 40.0)
    assert len(counts) == 20 and labels[0] == "0\u20132" and labels[-1] == "38\u201340"
    assert counts[0] == 1 and counts[1] == 1 and counts[-1] == 2 and sum(counts) == 4


def test_gradebook_holds_the_same_scores(tmp_path):
    from nbgrader.api import Gradebook
    records = [_record("ann", 3.0), _record("bob", None, "failed", "broken"),
               _record("cy", 0.0, "needs_review", "tampering", outcomes=("withheld", "failed", "failed"))]
    sync_gradebook(tmp_path / "gradebook.db", A, records, "fx-course", LateRule())
    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}", course_id="fx-course") as gb:
        assert gb.find_submission(FIXTURE, "ann").score == 3.0
        assert gb.find_submission(FIXTURE, "bob").score == 0.0
        assert gb.find_submission(FIXTURE, "bob").needs_manual_grade
        assert gb.find_submission(FIXTURE, "cy").needs_manual_grade
        assert gb.find_submission(FIXTURE, "ann").max_score == A.max_score


# --- the guard's report -------------------------------------------------------------------------------------------

def test_guard_report_needs_its_nonce():
    nonce = guard.new_nonce()
    line = json.dumps({"guard": nonce, "fixes": ["torch.equal"], "audit": ["tried to use the network (x)"]})
    assert guard.read_guard("noise\n" + line + "\n", nonce) == (["torch.equal"], ["tried to use the network (x)"])
    assert guard.read_guard(line.replace(nonce, guard.new_nonce()), nonce) is None
    assert guard.read_guard("", nonce) is None
    assert guard.new_nonce() != guard.new_nonce()


# --- hidden tests: decided on the trusted side -------------------------------------------------------------------

from grading.autograde import trusted  # noqa: E402
from grading.nbgrader_util import assignments  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("course, name", [(REPO, n) for n in assignments()] + [(FIXTURE_COURSE, FIXTURE)])
def test_every_graded_test_cell_is_rechecked_on_the_trusted_side(course, name):
    """Each test cell has a hidden block that uses `student`: the visible part runs where the student's code can
    reach it, so a verdict needs a re-check the grader runs itself."""
    missing = []
    for cell in load_assignment(course, name).tests:
        visible, blocks = trusted.split_test(cell.source)
        if not any(trusted.uses_student(b) for b in blocks):
            missing.append(cell.grade_id)
    assert missing == [], f"{name}: test cells without a hidden block that uses `student`: {missing}"


def test_hidden_blocks_split_from_the_visible_part_and_only_vocabulary_blocks_count():
    source = "x = 1\n### BEGIN HIDDEN TESTS\nassert f(2) == 4\n### END HIDDEN TESTS\n" \
             "y = 2\n### BEGIN HIDDEN TESTS\ncheck_equal(student.call('f', 2), 4, 'f(2)')\n### END HIDDEN TESTS\n"
    visible, blocks = trusted.split_test(source)
    assert visible == "x = 1\ny = 2\n" and len(blocks) == 2
    assert [trusted.uses_student(b) for b in blocks] == [False, True]
    assert visible == strip_hidden(source)


def test_a_hidden_verdict_carries_the_checkers_message_never_hidden_source():
    from grading.student import Student, serve

    ns_student = {}
    exec("def f(x):\n    raise ValueError('no ' * 400)\ndef g(x):\n    return x + 1", ns_student)
    ns = trusted.namespace(Student(lambda text: serve(text, ns_student), list))
    secret = "check_equal(student.call('g', 1), 3, 'g(1)')  # SECRET-EXPECTED"
    verdict = trusted.run_hidden([secret], ns, "t")
    assert verdict.outcome == "failed" and verdict.message == "g(1): expected 3, got 2."
    verdict = trusted.run_hidden(["student.call('f', 1)"], ns, "t")
    assert verdict.outcome == "failed" and verdict.message.startswith("f(1) raised ValueError;")
    assert "no no" not in verdict.message      # the student's own text (it could carry the hidden inputs)
    verdict = trusted.run_hidden(["undefined_helper(1)  # SECRET"], ns, "t")
    assert verdict.outcome == "error" and "SECRET" not in verdict.message and "undefined_helper" not in verdict.message
    assert "NameError" in verdict.grader_error and "line 1 of <hidden test t #1>" in verdict.grader_error
    assert trusted.run_hidden([secret.replace("3", "2")], ns, "t").outcome == "passed"


def test_hidden_blocks_of_two_submissions_interleave_yet_each_keeps_its_own_random_draws():
    """While one submission's block waits for its kernel, another's computes; a seed still means the same draws."""
    import threading

    import torch

    from grading.student import Student, serve

    b_ran = threading.Event()
    waited = {}

    def transport(name, ns_student):
        def send(text):
            with trusted._others_may_compute():      # what KernelTransport does around a kernel round trip
                waited[name] = b_ran.wait(10) if name == "a" else True
            return serve(text, ns_student)
        return send

    block = ("torch.manual_seed({seed}); first = torch.rand(3); student.call('g', 1); second = torch.rand(4)\n"
             "check_equal(torch.cat([first, second]).tolist(), {expected}, 'draws')")
    expected = {}
    for seed in (1, 2):
        torch.manual_seed(seed)
        expected[seed] = torch.rand(7).tolist()
    namespaces, verdicts = {}, {}
    for name in ("a", "b"):
        ns_student = {}
        exec("def g(x):\n    return x + 1", ns_student)
        namespaces[name] = trusted.namespace(Student(transport(name, ns_student), list))
    namespaces["b"]["b_ran"] = b_ran

    def grade(name, seed, extra=""):
        verdicts[name] = trusted.run_hidden([extra + block.format(seed=seed, expected=expected[seed])],
                                            namespaces[name], name)

    a = threading.Thread(target=grade, args=("a", 1))
    a.start()
    while not trusted._ONE_AT_A_TIME.locked():
        pass
    b = threading.Thread(target=grade, args=("b", 2, "b_ran.set(); torch.manual_seed(99); torch.rand(50)\n"))
    b.start()
    a.join(20)
    b.join(20)
    assert waited == {"a": True, "b": True}      # b's block ran while a's waited for its kernel
    assert verdicts["a"].outcome == "passed", verdicts["a"].message
    assert verdicts["b"].outcome == "passed", verdicts["b"].message


# -- the fork server's preload hint ----------------------------------------------------------------------------------
FUNCTORCH_USES = ["torch.func.jacrev(f)(x)", "from torch.func import vmap", "J = jacfwd(f)(x)",
                  'x = torch.ones(2, device="meta")', "torch.ones(2, device = 'meta')",
                  json.dumps({"source": 'torch.tensor(3.0, device="meta")'})]   # as a notebook file spells it
NOT_FUNCTORCH = ["torch.autograd.functional.jacobian(f, x)", 'nb.metadata["kernelspec"]', "torch.ones(2)",
                 'print("meta")']


@pytest.mark.parametrize("text", FUNCTORCH_USES + NOT_FUNCTORCH)
def test_functorch_preload_hint(text):
    from grading.autograde.forkserver import uses_functorch

    assert uses_functorch(text) is (text in FUNCTORCH_USES)


def test_functorch_preload_hint_matches_what_torch_imports():
    """What the hint flags really imports torch._dynamo on first use (the modules the server then preloads), and a
    jacobian without torch.func does not."""
    import subprocess
    import sys

    from grading.autograde.forkserver import PRELOAD_FUNCTORCH

    probe = ("import sys, torch\nf = lambda x: (x ** 3).sum()\nx = torch.ones(3)\n{}\n"
             "print(sorted(m for m in {!r} if m in sys.modules))")
    flagged = subprocess.run([sys.executable, "-c", probe.format("torch.func.jacrev(f)(x)", PRELOAD_FUNCTORCH)],
                             capture_output=True, text=True, check=True).stdout
    plain = subprocess.run([sys.executable, "-c", probe.format("torch.autograd.functional.jacobian(f, x)",
                                                               PRELOAD_FUNCTORCH)],
                           capture_output=True, text=True, check=True).stdout
    assert "torch._dynamo" in flagged and plain.strip() == "[]"
