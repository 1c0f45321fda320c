"""The one helper of the conformance suite: run a behaviour in torch and in minigrad and
assert that both give the same thing.

A behaviour is a function `case(lib)` that uses only the API both libraries share (`lib` is
`torch` or `minigrad`) and returns what should agree: tensors, numbers, strings, bools, None,
tuples/lists of these, or `Raised` when it raises. Tensors must agree in values, shape, dtype,
requires_grad, is_leaf and the name of their grad_fn; errors in type; warnings in category
(DeprecationWarnings aside).
"""
import math
import warnings

import numpy as np
import torch

import minigrad as mg


class Raised:
    """What a case that raised returns: the exception's type (the first built-in one in its
    class hierarchy, as torch's own subclasses of RuntimeError compare equal) and message."""

    def __init__(self, exc):
        self.type = next(c for c in type(exc).__mro__ if c.__module__ == "builtins")
        self.message = str(exc)

    def __repr__(self):
        return f"Raised({self.type.__name__}: {self.message[:200]})"


def run(case, lib):
    """case(lib), with the exception it raises as a Raised and its warnings as categories."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = case(lib)
        except Exception as e:  # noqa: BLE001 - the behaviour under test may be an error
            value = Raised(e)
    # (torch's DeprecationWarnings are about its own internals, e.g. vmap's module path)
    return value, sorted({w.category.__name__ for w in caught
                          if not issubclass(w.category, DeprecationWarning)})


def grad_fn_name(t):
    fn = t.grad_fn
    if fn is None:
        return None
    return fn.name() if isinstance(t, mg.Tensor) else type(fn).__name__


def _tensor_facts(t):
    is_mg = isinstance(t, mg.Tensor)
    arr = t.array if is_mg else t.detach().numpy()
    dtype = t.dtype.name if is_mg else str(t.dtype).replace("torch.", "")
    return {"shape": tuple(t.shape), "dtype": dtype, "requires_grad": t.requires_grad,
            "is_leaf": t.is_leaf, "grad_fn": grad_fn_name(t)}, np.asarray(arr)


def assert_same(expected, got, path="result", rtol=1e-5, atol=1e-6):
    """`expected` (torch's) and `got` (minigrad's) agree; the error names the first difference."""
    if isinstance(expected, torch.Tensor):
        assert isinstance(got, mg.Tensor), f"{path}: torch gave a Tensor, minigrad {got!r}"
        (ef, ev), (gf, gv) = _tensor_facts(expected), _tensor_facts(got)
        for key in ef:
            assert ef[key] == gf[key], f"{path}.{key}: torch {ef[key]!r}, minigrad {gf[key]!r}"
        if ev.dtype.kind == "f":
            np.testing.assert_allclose(gv, ev, rtol=rtol, atol=atol, equal_nan=True, err_msg=path)
        else:
            np.testing.assert_array_equal(gv, ev, err_msg=path)
    elif isinstance(expected, Raised):
        assert isinstance(got, Raised), f"{path}: torch raised {expected}, minigrad gave {got!r}"
        assert got.type is expected.type, f"{path}: torch raised {expected}, minigrad {got}"
    elif isinstance(expected, torch.dtype):
        assert got.name == str(expected).replace("torch.", ""), f"{path}: {expected} vs {got}"
    elif isinstance(expected, (tuple, list)):
        assert isinstance(got, (tuple, list)), f"{path}: torch gave a sequence, minigrad {got!r}"
        assert len(got) == len(expected), f"{path}: length {len(expected)} vs {len(got)}"
        for i, (e, g) in enumerate(zip(expected, got)):
            assert_same(e, g, f"{path}[{i}]", rtol, atol)
    elif isinstance(expected, float):
        assert isinstance(got, (float, int)) and math.isclose(got, expected, rel_tol=rtol, abs_tol=atol) \
            or (math.isnan(expected) and math.isnan(got)), f"{path}: torch {expected}, minigrad {got}"
    else:
        assert type(got) is type(expected) and got == expected, \
            f"{path}: torch {expected!r}, minigrad {got!r}"


def check(case, rtol=1e-5, atol=1e-6):
    """Run `case` in both libraries and assert the same results and warnings."""
    expected, expected_warnings = run(case, torch)
    got, got_warnings = run(case, mg)
    assert_same(expected, got, rtol=rtol, atol=atol)
    assert got_warnings == expected_warnings, f"warnings: torch {expected_warnings}, minigrad {got_warnings}"
