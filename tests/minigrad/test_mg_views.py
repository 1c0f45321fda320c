"""Where minigrad cannot follow torch's views it raises, naming the problem and the fix; it never
computes something else. (What it does follow is in test_conformance.py.)"""
import numpy as np
import pytest

import minigrad as mg


def _graph_tensor():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    return x, x * 1


def test_in_place_on_a_view_inside_a_graph_raises():
    _, a = _graph_tensor()
    with pytest.raises(RuntimeError, match=r"in-place operation on a view .* not supported.*out of place"):
        a[0:1].mul_(3)
    assert a.tolist() == [1.0, 2.0]  # nothing was half-done


def test_recorded_in_place_on_a_tensor_with_views_raises():
    x, a = _graph_tensor()
    v = a[0:1]
    with pytest.raises(RuntimeError, match=r"has views .* out-of-place"):
        a.mul_(2)
    b = mg.zeros(2)
    b.reshape(2, 1)
    with pytest.raises(RuntimeError, match=r"has views"):
        b.add_(x)  # b itself is not in a graph, but this change would be recorded
    assert v.tolist() == [1.0]


def test_item_assignment_inside_a_graph_raises():
    _, a = _graph_tensor()
    with pytest.raises(RuntimeError, match=r"item assignment.*where"):
        a[0] = 5.0


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
