"""`Tensor`: an array, a dtype, and the autograd fields (`requires_grad`, `grad`, `grad_fn`).

Operations (`+`, `exp`, `sum`, ...) are defined with their backward rules in `minigrad.ops` and
bound to this class there; this file holds the data model, `backward()` and in-place updates.
"""
import warnings
import weakref

import numpy as np

from . import _device
from ._dtype import FROM_NP, from_numpy_dtype
from .autograd import grad_mode as _gm

_new = object.__new__
# Version counters: a tensor starts with the shared _FRESH; its first in-place change (or its
# first view) gives it its own [epoch of the last change, number of changes, whether the memory
# has views], shared with its views and detach()ed copies. Epochs grow globally,
# so a node only needs to remember the epoch at which it saved its tensors.
_FRESH = (0, 0, False)
_EPOCH = [0]


def _bump_version(t):
    """Record an in-place change of t (shared with tensors from detach())."""
    v = _shared_version(t)
    _EPOCH[0] += 1
    v[0] = _EPOCH[0]
    v[1] += 1


def _make(data, requires_grad=False, grad_fn=None):
    """Wrap an array (no copy, no checks): the fast constructor every op uses."""
    if isinstance(data, np.generic):  # NumPy returns scalars for 0-d results
        data = np.asarray(data)
    t = _new(Tensor)
    t.array = data
    t.requires_grad = requires_grad
    t._grad = None
    t.grad_fn = grad_fn
    t._version = _FRESH
    t._hooks = None
    return t


def _shared_version(t):
    """t's version counter as a list that other tensors (views, detach()) can share."""
    v = t._version
    if v is _FRESH:
        v = t._version = [0, 0, False]
    return v


def _mark_view(base, out):
    """Record that `out` aliases `base`'s memory: they share one version counter, and `out`
    remembers the tensor that owns the memory (torch's `._base`)."""
    root = getattr(base, "_base", None)
    out._base = base if root is None else root
    out._version = _shared_version(base)
    out._version[2] = True  # this memory has views: see Tensor._check_inplace
    return out


class Tensor:
    """An n-dimensional array that can record the operations applied to it."""

    __slots__ = ("array", "requires_grad", "_grad", "grad_fn", "_version", "_base", "_hooks",
                 "__weakref__")
    __array_ufunc__ = None  # make NumPy defer to Tensor's reflected operators (2.0 * x)
    __hash__ = object.__hash__  # == is elementwise, so hash by identity (as torch does)

    def __init__(self, data, dtype=None, requires_grad=False, device=None):
        """Like torch.Tensor(data): float32 unless a dtype is given. Prefer minigrad.tensor."""
        from .creation import tensor

        src = tensor(data, dtype=dtype or "float32", requires_grad=requires_grad, device=device)
        self.array, self.requires_grad, self._grad, self.grad_fn = src.array, src.requires_grad, None, None
        self._version, self._hooks = _FRESH, None

    # -- metadata ------------------------------------------------------------------------------
    @property
    def shape(self):
        return self.array.shape

    def size(self, dim=None):
        return self.array.shape if dim is None else self.array.shape[dim]

    @property
    def dtype(self):
        d = FROM_NP.get(self.array.dtype)
        return d if d is not None else from_numpy_dtype(self.array.dtype)

    @property
    def device(self):
        return _device.CPU if isinstance(self.array, np.ndarray) else _device.CUDA

    @property
    def ndim(self):
        return self.array.ndim

    def dim(self):
        return self.array.ndim

    def numel(self):
        return int(self.array.size)

    def __len__(self):
        if self.array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    def is_floating_point(self):
        return self.dtype.is_floating_point

    @property
    def is_leaf(self):
        return self.grad_fn is None

    # -- conversions ---------------------------------------------------------------------------
    def numpy(self):
        if self.requires_grad and _gm.state.enabled:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead."
            )
        if not isinstance(self.array, np.ndarray):
            raise TypeError(
                "can't convert cuda tensor to numpy. Use Tensor.cpu() to copy the tensor to host memory first."
            )
        return self.array

    def __array__(self, dtype=None, copy=None):
        arr = self.numpy()
        return arr if dtype is None else arr.astype(dtype)

    def item(self):
        if self.array.size != 1:
            raise RuntimeError(
                f"a Tensor with {self.array.size} elements cannot be converted to Scalar"
            )
        return self.array.item()

    def tolist(self):
        return _device.to_numpy(self.array).tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self.array.size != 1:
            raise RuntimeError(
                "Boolean value of Tensor with more than one value is ambiguous"
            )
        return bool(self.item())

    def __index__(self):
        if self.dtype.is_floating_point or self.array.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __iter__(self):
        if self.array.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.array.shape[0]))

    def __repr__(self):
        arr = _device.to_numpy(self.array)
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
        if self.dtype.name not in default or self.array.size == 0:
            extras.append(f"dtype={self.dtype!r}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn={self.grad_fn!r}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body] + extras) + ")"

    def __format__(self, spec):
        """f"{t:.2f}" formats a one-element 0-d tensor as its number; other tensors only with
        an empty spec (as torch)."""
        if self.array.ndim == 0:
            return format(self.item(), spec)
        if spec:
            raise TypeError("unsupported format string passed to Tensor.__format__")
        return str(self)

    # -- autograd ------------------------------------------------------------------------------
    @property
    def grad(self):
        """The accumulated gradient (leaves, and tensors that called retain_grad())."""
        if self._grad is None and self.grad_fn is not None and not self.retains_grad:
            warnings.warn(_NON_LEAF_GRAD, UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(
                    f"assigned grad expected to be a Tensor or None but got grad of type "
                    f"{type(value).__name__}"
                )
            if value.array.shape != self.array.shape:
                raise RuntimeError(
                    f"attempting to assign a gradient of size '{list(value.shape)}' to a tensor "
                    f"of size '{list(self.shape)}'. Please ensure that the gradient and the "
                    "tensor are the same size"
                )
            if value.array.dtype != self.array.dtype:
                raise RuntimeError(
                    f"attempting to assign a gradient with dtype '{value.dtype.name}' to a tensor "
                    f"with dtype '{self.dtype.name}'. The gradient must match the tensor's dtype; "
                    f"convert it first, e.g. grad.to({self.dtype!r})."
                )
        self._grad = value

    @grad.deleter
    def grad(self):
        self._grad = None

    @property
    def data(self):
        """The same memory as a tensor outside the graph (no grad, no shared version counter),
        as torch's `.data`. The NumPy array itself is `.array`."""
        return _make(self.array)

    @data.setter
    def data(self, value):
        if not isinstance(value, Tensor):
            raise TypeError(f"data must be a Tensor, not {type(value).__name__}; use minigrad.tensor(...)")
        self.array = value.array

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate d(self)/d(leaf) into every leaf's `.grad` (see minigrad.autograd.backward)."""
        _engine.backward((self,), None if gradient is None else (gradient,), retain_graph,
                         create_graph, inputs)

    def detach(self):
        """A tensor sharing this one's data (and version counter), outside any graph."""
        t = _make(self.array)
        t._version = _shared_version(self)
        return t

    def detach_(self):
        if getattr(self, "_base", None) is not None:
            raise RuntimeError(
                "Can't detach views in-place. Use detach() instead. (minigrad: this tensor is a "
                "view of another tensor.)"
            )
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

    def register_hook(self, hook):
        """Call `hook(grad)` whenever the gradient of this tensor is computed; a returned tensor
        replaces the gradient. Returns a handle whose `.remove()` unregisters the hook."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        return _hooks_of(self).add(hook)

    def retain_grad(self):
        """Ask backward to also fill `.grad` of this non-leaf tensor (a hook run after the others)."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is not None:
            _hooks_of(self).retained = weakref.ref(self)

    @property
    def retains_grad(self):
        fn = self.grad_fn
        hooks = None if fn is None else fn._hooks
        return hooks is not None and hooks.retained is not None and hooks.retained() is self

    def __reduce_ex__(self, protocol):
        """Pickle the values and requires_grad (not the graph or .grad), as torch does."""
        return (_unpickle, (_device.to_numpy(self.array), self.requires_grad, type(self)))

    def __deepcopy__(self, memo):
        """A copy of a leaf: values, requires_grad and .grad (torch refuses non-leaves)."""
        if self.grad_fn is not None:
            raise RuntimeError(
                "Only Tensors created explicitly by the user (graph leaves) support the deepcopy "
                "protocol at the moment.  If you were attempting to deepcopy a module, this may "
                "be because of a torch.nn.utils.weight_norm usage, see "
                "https://github.com/pytorch/pytorch/pull/103001"
            )
        t = _unpickle(self.array.copy(), self.requires_grad, type(self))
        if self._grad is not None:
            t._grad = self._grad.__deepcopy__(memo)
        memo[id(self)] = t
        return t

    # -- in-place updates ------------------------------------------------------------------------
    def _check_inplace(self, other):
        """Raise where an in-place change cannot follow torch's semantics; return whether the
        change must be recorded in the graph."""
        enabled = _gm.state.enabled
        recording = enabled and (
            self.requires_grad or (isinstance(other, Tensor) and other.requires_grad)
        )
        if recording and self.requires_grad and self.grad_fn is None:
            raise RuntimeError(
                "a leaf Variable that requires grad is being used in an in-place operation. "
                "Wrap the update in `with minigrad.no_grad():` (as optimizers do)."
            )
        base = getattr(self, "_base", None)
        if base is not None and enabled:
            if base.requires_grad and base.grad_fn is None:
                raise RuntimeError(
                    "a view of a leaf Variable that requires grad is being used in an in-place "
                    "operation. Change the leaf itself under `with minigrad.no_grad():`."
                )
            if recording or base.requires_grad:
                raise RuntimeError(
                    "minigrad: an in-place operation on a view (a slice, reshape, transpose, ...) "
                    "of a tensor that is part of a graph is not supported (torch rewrites the "
                    "base's history; minigrad does not). Build the result out of place, e.g. "
                    "with minigrad.cat or minigrad.where."
                )
        if recording and self._version[2]:
            raise RuntimeError(
                "minigrad: an in-place operation recorded in the graph on a tensor that has views "
                "(slices, reshapes, transposes, ...) is not supported: torch would rewrite the "
                "views' history, minigrad cannot. Use an out-of-place operation (y = x * 2, not "
                "x.mul_(2)), or clone() before slicing."
            )
        arr = self.array
        if not arr.flags.writeable:
            if 0 in arr.strides and arr.size > 1:
                raise RuntimeError(
                    "unsupported operation: more than one element of the written-to tensor "
                    "refers to a single memory location. Please clone() the tensor before "
                    "performing the operation."
                )
            raise RuntimeError("minigrad: this tensor's memory is read-only; clone() it first.")
        return recording

    def _inplace(self, op, other, name=None):
        """Apply `op(self, other)` in place: the result is written into this tensor's memory (so
        views and detached copies see it) and its version counter moves on, so a backward that
        saved the old value raises instead of silently using the new one. When recorded, the
        op runs on a copy of the old value and this tensor takes the result's grad_fn."""
        recording = self._check_inplace(other)
        if recording:
            src = _make(self.array.copy(), self.requires_grad, self.grad_fn)
            result = op(src, other)
        else:
            with _gm.no_grad():
                result = op(self.detach(), other)
        if result.array.shape != self.array.shape:
            raise RuntimeError(
                f"output with shape {list(self.array.shape)} doesn't match the broadcast shape "
                f"{list(result.array.shape)} of an in-place operation"
            )
        if result.array.dtype != self.array.dtype:
            if result.dtype.category > self.dtype.category:
                raise RuntimeError(
                    f"result type {result.dtype.name} can't be cast to the desired output type "
                    f"{self.dtype.name} of an in-place operation"
                )
            result = result.to(self.dtype)
        self.array[...] = result.array
        if recording:
            if name is not None and result.grad_fn is not None:
                result.grad_fn._name = name
            retained = self.retains_grad
            if retained:
                self.grad_fn._hooks.retained = None
            self.grad_fn, self.requires_grad = result.grad_fn, result.requires_grad
            if retained:  # retain_grad follows the tensor to its new value (hooks stay behind)
                self.retain_grad()
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
        return self._inplace(_overwrite, 0, "ZeroBackward0")

    def fill_(self, value):
        return self._inplace(_overwrite, value, "FillBackward3" if isinstance(value, Tensor) else "FillBackward2")

    def copy_(self, src):
        return self._inplace(_overwrite, src, "CopyBackwards")

    def __setitem__(self, index, value):
        """x[index] = value, outside a graph (e.g. building data); inside one, use where/cat."""
        from .ops import _normalize_index

        if self._check_inplace(value):
            raise RuntimeError(
                "minigrad: item assignment (x[i] = v) is not recorded for autograd; build the "
                "result out of place, e.g. with minigrad.where(mask, v, x) or minigrad.cat, or "
                "assign inside `with minigrad.no_grad():`."
            )
        self.array[_normalize_index(index)] = value.array if isinstance(value, Tensor) else value
        _bump_version(self)

    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_
    __itruediv__ = div_


_NON_LEAF_GRAD = (
    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
    "attribute won't be populated during autograd.backward(). If you indeed want the .grad field "
    "to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. If you "
    "access the non-leaf Tensor by mistake, make sure you access the leaf Tensor instead."
)


def _overwrite(a, value):
    """`value` broadcast to a's shape, differentiable with respect to value (fill_, copy_)."""
    everywhere = _make(_device.array_module(a.device).ones(a.array.shape, dtype=bool))
    return functions.where(everywhere, value, a)


def _unpickle(array, requires_grad, cls=None):
    t = _make(array, requires_grad)
    if cls is not None and cls is not Tensor:
        t.__class__ = cls  # nn.Parameter stays a Parameter
    return t


def zero_grads(tensors, set_to_none=True):
    """What `zero_grad` does for modules and optimizers, as torch: drop each `.grad`, or
    take it out of any graph and fill it with zeros."""
    for t in tensors:
        g = t._grad
        if set_to_none or g is None:
            t._grad = None
            continue
        if g.grad_fn is not None:
            g = t._grad = g.detach()
        g.requires_grad = False
        g.zero_()


class TensorHooks:
    """The hooks of one tensor: on its grad_fn node (non-leaf) or on the tensor (leaf). The
    engine calls `run(grad)` when that tensor's gradient is complete."""

    __slots__ = ("hooks", "retained", "__weakref__")

    def __init__(self):
        self.hooks, self.retained = {}, None

    def add(self, hook):
        handle = RemovableHandle(self)
        self.hooks[handle.id] = hook
        return handle

    def run(self, grad, create_graph):
        for hook in list(self.hooks.values()):
            new = hook(grad)
            if new is not None:
                grad = new
        t = self.retained() if self.retained is not None else None
        if t is not None:
            g = grad if create_graph else _make(grad.array.copy())
            t._grad = g if t._grad is None else t._grad + g
        return grad


class RemovableHandle:
    """What register_hook returns: `handle.remove()` unregisters the hook."""

    _next_id = 0

    def __init__(self, owner):
        self._owner = weakref.ref(owner)
        self.id = RemovableHandle._next_id = RemovableHandle._next_id + 1

    def remove(self):
        owner = self._owner()
        if owner is not None:
            owner.hooks.pop(self.id, None)


def _hooks_of(t):
    """The TensorHooks of t, created on first use."""
    holder = t.grad_fn if t.grad_fn is not None else t
    hooks = getattr(holder, "_hooks", None)
    if hooks is None:
        hooks = holder._hooks = TensorHooks()
    return hooks


from . import functions  # noqa: E402,F401  (binds the operations to Tensor)
from .autograd import engine as _engine  # noqa: E402
