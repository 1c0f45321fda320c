"""Every built-in operation: forward and backward side by side, one class per op.

Forward computes on the inputs' arrays (`x.array`) and returns an array; backward receives the
gradient of the output as a minigrad Tensor and returns one gradient per input, written with
minigrad operations so that `create_graph=True` can differentiate it again. Ops marked
`_broadcasts` get their gradients summed back to each input's shape by the engine
(`unbroadcast`, the single place where broadcasting is undone). Masks built from saved
values (relu, max, clamp) are constants of the graph: their derivative is zero almost everywhere.

The functions users call (`add`, `exp`, `sum`, ...), with PyTorch's type promotion and argument
handling, are in `minigrad.functions`, which also binds them to `Tensor` as methods.
"""
import builtins
import math

import numpy as np

from . import _device
from .autograd.function import Function
from .tensor import Tensor, _make, _mark_view, _replay



class _Quiet:
    """`with _errstate:` silences NumPy's floating-point warnings (torch returns inf/nan
    silently). Sets NumPy's error-state context variable directly: np.errstate() costs ~2 us."""

    __slots__ = ("tokens", "quiet")

    def __init__(self):
        self.tokens = []
        try:
            from numpy._core._ufunc_config import _extobj_contextvar as var

            with np.errstate(all="ignore"):
                self.quiet = (var, var.get())
        except (ImportError, AttributeError):  # another NumPy layout: the slow, public way
            self.quiet = None

    def __enter__(self):
        if self.quiet is None:
            ctx = np.errstate(all="ignore")
            ctx.__enter__()
            self.tokens.append(ctx)
        else:
            self.tokens.append(self.quiet[0].set(self.quiet[1]))

    def __exit__(self, *exc):
        token = self.tokens.pop()
        if self.quiet is None:
            token.__exit__(*exc)
        else:
            self.quiet[0].reset(token)


_errstate = _Quiet()


def _const(array):
    """A tensor outside the graph (masks, indices)."""
    return _make(array)


def _xp(t):
    return np if isinstance(t.array, np.ndarray) else _device.array_module("cuda")


# ================================ elementwise, two inputs =======================================
class Add(Function):
    _name = "AddBackward0"
    _builtin = _broadcasts = True

    @staticmethod
    def forward(ctx, a, b):
        return a.array + b.array

    @staticmethod
    def backward(ctx, g):
        return g, g


class Sub(Function):
    _name = "SubBackward0"
    _builtin = _broadcasts = True

    @staticmethod
    def forward(ctx, a, b):
        return a.array - b.array

    @staticmethod
    def backward(ctx, g):
        return g, -g


class RSub(Sub):
    """number - tensor (torch names this node RsubBackward1)."""

    _name = "RsubBackward1"


class Mul(Function):
    _name = "MulBackward0"
    _builtin = _broadcasts = True

    @staticmethod
    def forward(ctx, a, b):  # each gradient needs the other input: save only what is needed
        ctx.save_for_backward(a if b.requires_grad else None, b if a.requires_grad else None)
        return a.array * b.array

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return (None if b is None else g * b), (None if a is None else g * a)


class Div(Function):
    _name = "DivBackward0"
    _builtin = _broadcasts = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a if b.requires_grad else None, b)
        with _errstate:
            return a.array / b.array

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return g / b, (None if a is None else -(g * a) / (b * b))


class Pow(Function):
    """a ** b with both tensors. d/da is 0 where b == 0, and d/db = a**b * log(a) is taken as 0
    where a == 0 and b >= 0 (torch's choices)."""

    _name = "PowBackward1"

    _builtin = _broadcasts = _saves_output = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        with _errstate:
            return a.array ** b.array

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        base_zero = _const((a.array == 0) & (b.array >= 0))
        with _errstate:
            ga = _fn.where(_const(b.array == 0), 0.0, g * b * a ** (b - 1))
            return ga, g * _fn.where(base_zero, 0.0, out * a.log())


class Maximum(Function):
    _name = "MaximumBackward0"
    """Where a == b the gradient is split evenly between both (as torch does)."""

    _builtin = _broadcasts = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.maximum(a.array, b.array)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        share = ((a.array > b.array) + 0.5 * (a.array == b.array)).astype(g.array.dtype)
        return g * _const(share), g * _const(1 - share)


class Minimum(Function):
    _name = "MinimumBackward0"
    _builtin = _broadcasts = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.minimum(a.array, b.array)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        share = ((a.array < b.array) + 0.5 * (a.array == b.array)).astype(g.array.dtype)
        return g * _const(share), g * _const(1 - share)


class Where(Function):
    _name = "WhereBackward0"
    _builtin = _broadcasts = True

    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.cond = cond
        return np.where(cond.array, a.array, b.array)

    @staticmethod
    def backward(ctx, g):
        return None, _fn.where(ctx.cond, g, 0.0), _fn.where(ctx.cond, 0.0, g)


def _mm(a, b):
    """The matrix product of two arrays: `a @ b`, through `ndarray.dot` when both are matrices
    (the same BLAS call with the same result, without the ~1 us of matmul's ufunc machinery)."""
    return a.dot(b) if a.ndim == 2 and b.ndim == 2 else a @ b


_MATMUL_NAMES = {(1, 1): "DotBackward0", (2, 1): "MvBackward0", (2, 2): "MmBackward0",
                 (1, 2): "SqueezeBackward4"}


class MatMul(Function):
    """torch.matmul: 1-D operands are promoted to matrices and the added dim removed again."""

    _builtin = _broadcasts = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        ctx._name = _MATMUL_NAMES.get((a.array.ndim, b.array.ndim), "UnsafeViewBackward0")
        return _mm(a.array, b.array)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        if a.ndim == 1 and b.ndim == 1:
            return g * b, g * a
        a2 = a.unsqueeze(0) if a.ndim == 1 else a
        b2 = b.unsqueeze(-1) if b.ndim == 1 else b
        g2 = g.unsqueeze(-2) if a.ndim == 1 else g
        g2 = g2.unsqueeze(-1) if b.ndim == 1 else g2
        ga, gb = g2 @ b2.mT, a2.mT @ g2
        return (ga.squeeze(-2) if a.ndim == 1 else ga), (gb.squeeze(-1) if b.ndim == 1 else gb)


class Linear(Function):
    """x @ w.T + b in one node (torch.nn.functional.linear); x may have leading batch dims."""

    _builtin = True

    @staticmethod
    def forward(ctx, x, w, b):
        ctx.save_for_backward(x, w)
        ctx._name = "MmBackward0" if b is None else "AddmmBackward0"
        out = _mm(x.array, w.array.T)
        if b is None:
            return out
        if b.array.shape == out.shape[-1:]:  # the usual bias: added in place (out is new)
            out += b.array
            return out
        return out + b.array

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        g2 = g if g.array.ndim == 2 else g.reshape(-1, g.shape[-1])
        needs = ctx.needs_input_grad
        gx = MatMul._apply2(g, w) if needs[0] else None
        gw = None
        if needs[1]:
            gw = TMatMul._apply2(g2, x if x.array.ndim == 2 else x.reshape(-1, x.shape[-1]))
        gb = Sum._apply1(g2, 0, False) if needs[2] else None
        return gx, gw, gb


class TMatMul(Function):
    _name = "MmBackward0"
    """a.T @ b for matrices in one node (the weight gradient of Linear)."""

    _builtin = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return _mm(a.array.T, b.array)

    @staticmethod
    def backward(ctx, gg):
        a, b = ctx.saved_tensors
        return b @ gg.mT, a @ gg


# ================================ elementwise, one input ========================================
class Neg(Function):
    _name = "NegBackward0"
    _builtin = True

    @staticmethod
    def forward(ctx, a):
        return -a.array

    @staticmethod
    def backward(ctx, g):
        return -g


class PowScalar(Function):
    _name = "PowBackward0"
    """a ** p for a Python number p; d/da = p * a**(p-1), and 0 when p == 0."""

    _builtin = True

    @staticmethod
    def forward(ctx, a, p):
        ctx.save_for_backward(a)
        ctx.p = p
        with _errstate:
            return a.array ** p

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        p = ctx.p
        if p == 0:
            return g * 0.0, None
        return g * p * a ** (p - 1) if p != 2 else g * 2.0 * a, None


class RPowScalar(Function):
    _name = "PowBackward2"
    """c ** a for a Python number c; d/da = c**a * log(c)."""

    _builtin = _saves_output = True

    @staticmethod
    def forward(ctx, a, c):
        ctx.c = c
        ctx.inputs = (a,) if c == 0 else ()
        with _errstate:
            return np.asarray(c, dtype=a.array.dtype) ** a.array

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        if ctx.c == 0:  # 0 ** a: torch takes the gradient as 0 where a >= 0
            (a,) = ctx.inputs
            with _errstate:
                return _fn.where(_const(a.array >= 0), 0.0, g * out * -math.inf), None
        with _errstate:
            return g * out * float(np.log(ctx.c)), None


class Exp(Function):
    _name = "ExpBackward0"
    _builtin = _saves_output = True

    @staticmethod
    def forward(ctx, a):
        with _errstate:
            return np.exp(a.array)

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * out


class Log(Function):
    _name = "LogBackward0"
    _builtin = True

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        with _errstate:
            return np.log(a.array)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g / a


class Sin(Function):
    _name = "SinBackward0"
    _builtin = True

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.sin(a.array)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * a.cos()


class Cos(Function):
    _name = "CosBackward0"
    _builtin = True

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.cos(a.array)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return -(g * a.sin())


class Tanh(Function):
    _name = "TanhBackward0"
    _builtin = _saves_output = True

    @staticmethod
    def forward(ctx, a):
        return np.tanh(a.array)

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return TanhGrad._apply2(g, out)


class TanhGrad(Function):
    _name = "TanhBackwardBackward0"
    """g * (1 - y*y), tanh's backward in one node; differentiable again for higher orders."""

    _builtin = True

    @staticmethod
    def forward(ctx, g, y):
        ctx.save_for_backward(g, y)
        return g.array * (1 - y.array * y.array)

    @staticmethod
    def backward(ctx, gg):
        g, y = ctx.saved_tensors
        return gg * (1 - y * y), -2 * gg * g * y


class Sigmoid(Function):
    _name = "SigmoidBackward0"
    _builtin = _saves_output = True

    @staticmethod
    def forward(ctx, a):
        x = a.array  # split by sign so exp never overflows
        with _errstate:
            e = np.exp(-np.abs(x))
            return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return SigmoidGrad._apply2(g, out)


class SigmoidGrad(Function):
    _name = "SigmoidBackwardBackward0"
    """g * y * (1 - y), sigmoid's backward in one node; differentiable again."""

    _builtin = True

    @staticmethod
    def forward(ctx, g, y):
        ctx.save_for_backward(g, y)
        return g.array * y.array * (1 - y.array)

    @staticmethod
    def backward(ctx, gg):
        g, y = ctx.saved_tensors
        return gg * y * (1 - y), gg * g * (1 - 2 * y)


class Sqrt(Function):
    _name = "SqrtBackward0"
    _builtin = _saves_output = True

    @staticmethod
    def forward(ctx, a):
        with _errstate:
            return np.sqrt(a.array)

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g / (2 * out)


class Relu(Function):
    _name = "ReluBackward0"
    """relu'(0) = 0, as in torch."""

    _builtin = _saves_output = True

    @staticmethod
    def forward(ctx, a):
        ctx.mask = a.array > 0
        return np.where(ctx.mask, a.array, 0).astype(a.array.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return MaskGrad.apply(g, out, ctx.mask)


class Abs(Function):
    _name = "AbsBackward0"
    """abs'(0) = 0 (the sign function), as in torch."""

    _builtin = True

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        ctx.sign = np.sign(a.array)
        return np.abs(a.array)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return MaskGrad.apply(g, a, ctx.sign)


class MaskGrad(Function):
    """g * mask for a mask computed from `source` (relu's output, abs's input). The mask is
    piecewise constant, so the result depends on `source` with derivative zero; it stays
    connected to it, as torch's threshold_backward / sgn are."""

    _builtin = True

    @staticmethod
    def forward(ctx, g, source, mask):
        ctx.mask, ctx.source_shape = mask, source.shape
        return g.array * mask.astype(g.array.dtype, copy=False)

    @staticmethod
    def backward(ctx, gg):
        zeros = _const(_xp(gg).zeros(ctx.source_shape, dtype=gg.array.dtype))
        return gg * _const(ctx.mask.astype(gg.array.dtype, copy=False)), zeros, None


class Clamp(Function):
    _name = "ClampBackward1"
    """The gradient passes where min <= a <= max (boundaries included, as in torch)."""

    _builtin = True

    @staticmethod
    def forward(ctx, a, lo, hi):
        x = a.array
        ctx.mask = (x >= (-np.inf if lo is None else lo)) & (x <= (np.inf if hi is None else hi))
        return np.clip(x, lo, hi).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        return g * _const(ctx.mask.astype(g.array.dtype)), None, None


class ClampTensor(Function):
    """clamp with tensor bounds (either may be None). The gradient goes to the input where
    min <= a <= max, else to the bound that was used; where min > max, to max (torch's rule)."""

    _name = "ClampBackward0"
    _builtin = _broadcasts = True

    @staticmethod
    def forward(ctx, a, lo, hi):
        x = a.array
        ctx.masks = (x, None if lo is None else lo.array, None if hi is None else hi.array)
        out = x if lo is None else np.maximum(x, lo.array)
        return out if hi is None else np.minimum(out, hi.array)

    @staticmethod
    def backward(ctx, g):
        x, lo, hi = ctx.masks
        ok = True if lo is None else x >= lo
        if hi is not None:
            ok = ok & (x <= hi)
        to_lo = None if lo is None else (x < lo) & (True if hi is None else lo <= hi)
        to_hi = None if hi is None else (x > hi) | (False if lo is None else lo > hi)
        mask = lambda m: None if m is None else g * _const(np.broadcast_to(m, g.shape).astype(g.array.dtype))  # noqa: E731
        return mask(ok), mask(to_lo), mask(to_hi)


class Sign(Function):
    """sign(a): the gradient is zero everywhere (torch keeps the node, with a zero gradient)."""

    _name = "SignBackward0"
    _builtin = True

    @staticmethod
    def forward(ctx, a):
        return np.sign(a.array)

    @staticmethod
    def backward(ctx, g):
        return g * 0.0


class Remainder(Function):
    """a % b with the sign of b (Python's and torch's rule). d/da = 1, d/db = -floor(a / b)."""

    _name = "RemainderBackward0"
    _builtin = _broadcasts = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        with _errstate:
            return np.remainder(a.array, b.array)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        with _errstate:
            return g, -g * _const(np.floor(a.array / b.array))


class RoundedDiv(Function):
    """a / b rounded ("floor" or "trunc"); piecewise constant, so the gradient is zero, as in
    torch's div(rounding_mode=...). floor_divide (//) has no derivative in torch: it raises."""

    _builtin = _broadcasts = True

    @staticmethod
    def forward(ctx, a, b, mode, differentiable):
        ctx.differentiable = differentiable
        ctx._name = "DivBackward2" if differentiable else "NotImplemented"
        x, y = a.array, b.array
        with _errstate:
            if x.dtype.kind != "f":
                if (y == 0).any():
                    raise RuntimeError("ZeroDivisionError")
                q = np.floor_divide(x, y)
                return q if mode == "floor" else q + ((np.remainder(x, y) != 0) & ((x < 0) != (y < 0)))
            return (np.floor if mode == "floor" else np.trunc)(x / y)

    @staticmethod
    def backward(ctx, g):
        if not ctx.differentiable:
            raise RuntimeError("derivative for aten::floor_divide is not implemented")
        return g * 0.0, g * 0.0, None, None


class Clone(Function):
    _name = "CloneBackward0"
    _builtin = True

    @staticmethod
    def forward(ctx, a):
        return a.array.copy()

    @staticmethod
    def backward(ctx, g):
        return g


class Cast(Function):
    _name = "ToCopyBackward0"
    """Change dtype; the gradient is cast back to the input's dtype."""

    _builtin = True

    @staticmethod
    def forward(ctx, a, dtype):
        ctx.in_dtype = a.dtype
        return a.array.astype(dtype.np)

    @staticmethod
    def backward(ctx, g):
        return g.to(ctx.in_dtype), None


# ================================ reductions ====================================================
_ALL_DIMS = [tuple(range(n)) for n in range(33)]


def _dims(dim, ndim):
    """Normalize dim (None, int or sequence) to a sorted tuple of non-negative axes."""
    if dim is None:
        return _ALL_DIMS[ndim]
    if type(dim) is int and 0 <= dim < ndim:
        return (dim,)
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    if ndim == 0:
        ndim = 1  # torch lets dim=0 / -1 name the single "axis" of a 0-d tensor
    out = []
    for d in dims:
        if not -ndim <= d < ndim:
            raise IndexError(
                f"Dimension out of range (expected to be in range of [{-ndim}, {ndim - 1}], but got {d})"
            )
        d %= ndim
        if d in out:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
        out.append(d)
    return tuple(sorted(out))


def _kept_shape(shape, dims):
    return tuple([1 if i in dims else n for i, n in enumerate(shape)])


class Sum(Function):
    _builtin = True

    @staticmethod
    def forward(ctx, a, dim, keepdim):
        arr = a.array
        dims = _dims(dim, arr.ndim) if arr.ndim else ()
        ctx.in_shape, ctx.dims = arr.shape, dims  # (the kept shape is worked out by backward)
        ctx._name = "SumBackward0" if dim is None else "SumBackward1"
        if arr.dtype.kind == "f":
            return np.add.reduce(arr, axis=dims, keepdims=keepdim)
        return arr.sum(axis=dims, keepdims=keepdim, dtype=np.int64)  # torch sums ints as int64

    @staticmethod
    def backward(ctx, g):
        ctx.kept = _kept_shape(ctx.in_shape, ctx.dims)
        return _expand_back(g, ctx), None, None


def _expand_back(g, ctx):
    """The gradient of a reduction: g with the reduced dims put back, broadcast to the input."""
    if g.array.shape != ctx.kept and g.array.ndim:
        g = Reshape._apply1(g, ctx.kept)
    return ExpandGrad._apply1(g, ctx.in_shape) if g.array.shape != ctx.in_shape else g


class Mean(Function):
    _builtin = True

    @staticmethod
    def forward(ctx, a, dim, keepdim):
        dims = _dims(dim, a.ndim) if a.ndim else ()
        ctx.in_shape, ctx.kept = a.shape, _kept_shape(a.shape, dims)
        ctx.count = math.prod(a.shape[d] for d in dims)
        ctx._name = "MeanBackward0" if dim is None else "MeanBackward1"
        with _errstate:  # the mean of nothing is nan, as in torch
            return np.add.reduce(a.array, axis=dims, keepdims=keepdim) / ctx.count

    @staticmethod
    def backward(ctx, g):
        return _expand_back(g * (1.0 / ctx.count), ctx), None, None


class Amax(Function):
    """max (or min) over dims without indices; ties share the gradient evenly (torch's rule)."""

    _builtin = True

    def name(self):
        if self.whole:  # torch.max(x) without dim
            return ("Max" if self.np_reduce is np.max else "Min") + "Backward1"
        return ("Amax" if self.np_reduce is np.max else "Amin") + "Backward0"

    @staticmethod
    def forward(ctx, a, dim, keepdim, np_reduce, whole=False):
        dims = _dims(dim, a.ndim) if a.ndim else ()
        what = ("max" if np_reduce is np.max else "min") if whole else ("amax" if np_reduce is np.max else "amin")
        if a.array.size == 0:
            if whole:
                raise RuntimeError(
                    f"{what}(): Expected reduction dim to be specified for input.numel() == 0. "
                    "Specify the reduction dim with the 'dim' argument."
                )
            for d in dims:
                if a.shape[d] == 0:
                    raise IndexError(f"{what}(): Expected reduction dim {d} to have non-zero size.")
        ctx.whole = whole
        out = np_reduce(a.array, axis=dims, keepdims=True)
        ctx.np_reduce = np_reduce
        hit = a.array == out
        ctx.share = hit / hit.sum(axis=dims, keepdims=True)
        ctx.in_shape, ctx.kept = a.shape, out.shape
        return out if keepdim else out.reshape([n for i, n in enumerate(a.shape) if i not in dims])

    @staticmethod
    def backward(ctx, g):
        share = _const(ctx.share.astype(g.array.dtype))
        return _expand_back(g, ctx) * share, None, None, None, None


class ArgReduce(Function):
    """max/min along one dim: the gradient goes to the selected index (torch's max(dim) rule)."""

    _builtin = True

    def name(self):
        return ("Max" if self.np_arg is np.argmax else "Min") + "Backward0"

    @staticmethod
    def forward(ctx, a, dim, keepdim, np_arg):
        (d,) = _dims(dim, a.ndim)
        if a.ndim and a.shape[d] == 0:
            what = "max" if np_arg is np.argmax else "min"
            raise IndexError(f"{what}(): Expected reduction dim {d} to have non-zero size.")
        x = a.array if a.ndim else a.array.reshape(1)
        idx = np_arg(x, axis=d, keepdims=True)
        ctx.np_arg = np_arg
        ctx.onehot = np.arange(x.shape[d]).reshape([-1 if i == d else 1 for i in range(x.ndim)]) == idx
        ctx.in_shape, ctx.kept = a.shape, idx.shape if a.ndim else ()
        ctx.indices = idx if keepdim else idx.squeeze(d)
        vals = np.take_along_axis(x, idx, axis=d)
        if not a.ndim:
            return vals.reshape(())
        return vals if keepdim else vals.squeeze(d)

    @staticmethod
    def backward(ctx, g):
        mask = _const(ctx.onehot.reshape(ctx.in_shape).astype(g.array.dtype))
        return _expand_back(g, ctx) * mask, None, None, None


class LogSumExp(Function):
    _name = "LogsumexpBackward0"
    _builtin = _saves_output = True

    @staticmethod
    def forward(ctx, a, dim, keepdim):
        dims = _dims(dim, a.ndim) if a.ndim else ()
        x = a.array
        m = np.max(x, axis=dims, keepdims=True) if x.size else np.zeros(_kept_shape(x.shape, dims), x.dtype)
        m = np.where(np.isfinite(m), m, 0)
        with _errstate:
            out = np.log(np.exp(x - m).sum(axis=dims, keepdims=True)) + m
        ctx.save_for_backward(a)
        ctx.kept = out.shape
        return out if keepdim else out.reshape([n for i, n in enumerate(x.shape) if i not in dims])

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors  # d lse / d a = exp(a - lse), the softmax
        return g.reshape(ctx.kept) * (a - out.reshape(ctx.kept)).exp(), None, None


class Softmax(Function):
    _name = "SoftmaxBackward0"
    _builtin = _saves_output = True

    @staticmethod
    def forward(ctx, a, dim):
        ctx.dim = dim
        x = a.array
        with _errstate:
            e = np.exp(x - np.max(x, axis=dim, keepdims=True))
            return e / e.sum(axis=dim, keepdims=True)

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return y * (g - (g * y).sum(ctx.dim, keepdim=True)), None


class LogSoftmax(Function):
    _name = "LogSoftmaxBackward0"
    _builtin = _saves_output = True

    @staticmethod
    def forward(ctx, a, dim):
        ctx.dim = dim
        x = a.array
        with _errstate:
            s = x - np.max(x, axis=dim, keepdims=True)
            return s - np.log(np.exp(s).sum(axis=dim, keepdims=True))

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g - y.exp() * g.sum(ctx.dim, keepdim=True), None


class MseLoss(Function):
    _name = "MseLossBackward0"
    """mean/sum/none of (a - b)**2 in one node, as torch's mse_loss."""

    _builtin = True

    @staticmethod
    def forward(ctx, a, b, reduction):
        ctx.save_for_backward(a, b)
        ctx.reduction = reduction
        d = a.array - b.array
        sq = d * d
        if reduction == "none":
            return sq
        total = np.add.reduce(sq, axis=None)
        return total / sq.size if reduction == "mean" else total

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        scale = 2.0 / builtins.max(a.array.size, 1) if ctx.reduction == "mean" else 2.0
        ga = (a - b) * (g * scale)
        return ga, (-ga if ctx.needs_input_grad[1] else None), None


# ================================ shapes and indexing ===========================================
class _View(Function):
    """Ops whose output may alias the input's memory, as torch's views do: such an output shares
    the input's version counter and records it as its `_base` (see Tensor._check_inplace)."""

    _builtin = True

    @classmethod
    def _apply1(cls, a, *params):
        out = Function._apply1.__func__(cls, a, *params)
        arr = out.array
        if arr.base is not None and (not isinstance(arr, np.ndarray) or np.may_share_memory(arr, a.array)):
            _mark_view(a, out, cls, params)
        return out


class CopySlices(Function):
    """A base after an in-place change through one of its views (`steps`, from minigrad.tensor):
    its old value with the view's region replaced by `result`. The gradient of the region goes to
    `result` (through the same view of the gradient); the rest to the old base, as in torch."""

    _name = "CopySlices"
    _builtin = True

    @staticmethod
    def forward(ctx, base, result, steps):
        out = base.array.copy(order="K")  # same layout, so the same views exist
        _replay(_make(out), steps).array[...] = result.array
        keep = _xp(base).ones_like(base.array, dtype=bool)
        _replay(_make(keep), steps).array[...] = False
        ctx.steps, ctx.keep = steps, keep
        return out

    @staticmethod
    def backward(ctx, g):
        return g * _const(ctx.keep.astype(g.array.dtype)), _replay(g, ctx.steps), None


class Reshape(_View):
    _name = "ViewBackward0"
    """reshape / view / flatten / squeeze / unsqueeze: the gradient is reshaped back."""

    _builtin = True

    @staticmethod
    def forward(ctx, a, shape):
        ctx.in_shape = a.shape
        return a.array.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.in_shape), None


class Squeeze(Reshape):
    _name = "SqueezeBackward0"


class SqueezeDim(Reshape):
    _name = "SqueezeBackward1"


class Unsqueeze(Reshape):
    _name = "UnsqueezeBackward0"


class Expand(_View):
    _name = "ExpandBackward0"

    @staticmethod
    def forward(ctx, a, shape):
        ctx.in_shape = a.shape
        return _xp(a).broadcast_to(a.array, shape)  # a read-only view, as torch's expand

    @staticmethod
    def backward(ctx, g):
        return unbroadcast(g, ctx.in_shape), None


class ExpandGrad(Expand):
    """Expand for backward rules (the gradient of a reduction spread back over its input): a
    fresh array, as no user can alias it, and cheaper to compute with than a broadcast view."""

    _apply1 = classmethod(Function._apply1.__func__)

    @staticmethod
    def forward(ctx, a, shape):
        ctx.in_shape = a.shape
        out = _xp(a).empty(shape, dtype=a.array.dtype)
        out[...] = a.array
        return out


class Permute(_View):
    _name = "PermuteBackward0"

    @staticmethod
    def forward(ctx, a, dims):
        ctx.dims = dims
        return a.array.transpose(dims)

    @staticmethod
    def backward(ctx, g):
        inverse = [0] * len(ctx.dims)
        for i, d in enumerate(ctx.dims):
            inverse[d] = i
        return Permute._apply1(g, tuple(inverse)), None


class Transpose(Permute):
    _name = "TransposeBackward0"


class TransposeT(Permute):
    _name = "TBackward0"


def _is_basic(index):
    """True for indices made only of ints, slices, None and Ellipsis (no repeats possible)."""
    return all(isinstance(i, (int, slice, type(None), type(Ellipsis))) for i in index)


def _normalize_index(index):
    """A tuple index of NumPy-understood parts: tensors become arrays, lists become arrays."""
    if not isinstance(index, tuple):
        index = (index,)
    out = []
    for i in index:
        if isinstance(i, Tensor):
            i = i.array
        elif isinstance(i, (list, np.ndarray)):
            i = np.asarray(i)
            if i.dtype.kind not in "biu":
                raise IndexError(
                    "tensors used as indices must be long, int or bool tensors (got "
                    f"{i.dtype}); use integer positions or a boolean mask."
                )
        elif isinstance(i, (bool, np.bool_)):
            i = np.asarray(i)
        elif isinstance(i, np.integer):
            i = int(i)
        out.append(i)
    return tuple(out)


class GetItem(_View):
    @staticmethod
    def forward(ctx, a, index):
        ctx.in_shape, ctx.index = a.shape, index
        basic = _is_basic(index)
        if basic and Ellipsis not in index:
            index += (Ellipsis,)  # x[0] of a vector: a 0-d view (NumPy would give a copied scalar)
        out = a.array[index]
        if not basic:
            ctx._name = "IndexBackward0"
            return out.copy() if isinstance(out, np.ndarray) else out
        last = [i for i in index if i is not None and i is not Ellipsis]
        if None in index and all(i == slice(None) for i in last):
            ctx._name = "UnsqueezeBackward0"  # x[None]
        else:
            ctx._name = "SliceBackward0" if last and isinstance(last[-1], slice) else "SelectBackward0"
        return out

    @staticmethod
    def backward(ctx, g):
        return IndexAdd._apply1(g, ctx.index, ctx.in_shape), None


class IndexAdd(Function):
    """Scatter-add g into zeros of a given shape: the backward of indexing (repeats add up)."""

    _builtin = True

    @staticmethod
    def forward(ctx, g, index, shape):
        ctx.index = index
        out = _xp(g).zeros(shape, dtype=g.array.dtype)
        if _is_basic(index):
            out[index] = g.array
        else:
            np.add.at(out, index, g.array)
        return out

    @staticmethod
    def backward(ctx, gg):
        return GetItem._apply1(gg, ctx.index), None, None


class Cat(Function):
    _name = "CatBackward0"
    _builtin = True

    @staticmethod
    def forward(ctx, dim, *tensors):
        ctx.dim, ctx.sizes = dim, [t.shape[dim] for t in tensors]
        return _xp(tensors[0]).concatenate([t.array for t in tensors], axis=dim)

    @staticmethod
    def backward(ctx, g):
        grads, start = [None], 0
        lead = (slice(None),) * ctx.dim
        for n in ctx.sizes:
            grads.append(GetItem._apply1(g, lead + (slice(start, start + n),)))
            start += n
        return tuple(grads)


class Stack(Cat):
    _name = "StackBackward0"


class ToDevice(Function):
    _name = "ToCopyBackward0"
    _builtin = True

    @staticmethod
    def forward(ctx, a, device):
        ctx.src = a.device.type
        return _device.move(a.array, device)

    @staticmethod
    def backward(ctx, g):
        return g.to(ctx.src), None


def unbroadcast(g, shape):
    """Sum a gradient over the dimensions broadcasting added or stretched, back to `shape`.
    The single place where broadcasting is undone (the engine and Expand use it). Returns `g`
    unchanged when it cannot have come from broadcasting `shape`, for the engine to report."""
    gshape = g.shape
    if gshape == shape:
        return g
    lead = len(gshape) - len(shape)
    if lead < 0 or any(n != 1 and n != gshape[lead + i] for i, n in enumerate(shape)):
        return g
    dims = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and gshape[lead + i] != 1)
    return Sum._apply1(g, dims, True).reshape(shape) if dims else g.reshape(shape)


from . import functions as _fn  # noqa: E402  (where/log for backward rules; a circular import)
