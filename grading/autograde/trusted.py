"""The grader's trusted side of a test: hidden blocks run here, in the grader's process, never in the sandbox.

A test cell's visible part runs in the student's kernel; its hidden blocks (### BEGIN/END HIDDEN TESTS) run in
one namespace per submission that holds torch, np, mg, the checks and a `Student` whose transport sends plain-data
requests to the grader's agent in the kernel (see grading/student.py and VOCABULARY.md). What a student sees of a
hidden test is the checker's own message, capped; never the hidden source and never a traceback.
"""
from __future__ import annotations

import ast
import contextlib
import re
import threading
import traceback
from dataclasses import dataclass

from grading import checks
from grading.checks import CheckFailed
from grading.plain import parse_python
from grading.student import Student, StudentError

from . import guard as g

HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS[^\n]*\n(.*?)^[ \t]*### END HIDDEN TESTS[^\n]*\n?", re.M | re.S)
MESSAGE_CAP = 600
# Hidden blocks of different submissions (worker threads) compute one at a time: they share torch's and NumPy's
# global random generators, so `torch.manual_seed(0)` in a block must mean the same draws whatever runs beside it.
# While a block waits for its kernel it lets the others compute, and takes its generators' states with it.
_ONE_AT_A_TIME = threading.Lock()
_holding = threading.local()
REPLY_BUDGET = 160 << 20     # stdout kept for one agent reply (plain data is at most 128 MiB of text)


def split_test(source: str) -> tuple[str, list[str]]:
    """(visible part, hidden blocks) of a test cell's source."""
    blocks = [m.group(1) for m in HIDDEN.finditer(source)]
    return HIDDEN.sub("", source), blocks


def uses_student(block: str) -> bool:
    """Whether a hidden block is written in the vocabulary (it names `student`): only such blocks can run on the
    trusted side; others still run in the kernel with the visible part (see GRADING.md, "legacy hidden tests")."""
    try:
        tree = parse_python(block)
    except SyntaxError:
        return False
    return any(isinstance(node, ast.Name) and node.id == "student" for node in ast.walk(tree))


def namespace(student: Student) -> dict:
    """A fresh trusted namespace for one submission's hidden blocks."""
    import numpy as np
    import torch

    ns = {"__name__": "__hidden_tests__", "torch": torch, "np": np}
    try:
        import minigrad as mg
        ns["mg"] = mg
    except ImportError:
        pass
    ns.update({name: getattr(checks, name) for name in checks.__all__})
    ns["student"] = student
    return ns


class CallLost(CheckFailed):
    """A request to the kernel got no answer: the kernel timed out or died while the student's code ran."""

    def __init__(self, message: str, status: str):
        super().__init__(message)
        self.status = status


class NoAnswer(CheckFailed):
    """The kernel ran a request but no framed answer came back (the agent was blocked or replaced)."""


class KernelTransport:
    """Sends one Student request to the agent in the kernel and returns its reply text (strictly framed)."""

    def __init__(self, run, tamper: list[str]):
        self.run, self.tamper = run, tamper

    def __call__(self, request: str) -> str:
        nonce = g.new_nonce()
        with _others_may_compute():
            res = self.run.call_kernel(g.agent_code(self.run.token, request, nonce), [REPLY_BUDGET])
        if res.status in ("timeout", "died"):
            raise CallLost("the call ran past the time limit" if res.status == "timeout"
                           else "the kernel died while your code ran (it exited, crashed or ran out of memory)",
                           res.status)
        reply = g.read_agent_reply(res.stdout, nonce)
        if reply is None:
            if len(self.tamper) < 20:
                self.tamper.append("the grader's agent in the kernel did not answer a request (it was blocked "
                                   "or replaced)")
            raise NoAnswer("no answer came back from your kernel: something in the notebook blocked the grader's "
                           "requests")
        return reply


@dataclass
class HiddenVerdict:
    outcome: str          # "passed", "failed", "error", "timeout", "died"
    message: str = ""
    grader_error: str = ""  # for the instructor only (a bug in a hidden test): never shown to the student


def run_hidden(blocks: list[str], ns: dict, grade_id: str) -> HiddenVerdict:
    """Run a test's hidden blocks in the trusted namespace; the verdict and a message safe to show."""
    with _ONE_AT_A_TIME:
        _holding.flag = True
        try:
            return _run_blocks(blocks, ns, grade_id)
        finally:
            _holding.flag = False


@contextlib.contextmanager
def _others_may_compute():
    """Hand the trusted side to other submissions while this thread waits for its kernel; on return, the random
    generators and default dtype are as this block left them, whatever the others drew or set meanwhile."""
    if not getattr(_holding, "flag", False):
        yield
        return
    import random

    import numpy as np
    import torch

    state = (torch.get_rng_state(), np.random.get_state(), random.getstate(), torch.get_default_dtype())
    _ONE_AT_A_TIME.release()
    try:
        yield
    finally:
        _ONE_AT_A_TIME.acquire()
        torch.set_rng_state(state[0])
        np.random.set_state(state[1])
        random.setstate(state[2])
        torch.set_default_dtype(state[3])


def _run_blocks(blocks: list[str], ns: dict, grade_id: str) -> HiddenVerdict:
    for n, block in enumerate(blocks):
        try:
            exec(compile(block, f"<hidden test {grade_id} #{n + 1}>", "exec"), ns)  # noqa: S102 - instructor code
        except CallLost as lost:
            return HiddenVerdict(lost.status, _cap(f"{ns['student']._last[0] or 'a call'}: {lost}"))
        except NoAnswer as lost:
            return HiddenVerdict("error", _cap(f"{ns['student']._last[0] or 'a call'}: {lost}"))
        except StudentError as err:   # its type only: the message is the student's text (it could carry inputs)
            kind = err.type_name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]{0,80}", err.type_name) else "an exception"
            return HiddenVerdict("failed", _cap(f"{err.where or 'your code'} raised {kind}; run it on such an input "
                                                "yourself to see the message"))
        except AssertionError as err:   # CheckFailed, or a plain assert in the hidden block
            return HiddenVerdict("failed", _cap(str(err) or "a hidden check failed"))
        except Exception as exc:  # noqa: BLE001 - a bug in the instructor's hidden test
            frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith("<hidden test")]
            where = f" (line {frames[-1].lineno} of {frames[-1].filename})" if frames else ""
            return HiddenVerdict("error", "this test could not be completed because of a problem in the grader's own "
                                          "test; your instructor has been told",
                                 _cap(f"{type(exc).__name__}: {exc}{where}"))
    return HiddenVerdict("passed")


def _cap(text: str) -> str:
    return text if len(text) <= MESSAGE_CAP else text[:MESSAGE_CAP - 3] + "..."
