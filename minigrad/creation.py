"""Making tensors: `tensor`, `zeros`, `ones`, `full`, `arange`, `rand`, `randn`, `*_like`, seeds."""
import numpy as np

from . import _device
from ._dtype import as_dtype, float32, from_numpy_dtype
from .tensor import Tensor, _make

_rng = np.random.default_rng(0)


def _finish(arr, dtype, requires_grad, device):
    """Cast to the minigrad dtype, move to the device, check requires_grad."""
    d = as_dtype(dtype) or from_numpy_dtype(arr.dtype)
    if arr.dtype != d.np:
        arr = arr.astype(d.np)
    if requires_grad and not d.is_floating_point:
        raise RuntimeError(
            "Only Tensors of floating point dtype can require gradients "
            f"(got {d!r}); pass floats, e.g. minigrad.tensor([1.0, 2.0], requires_grad=True)."
        )
    if device is not None:
        arr = _device.move(arr, device)
    return _make(arr, bool(requires_grad))


def tensor(data, dtype=None, requires_grad=False, device=None):
    """A new tensor holding a copy of `data` (nested lists, a number, a NumPy array or a Tensor).
    Python floats become float32 and Python ints int64, as in torch; NumPy arrays keep their
    dtype (float64 stays float64)."""
    if isinstance(data, Tensor):
        arr = data.array.copy()
    elif hasattr(data, "__cuda_array_interface__"):  # a CuPy array
        arr = data.copy()
    else:
        from_python = not isinstance(data, (np.ndarray, np.generic))
        if from_python and isinstance(data, (list, tuple)) and any(isinstance(v, Tensor) for v in data):
            data = [v.detach().array if isinstance(v, Tensor) else v for v in data]
        try:
            arr = np.array(data)
        except ValueError as e:
            raise ValueError(
                f"minigrad.tensor: could not build a tensor from {type(data).__name__} ({e}); "
                "nested lists must be rectangular."
            ) from None
        if arr.dtype == object:
            raise ValueError(
                "minigrad.tensor: could not build a tensor: nested lists must be rectangular and "
                "hold only numbers."
            )
        if from_python and arr.dtype.kind == "f" and dtype is None:
            arr = arr.astype(np.float32)
    return _finish(arr, dtype, requires_grad, device)


def as_tensor(data, dtype=None, device=None):
    """Like `tensor`, but returns `data` itself when it already fits."""
    if isinstance(data, Tensor) and (dtype is None or data.dtype is as_dtype(dtype)):
        return data if device is None else data.to(device)
    return tensor(data, dtype=dtype, device=device)


def from_numpy(array):
    """A tensor sharing memory with a NumPy array (supported dtypes only)."""
    if from_numpy_dtype(array.dtype).np != array.dtype:
        raise TypeError(f"from_numpy: dtype {array.dtype} is not one of float32/float64/int64/bool")
    return _make(array)


def _size(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    return tuple(int(s) for s in size)


def _filled(value, size, dtype, requires_grad, device):
    xp = _device.array_module(device)
    d = as_dtype(dtype) or float32
    return _finish(xp.full(_size(size), value, dtype=d.np), d, requires_grad, None)


def zeros(*size, dtype=None, requires_grad=False, device=None):
    return _filled(0, size, dtype, requires_grad, device)


def ones(*size, dtype=None, requires_grad=False, device=None):
    return _filled(1, size, dtype, requires_grad, device)


def empty(*size, dtype=None, requires_grad=False, device=None):
    return _filled(0, size, dtype, requires_grad, device)


def full(size, fill_value, dtype=None, requires_grad=False, device=None):
    if dtype is None:  # torch infers the dtype from the fill value
        dtype = "bool" if isinstance(fill_value, bool) else "int64" if isinstance(fill_value, int) else "float32"
    return _filled(fill_value, (size,), dtype, requires_grad, device)


def eye(n, m=None, dtype=None, requires_grad=False, device=None):
    d = as_dtype(dtype) or float32
    return _finish(np.eye(n, m, dtype=d.np), d, requires_grad, device)


def arange(start, end=None, step=1, dtype=None, requires_grad=False, device=None):
    """Integers give int64, any float argument gives float32 (torch's rule)."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        is_float = any(isinstance(v, float) for v in (start, end, step))
        dtype = float32 if is_float else "int64"
    d = as_dtype(dtype)
    return _finish(np.arange(start, end, step).astype(d.np), d, requires_grad, device)


def linspace(start, end, steps, dtype=None, requires_grad=False, device=None):
    d = as_dtype(dtype) or float32
    return _finish(np.linspace(start, end, steps).astype(d.np), d, requires_grad, device)


def _like(fill, t, dtype, requires_grad, device):
    return fill(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad,
                device=device or t.device)


def zeros_like(t, dtype=None, requires_grad=False, device=None):
    return _like(zeros, t, dtype, requires_grad, device)


def ones_like(t, dtype=None, requires_grad=False, device=None):
    return _like(ones, t, dtype, requires_grad, device)


def empty_like(t, dtype=None, requires_grad=False, device=None):
    return _like(zeros, t, dtype, requires_grad, device)


def full_like(t, fill_value, dtype=None, requires_grad=False, device=None):
    return full(t.shape, fill_value, dtype=dtype or t.dtype, requires_grad=requires_grad,
                device=device or t.device)


# -- random numbers ------------------------------------------------------------------------------
def manual_seed(seed):
    """Seed minigrad's generator (NumPy's PCG64: the numbers differ from torch's)."""
    global _rng
    _rng = np.random.default_rng(int(seed))


def _random(draw, size, dtype, requires_grad, device):
    d = as_dtype(dtype) or float32
    if not d.is_floating_point:
        raise TypeError(f"random floats need a floating dtype, got {d!r}")
    return _finish(draw(_size(size), dtype=d.np), d, requires_grad, device)


def rand(*size, dtype=None, requires_grad=False, device=None):
    """Uniform on [0, 1)."""
    return _random(_rng.random, size, dtype, requires_grad, device)


def randn(*size, dtype=None, requires_grad=False, device=None):
    """Standard normal."""
    return _random(_rng.standard_normal, size, dtype, requires_grad, device)


def randint(low, high=None, size=(), dtype=None, requires_grad=False, device=None):
    """randint(high, size) or randint(low, high, size): integers in [low, high)."""
    if high is None or isinstance(high, (tuple, list)):
        low, high, size = 0, low, size if high is None else high
    return _finish(_rng.integers(low, high, size=_size((size,))), dtype or "int64", requires_grad, device)


def rand_like(t, dtype=None, requires_grad=False, device=None):
    return _like(rand, t, dtype, requires_grad, device)


def randn_like(t, dtype=None, requires_grad=False, device=None):
    return _like(randn, t, dtype, requires_grad, device)
