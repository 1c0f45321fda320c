"""`Tensor`: an array, a dtype, and the autograd fields (`requires_grad`, `grad`, `grad_fn`).

Operations (`+`, `exp`, `sum`, ...) are defined with their backward rules in `minigrad.ops` and
bound to this class there; this file holds the data model, `backward()` and in-place updates.
"""
import weakref

import numpy as np

from . import _device
from ._dtype import FROM_NP, from_numpy_dtype
from .autograd import grad_mode as _gm

_new = object.__new__
# Version counters: a tensor starts with the shared _FRESH; its first in-place change gives it
# its own [epoch of the last change, number of changes]. Epochs grow globally, so a node only
# needs to remember the epoch at which it saved its tensors (see Function.saved_tensors).
_FRESH = (0, 0)
_EPOCH = [0]


def _bump_version(t):
    """Record an in-place change of t (shared with tensors from detach())."""
    v = t._version
    if v is _FRESH:
        v = t._version = [0, 0]
    _EPOCH[0] += 1
    v[0] = _EPOCH[0]
    v[1] += 1


def _make(data, requires_grad=False, grad_fn=None):
    """Wrap an array (no copy, no checks): the fast constructor every op uses."""
    if isinstance(data, np.generic):  # NumPy returns scalars for 0-d results
        data = np.asarray(data)
    t = _new(Tensor)
    t.data = data
    t.requires_grad = requires_grad
    t.grad = None
    t.grad_fn = grad_fn
    t._version = _FRESH
    return t


class Tensor:
    """An n-dimensional array that can record the operations applied to it."""

    __slots__ = ("data", "requires_grad", "grad", "grad_fn", "_version", "__weakref__")
    __array_ufunc__ = None  # make NumPy defer to Tensor's reflected operators (2.0 * x)
    __hash__ = object.__hash__  # == is elementwise, so hash by identity (as torch does)

    def __init__(self, data, dtype=None, requires_grad=False, device=None):
        """Like torch.Tensor(data): float32 unless a dtype is given. Prefer minigrad.tensor."""
        from .creation import tensor

        src = tensor(data, dtype=dtype or "float32", requires_grad=requires_grad, device=device)
        self.data, self.requires_grad, self.grad, self.grad_fn = src.data, src.requires_grad, None, None
        self._version = _FRESH

    # -- metadata ------------------------------------------------------------------------------
    @property
    def shape(self):
        return self.data.shape

    def size(self, dim=None):
        return self.data.shape if dim is None else self.data.shape[dim]

    @property
    def dtype(self):
        d = FROM_NP.get(self.data.dtype)
        return d if d is not None else from_numpy_dtype(self.data.dtype)

    @property
    def device(self):
        return _device.CPU if isinstance(self.data, np.ndarray) else _device.CUDA

    @property
    def ndim(self):
        return self.data.ndim

    def dim(self):
        return self.data.ndim

    def numel(self):
        return int(self.data.size)

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def is_floating_point(self):
        return self.dtype.is_floating_point

    @property
    def is_leaf(self):
        return self.grad_fn is None

    # -- conversions ---------------------------------------------------------------------------
    def numpy(self):
        if self.requires_grad:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead."
            )
        if not isinstance(self.data, np.ndarray):
            raise TypeError(
                "can't convert cuda tensor to numpy. Use Tensor.cpu() to copy the tensor to host memory first."
            )
        return self.data

    def __array__(self, dtype=None, copy=None):
        arr = self.numpy()
        return arr if dtype is None else arr.astype(dtype)

    def item(self):
        if self.data.size != 1:
            raise RuntimeError(
                f"a Tensor with {self.data.size} elements cannot be converted to Scalar"
            )
        return self.data.item()

    def tolist(self):
        return _device.to_numpy(self.data).tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self.data.size != 1:
            raise RuntimeError(
                "Boolean value of Tensor with more than one value is ambiguous"
            )
        return bool(self.item())

    def __index__(self):
        if self.dtype.is_floating_point or self.data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __iter__(self):
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.data.shape[0]))

    def __repr__(self):
        arr = _device.to_numpy(self.data)
        finite = arr[np.isfinite(arr)] if arr.dtype.kind == "f" else arr
        integral = arr.dtype.kind != "f" or bool(np.all(finite == np.round(finite)))
        body = np.array2string(  # torch's look: 1., 2. for whole numbers, else 4 decimals
            arr, separator=", ", prefix="tensor(", precision=4,
            floatmode="maxprec" if integral else "fixed",
        )
        extras = []
        if self.device != "cpu":
            extras.append("device='cuda'")
        default = {"float32", "int64", "bool"}
        if self.dtype.name not in default or self.data.size == 0:
            extras.append(f"dtype={self.dtype!r}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn={self.grad_fn!r}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body] + extras) + ")"

    # -- autograd ------------------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate d(self)/d(leaf) into every leaf's `.grad` (see minigrad.autograd.backward)."""
        _engine.backward((self,), None if gradient is None else (gradient,), retain_graph,
                         create_graph, inputs)

    def detach(self):
        """A tensor sharing this one's data (and version counter), outside any graph."""
        t = _make(self.data)
        if self._version is _FRESH:
            self._version = [0, 0]
        t._version = self._version
        return t

    def detach_(self):
        self.grad_fn, self.requires_grad = None, False
        return self

    def requires_grad_(self, requires_grad=True):
        if self.grad_fn is not None and not requires_grad:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use a "
                "computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach()."
            )
        if requires_grad and not self.dtype.is_floating_point:
            raise RuntimeError(
                "only Tensors of floating point dtype can require gradients "
                f"(this one is {self.dtype!r}); convert it first, e.g. x.float()."
            )
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self):
        """Ask backward to also fill `.grad` of this non-leaf tensor."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is not None:
            self.grad_fn._retained = weakref.ref(self)

    @property
    def retains_grad(self):
        fn = self.grad_fn
        return fn is not None and fn._retained is not None and fn._retained() is self

    # -- in-place updates ------------------------------------------------------------------------
    def _inplace(self, op, other):
        """Apply `op(self, other)` in place. Outside a graph the result is written into this
        tensor's buffer (so detached views see it); inside one, this tensor takes the result's
        data and grad_fn. Either way its version counter moves on, so a backward that saved the
        old value raises instead of silently using the new one."""
        recording = _gm.state.enabled and (
            self.requires_grad or (isinstance(other, Tensor) and other.requires_grad)
        )
        if recording and self.requires_grad and self.grad_fn is None:
            raise RuntimeError(
                "a leaf Variable that requires grad is being used in an in-place operation. "
                "Wrap the update in `with minigrad.no_grad():` (as optimizers do)."
            )
        src = _make(self.data, self.requires_grad, self.grad_fn) if recording else self.detach()
        if recording:
            result = op(src, other)
        else:
            with _gm.no_grad():
                result = op(src, other)
        if result.data.shape != self.data.shape:
            raise RuntimeError(
                f"output with shape {list(self.data.shape)} doesn't match the broadcast shape "
                f"{list(result.data.shape)} of an in-place operation"
            )
        if result.data.dtype != self.data.dtype:
            if result.dtype.category > self.dtype.category:
                raise RuntimeError(
                    f"result type {result.dtype.name} can't be cast to the desired output type "
                    f"{self.dtype.name} of an in-place operation"
                )
            result = result.to(self.dtype)
        if recording:
            self.data, self.grad_fn = result.data, result.grad_fn
            self.requires_grad = result.requires_grad
        else:
            self.data[...] = result.data
        _bump_version(self)
        return self

    def add_(self, other, *, alpha=1):
        return self._inplace(lambda a, b: a + (b if alpha == 1 else b * alpha), other)

    def sub_(self, other, *, alpha=1):
        return self._inplace(lambda a, b: a - (b if alpha == 1 else b * alpha), other)

    def mul_(self, other):
        return self._inplace(lambda a, b: a * b, other)

    def div_(self, other):
        return self._inplace(lambda a, b: a / b, other)

    def zero_(self):
        return self.fill_(0)

    def fill_(self, value):
        return self._inplace(lambda a, v: _make(_device.array_module(a.device).full_like(a.data, v)), value)

    def copy_(self, src):
        return self._inplace(lambda a, s: a * 0 + s, src)

    def __setitem__(self, index, value):
        """x[index] = value, outside a graph (e.g. building data); inside one, use where/cat."""
        from .ops import _normalize_index

        recording = _gm.state.enabled and (
            self.requires_grad or (isinstance(value, Tensor) and value.requires_grad)
        )
        if recording:
            raise RuntimeError(
                "minigrad: item assignment (x[i] = v) is not recorded for autograd; build the "
                "result out of place, e.g. with minigrad.where(mask, v, x) or minigrad.cat, or "
                "assign inside `with minigrad.no_grad():`."
            )
        self.data[_normalize_index(index)] = value.data if isinstance(value, Tensor) else value
        _bump_version(self)

    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_
    __itruediv__ = div_


from . import functions  # noqa: E402,F401  (binds the operations to Tensor)
from .autograd import engine as _engine  # noqa: E402
