"""User-defined Functions (the torch.autograd.Function shape), and the negative control:
a deliberately wrong backward rule is caught by gradcheck and by compare_with_torch."""
import numpy as np
import pytest
import torch

import minigrad as mg
from minigrad.autograd import Function
from minigrad.testing import GradcheckError, compare_with_torch, gradcheck


def make_sigmoid(lib):
    class Sigmoid(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = 1 / (1 + (-x).exp())
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, grad_output):
            (y,) = ctx.saved_tensors
            return grad_output * y * (1 - y)

    return Sigmoid


MgSigmoid = make_sigmoid(mg)


def test_user_function_matches_torch_sigmoid():
    x = np.linspace(-4, 4, 9)
    compare_with_torch((MgSigmoid.apply, torch.sigmoid), x)
    compare_with_torch(lambda lib, t: make_sigmoid(lib).apply(t * 2).sum(), x)


def test_function_is_exported_and_names_its_node():
    assert mg.Function is Function
    y = MgSigmoid.apply(mg.ones(2, requires_grad=True))
    assert y.grad_fn is not None and "Sigmoid" in repr(y.grad_fn)
    assert MgSigmoid.apply(mg.ones(2)).grad_fn is None  # nothing to record


def test_forward_runs_without_recording():
    seen = {}

    class Probe(Function):
        @staticmethod
        def forward(ctx, x):
            seen["enabled"] = mg.is_grad_enabled()
            inner = x * 2
            seen["inner_requires_grad"] = inner.requires_grad
            return inner

        @staticmethod
        def backward(ctx, g):
            return g * 2

    Probe.apply(mg.ones(1, requires_grad=True)).sum().backward()
    assert seen == {"enabled": False, "inner_requires_grad": False}


def make_sum_dim(lib):
    class SumDim(lib.autograd.Function):
        """Non-tensor arguments: backward returns None for them; needs_input_grad is set."""

        @staticmethod
        def forward(ctx, x, dim, keepdim):
            ctx.dim, ctx.keepdim, ctx.shape = dim, keepdim, x.shape
            ctx.needs = ctx.needs_input_grad
            return x.sum(dim=dim, keepdim=keepdim)

        @staticmethod
        def backward(ctx, g):
            if not ctx.keepdim:
                g = g.unsqueeze(ctx.dim)
            return g.expand(*ctx.shape), None, None

    return SumDim


def test_non_tensor_arguments_and_needs_input_grad():
    a = np.arange(6.0).reshape(2, 3)
    compare_with_torch(lambda lib, x: make_sum_dim(lib).apply(x, 1, False), a)
    compare_with_torch(lambda lib, x: make_sum_dim(lib).apply(x, 0, True), a)
    needs = {}
    for lib in (mg, torch):
        f = make_sum_dim(lib)
        y = f.apply(lib.ones(2, 3, requires_grad=True), 1, False)
        needs[lib.__name__] = tuple(y.grad_fn.needs)
    assert needs["minigrad"] == needs["torch"] == (True, False, False)


def test_wrong_gradient_shape_names_function_index_and_shapes():
    class NoUnbroadcast(Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * b

        @staticmethod
        def backward(ctx, g):
            return g, g  # b was broadcast: its gradient must be summed back, but is not

    a, b = mg.ones(2, 3, requires_grad=True), mg.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError) as info:
        NoUnbroadcast.apply(a, b).sum().backward()
    msg = str(info.value)
    assert "NoUnbroadcast" in msg and "index 1" in msg and "[2, 3]" in msg and "[3]" in msg


def test_wrong_number_of_gradients():
    class TooMany(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return g, g

    for lib, fn in ((mg, TooMany),):
        with pytest.raises(RuntimeError, match=r"incorrect number of gradients \(expected 1, got 2\)"):
            fn.apply(lib.ones(2, requires_grad=True)).sum().backward()


def test_forward_must_return_a_tensor():
    class ReturnsArray(Function):
        @staticmethod
        def forward(ctx, x):
            return x.array

    with pytest.raises(TypeError, match="ReturnsArray.forward must return a minigrad Tensor"):
        ReturnsArray.apply(mg.ones(2, requires_grad=True))


def make_cube(lib):
    class Cube(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * g * x * x  # written with tensor ops: differentiable again

    return Cube


def test_double_backward_through_user_function():
    res = {}
    for lib in (mg, torch):
        x = lib.tensor([0.5, -2.0], requires_grad=True, dtype=lib.float64)
        (g,) = lib.autograd.grad(make_cube(lib).apply(x).sum(), x, create_graph=True)
        (h,) = lib.autograd.grad(g.sum(), x)
        res[lib.__name__] = (g.tolist(), h.tolist())
    assert res["minigrad"] == res["torch"]
    assert res["minigrad"][1] == [3.0, -12.0]  # d2/dx2 x^3 = 6x
    hess = mg.autograd.functional.hessian(lambda t: make_cube(mg).apply(t).sum(),
                                          mg.tensor([1.0, 2.0], dtype=mg.float64))
    np.testing.assert_allclose(hess.numpy(), np.diag([6.0, 12.0]))


def test_double_backward_through_a_saved_output():
    """A Function that saves its own output (sigmoid) stays differentiable, as in torch."""
    res = {}
    for lib in (mg, torch):
        x = lib.tensor([0.5, -2.0, 0.0], requires_grad=True, dtype=lib.float64)
        (g,) = lib.autograd.grad(make_sigmoid(lib).apply(x).sum(), x, create_graph=True)
        assert g.requires_grad and g.grad_fn is not None
        (h,) = lib.autograd.grad(g.sum(), x)
        res[lib.__name__] = h.tolist()
    np.testing.assert_allclose(res["minigrad"], res["torch"], rtol=1e-12)
    s = 1 / (1 + np.exp(-np.array([0.5, -2.0, 0.0])))
    np.testing.assert_allclose(res["minigrad"], s * (1 - s) * (1 - 2 * s), rtol=1e-12)  # sigma''


def test_saved_tensor_modified_in_place_is_detected_in_user_function():
    x = mg.ones(2, requires_grad=True)
    a = x * 1
    y = make_cube(mg).apply(a)
    a.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


# -- negative control ------------------------------------------------------------------------
class WrongMul(Function):
    """d(a*b)/da = b, but this backward returns a: wrong for a != b."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return g * a, g * b


class RightMul(WrongMul):
    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return g * b, g * a


def test_negative_control_gradcheck_catches_wrong_backward():
    a, b = mg.randn(3, requires_grad=True), mg.randn(3, requires_grad=True)
    assert gradcheck(RightMul.apply, (a, b))
    with pytest.raises(GradcheckError) as info:
        gradcheck(WrongMul.apply, (a, b))
    assert "input 0" in str(info.value) and "finite differences give" in str(info.value)
    assert gradcheck(WrongMul.apply, (a, b), raise_exception=False) is False
    assert isinstance(info.value, AssertionError) and isinstance(info.value, RuntimeError)


def test_negative_control_compare_with_torch_catches_wrong_backward():
    a, b = np.array([1.0, 2.0, 3.0]), np.array([-1.0, 0.5, 4.0])
    compare_with_torch((RightMul.apply, torch.mul), a, b)
    with pytest.raises(AssertionError, match=r"grad of input 0: values differ at index \(0,\)"):
        compare_with_torch((WrongMul.apply, torch.mul), a, b)


class MeanOfGrad(Function):
    """Correct only when the upstream gradient is all ones: a bug an all-ones check misses."""

    @staticmethod
    def forward(ctx, x):
        return x * 1

    @staticmethod
    def backward(ctx, g):
        return g.mean() * mg.ones_like(g)


def test_gradcheck_probes_with_random_upstream_vectors():
    x = mg.randn(4, requires_grad=True)
    (g,) = mg.autograd.grad(MeanOfGrad.apply(x).sum(), x)  # all-ones upstream: looks right
    assert g.tolist() == [1.0] * 4
    with pytest.raises(GradcheckError):
        gradcheck(MeanOfGrad.apply, x)
    with pytest.raises(AssertionError):
        compare_with_torch((MeanOfGrad.apply, lambda t: t * 1), np.arange(4.0))
