"""The autograd semantics that must match PyTorch, each run in both libraries."""
import re
import warnings

import numpy as np
import pytest
import torch

import minigrad as mg

LIBS = [pytest.param(mg, id="minigrad"), pytest.param(torch, id="torch")]


def raised(fn):
    """(exception type name category, message) of what fn raises, or None."""
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - we compare what both libraries raise
        return type(e), str(e)
    return None


def same_error(fn, words):
    """fn(lib) raises the same exception type in both libraries, mentioning `words`."""
    got = {lib.__name__: raised(lambda lib=lib: fn(lib)) for lib in (mg, torch)}
    assert got["torch"] is not None, "the test's torch half did not raise"
    assert got["minigrad"] is not None, f"minigrad did not raise; torch raised {got['torch']}"
    assert got["minigrad"][0] is got["torch"][0], got
    for name, (_, msg) in got.items():
        assert re.search(words, msg, re.IGNORECASE), f"{name}: {msg!r} lacks {words!r}"


def test_requires_grad_defaults_to_false():
    for lib in (mg, torch):
        assert lib.tensor([1.0]).requires_grad is False
        assert lib.ones(2).requires_grad is False
        assert (lib.ones(2) * 2).grad_fn is None


def test_only_leaves_get_grad_unless_retain_grad():
    res = {}
    for lib in (mg, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 3
        z = x * 4
        z.retain_grad()
        (y * z).sum().backward()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns when reading a non-leaf's .grad
            assert y.grad is None
        assert x.is_leaf and not y.is_leaf
        res[lib.__name__] = (x.grad.tolist(), z.grad.tolist(), z.retains_grad)
    assert res["minigrad"] == res["torch"]


def test_gradients_accumulate_across_backward_calls():
    res = {}
    for lib in (mg, torch):
        x = lib.tensor([1.0, -2.0], requires_grad=True)
        (x * x).sum().backward()
        (x * x).sum().backward()
        first = x.grad.tolist()
        x.grad = None  # assignable, as in torch
        (x * 3).sum().backward()
        res[lib.__name__] = (first, x.grad.tolist())
    assert res["minigrad"] == res["torch"] == ([4.0, -8.0], [3.0, 3.0])


def test_second_backward_through_freed_graph_raises():
    def twice(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = (x.exp() * x).sum()
        y.backward()
        y.backward()

    same_error(twice, r"backward through the graph a second time.*retain_graph=True")


def test_retain_graph_allows_a_second_backward():
    res = {}
    for lib in (mg, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = (x.exp() * x).sum()
        y.backward(retain_graph=True)
        y.backward()
        res[lib.__name__] = x.grad.tolist()
    np.testing.assert_allclose(res["minigrad"], res["torch"], rtol=1e-6)


def test_graph_without_saved_tensors_can_be_reused():
    """Adds and sums save nothing, so torch allows a second backward through them."""
    for lib in (mg, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = (x + 1).sum()
        y.backward()
        y.backward()
        assert x.grad.tolist() == [2.0, 2.0]


def test_backward_of_non_scalar_needs_gradient():
    same_error(lambda lib: (lib.ones(3, requires_grad=True) * 2).backward(),
               r"grad can be implicitly created only for scalar outputs")
    res = {}
    for lib in (mg, torch):
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        (x * x).backward(gradient=lib.tensor([1.0, 0.5, -1.0]))
        res[lib.__name__] = x.grad.tolist()
    assert res["minigrad"] == res["torch"]


def test_backward_on_tensor_without_grad_raises():
    same_error(lambda lib: lib.ones(1).backward(), r"does not require grad")


def test_integer_tensors_cannot_require_grad():
    same_error(lambda lib: lib.tensor([1, 2], requires_grad=True), r"floating point")
    same_error(lambda lib: lib.tensor([1, 2]).requires_grad_(), r"floating point")


def test_requires_grad_on_non_leaf_raises():
    def unset(lib):
        y = lib.ones(2, requires_grad=True) * 2
        y.requires_grad_(False)

    same_error(unset, r"only change requires_grad flags of leaf variables")


def test_detach_shares_data():
    for lib in (mg, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        d = x.detach()
        assert d.requires_grad is False and d.grad_fn is None
        d.add_(10)  # in-place on the detached view shows in x
        assert x.tolist() == [11.0, 12.0]


def test_inplace_change_of_saved_output_is_detected():
    def modify(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x.exp()  # exp saves its output for backward
        y.mul_(2)
        y.sum().backward()

    same_error(modify, r"modified by an inplace operation")


def test_inplace_change_of_saved_input_is_detected():
    def modify(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        a = x + 0
        b = a * a  # mul saves both inputs
        a.add_(1)
        b.sum().backward()

    same_error(modify, r"modified by an inplace operation")


def test_inplace_on_non_leaf_is_recorded():
    res = {}
    for lib in (mg, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        z = y * 3
        y.mul_(5)  # z still uses the old y; y's new history includes the mul
        (y.sum() + z.sum()).backward()
        res[lib.__name__] = (y.tolist(), x.grad.tolist())
    assert res["minigrad"] == res["torch"]


def test_inplace_on_leaf_requiring_grad_raises_unless_no_grad():
    same_error(lambda lib: lib.ones(2, requires_grad=True).add_(1), r"leaf Variable that requires grad")
    for lib in (mg, torch):
        w = lib.ones(2, requires_grad=True)
        with lib.no_grad():
            w -= 0.5 * lib.ones(2)
        assert w.tolist() == [0.5, 0.5] and w.is_leaf and w.requires_grad


def test_create_graph_gives_differentiable_gradients():
    res = {}
    for lib in (mg, torch):
        x = lib.tensor([0.5, -1.0, 2.0], requires_grad=True)
        y = (x ** 3 * x.sin()).sum()
        (g,) = lib.autograd.grad(y, x, create_graph=True)
        assert g.requires_grad and g.grad_fn is not None
        g.sum().backward()  # second derivative through the first backward
        res[lib.__name__] = (g.tolist(), x.grad.tolist())
    np.testing.assert_allclose(res["minigrad"][0], res["torch"][0], rtol=1e-6)
    np.testing.assert_allclose(res["minigrad"][1], res["torch"][1], rtol=1e-5)


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
def test_backward_with_create_graph_fills_differentiable_grad():
    res = {}
    for lib in (mg, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        (x.exp() * x).sum().backward(create_graph=True)
        first = x.grad
        assert first.requires_grad
        (h,) = lib.autograd.grad(first.sum(), x)
        res[lib.__name__] = h.tolist()
    np.testing.assert_allclose(res["minigrad"], res["torch"], rtol=1e-6)


def test_no_grad_context_and_decorator():
    for lib in (mg, torch):
        x = lib.ones(2, requires_grad=True)
        with lib.no_grad():
            y = x * 2
            with lib.enable_grad():
                z = x * 2
        assert not y.requires_grad and y.grad_fn is None and y.is_leaf
        assert z.requires_grad

        @lib.no_grad()
        def f(t):
            return t * 2

        @lib.no_grad
        def bare(t):
            return t * 2

        assert not f(x).requires_grad and not bare(x).requires_grad
        assert lib.is_grad_enabled()
        with lib.set_grad_enabled(False):
            assert not (x * 2).requires_grad
        assert (x * 2).requires_grad


def test_set_grad_enabled_as_a_call():
    for lib in (mg, torch):
        lib.set_grad_enabled(False)
        try:
            assert not (lib.ones(1, requires_grad=True) * 2).requires_grad
        finally:
            lib.set_grad_enabled(True)


def test_gradient_reaching_two_leaves_is_not_shared():
    """One gradient object flowing to two leaves must not alias their .grad."""
    for lib in (mg, torch):
        a, b = lib.ones(2, requires_grad=True), lib.ones(2, requires_grad=True)
        (a + b).sum().backward()
        a.grad.mul_(3)
        assert b.grad.tolist() == [1.0, 1.0]
