"""Views and in-place changes: where minigrad cannot follow torch it raises, naming the problem and
the fix; it never computes something else. (What it does follow is in test_conformance.py.)"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from mg_strategies import SETTINGS, floats


def _graph_tensor():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    return x, x * 1


def test_index_assignment_inside_a_graph_raises():
    _, a = _graph_tensor()
    with pytest.raises(RuntimeError, match=r"not recorded for autograd.*where"):
        a[[0, 1]] = 5.0
    with pytest.raises(RuntimeError, match=r"not recorded for autograd"):
        a[a > 1] = 5.0


def test_unrecorded_changes_through_views_are_allowed_and_counted():
    x, a = _graph_tensor()
    y = a * a  # saves a
    with mg.no_grad():
        a[0:1].mul_(3)
    assert a.tolist() == [3.0, 2.0]
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_array_is_the_memory_and_data_a_tensor_outside_the_graph():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    assert isinstance(x.array, np.ndarray)
    d = x.data
    assert isinstance(d, mg.Tensor) and not d.requires_grad and np.shares_memory(d.array, x.array)
    x.data = mg.tensor([5.0, 6.0])
    assert x.tolist() == [5.0, 6.0] and x.requires_grad
    with pytest.raises(TypeError, match="data must be a Tensor"):
        x.data = np.zeros(2)


def test_views_record_their_base_and_copies_do_not():
    a = mg.zeros(2, 3)
    assert a[0]._base is a and a.t()._base is a and a.reshape(6)[1:]._base is a
    assert getattr(a[[0, 1]], "_base", None) is None
    assert getattr(a.t().reshape(6), "_base", None) is None  # not expressible as a view: a copy


def test_once_differentiable_result_cannot_be_differentiated_again():
    class Square(mg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @mg.autograd.function.once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    x = mg.tensor([1.0, 2.0], requires_grad=True)
    (g,) = mg.autograd.grad((Square.apply(x) * x).sum(), x, create_graph=True)
    assert g.tolist() == [3.0, 12.0] and g.grad_fn.name() == "AddBackward0"
    with pytest.raises(RuntimeError, match="once_differentiable"):
        g.sum().backward()


def test_autograd_grad_leaves_the_rest_of_the_graph_alone():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    h = x.exp()
    y = (h * h).sum()
    mg.autograd.grad(y, h)
    assert h.grad_fn._saved != ()  # exp's saved output is still there
    h.sum().backward()
    np.testing.assert_allclose(x.grad.array, np.exp([1.0, 2.0]), rtol=1e-6)


# Random programs of in-place changes through views inside a graph, run in both libraries.
_VIEWS = [
    lambda a: a,
    lambda a: a[1:4],
    lambda a: a[::2],
    lambda a: a.view(2, 3)[1],
    lambda a: a.view(2, 3).t()[2],
    lambda a: a.view(3, 2)[:, 0],
    lambda a: a.unsqueeze(0)[0, 2:],
]
_CHANGES = [
    lambda v, x, lib: v.mul_(1.5),
    lambda v, x, lib: v.add_(x[: v.numel()].reshape(v.shape)),
    lambda v, x, lib: v.mul_(x[-v.numel():].reshape(v.shape)),
    lambda v, x, lib: v.copy_(v * v),
    lambda v, x, lib: v.fill_(2.0),
    lambda v, x, lib: v.__setitem__(0, x[1] * 3),
]


@SETTINGS
@given(program=st.lists(st.tuples(st.integers(0, len(_VIEWS) - 1), st.integers(0, len(_CHANGES) - 1),
                                  st.booleans()), min_size=1, max_size=4),
       data=floats(shape=(6,)))
def test_random_in_place_programs_through_views_match_torch(program, data):
    import torch

    def run(lib):
        x = lib.tensor(data.tolist(), dtype=lib.float64, requires_grad=True)
        a = x * 1
        kept = []
        for view, change, keep in program:
            v = _VIEWS[view](a)
            if keep:
                kept.append(v)  # a live view that must follow later changes
            _CHANGES[change](v, x, lib)
        loss = (a * lib.arange(6, dtype=lib.float64)).sum() + sum((k * k).sum() for k in kept)
        loss.backward()
        return [a.detach().numpy().copy(), x.grad.numpy().copy()] + [k.detach().numpy().copy() for k in kept]

    outcomes = []
    for lib in (torch, mg):
        try:
            outcomes.append(run(lib))
        except RuntimeError as e:  # e.g. a saved view changed afterwards: both must refuse
            outcomes.append(type(e))
    expected, got = outcomes
    if not isinstance(expected, list):
        assert got is expected, f"torch raised {expected}, minigrad gave {got}"
        return
    assert isinstance(got, list), f"minigrad raised {got}"
    for t, m in zip(expected, got):
        np.testing.assert_allclose(m, t, rtol=1e-10, atol=1e-12)
