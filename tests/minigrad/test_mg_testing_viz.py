"""minigrad.testing's reports and minigrad.viz's output."""
import numpy as np
import pytest
import torch

import minigrad as mg
from minigrad.testing import CompareReport, compare_with_torch, gradcheck


def test_compare_report_on_success():
    r = compare_with_torch(lambda lib, x, y: (x * y).sum(dim=0).tanh(), np.ones((2, 3)), np.arange(3.0))
    assert isinstance(r, CompareReport) and r.ok and r.max_abs_err < 1e-12
    assert "grad of input 1" in str(r) and "output" in str(r)


def test_compare_names_output_index_and_errors():
    with pytest.raises(AssertionError) as info:
        compare_with_torch((lambda x: x * 2 + (x > 1.5) * 0.1, lambda x: x * 2), np.array([1.0, 2.0, 3.0]))
    msg = str(info.value)
    assert msg.startswith("output: values differ at index (1,)")
    assert "torch (expected) 4.0" in msg and "minigrad (got) 4.1" in msg and "max abs error 0.1" in msg


def test_compare_reports_shape_and_dtype_mismatch_in_words():
    with pytest.raises(AssertionError, match=r"output: shape mismatch: torch gives \(3,\), minigrad gives \(1, 3\)"):
        compare_with_torch((lambda x: x.reshape(1, 3), lambda x: x), np.ones(3))
    with pytest.raises(AssertionError, match=r"output: dtype mismatch: torch gives float64, minigrad gives float32"):
        compare_with_torch((lambda x: x.float(), lambda x: x), np.ones(3))


def test_compare_handles_tuple_outputs_and_integer_inputs():
    r = compare_with_torch(lambda lib, x, i: (x[i], x.max(dim=0)), np.array([[1.0, 5.0], [3.0, 2.0]]),
                           np.array([1, 1, 0]))
    assert r.ok


def test_compare_detects_missing_gradient():
    with pytest.raises(AssertionError, match="1 torch output.s. require grad, 0 minigrad"):
        compare_with_torch((lambda x: x.detach() * 2, lambda x: x * 2), np.ones(2))
    with pytest.raises(AssertionError, match="grad of input 1: only torch computed a gradient"):
        compare_with_torch((lambda x, y: x * 2 + y.detach(), lambda x, y: x * 2 + y), np.ones(2), np.ones(2))


def test_gradcheck_accepts_builtin_ops_and_tuple_outputs():
    x, w = mg.randn(3, 4, requires_grad=True), mg.randn(4, 2, requires_grad=True)
    assert gradcheck(lambda a, b: ((a @ b).tanh(), a.softmax(-1)), (x, w))
    assert gradcheck(lambda a: a.logsumexp(dim=1), x)
    with pytest.raises(ValueError, match="no input requires grad"):
        gradcheck(lambda a: a * 2, mg.ones(2))


def _graph():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    w = mg.tensor([0.5, -1.0], requires_grad=True)
    y = ((x * w).tanh() + x).sum()
    return x, w, y


def test_to_text_is_readable_and_deterministic():
    x, w, y = _graph()
    before = mg.viz.to_text(y, names={"x": x, "w": w})
    lines = before.splitlines()
    assert lines[0] == "#0 SumBackward0 ()"
    assert any("TanhBackward0 (2,)" in line for line in lines)
    assert "(shown above)" in before  # x is reached twice
    assert "0x" not in before and "grad=" not in before
    y.backward()
    after = mg.viz.to_text(y, names={"x": x, "w": w})
    assert "x (2,) grad=" in after
    x2, w2, y2 = _graph()
    y2.backward()
    assert mg.viz.to_text(y2, names={"x": x2, "w": w2}) == after


def test_draw_returns_graphviz_or_text():
    x, w, y = _graph()
    out = mg.viz.draw(y, names={"x": x})
    if mg.viz.graphviz_available():
        import graphviz

        assert isinstance(out, graphviz.Digraph)
        src = out.source
        assert "TanhBackward" in src and "0x" not in src
        x2, _, y2 = _graph()
        assert src == mg.viz.draw(y2, names={"x": x2}).source
    else:
        assert out == mg.viz.to_text(y, names={"x": x})
