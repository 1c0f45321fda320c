"""The four dtypes minigrad knows and PyTorch's type-promotion rules for them."""
import numpy as np


class dtype:
    """A minigrad dtype: a name, its NumPy dtype and its promotion category."""

    __slots__ = ("name", "np", "category", "is_floating_point")

    def __init__(self, name, np_dtype, category):
        self.name, self.np, self.category = name, np.dtype(np_dtype), category
        self.is_floating_point = category == 2

    def __repr__(self):
        return f"minigrad.{self.name}"

    def __reduce__(self):  # pickling / deepcopy keep the singletons
        return (_by_name, (self.name,))


bool_ = dtype("bool", np.bool_, 0)
int64 = dtype("int64", np.int64, 1)
float32 = dtype("float32", np.float32, 2)
float64 = dtype("float64", np.float64, 2)

_ALL = {d.name: d for d in (bool_, int64, float32, float64)}
# category -> the dtype a Python scalar of that category becomes (torch's defaults)
_DEFAULT_FOR_CATEGORY = {0: bool_, 1: int64, 2: float32}
# NumPy dtype -> minigrad dtype; other NumPy dtypes are mapped by kind in from_numpy_dtype
FROM_NP = {d.np: d for d in _ALL.values()}


def _by_name(name):
    return _ALL[name]


def from_numpy_dtype(np_dtype):
    """The minigrad dtype an array of this NumPy dtype is stored as."""
    found = FROM_NP.get(np_dtype)
    if found is not None:
        return found
    kind = np.dtype(np_dtype).kind
    if kind == "b":
        return bool_
    if kind in "iu":
        return int64
    if kind == "f":
        return float64 if np.dtype(np_dtype).itemsize > 4 else float32
    raise TypeError(
        f"minigrad: arrays of NumPy dtype {np_dtype} are not supported; "
        "use bool, integer or floating-point data."
    )


def as_dtype(d):
    """Accept a minigrad dtype, a NumPy dtype or a torch-style name ('float32')."""
    if d is None or isinstance(d, dtype):
        return d
    if isinstance(d, str) and d in _ALL:
        return _ALL[d]
    try:
        return from_numpy_dtype(np.dtype(d))
    except TypeError:
        raise TypeError(
            f"minigrad: unknown dtype {d!r}; use minigrad.float32, float64, int64 or bool."
        ) from None


def scalar_dtype(value):
    """The dtype PyTorch gives a Python scalar (a 'wrapped number')."""
    if isinstance(value, (bool, np.bool_)):
        return bool_
    if isinstance(value, (int, np.integer)):
        return int64
    if isinstance(value, (float, np.floating)):
        return float32
    raise TypeError(
        f"minigrad: expected a Tensor or a Python number, got {type(value).__name__}."
    )


def _promote_same_group(a, b):
    if a is None or a is b:
        return b
    if b is None:
        return a
    if a.category != b.category:
        return a if a.category > b.category else b
    return float64  # two different floating dtypes


def result_type(*operands):
    """PyTorch's promotion: dimensioned tensors first, then 0-d tensors, then Python
    scalars, each group only winning when it is of a higher category (bool < int < float)."""
    dims = zero = scal = None
    for o in operands:
        d = getattr(o, "dtype", None)
        if isinstance(d, dtype):
            if o.ndim:
                dims = _promote_same_group(dims, d)
            else:
                zero = _promote_same_group(zero, d)
        else:
            scal = _promote_same_group(scal, scalar_dtype(o))
    result = dims
    if zero is not None and (result is None or zero.category > result.category):
        result = zero
    if scal is not None and (result is None or scal.category > result.category):
        result = _DEFAULT_FOR_CATEGORY[scal.category]
    return result
