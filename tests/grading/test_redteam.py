"""Red team: one real submission notebook per attack, all graded in ONE run of the real CLI (--jobs 2).

Each attack must gain no point it did not earn, be flagged with a reason, and leave every other
student's grade and files alone. The honest students graded in the same batch prove the last part.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import textwrap

import nbformat
import pytest

from grading.autograde import forkserver
from grading.autograde.assignment import load_assignment
from grading.autograde.fake_class import student_notebook, write_submission

from grading_helpers import FIXTURE, FIXTURE_COURSE, NEEDS_BWRAP, REPO, read_grades, read_result, run_grade

pytestmark = [NEEDS_BWRAP, pytest.mark.slow]
NB = f"{FIXTURE}.ipynb"
ASSIGNMENT = load_assignment(FIXTURE_COURSE, FIXTURE)
POINTS = {c.grade_id: c.points for c in ASSIGNMENT.tests}
FULL = ASSIGNMENT.max_score

WRONG = {  # answers that fail every test, so any point they get is stolen
    "make_range": "def make_range(n):\n    return torch.zeros(n)",
    "scale": "def scale(x, k):\n    return x",
    "total": "def total(x):\n    return 0.5",
}


def nb_with(overrides=None, answered=frozenset(), extra=None):
    return student_notebook(FIXTURE_COURSE, FIXTURE, answered=set(answered), overrides=overrides,
                            extra_cells=extra)


def _edit_tests(nb, fn):
    for cell in list(nb.cells):
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade"):
            fn(nb, cell)
    return nb


def attacks(out_dir, sub_dir) -> dict[str, object]:
    """student id -> notebook (or raw bytes). Paths of the grader's files are baked in, as if known."""
    honest_results = out_dir / "results" / FIXTURE / "honest_full.json"
    honest_sub = sub_dir / "honest_full" / FIXTURE / NB
    solutions = REPO / "solutions"
    fixture_solution = FIXTURE_COURSE / "solutions" / FIXTURE / NB
    a = {}
    # 1. test cells edited / deleted / duplicated+reordered / metadata changed
    a["t1_edit_tests"] = _edit_tests(nb_with(), lambda nb, c: setattr(c, "source", "pass"))
    a["t1_edit_tests"].cells = [c for c in a["t1_edit_tests"].cells
                                if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") not in POINTS] + \
        [c for c in a["t1_edit_tests"].cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") in POINTS]
    a["t1_delete_tests"] = _edit_tests(nb_with(), lambda nb, c: nb.cells.remove(c))
    dup = nb_with(answered={"scale"})
    tests = [c for c in dup.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")]
    twin = nbformat.from_dict(dict(tests[-1]))
    twin["id"] = "twin0001"
    dup.cells.insert(0, twin)  # a test duplicated and moved to the top
    a["t1_duplicate_reorder"] = dup
    a["t1_metadata_points"] = _edit_tests(nb_with(answered={"scale"}), lambda nb, c: c.metadata["nbgrader"].update(
        points=100, grade_id=c.metadata["nbgrader"]["grade_id"]))
    # 2. monkeypatching comparison / test functions
    a["t2_patch_torch_math"] = nb_with(WRONG, extra=[("setup", textwrap.dedent("""\
        torch.equal = lambda *a, **k: True
        torch.allclose = lambda *a, **k: True
        math.isclose = lambda *a, **k: True
        torch.Tensor.__eq__ = lambda self, other: True"""))])
    a["t2_patch_builtins"] = nb_with(WRONG, extra=[("setup", textwrap.dedent("""\
        import builtins
        _real_type = builtins.type
        builtins.type = lambda *a: torch.Tensor if len(a) == 1 and hasattr(a[0], 'shape') else float
        builtins.AssertionError = type('Quiet', (Exception,), {})"""))])
    a["t2_patch_numpy_checks"] = nb_with(WRONG, extra=[("setup", textwrap.dedent("""\
        import numpy as np
        np.allclose = lambda *a, **k: True
        np.testing.assert_allclose = lambda *a, **k: None
        try:
            import grading.checks as checks
            for name in dir(checks):
                if not name.startswith('_') and callable(getattr(checks, name)):
                    setattr(checks, name, lambda *a, **k: True)
        except Exception:
            pass"""))])
    # 3. objects whose __eq__ / __bool__ / all() / item() lie
    a["t3_lying_objects"] = nb_with({
        "make_range": textwrap.dedent("""\
            class Liar(torch.Tensor):
                def __eq__(self, other): return True
                def __bool__(self): return True
                def all(self, *a, **k): return True
                def item(self): return 0.0
            def make_range(n):
                return torch.zeros(n).as_subclass(Liar)"""),
        "scale": textwrap.dedent("""\
            class Any:
                dtype = torch.float32
                shape = (2, 3)
                def __eq__(self, other): return True
                def __bool__(self): return True
                def all(self): return True
                def item(self): return 2.5
            def scale(x, k):
                return Any()"""),
        "total": textwrap.dedent("""\
            class Yes(float):
                def __eq__(self, other): return True
            def total(x):
                return Yes(1.0)"""),
    })
    # 4. swallowing test errors
    a["t4_swallow_errors"] = nb_with(WRONG, extra=[("setup", textwrap.dedent("""\
        import sys, io
        ip = get_ipython()
        ip.set_custom_exc((BaseException,), lambda *a, **k: None)
        ip.showtraceback = lambda *a, **k: None
        sys.excepthook = lambda *a: None
        sys.stderr = io.StringIO()"""))])
    a["t4_hijack_run_cell"] = nb_with(WRONG, extra=[("setup", textwrap.dedent("""\
        import re
        ip = get_ipython()
        _orig = ip.run_cell
        def _fake(raw_cell, *a, **k):
            marks = re.findall(r"print\\('([0-9a-f]{32})'\\)", raw_cell)
            try:
                return _orig("pass" if marks or '__import__' in raw_cell else raw_cell, *a, **k)
            finally:
                for m in marks:
                    print(m)
        ip.run_cell = _fake"""))])
    # 5. reading hidden tests / solutions / gradebook, writing outside the submission
    a["t5_read_solutions"] = nb_with(extra=[("setup", textwrap.dedent(f"""\
        import json, glob
        found = glob.glob({str(solutions)!r} + '/*/*.ipynb') + glob.glob({str(fixture_solution)!r})
        for path in found:
            for cell in json.load(open(path))['cells']:
                if cell.get('metadata', {{}}).get('nbgrader', {{}}).get('solution'):
                    exec(''.join(cell['source']))"""))])
    a["t5_write_outside"] = nb_with(WRONG, extra=[("setup", textwrap.dedent(f"""\
        for target, text in [({str(honest_results)!r}, '{{"score": 0}}'), ({str(honest_sub)!r}, 'x'),
                             ({str(out_dir / 'grades.csv')!r}, 'pwned'),
                             ({str(REPO / 'grading' / 'checks.py')!r}, 'x'), ('/etc/passwd', 'x')]:
            try:
                open(target, 'w').write(text)
                print('WROTE', target)
            except OSError as exc:
                print('blocked', target, exc)"""))])
    # 6. detecting the grader and behaving differently
    a["t6_detect_grading"] = nb_with(WRONG, extra=[("setup", textwrap.dedent("""\
        import os, sys
        suspicious = [k for k in os.environ if any(w in k.upper() for w in ('GRAD', 'NBGRADER', 'AUTOGRADE', 'CI'))]
        suspicious += [p for p in (os.getcwd(), os.path.expanduser('~')) if any(w in p for w in ('autograded', 'grade-', 'submitted', '/root'))]
        if not suspicious:  # looks like a student's own machine: behave honestly (wrongly)
            pass
        else:               # looks like a grader: cheat
            torch.equal = lambda *a, **k: True"""))])
    # 7. exits, crashes, infinite loops, memory, fork bombs, output floods
    a["t7_sys_exit"] = nb_with({"make_range": "import sys\nsys.exit(0)"}, answered={"scale", "total"})
    a["t7_os_exit"] = nb_with({"make_range": "import os\nos._exit(0)"}, answered={"scale", "total"})
    a["t7_segfault"] = nb_with({"make_range": "import ctypes\nctypes.string_at(0)"}, answered={"scale", "total"})
    a["t7_infinite_loop"] = nb_with({"make_range": "while True:\n    pass"}, answered={"scale", "total"})
    a["t7_memory"] = nb_with({"make_range": "hog = bytearray(64 * 2**30)"}, answered={"scale", "total"})
    a["t7_fork_bomb"] = nb_with({"make_range": "import os\nwhile True:\n    os.fork()"}, answered={"scale", "total"})
    a["t7_output_flood"] = nb_with({"make_range": "for i in range(400000):\n    print('x' * 100)"},
                                   answered={"scale", "total"})
    # 8. the network
    a["t8_network"] = nb_with({"make_range": textwrap.dedent("""\
        import socket, urllib.request
        def make_range(n):
            socket.create_connection(('1.1.1.1', 53), timeout=2)
            return torch.arange(n, dtype=torch.float32)""")}, answered={"scale", "total"})
    # 9. issue 14: code in the student's own kernel that rewrites or watches the tests while they run
    patch_all = "torch.equal = torch.allclose = math.isclose = lambda *a, **k: True"
    a["t9_input_transformer"] = nb_with(WRONG, extra=[("setup", textwrap.dedent("""\
        ip = get_ipython()
        def blank_tests(lines):
            return ["pass\\n"] if any("make_range(" in l or "scale(" in l or "total(" in l for l in lines) else lines
        ip.input_transformers_cleanup.append(blank_tests)
        ip.input_transformers_post.append(blank_tests)"""))])
    a["t9_compiler"] = nb_with(WRONG, extra=[("setup", textwrap.dedent("""\
        ip = get_ipython()
        class Lenient(type(ip.compile)):
            def __call__(self, source, filename, symbol):
                if "assert" in source:
                    source = "pass"
                return super().__call__(source, filename, symbol)
        ip.compile = Lenient()"""))])
    a["t9_prefilter"] = nb_with(WRONG, extra=[("setup", textwrap.dedent("""\
        pm = get_ipython().prefilter_manager
        real = pm.prefilter_lines
        pm.prefilter_lines = lambda lines, continue_prompt=False: "pass" if "assert" in lines else real(lines, continue_prompt)"""))])
    a["t9_run_cell_events"] = nb_with(WRONG, extra=[("setup", textwrap.dedent(f"""\
        import math
        real = (torch.equal, torch.allclose, math.isclose)
        def before(info):
            if "assert" in (info.raw_cell or ""):
                {patch_all}
        def after(result):
            torch.equal, torch.allclose, math.isclose = real
        get_ipython().events.register("pre_run_cell", before)
        get_ipython().events.register("post_run_cell", after)"""))])
    a["t9_trace_hook"] = nb_with(WRONG, extra=[("setup", textwrap.dedent(f"""\
        import sys, math
        tracer = getattr(sys, "set" "trace")
        def hook(frame, event, arg):
            if "assert" in "".join(__import__("linecache").getlines(frame.f_code.co_filename)):
                {patch_all}
                tracer(None)
            return None
        tracer(hook)"""))])
    a["t9_alarm"] = nb_with(WRONG, extra=[("setup", textwrap.dedent(f"""\
        import signal, math
        def tick(*_):
            {patch_all}
        signal.signal(signal.SIGALRM, tick)
        signal.setitimer(signal.ITIMER_REAL, 0.05, 0.05)"""))])
    a["t9_replace_guard_and_agent"] = nb_with(WRONG, extra=[("setup", textwrap.dedent(f"""\
        import sys, json, math, types
        for name, mod in list(sys.modules.items()):
            if isinstance(mod, types.ModuleType) and hasattr(mod, "guard") and hasattr(mod, "agent"):
                mod.guard = lambda nonce, phase: print(json.dumps({{"guard": nonce, "fixes": [], "audit": []}}))
                mod.agent = lambda request, nonce: print("\\n" + nonce + '<{{"ok": 6.0}}>' + nonce)
        {patch_all}"""))])
    a["t9_checks_privates"] = nb_with(WRONG, extra=[("setup", textwrap.dedent("""\
        import grading.checks as ck
        ck._compare_values = ck._require_tensor = lambda *a, **k: None
        ck.fail = ck.check = lambda *a, **k: None"""))])
    a["t9_shadow_builtins"] = nb_with(WRONG, extra=[("setup", textwrap.dedent("""\
        b = len.__self__
        globals()["AssertionError"] = type("Never", (Exception,), {})
        isinstance = lambda *a: True
        type = lambda *a: torch.Tensor if a and hasattr(a[0], "shape") else float
        b.AssertionError = type.__class__("Never", (Exception,), {})"""))])
    a["t9_bind_setup_names"] = nb_with(WRONG, extra=[("", textwrap.dedent("""\
        import sys, types, math as _m
        import torch as _t
        fake = types.ModuleType("torch")
        fake.__dict__.update(_t.__dict__)
        fake.equal = fake.allclose = lambda *a, **k: True
        sys.modules["torch"] = fake
        fake_math = types.ModuleType("math")
        fake_math.__dict__.update(_m.__dict__)
        fake_math.isclose = lambda *a, **k: True
        sys.modules["math"] = fake_math"""))])
    a["t9_read_test_source"] = nb_with({
        "make_range": textwrap.dedent("""\
            import inspect, linecache, re
            def make_range(n):
                caller = inspect.currentframe().f_back
                source = "".join(linecache.getlines(caller.f_code.co_filename))
                found = re.search(r"torch\\.tensor\\((\\[[^\\]]*\\])\\)", source)
                return torch.tensor(eval(found.group(1))) if found else torch.zeros(0)"""),
        "scale": "def scale(x, k):\n    return x",
        "total": "def total(x):\n    return 6.0",
    })
    a["t9_forge_protocol"] = nb_with(WRONG, extra=[("setup", textwrap.dedent("""\
        import re
        ip = get_ipython()
        k = ip.kernel
        def forge(info):
            marks = re.findall(r"print\\('([0-9a-f]{32})'\\)", info.raw_cell or "")
            if not marks:
                return
            parent = k.get_parent("shell")
            k.session.send(k.iopub_socket, "stream", {"name": "stdout", "text": marks[-1] + "\\n"}, parent=parent,
                           ident=k._topic("stream"))
            k.session.send(k.shell_stream, "execute_reply", {"status": "ok", "execution_count": 1,
                           "user_expressions": {}, "payload": []}, parent=parent, ident=k._parent_ident["shell"])
            k._publish_status("idle", "shell", parent)
        ip.events.register("pre_run_cell", forge)"""))])
    # 10. leaks: the test's text, sys.last_value and the grader's environment raised as errors into feedback
    a["t10_raise_test_text"] = nb_with({
        "make_range": textwrap.dedent("""\
            import inspect, linecache
            def make_range(n):
                frames = inspect.stack()
                raise ValueError(" ".join("".join(linecache.getlines(f.filename)) for f in frames)[:100000])"""),
        "scale": textwrap.dedent("""\
            import sys
            def scale(x, k):
                raise ValueError(repr(getattr(sys, "last_value", None)))"""),
        "total": textwrap.dedent("""\
            import os, posix
            def total(x):
                raise ValueError(repr(dict(os.environ)) + repr(posix.environ))"""),
    })
    # 11. disturbing others: slow scans, huge ids, error floods, full disks
    a["t11_blank_lines"] = student_notebook(FIXTURE_COURSE, FIXTURE, overrides={
        "scale": "\n" * 60_000 + "def scale(x, k):\n    return x * k"})
    huge_id = nb_with(answered={"scale"})
    huge_id.cells.append(nbformat.v4.new_code_cell("x = 1", metadata={"nbgrader": {"grade_id": "g" * 5_000_000,
                                                                                    "solution": True}}))
    a["t11_huge_grade_id"] = huge_id
    a["t11_error_flood"] = nb_with({"make_range": textwrap.dedent("""\
        from IPython.display import display
        for i in range(25):
            try:
                raise ValueError("e" * (2 << 20))
            except ValueError:
                get_ipython().showtraceback()""")}, answered={"scale", "total"})
    a["t11_fill_disk"] = nb_with({"make_range": textwrap.dedent("""\
        import os
        for folder in (".", "/tmp", "/dev/shm"):
            try:
                with open(folder + "/fill", "wb") as fh:
                    for _ in range(2048):
                        fh.write(b"0" * (1 << 20))
            except OSError:
                pass
            try:
                for i in range(100_000):
                    open(f"{folder}/f{i}", "w").close()
            except OSError:
                pass""")}, answered={"scale", "total"})
    # 12. our own: results the grader cannot take, lying return values, answers that stall the agent
    a["t12_unsendable_results"] = nb_with({
        "make_range": "def make_range(n):\n    return torch.arange(n, dtype=torch.float32) if n != 5 else torch.zeros(20_000_000)",
        "scale": "def scale(x, k):\n    class Any:\n        def __eq__(self, o): return True\n    return Any()",
        "total": "def total(x):\n    while True:\n        pass",
    })
    # damaged submissions, next to the attacks
    a["z_truncated"] = nbformat.writes(nb_with()).encode()[:300]
    a["z_not_json"] = b"\x00\x01garbage"
    # honest students in the same batch: their grades must be untouched by everything above
    a["honest_full"] = student_notebook(FIXTURE_COURSE, FIXTURE)
    a["honest_blank"] = nb_with()
    return a


# the default engine (the fork server when root) and, when it is a different one, bubblewrap as well
ENGINES = ["auto"] + (["bwrap"] if forkserver.available() and shutil.which("bwrap") else [])


@pytest.fixture(scope="module", params=ENGINES)
def graded(tmp_path_factory, request):
    root = tmp_path_factory.mktemp(f"redteam-{request.param}")
    subs, out = root / "submitted", root / "out"
    for student, nb in attacks(out, subs).items():
        write_submission(subs, student, FIXTURE, NB, nb)
    honest_file = subs / "honest_full" / FIXTURE / NB
    before = hashlib.sha256(honest_file.read_bytes()).hexdigest()
    os.environ["GRADER_ONLY_SECRET"] = "do-not-leak"    # as if set for the grader: must never reach a student
    try:
        proc = run_grade(FIXTURE, subs, out, "--jobs", "2", "--cell-timeout", "8", "--notebook-timeout", "60",
                         "--memory-mb", "2048", "--output-kb", "256", "--sandbox", request.param)
    finally:
        del os.environ["GRADER_ONLY_SECRET"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert hashlib.sha256(honest_file.read_bytes()).hexdigest() == before
    checks = REPO / "grading" / "checks.py"  # another engineer may edit it meanwhile: only look for the attack
    assert not checks.exists() or checks.read_bytes() != b"x"
    return out, read_grades(out), proc


def _points(out, student):
    return {t["grade_id"]: (t["outcome"], t["points"]) for t in read_result(out, student)["tests"]}


def assert_no_gain(out, grades, student, earned_max: float, *, reason_has: str = ""):
    """The attack earned at most what its honest answers are worth, and is flagged with a reason."""
    row = grades[student]
    assert row["status"] in ("needs_review", "failed"), row
    assert row["reason"].strip(), row
    if reason_has:
        assert reason_has in row["reason"], row["reason"]
    assert float(row["score"] or 0) <= earned_max, row
    assert float(row["max_score"]) == FULL


def test_honest_students_are_untouched(graded):
    out, grades, _ = graded
    assert grades["honest_full"]["status"] == "graded" and float(grades["honest_full"]["score"]) == FULL
    assert grades["honest_blank"]["status"] == "graded" and float(grades["honest_blank"]["score"]) == 0
    assert read_result(out, "honest_full")["score"] == FULL
    assert "pwned" not in (out / "grades.csv").read_text()


@pytest.mark.parametrize("student", ["t1_edit_tests", "t1_delete_tests"])
def test_edited_or_deleted_tests_are_restored_and_flagged(graded, student):
    out, grades, _ = graded
    assert_no_gain(out, grades, student, 0)
    assert "restored from the source" in grades[student]["reason"]
    assert all(outcome == "failed" for outcome, _ in _points(out, student).values())


def test_duplicated_reordered_test_earns_only_its_answers(graded):
    out, grades, _ = graded
    assert_no_gain(out, grades, "t1_duplicate_reorder", POINTS["test_scale"])
    reason = grades["t1_duplicate_reorder"]["reason"]
    assert "appears 2 times" in reason and "reordered" in reason


def test_changed_points_are_ignored(graded):
    out, grades, _ = graded
    assert_no_gain(out, grades, "t1_metadata_points", POINTS["test_scale"], reason_has="metadata")
    assert float(grades["t1_metadata_points"]["score"]) == POINTS["test_scale"]


@pytest.mark.parametrize("student", ["t2_patch_torch_math", "t2_patch_builtins", "t2_patch_numpy_checks"])
def test_monkeypatching_gains_nothing(graded, student):
    out, grades, _ = graded
    assert_no_gain(out, grades, student, 0, reason_has="tampering")


def test_lying_objects_fail_the_type_checks(graded):
    out, grades, _ = graded
    assert_no_gain(out, grades, "t3_lying_objects", 0, reason_has="tampering")
    assert all(outcome == "failed" for outcome, _ in _points(out, "t3_lying_objects").values())


@pytest.mark.parametrize("student", ["t4_swallow_errors", "t4_hijack_run_cell"])
def test_swallowed_errors_do_not_pass(graded, student):
    out, grades, _ = graded
    assert_no_gain(out, grades, student, 0, reason_has="tampering")


def test_hijacked_run_cell_is_caught_at_run_time(graded):
    out, grades, _ = graded
    assert "check before the test was blocked" in grades["t4_hijack_run_cell"]["reason"]


def test_solutions_are_invisible_to_students(graded):
    out, grades, _ = graded
    assert_no_gain(out, grades, "t5_read_solutions", 0)
    assert all(outcome == "failed" for outcome, _ in _points(out, "t5_read_solutions").values())


def test_writes_outside_the_submission_change_nothing(graded):
    out, grades, _ = graded
    assert_no_gain(out, grades, "t5_write_outside", 0)


def test_grading_detection_changes_nothing(graded):
    out, grades, _ = graded
    assert_no_gain(out, grades, "t6_detect_grading", 0, reason_has="environment")
    assert all(outcome == "failed" for outcome, _ in _points(out, "t6_detect_grading").values())


@pytest.mark.parametrize("student, why", [
    ("t7_sys_exit", "tampering"), ("t7_os_exit", "kernel died"), ("t7_segfault", "kernel died"),
    ("t7_infinite_loop", "time limit"), ("t7_memory", ""), ("t7_fork_bomb", ""), ("t7_output_flood", "")])
def test_crashes_are_contained_and_the_rest_still_graded(graded, student, why):
    out, grades, _ = graded
    earned = POINTS["test_scale"] + POINTS["test_total"]
    assert_no_gain(out, grades, student, earned, reason_has=why)
    results = _points(out, student)
    assert results["test_make_range"][0] != "passed"
    # the other answers were right: their tests ran and passed (points withheld only if flagged)
    assert results["test_scale"][0] in ("passed", "withheld"), results
    assert results["test_total"][0] in ("passed", "withheld"), results


def test_network_is_unreachable(graded):
    out, grades, _ = graded
    assert_no_gain(out, grades, "t8_network", POINTS["test_scale"] + POINTS["test_total"], reason_has="network")
    assert _points(out, "t8_network")["test_make_range"][0] == "failed"


@pytest.mark.parametrize("student", ["z_truncated", "z_not_json"])
def test_damaged_notebooks_fail_with_a_reason(graded, student):
    out, grades, _ = graded
    assert grades[student]["status"] == "failed"
    assert grades[student]["score"] == ""
    assert "could not be read" in grades[student]["reason"]


def test_every_student_has_exactly_one_row_and_feedback(graded):
    out, grades, _ = graded
    students = set(attacks(out, out).keys())
    assert set(grades) == students
    for student in students:
        page = (out / "feedback" / student / FIXTURE / f"{FIXTURE}.html").read_text()
        for hidden in ("BEGIN HIDDEN TESTS", "student.call", "check_tensor(", "torch.full((3,), 2.5)", "-x,"):
            assert hidden not in page, (student, hidden)


ISSUE_14_ATTACKS = ["t9_input_transformer", "t9_compiler", "t9_prefilter", "t9_run_cell_events", "t9_trace_hook",
                    "t9_alarm", "t9_replace_guard_and_agent", "t9_checks_privates", "t9_shadow_builtins",
                    "t9_bind_setup_names", "t9_forge_protocol"]


@pytest.mark.parametrize("student", ISSUE_14_ATTACKS)
def test_code_in_the_kernel_cannot_reach_the_verdict(graded, student):
    """Wrong answers plus any trick inside the kernel: every hidden verdict is decided outside, so nothing passes."""
    out, grades, _ = graded
    assert_no_gain(out, grades, student, 0)
    assert all(outcome != "passed" for outcome, _ in _points(out, student).values()), _points(out, student)


def test_reading_the_running_tests_source_only_finds_the_visible_part(graded):
    out, grades, _ = graded
    # the visible test of make_range is beaten by reading its source; the hidden one, decided outside, is not
    assert _points(out, "t9_read_test_source")["test_make_range"] == ("failed", 0.0)
    assert float(grades["t9_read_test_source"]["score"]) <= POINTS["test_total"]


def test_forged_replies_are_seen_as_messages_for_a_finished_request(graded):
    out, grades, _ = graded
    result = read_result(out, "t9_forge_protocol")
    assert any("already finished" in t or "answers no request" in t for t in result["tamper"]), result["tamper"]


def test_nothing_hidden_or_of_the_graders_leaks_into_feedback_or_results(graded):
    out, grades, _ = graded
    for where in [out / "feedback" / "t10_raise_test_text" / FIXTURE / f"{FIXTURE}.html",
                  out / "results" / FIXTURE / "t10_raise_test_text.json"]:
        text = where.read_text()
        for secret in ("BEGIN HIDDEN", "student.call", "check_tensor(student", "GRADER_ONLY_SECRET", "do-not-leak"):
            assert secret not in text, (where.name, secret)
    assert float(grades["t10_raise_test_text"]["score"]) == 0


def test_one_student_cannot_disturb_another(graded):
    out, grades, proc = graded
    assert grades["t11_blank_lines"]["score"] and float(grades["t11_blank_lines"]["score"]) == FULL
    row = grades["t11_huge_grade_id"]                 # csv read it back: no 5 MB field
    assert len(row["reason"]) <= 2000 and "g" * 100 not in row["reason"]
    assert float(row["score"]) == POINTS["test_scale"]
    assert (out / "results" / FIXTURE / "t11_error_flood.json").stat().st_size < 2 << 20
    for student in ("t11_error_flood", "t11_fill_disk"):
        assert float(grades[student]["score"]) == POINTS["test_scale"] + POINTS["test_total"], grades[student]


def test_results_the_grader_cannot_take_fail_with_the_checkers_reason(graded):
    out, grades, _ = graded
    tests = {t["grade_id"]: t for t in read_result(out, "t12_unsendable_results")["tests"]}
    assert "cannot receive" in tests["test_make_range"]["message"] and "64 MiB" in tests["test_make_range"]["message"]
    assert tests["test_scale"]["points"] == 0 and tests["test_total"]["outcome"] in ("timeout", "failed")
    assert float(grades["t12_unsendable_results"]["score"]) == 0
