"""Hypothesis strategies and the one helper the minigrad op tests share."""
import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from minigrad.testing import compare_with_torch

settings.register_profile("minigrad", max_examples=30, deadline=None, derandomize=True)
SETTINGS = settings(max_examples=30, deadline=None, derandomize=True)


def floats(lo=-3.0, hi=3.0, shape=()):
    """float64 arrays with values in [lo, hi]."""
    return hnp.arrays(np.float64, shape, elements=st.floats(lo, hi, allow_nan=False, width=64))


def distinct(shape, lo=-3.0, hi=3.0):
    """float64 arrays with pairwise distinct values (no ties for max / argmax)."""
    return hnp.arrays(np.float64, shape, elements=st.floats(lo, hi, width=64), unique=True)


def broadcastable(num_shapes=2, min_dims=0, max_dims=3, max_side=4):
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=max_side
    )


def shape(min_dims=0, max_dims=3, max_side=4):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=max_side)


def check(fn, *arrays, **tol):
    """Forward values and gradients vs torch in float64; the NumPy inputs stay unchanged."""
    before = [np.array(a, copy=True) for a in arrays]
    report = compare_with_torch(fn, *arrays, **tol)
    for a, b in zip(arrays, before):
        np.testing.assert_array_equal(a, b)
    assert report.ok
    return report
