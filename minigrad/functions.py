"""The operations as users call them: `minigrad.add`, `minigrad.exp`, `x.sum(dim=...)`, ...

Each function applies PyTorch's argument handling and type promotion, then one of the
Function classes of `minigrad.ops` (where forward and backward are defined). The table at the
end binds the functions to `Tensor` as methods and operators.
"""
import builtins
from collections import namedtuple

import numpy as np

from . import _device
from ._dtype import float32, result_type
from .ops import (Abs, Amax, ArgReduce, Cast, Cat, Clamp, ClampTensor, Clone, Cos, Div, Exp,
                  Expand, GetItem, Linear, Log, LogSoftmax, LogSumExp, MatMul, Maximum, Mean,
                  Minimum, Mul, Neg, Permute, Pow, PowScalar, Relu, Remainder, Reshape, RoundedDiv,
                  RPowScalar, Sigmoid, Sign, Sin, Softmax, Sqrt, Squeeze, SqueezeDim, Stack, RSub, Sub, Sum, Tanh, ToDevice,
                  Transpose, TransposeT, Unsqueeze, Where, Add, _const, _dims, _normalize_index,
                  _xp)  # noqa: I001
from .tensor import Tensor, _make


def _tensor_like(value, dtype, like):
    """A Python number (or array-like) as a tensor of `dtype` on `like`'s device."""
    if isinstance(value, Tensor):
        return value if value.array.dtype == dtype.np else Cast._apply1(value, dtype)
    xp = np if isinstance(like.array, np.ndarray) else _xp(like)
    return _make(xp.asarray(value, dtype=dtype.np))


def _operands(a, b):
    """Both operands as tensors of the promoted dtype (PyTorch's promotion rules)."""
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        if a.array.dtype is b.array.dtype:  # the common case: nothing to do
            return a, b
        if a.device != b.device:
            raise RuntimeError(
                "Expected all tensors to be on the same device, but found at least two devices, "
                f"{a.device} and {b.device}! Move one with .to(...)."
            )
    else:
        if not isinstance(a, (Tensor, int, float, bool, np.number, np.bool_)):
            a = _as_tensor(a)
        if not isinstance(b, (Tensor, int, float, bool, np.number, np.bool_)):
            b = _as_tensor(b)
    d = result_type(a, b)
    like = a if isinstance(a, Tensor) else b
    return _tensor_like(a, d, like), _tensor_like(b, d, like)


def _as_tensor(x):
    from .creation import tensor

    return tensor(x)


def _binary(cls, a, b):
    """Apply a two-input op; the common cases (same dtype, or a float tensor with a Python
    number, which keeps the tensor's dtype) skip the general promotion code."""
    if isinstance(a, Tensor):
        if isinstance(b, Tensor):
            if a.array.dtype is b.array.dtype:
                return cls._apply2(a, b)
        elif type(b) in _PY_NUMBERS and a.array.dtype.kind == "f":
            return cls._apply2(a, _make(_xp(a).asarray(b, dtype=a.array.dtype)))
    elif type(a) in _PY_NUMBERS and isinstance(b, Tensor) and b.array.dtype.kind == "f":
        return cls._apply2(_make(_xp(b).asarray(a, dtype=b.array.dtype)), b)
    a, b = _operands(a, b)
    return cls._apply2(a, b)


def _operator(cls):
    """`tensor + other` / `tensor * other`: straight to the op when `other` is a tensor of the
    same dtype (one call less than add/mul on the hot path), else as add/mul."""

    def op(a, b):
        if type(b) is Tensor and a.array.dtype is b.array.dtype:
            return cls._apply2(a, b)
        return _binary(cls, a, b)

    return op


_PY_NUMBERS = (float, int)  # not bool: True + int tensor promotes differently


def _floating(a):
    """Integer inputs of float-valued ops become float32 (torch: exp(int tensor) is float)."""
    if not isinstance(a, Tensor):
        a = _as_tensor(a)
    return a if a.array.dtype.kind == "f" else Cast._apply1(a, float32)


def add(a, b, *, alpha=1):
    return _binary(Add, a, b if alpha == 1 else b * alpha)


def sub(a, b, *, alpha=1):
    if _is_bool(a) and _is_bool(b):
        raise RuntimeError(
            "Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` "
            "or `logical_xor()` operator instead."
        )
    return _binary(Sub if isinstance(a, Tensor) else RSub, a, b if alpha == 1 else b * alpha)


def _is_bool(x):
    return isinstance(x, (bool, np.bool_)) or (isinstance(x, Tensor) and x.array.dtype.kind == "b")


def mul(a, b):
    return _binary(Mul, a, b)


def div(a, b, *, rounding_mode=None):
    """a / b; rounding_mode "trunc" or "floor" rounds the quotient (integers stay integers)."""
    if rounding_mode is not None:
        if rounding_mode not in ("trunc", "floor"):
            raise RuntimeError(
                "div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                f"'{rounding_mode}'"
            )
        a, b = _operands(a, b)
        return RoundedDiv.apply(a, b, rounding_mode, True)
    a, b = _operands(a, b)
    if a.array.dtype.kind != "f":  # true division of integers gives float32, as in torch
        a, b = Cast._apply1(a, float32), Cast._apply1(b, float32)
    return Div.apply(a, b)


def floor_divide(a, b):
    """a // b, rounded down; like torch, it has no derivative (backward raises)."""
    a, b = _operands(a, b)
    return RoundedDiv.apply(a, b, "floor", False)


def remainder(a, b):
    """a % b with the sign of b, as Python's % and torch.remainder."""
    a, b = _operands(a, b)
    return Remainder.apply(a, b)


def pow(a, b):
    if isinstance(a, Tensor) and not isinstance(b, Tensor):
        d = result_type(a, b)
        return PowScalar._apply1(_tensor_like(a, d, a), b)
    if not isinstance(a, Tensor):
        d = result_type(a, b)
        return RPowScalar._apply1(_tensor_like(b, d, b), a)
    return _binary(Pow, a, b)


def matmul(a, b):
    a, b = _operands(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(
            "both arguments to matmul need to be at least 1D, but they are "
            f"{a.ndim}D and {b.ndim}D; use * to multiply by a scalar."
        )
    return MatMul.apply(a, b)


def linear(x, weight, bias=None):
    """x @ weight.T + bias, recorded as one operation."""
    xa, wa = x.array, weight.array
    if wa.dtype is xa.dtype and (bias is None or bias.array.dtype is xa.dtype) and xa.ndim and \
            wa.ndim == 2 and xa.shape[-1] == wa.shape[1]:
        return Linear.apply(x, weight, bias)
    d = result_type(*[t for t in (x, weight, bias) if t is not None])
    x, weight = _tensor_like(x, d, x), _tensor_like(weight, d, x)
    if bias is not None:
        bias = _tensor_like(bias, d, x)
    if x.ndim == 0 or weight.ndim != 2 or x.shape[-1] != weight.shape[1]:
        raise RuntimeError(
            f"linear: input of shape {list(x.shape)} does not fit weight of shape "
            f"{list(weight.shape)} (need input.shape[-1] == weight.shape[1])"
        )
    return Linear.apply(x, weight, bias)


def maximum(a, b):
    return _binary(Maximum, a, b)


def minimum(a, b):
    return _binary(Minimum, a, b)


def where(condition, input, other):
    """Elementwise `input if condition else other`; condition must be a bool tensor."""
    if not isinstance(condition, Tensor):
        condition = _as_tensor(condition)
    if condition.array.dtype != np.bool_:
        raise RuntimeError(
            f"where expected condition to be a boolean tensor, but got a tensor with dtype "
            f"{condition.dtype.name}; compare first, e.g. where(x > 0, x, 0)."
        )
    a, b = _operands(input, other)
    return Where.apply(condition, a, b)


def neg(a):
    if a.array.dtype == np.bool_:
        raise RuntimeError(
            "Negation, the `-` operator, on a bool tensor is not supported. If you are trying to "
            "invert a mask, use the `~` or `logical_not()` operator instead."
        )
    return Neg._apply1(a)


def _floating_unary(op, name):
    """`minigrad.<name>(a)`: integer and bool inputs are promoted to float32 first, as torch does."""

    def fn(a):
        return op._apply1(a if a.array.dtype.kind == "f" else _floating(a))

    fn.__name__ = fn.__qualname__ = name
    return fn


exp = _floating_unary(Exp, "exp")
log = _floating_unary(Log, "log")
sin = _floating_unary(Sin, "sin")
cos = _floating_unary(Cos, "cos")
tanh = _floating_unary(Tanh, "tanh")
sigmoid = _floating_unary(Sigmoid, "sigmoid")
sqrt = _floating_unary(Sqrt, "sqrt")


def relu(a):
    return Relu._apply1(a)


def abs(a):
    return Abs._apply1(a)


def sign(a):
    return Sign._apply1(a)


def clamp(a, min=None, max=None):
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        bounds = [v for v in (min, max) if v is not None]
        d = result_type(a, *bounds)
        lo, hi = (None if v is None else _tensor_like(v, d, a) for v in (min, max))
        return ClampTensor.apply(_tensor_like(a, d, a), lo, hi)
    if a.array.dtype.kind != "f" and builtins.any(isinstance(v, float) for v in (min, max)):
        a = Cast._apply1(a, float32)
    return Clamp._apply1(a, min, max)


def _to_dtype(a, dtype):
    from ._dtype import as_dtype

    d = as_dtype(dtype)
    if a.array.dtype == d.np:
        return a
    if not d.is_floating_point:  # integer and bool results are never differentiable (torch)
        return _make(a.array.astype(d.np))
    return Cast._apply1(a, d)


def _all_if_empty(dim):
    """dim=() or [] means every dimension (torch's rule for sum and mean)."""
    return None if isinstance(dim, (tuple, list)) and len(dim) == 0 else dim


def sum(a, dim=None, keepdim=False, *, dtype=None):
    dim = _all_if_empty(dim)
    if dtype is not None:
        a = _to_dtype(a, dtype)
    return Sum._apply1(a, dim, keepdim)


def mean(a, dim=None, keepdim=False, *, dtype=None):
    dim = _all_if_empty(dim)
    if dtype is not None:
        a = _to_dtype(a, dtype)
    if a.array.dtype.kind != "f":
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point "
            f"or complex dtype. Got: {a.dtype.name}. Convert first, e.g. x.float().mean()."
        )
    return Mean._apply1(a, dim, keepdim)


MaxResult = namedtuple("max", ["values", "indices"])
MinResult = namedtuple("min", ["values", "indices"])


def _extreme(a, dim, keepdim, reduce, arg, result):
    if isinstance(dim, Tensor):  # torch.max(a, b) is maximum
        return (maximum if reduce is np.max else minimum)(a, dim)
    if dim is None:
        return Amax._apply1(a, None, False, reduce, True)
    values = ArgReduce._apply1(a, dim, keepdim, arg)
    return result(values, _const(values.grad_fn.indices if values.grad_fn else _indices(a, dim, keepdim, arg)))


def _indices(a, dim, keepdim, arg):
    (d,) = _dims(dim, a.ndim)
    x = a.array if a.ndim else a.array.reshape(1)
    idx = arg(x, axis=d, keepdims=keepdim)
    return idx.reshape(()) if not a.ndim else idx


def max(a, dim=None, keepdim=False):
    """max(a) -> 0-d tensor; max(a, dim) -> (values, indices); max(a, b) -> maximum(a, b)."""
    return _extreme(a, dim, keepdim, np.max, np.argmax, MaxResult)


def min(a, dim=None, keepdim=False):
    return _extreme(a, dim, keepdim, np.min, np.argmin, MinResult)


def amax(a, dim=(), keepdim=False):
    return Amax._apply1(a, _all_if_empty(dim), keepdim, np.max)


def amin(a, dim=(), keepdim=False):
    return Amax._apply1(a, _all_if_empty(dim), keepdim, np.min)


def all(a, dim=None, keepdim=False):
    """True where every element (along dim) is nonzero; a bool tensor."""
    return _const(np.asarray(np.all(a.array, axis=None if dim is None else _dims(dim, a.ndim), keepdims=keepdim)))


def any(a, dim=None, keepdim=False):
    """True where some element (along dim) is nonzero; a bool tensor."""
    return _const(np.asarray(np.any(a.array, axis=None if dim is None else _dims(dim, a.ndim), keepdims=keepdim)))


def argmax(a, dim=None, keepdim=False):
    if dim is None:
        return _const(np.asarray(np.argmax(a.array)))
    return _const(_indices(a, dim, keepdim, np.argmax))


def argmin(a, dim=None, keepdim=False):
    if dim is None:
        return _const(np.asarray(np.argmin(a.array)))
    return _const(_indices(a, dim, keepdim, np.argmin))


def logsumexp(a, dim, keepdim=False):
    return LogSumExp._apply1(_floating(a), dim, keepdim)


def _softmax_like(cls, a, dim):
    if dim is None:
        raise TypeError("softmax() needs dim (the dimension that sums to one), e.g. softmax(x, dim=-1)")
    a = _floating(a)
    (d,) = _dims(dim, a.ndim)
    if a.ndim == 0:
        d = None
    return cls._apply1(a, d)


def softmax(a, dim=None, dtype=None):
    return _softmax_like(Softmax, a if dtype is None else _to_dtype(a, dtype), dim)


def log_softmax(a, dim=None, dtype=None):
    return _softmax_like(LogSoftmax, a if dtype is None else _to_dtype(a, dtype), dim)


# -- shapes ---------------------------------------------------------------------------------------
def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(s) for s in shape)


def reshape(a, *shape):
    shape = _shape_arg(shape)
    if -1 not in shape and int(np.prod(shape)) != a.array.size:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {a.array.size}")
    return Reshape._apply1(a, shape)


def view(a, *shape):
    return reshape(a, *shape)


def flatten(a, start_dim=0, end_dim=-1):
    if a.ndim == 0:
        return reshape(a, 1)
    s, e = start_dim % a.ndim, end_dim % a.ndim
    shape = a.shape[:s] + (int(np.prod(a.shape[s:e + 1])),) + a.shape[e + 1:]
    return reshape(a, shape)


def squeeze(a, dim=None):
    if dim is None:
        shape = tuple(n for n in a.shape if n != 1)
    else:
        dims = _dims(dim, a.ndim)
        shape = tuple(n for i, n in enumerate(a.shape) if not (i in dims and n == 1))
    return a if shape == a.shape else (Squeeze if dim is None else SqueezeDim)._apply1(a, shape)


def unsqueeze(a, dim):
    n = a.ndim + 1
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    d = dim % n
    return Unsqueeze._apply1(a, a.shape[:d] + (1,) + a.shape[d:])


def expand(a, *sizes):
    sizes = _shape_arg(sizes)
    lead = len(sizes) - a.ndim
    if lead < 0:
        raise RuntimeError(
            f"expand: the number of sizes provided ({len(sizes)}) must be greater or equal to "
            f"the number of dimensions in the tensor ({a.ndim})"
        )
    shape = tuple(a.shape[i - lead] if s == -1 else s for i, s in enumerate(sizes))
    for i, n in enumerate(a.shape):
        if n != 1 and n != shape[lead + i]:
            raise RuntimeError(
                f"The expanded size of the tensor ({shape[lead + i]}) must match the existing size "
                f"({n}) at non-singleton dimension {lead + i}.  Target sizes: {list(sizes)}.  "
                f"Tensor sizes: {list(a.shape)}"
            )
    return a if shape == a.shape else Expand._apply1(a, shape)


def expand_as(a, other):
    return expand(a, other.shape)


def permute(a, *dims):
    dims = _shape_arg(dims)
    if sorted(d % builtins.max(a.ndim, 1) for d in dims) != list(range(a.ndim)):
        raise RuntimeError(
            f"permute(sparse_coo): number of dimensions in the tensor input does not match the "
            f"length of the desired ordering of dimensions i.e. input.dim() = {a.ndim} is not equal "
            f"to len(dims) = {len(dims)}"
        )
    return Permute._apply1(a, tuple(d % a.ndim for d in dims))


def transpose(a, dim0, dim1, _node=Transpose):
    if a.ndim < 2 and dim0 in (0, -1) and dim1 in (0, -1):
        return a
    dims = list(range(a.ndim))
    d0, d1 = _dims(dim0, a.ndim)[0], _dims(dim1, a.ndim)[0]
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return _node._apply1(a, tuple(dims))


def t(a):
    if a.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {a.ndim}D")
    return transpose(a, 0, -1, TransposeT) if a.ndim == 2 else a


def cat(tensors, dim=0, _node=Cat):
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("torch.cat(): expected a non-empty list of Tensors")
    d = result_type(*tensors)
    tensors = [_tensor_like(x, d, tensors[0]) for x in tensors]
    (axis,) = _dims(dim, tensors[0].ndim)
    ref = tensors[0].shape
    for i, x in enumerate(tensors):
        if x.ndim != len(ref) or builtins.any(n != m for j, (n, m) in enumerate(zip(x.shape, ref)) if j != axis):
            raise RuntimeError(
                f"Sizes of tensors must match except in dimension {axis}. Expected size "
                f"{list(ref)} but got size {list(x.shape)} for tensor number {i} in the list."
            )
    return _node.apply(axis, *tensors)


def stack(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    shape = tensors[0].shape
    for i, x in enumerate(tensors):
        if x.shape != shape:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {list(shape)} at entry 0 "
                f"and {list(x.shape)} at entry {i}"
            )
    d = dim % (len(shape) + 1)
    return cat([unsqueeze(x, d) for x in tensors], d, Stack)


def getitem(a, index):
    return GetItem._apply1(a, _normalize_index(index))


# -- comparisons and logic: no gradient ---------------------------------------------------------
def _compare(np_op):
    def compare(a, b):
        a, b = _operands(a, b)
        return _const(np_op(a.array, b.array))

    compare.__name__ = np_op.__name__
    return compare


lt, le, gt, ge = _compare(np.less), _compare(np.less_equal), _compare(np.greater), _compare(np.greater_equal)
eq, ne = _compare(np.equal), _compare(np.not_equal)
logical_and, logical_or, logical_xor = _compare(np.logical_and), _compare(np.logical_or), _compare(np.logical_xor)


def logical_not(a):
    return _const(np.logical_not(a.array))


def _bitwise(np_op):
    def op(a, b):
        a, b = _operands(a, b)
        if a.array.dtype.kind == "f":
            raise TypeError(f"{np_op.__name__} is only defined for bool and integer tensors")
        return _const(np_op(a.array, b.array))

    return op


def _invert(a):
    if a.array.dtype.kind == "f":
        raise TypeError("~ (bitwise not) is only defined for bool and integer tensors")
    return _const(np.invert(a.array))


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    return bool(np.allclose(a.array, b.array, rtol=rtol, atol=atol, equal_nan=equal_nan))


def equal(a, b):
    return a.shape == b.shape and bool((a.array == b.array).all())


def isnan(a):
    return _const(np.isnan(a.array))


def isfinite(a):
    return _const(np.isfinite(a.array))


# ================================ Tensor methods =================================================
def _to(self, *args, **kwargs):
    """`to(device)`, `to(dtype)` or `to(device, dtype)` (dtype changes are differentiable)."""
    from ._dtype import as_dtype, dtype as DType

    device, dt = kwargs.get("device"), kwargs.get("dtype")
    for a in args:
        if isinstance(a, (DType, np.dtype)) or (isinstance(a, str) and a in ("float32", "float64", "int64", "bool")):
            dt = a
        elif isinstance(a, Tensor):
            dt, device = a.dtype, a.device
        else:
            device = a
    out = self if dt is None else _to_dtype(self, as_dtype(dt))
    if device is not None and _device.normalize(device) != out.device.type:
        moved = _make(_device.move(out.array, device), out.requires_grad)
        if out.requires_grad:
            moved = ToDevice._apply1(out, _device.normalize(device))
        out = moved
    return out


def _dtype_method(name):
    return lambda self: _to_dtype(self, name)


_reflect = lambda fn: (lambda self, other: fn(other, self))  # noqa: E731

_METHODS = {
    "__add__": _operator(Add), "__radd__": _reflect(add), "__sub__": sub, "__rsub__": _reflect(sub),
    "__mul__": _operator(Mul), "__rmul__": _reflect(mul), "__truediv__": div, "__rtruediv__": _reflect(div),
    "__pow__": pow, "__rpow__": _reflect(pow), "__matmul__": matmul, "__rmatmul__": _reflect(matmul),
    "__floordiv__": floor_divide, "__rfloordiv__": _reflect(floor_divide),
    "__mod__": remainder, "__rmod__": _reflect(remainder), "floor_divide": floor_divide,
    "remainder": remainder, "all": all, "any": any,
    "__neg__": neg, "__abs__": abs, "__getitem__": getitem,
    "__lt__": lt, "__le__": le, "__gt__": gt, "__ge__": ge, "__eq__": eq, "__ne__": ne,
    "__and__": _bitwise(np.bitwise_and), "__or__": _bitwise(np.bitwise_or),
    "__xor__": _bitwise(np.bitwise_xor), "__invert__": _invert,
    "add": add, "sub": sub, "mul": mul, "div": div, "pow": pow, "matmul": matmul,
    "neg": neg, "exp": exp, "log": log, "sin": sin, "cos": cos, "tanh": tanh, "sigmoid": sigmoid,
    "relu": relu, "abs": abs, "sign": sign, "sqrt": sqrt, "clamp": clamp, "clip": clamp,
    "maximum": maximum, "minimum": minimum, "sum": sum, "mean": mean, "max": max, "min": min,
    "amax": amax, "amin": amin, "argmax": argmax, "argmin": argmin,
    "logsumexp": logsumexp, "softmax": softmax, "log_softmax": log_softmax,
    "reshape": reshape, "view": view, "flatten": flatten, "squeeze": squeeze, "unsqueeze": unsqueeze,
    "expand": expand, "expand_as": expand_as, "permute": permute, "transpose": transpose, "t": t,
    "lt": lt, "le": le, "gt": gt, "ge": ge, "eq": eq, "ne": ne, "isnan": isnan,
    "logical_not": logical_not, "logical_and": logical_and, "logical_or": logical_or,
    "to": _to, "float": _dtype_method("float32"), "double": _dtype_method("float64"),
    "long": _dtype_method("int64"), "bool": _dtype_method("bool"),
    "cpu": lambda self: _to(self, "cpu"), "cuda": lambda self: _to(self, "cuda"),
    "clone": lambda self: Clone._apply1(self),
    "contiguous": lambda self: self, "allclose": allclose, "equal": equal,
    "type_as": lambda self, other: _to_dtype(self, other.dtype),
}
for _name, _fn in _METHODS.items():
    setattr(Tensor, _name, _fn)
Tensor.T = property(lambda self: permute(self, tuple(reversed(range(self.ndim)))))
Tensor.mT = property(lambda self: transpose(self, -2, -1))
