"""Hidden tests decide on the trusted side: run a notebook's visible cells in a kernel and each hidden block in THIS
process, reaching the kernel only through `student` (plain-data text served by grading.student.serve), with the
namespace VOCABULARY.md promises (torch, np, mg, grading.checks, student) and nothing the kernel defined."""
import re

import minigrad
import nbformat
import numpy as np
import pytest
import torch
from jupyter_client.manager import start_new_kernel

from grading import checks
from grading.nbgrader_util import REPO_ROOT, SOURCE_DIR, is_test_cell, nbgrader_meta
from grading.student import Student

pytestmark = pytest.mark.slow
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS\n?", re.S)
MARKERS = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION\n", re.M)
IN_VOCABULARY = ["02_tensors", "03_numpy_bridge", "04_devices", "05_autograd", "06_jacobians", "08_end_to_end"]


class Kernel:
    """A python3 kernel running in the notebook's folder; `run` returns (stdout, error or None)."""

    def __init__(self, folder, monkeypatch):
        monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))
        monkeypatch.chdir(folder)
        self.manager, self.client = start_new_kernel()

    def run(self, code, history=True):
        msg_id = self.client.execute(code, store_history=history)
        out, error = [], None
        while True:
            msg = self.client.get_iopub_msg(timeout=120)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream" and content["name"] == "stdout":
                out.append(content["text"])
            elif kind == "error":
                error = f"{content['ename']}: {content['evalue']}"
            elif kind == "status" and content["execution_state"] == "idle":
                return "".join(out), error

    def serve(self, request_text):
        reply, error = self.run(f"import grading.student as _s\nprint(_s.serve({request_text!r}, globals()), end='')",
                                history=False)
        assert error is None, error
        return reply

    def close(self):
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


def grade_on_the_trusted_side(path, monkeypatch, answers=None):
    """{grade id: None if the test passed, else what failed} with the visible part in the kernel and the hidden
    block here; `answers` replaces answer cells ({grade id: source})."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        cell.source = (answers or {}).get(nbgrader_meta(cell).get("grade_id"), MARKERS.sub("", cell.source))
    kernel = Kernel(path.parent, monkeypatch)
    try:
        sources = [c.source for c in nb.cells if nbgrader_meta(c).get("solution")]
        trusted = {name: getattr(checks, name) for name in checks.__all__}
        trusted.update(torch=torch, np=np, mg=minigrad, student=Student(kernel.serve, lambda: sources))
        verdicts = {}
        for cell in (c for c in nb.cells if c.cell_type == "code"):
            _, error = kernel.run(HIDDEN.sub("", cell.source))
            if not is_test_cell(cell):
                assert error is None or "NotImplementedError" in error, error
                continue
            hidden = HIDDEN.search(cell.source).group(1)
            try:
                exec(compile(hidden, f"<hidden tests of {nbgrader_meta(cell)['grade_id']}>", "exec"), trusted)
            except Exception as exc:  # noqa: BLE001 - any exception is the test's verdict
                error = error or f"hidden: {type(exc).__name__}: {exc}"
            verdicts[nbgrader_meta(cell)["grade_id"]] = error
        return verdicts
    finally:
        kernel.close()


@pytest.mark.parametrize("name", IN_VOCABULARY)
def test_solution_passes_with_hidden_tests_run_outside_the_kernel(name, monkeypatch):
    verdicts = grade_on_the_trusted_side(SOURCE_DIR / name / f"{name}.ipynb", monkeypatch)
    assert verdicts and {k: v for k, v in verdicts.items() if v} == {}


def test_answers_that_pass_the_visible_tests_fail_the_hidden_ones_on_the_trusted_side(monkeypatch):
    """A leaf reused across calls passes the one visible call and fails the hidden second call; a computed
    prediction passes the visible comparison and fails student.literal."""
    reuse_leaf = ("_leaves = {}\n\n\ndef grad_sum_of_powers(values, p):\n"
                  "    X = _leaves.setdefault(str(values), torch.tensor(values, dtype=torch.float32, requires_grad=True))\n"
                  "    (X ** p).sum().backward()\n    return X\n")
    computed = ("p_k = len(bin(1536 // 3)) - 3\np_a_grad = 512.0\n")
    verdicts = grade_on_the_trusted_side(SOURCE_DIR / "05_autograd" / "05_autograd.ipynb", monkeypatch,
                                         {"q27_powers": reuse_leaf, "p1_doublings": computed})
    assert verdicts["q27_powers_test"].startswith("hidden: CheckFailed") and "2 times" in verdicts["q27_powers_test"]
    assert "p_k must be written as a literal, not computed" in verdicts["p1_doublings_test"]
    assert verdicts["q30_poly_test"] is None
