"""Plain data: the only form in which values cross between a student's kernel and the grader.

`dumps(value)` writes a value as JSON text and `loads(text)` reads it back; arrays travel as base64 `.npy` bytes
(read with a strict header check, never with pickle), and nothing in the format can name code to run. What can
cross: None, bool, int, float, complex, str, bytes; list, tuple, set, dict (str keys); torch.Tensor (values,
dtype, shape, requires_grad, .grad, is_leaf, grad_fn's name, device type); NumPy arrays, scalars and dtypes;
minigrad Tensors and dtypes; torch dtypes, devices and torch.Size. Anything else becomes an `Opaque` that names
its type, so a check can say what it got. Sizes and nesting are capped (`PlainError` says which cap and by how
much); a tensor decodes as a fresh CPU leaf, so nothing the sender holds is shared with the receiver.
"""
from __future__ import annotations

import base64
import io
import ast
import json
import math
import threading
import weakref

import numpy as np
import torch

__all__ = ["PlainError", "Opaque", "dumps", "loads", "to_plain", "from_plain", "meta", "describe", "parse_python",
           "MAX_BYTES", "MAX_DEPTH", "MAX_ITEMS", "MAX_STR"]

MAX_BYTES = 64 << 20        # array bytes in one value (all arrays together) and, x2, the JSON text
MAX_DEPTH = 32              # nesting of containers
MAX_ITEMS = 1_000_000       # container items in one value
MAX_STR = 8 << 20           # characters of one str / bytes of one bytes
REPR_CAP = 200              # characters of an Opaque's repr

TAG = "%"                   # key of a tagged object: {"%": "tensor", ...}; any other dict is an error


class PlainError(ValueError):
    """A value cannot be written as plain data, or a text is not valid plain data."""


class Opaque:
    """Stands for a value plain data cannot carry: its type name and a capped repr. Equals nothing."""

    __slots__ = ("type_name", "text")

    def __init__(self, type_name: str, text: str):
        self.type_name, self.text = str(type_name)[:REPR_CAP], str(text)[:REPR_CAP]

    def __eq__(self, other):
        return False

    def __ne__(self, other):
        return True

    __hash__ = object.__hash__

    def __bool__(self):
        return True

    def __repr__(self):
        return f"Opaque({self.type_name}: {self.text})"


# --- meta: the flags a tensor had where it was made ---------------------------------------------------------------

_META: dict[int, tuple[weakref.ref, dict]] = {}


def _set_meta(t, info: dict) -> None:
    key = id(t)
    _META[key] = (weakref.ref(t, lambda _r, key=key: _META.pop(key, None)), info)


def meta(t) -> dict:
    """dict(is_leaf, grad_fn, device, requires_grad) of a torch or minigrad tensor, as they were where it was made
    (for a decoded tensor: in the student's kernel; for any other tensor: its own live flags)."""
    found = _META.get(id(t))
    if found is not None and found[0]() is t:
        return dict(found[1])
    if isinstance(t, torch.Tensor):
        return {"is_leaf": bool(t.is_leaf), "grad_fn": type(t.grad_fn).__name__ if t.grad_fn is not None else None,
                "device": t.device.type, "requires_grad": bool(t.requires_grad)}
    mg = _minigrad()
    if mg is not None and isinstance(t, mg.Tensor):
        fn = t.grad_fn
        return {"is_leaf": fn is None, "grad_fn": _minigrad_fn_name(fn), "device": str(t.device),
                "requires_grad": bool(t.requires_grad)}
    raise TypeError(f"meta() needs a torch or minigrad tensor, got {type(t).__name__}")


def _minigrad():
    try:
        import minigrad
    except ImportError:
        return None
    return minigrad


def _minigrad_fn_name(fn):
    if fn is None:
        return None
    name = getattr(type(fn), "__name__", "")
    return str(name)[:REPR_CAP] or None


# --- parsing under one lock ----------------------------------------------------------------------------------------

# CPython 3.11's AST constructor keeps its recursion depth in interpreter-wide state, so two threads building syntax
# trees at once can fail with "SystemError: AST constructor recursion depth mismatch" (gh-106905). The grader grades
# several submissions in threads; every syntax tree it builds (this module's .npy headers, student.literal, the
# scan, the hidden-block split) is built under this lock.
AST_LOCK = threading.Lock()


def parse_python(source: str, mode: str = "exec"):
    """ast.parse(source, mode=mode) under AST_LOCK."""
    with AST_LOCK:
        return ast.parse(source, mode=mode)


# --- npy bytes ----------------------------------------------------------------------------------------------------

def _npy(arr: np.ndarray, budget: list[int]) -> str:
    budget[0] -= arr.nbytes
    if budget[0] < 0:
        raise PlainError(f"the value holds more than {MAX_BYTES >> 20} MiB of array data")
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=False)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _from_npy(text, budget: list[int]) -> np.ndarray:
    """Read .npy bytes strictly: a known plain dtype, a shape whose size matches the data exactly."""
    if not isinstance(text, str):
        raise PlainError("array data must be a base64 string")
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError) as exc:
        raise PlainError(f"array data is not base64 ({exc})") from None
    fp = io.BytesIO(raw)
    try:
        version = np.lib.format.read_magic(fp)
        with AST_LOCK:   # NumPy reads the header with ast.literal_eval
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
            else:
                raise PlainError(f"unsupported .npy version {version}")
    except PlainError:
        raise
    except Exception as exc:  # noqa: BLE001 - any malformed header
        raise PlainError(f"array header is not valid .npy ({exc})") from None
    if dtype.hasobject or dtype.kind not in "biufcSU" or dtype.fields is not None:
        raise PlainError(f"array dtype {dtype} is not plain data")
    count = math.prod(shape)
    data = raw[fp.tell():]
    if count * dtype.itemsize != len(data):
        raise PlainError(f"array of shape {shape} and dtype {dtype} needs {count * dtype.itemsize} bytes, "
                         f"got {len(data)}")
    budget[0] -= len(data)
    if budget[0] < 0:
        raise PlainError(f"the value holds more than {MAX_BYTES >> 20} MiB of array data")
    arr = np.frombuffer(data, dtype=dtype, count=count).reshape(shape, order="F" if fortran else "C")
    return arr.copy()   # writable, owns its memory


# --- encoding -----------------------------------------------------------------------------------------------------

_TORCH_DTYPES = {str(d).removeprefix("torch."): d for d in vars(torch).values() if isinstance(d, torch.dtype)}


def _torch_array(t: torch.Tensor) -> tuple[np.ndarray, str]:
    """A NumPy copy of t's values and t's dtype name (dtypes NumPy lacks travel as float32/complex64)."""
    t = t.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    t = t.resolve_conj().resolve_neg()
    name = str(t.dtype).removeprefix("torch.")
    try:
        return t.numpy().copy(), name
    except TypeError:
        wide = torch.complex64 if t.dtype.is_complex else torch.float32
        return t.to(wide).numpy().copy(), name


def _tensor_plain(t: torch.Tensor, depth: int, state) -> dict:
    if t.layout != torch.strided or t.is_quantized or t.device.type == "meta" or t.is_nested:
        raise _Unsendable(f"a {t.layout} tensor")
    arr, name = _torch_array(t)
    grad = t.grad if t.is_leaf or t.retains_grad else None
    return {TAG: "tensor", "dtype": name, "npy": _npy(arr, state.budget), "requires_grad": bool(t.requires_grad),
            "is_leaf": bool(t.is_leaf),
            "grad_fn": type(t.grad_fn).__name__ if t.grad_fn is not None else None,
            "device": t.device.type,
            "grad": _encode(grad, depth + 1, state) if isinstance(grad, torch.Tensor) else None}


def _minigrad_array(t) -> np.ndarray:
    for attr in ("array", "data"):
        value = getattr(t, attr, None)
        if isinstance(value, np.ndarray):
            return value
        if hasattr(value, "__cuda_array_interface__"):
            return value.get()
    raise _Unsendable("a minigrad Tensor without an array")


def _mg_tensor_plain(t, depth: int, state) -> dict:
    arr = np.array(_minigrad_array(t))
    fn = t.grad_fn
    grad = t.grad if fn is None or getattr(t, "retains_grad", False) else None  # (a non-leaf's .grad warns)
    return {TAG: "minigrad", "npy": _npy(arr, state.budget), "requires_grad": bool(t.requires_grad),
            "is_leaf": fn is None, "grad_fn": _minigrad_fn_name(fn), "device": str(t.device),
            "grad": _encode(grad, depth + 1, state) if grad is not None else None}


class _Unsendable(Exception):
    """Internal: this value becomes an Opaque (the message says why)."""


class _State:
    def __init__(self):
        self.budget = [MAX_BYTES]
        self.items = MAX_ITEMS


def _opaque_of(value, why: str = "") -> dict:
    try:
        text = repr(value)
    except Exception as exc:  # noqa: BLE001 - the repr is the value's own code
        text = f"<repr raised {type(exc).__name__}>"
    text = text[:REPR_CAP]
    if why:
        text = f"{why}: {text}"[:REPR_CAP]
    return {TAG: "opaque", "type": type(value).__qualname__[:REPR_CAP], "repr": text}


def _count(state, n: int) -> None:
    state.items -= n
    if state.items < 0:
        raise PlainError(f"the value has more than {MAX_ITEMS} items")


def _encode(value, depth: int, state):
    if depth > MAX_DEPTH:
        raise PlainError(f"the value is nested more than {MAX_DEPTH} levels deep")
    kind = type(value)
    if value is None or kind is bool or kind is str and len(value) <= MAX_STR:
        return value
    if kind is str:
        raise PlainError(f"a string of {len(value)} characters is longer than {MAX_STR}")
    if kind is int:
        if value.bit_length() > 4000:
            raise PlainError("an int with more than 4000 bits")
        return value
    if kind is float:
        return value if math.isfinite(value) else {TAG: "float", "v": repr(value)}
    if kind is complex:
        return {TAG: "complex", "re": _encode(value.real, depth, state), "im": _encode(value.imag, depth, state)}
    if kind is bytes:
        if len(value) > MAX_STR:
            raise PlainError(f"bytes of length {len(value)} are longer than {MAX_STR}")
        return {TAG: "bytes", "b64": base64.b64encode(value).decode("ascii")}
    if kind is list:
        _count(state, len(value))
        return [_encode(v, depth + 1, state) for v in value]
    if kind in (tuple, set, frozenset, torch.Size):
        _count(state, len(value))
        items = [_encode(v, depth + 1, state) for v in value]
        return {TAG: {tuple: "tuple", set: "set", frozenset: "frozenset", torch.Size: "size"}[kind], "items": items}
    if kind is dict:
        _count(state, len(value))
        if not all(type(k) is str for k in value):
            return _opaque_of(value, "a dict with keys that are not all str")
        return {TAG: "dict", "items": [[k, _encode(v, depth + 1, state)] for k, v in value.items()]}
    try:
        if kind is torch.Tensor or kind is torch.nn.Parameter:
            return _tensor_plain(value, depth, state)
        if kind is np.ndarray:
            if value.dtype.hasobject or value.dtype.fields is not None:
                raise _Unsendable(f"an array of dtype {value.dtype}")
            return {TAG: "ndarray", "npy": _npy(value, state.budget)}
        if isinstance(value, np.generic) and kind.__module__ == "numpy" and not isinstance(value, np.object_):
            if isinstance(value, np.void):
                raise _Unsendable("a structured NumPy scalar")
            return {TAG: "npscalar", "npy": _npy(np.asarray(value), state.budget)}
        if kind is torch.dtype:
            return {TAG: "torch.dtype", "name": str(value).removeprefix("torch.")}
        if kind is torch.device:
            return {TAG: "torch.device", "type": value.type, "index": value.index}
        if isinstance(value, np.dtype) and not value.hasobject and value.fields is None:
            return {TAG: "np.dtype", "str": value.str}
        if isinstance(value, type) and issubclass(value, np.generic) and value.__module__ == "numpy" \
                and getattr(np, value.__name__, None) is value:
            return {TAG: "np.type", "name": value.__name__}
        mg = _minigrad()
        if mg is not None:
            if kind is mg.Tensor:
                return _mg_tensor_plain(value, depth, state)
            if kind is mg.dtype:
                return {TAG: "minigrad.dtype", "name": value.name}
    except _Unsendable as why:
        return _opaque_of(value, str(why))
    return _opaque_of(value)


def to_plain(value):
    """`value` as a JSON-able structure (raises PlainError past a cap)."""
    try:
        return _encode(value, 0, _State())
    except RecursionError:
        raise PlainError(f"the value is nested more than {MAX_DEPTH} levels deep") from None


def dumps(value) -> str:
    """`value` as plain-data JSON text."""
    text = json.dumps(to_plain(value), ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    if len(text) > 2 * MAX_BYTES:
        raise PlainError(f"the value takes {len(text) >> 20} MiB as plain data, more than {2 * MAX_BYTES >> 20} MiB")
    return text


# --- decoding -----------------------------------------------------------------------------------------------------

def _bool(node: dict, key: str) -> bool:
    value = node.get(key, False)
    if type(value) is not bool:
        raise PlainError(f"{key} must be true or false")
    return value


def _short_str(node: dict, key: str, allow_none: bool = False):
    value = node.get(key)
    if value is None and allow_none:
        return None
    if type(value) is not str or len(value) > REPR_CAP:
        raise PlainError(f"{key} must be a short string")
    return value


def _items(node: dict, depth: int, state) -> list:
    items = node.get("items")
    if type(items) is not list:
        raise PlainError(f"a {node[TAG]} needs a list of items")
    _count(state, len(items))
    return [_decode(v, depth + 1, state) for v in items]


def _decode_torch(node: dict, depth: int, state) -> torch.Tensor:
    name = _short_str(node, "dtype")
    dtype = _TORCH_DTYPES.get(name)
    if dtype is None:
        raise PlainError(f"unknown torch dtype {name!r}")
    arr = _from_npy(node.get("npy"), state.budget)
    try:
        t = torch.from_numpy(arr)
    except TypeError:
        raise PlainError(f"a tensor cannot hold NumPy dtype {arr.dtype}") from None
    if t.dtype != dtype:
        t = t.to(dtype)
    requires_grad = _bool(node, "requires_grad")
    if requires_grad:
        if not (dtype.is_floating_point or dtype.is_complex):
            raise PlainError(f"a {name} tensor cannot require grad")
        t.requires_grad_(True)
    grad = _decode(node.get("grad"), depth + 1, state)
    if grad is not None:
        if type(grad) is not torch.Tensor:
            raise PlainError("a tensor's grad must be a tensor")
        try:
            t.grad = grad.detach()
        except RuntimeError as exc:
            raise PlainError(f"a tensor's grad does not fit it ({exc})") from None
    _set_meta(t, {"is_leaf": _bool(node, "is_leaf"), "grad_fn": _short_str(node, "grad_fn", allow_none=True),
                  "device": _short_str(node, "device"), "requires_grad": requires_grad})
    return t


def _decode_minigrad(node: dict, depth: int, state):
    mg = _minigrad()
    if mg is None:
        raise PlainError("a minigrad Tensor arrived but minigrad is not installed")
    arr = _from_npy(node.get("npy"), state.budget)
    requires_grad = _bool(node, "requires_grad")
    try:
        t = mg.tensor(arr, requires_grad=requires_grad)
    except (TypeError, RuntimeError, ValueError) as exc:
        raise PlainError(f"not a valid minigrad Tensor ({exc})") from None
    grad = _decode(node.get("grad"), depth + 1, state)
    if grad is not None:
        if type(grad) is not mg.Tensor:
            raise PlainError("a minigrad Tensor's grad must be a minigrad Tensor")
        t.grad = grad
    _set_meta(t, {"is_leaf": _bool(node, "is_leaf"), "grad_fn": _short_str(node, "grad_fn", allow_none=True),
                  "device": _short_str(node, "device"), "requires_grad": requires_grad})
    return t


def _decode_tagged(node: dict, depth: int, state):
    tag = node.get(TAG)
    if tag == "tuple":
        return tuple(_items(node, depth, state))
    if tag == "size":
        items = _items(node, depth, state)
        if not all(type(v) is int and v >= 0 for v in items):
            raise PlainError("a torch.Size holds non-negative ints")
        return torch.Size(items)
    if tag in ("set", "frozenset"):
        try:
            return (set if tag == "set" else frozenset)(_items(node, depth, state))
        except TypeError as exc:
            raise PlainError(f"a {tag} item is not hashable ({exc})") from None
    if tag == "dict":
        pairs = node.get("items")
        if type(pairs) is not list or not all(type(p) is list and len(p) == 2 and type(p[0]) is str for p in pairs):
            raise PlainError("a dict needs a list of [str key, value] pairs")
        _count(state, len(pairs))
        return {k: _decode(v, depth + 1, state) for k, v in pairs}
    if tag == "float":
        text = node.get("v")
        if text not in ("nan", "inf", "-inf"):
            raise PlainError("a special float is nan, inf or -inf")
        return float(text)
    if tag == "complex":
        re_, im = _decode(node.get("re"), depth, state), _decode(node.get("im"), depth, state)
        if type(re_) is not float or type(im) is not float:
            raise PlainError("a complex number has float parts")
        return complex(re_, im)
    if tag == "bytes":
        text = node.get("b64")
        if type(text) is not str or len(text) > 2 * MAX_STR:
            raise PlainError("bytes need a base64 string")
        try:
            return base64.b64decode(text.encode("ascii"), validate=True)
        except (ValueError, UnicodeEncodeError):
            raise PlainError("bytes are not base64") from None
    if tag == "tensor":
        return _decode_torch(node, depth, state)
    if tag == "minigrad":
        return _decode_minigrad(node, depth, state)
    if tag == "ndarray":
        return _from_npy(node.get("npy"), state.budget)
    if tag == "npscalar":
        arr = _from_npy(node.get("npy"), state.budget)
        if arr.shape != ():
            raise PlainError("a NumPy scalar has shape ()")
        return arr[()]
    if tag == "torch.dtype":
        name = _short_str(node, "name")
        if name not in _TORCH_DTYPES:
            raise PlainError(f"unknown torch dtype {name!r}")
        return _TORCH_DTYPES[name]
    if tag == "torch.device":
        kind, index = _short_str(node, "type"), node.get("index")
        if index is not None and (type(index) is not int or not 0 <= index < 1 << 16):
            raise PlainError("a device index is a small int or null")
        try:
            return torch.device(kind, index) if index is not None else torch.device(kind)
        except RuntimeError as exc:
            raise PlainError(f"not a torch device ({exc})") from None
    if tag == "np.dtype":
        text = _short_str(node, "str")
        try:
            dt = np.dtype(text)
        except (TypeError, ValueError):
            raise PlainError(f"not a NumPy dtype: {text!r}") from None
        if dt.hasobject:
            raise PlainError("an object dtype is not plain data")
        return dt
    if tag == "np.type":
        name = _short_str(node, "name")
        found = getattr(np, name, None)
        if not (isinstance(found, type) and issubclass(found, np.generic)) or found is np.object_:
            raise PlainError(f"not a NumPy scalar type: {name!r}")
        return found
    if tag == "minigrad.dtype":
        mg = _minigrad()
        name = _short_str(node, "name")
        found = getattr(mg, "bool" if name == "bool" else name, None) if mg is not None else None
        if mg is None or type(found) is not mg.dtype:
            raise PlainError(f"not a minigrad dtype: {name!r}")
        return found
    if tag == "opaque":
        return Opaque(_short_str(node, "type"), _short_str(node, "repr"))
    raise PlainError(f"unknown plain-data tag {str(tag)[:40]!r}")


def _decode(node, depth: int, state):
    if depth > MAX_DEPTH:
        raise PlainError(f"the value is nested more than {MAX_DEPTH} levels deep")
    kind = type(node)
    if node is None or kind in (bool, int, float):
        return node
    if kind is str:
        if len(node) > MAX_STR:
            raise PlainError(f"a string of {len(node)} characters is longer than {MAX_STR}")
        return node
    if kind is list:
        _count(state, len(node))
        return [_decode(v, depth + 1, state) for v in node]
    if kind is dict and type(node.get(TAG)) is str:
        return _decode_tagged(node, depth, state)
    raise PlainError(f"not plain data: a {kind.__name__} without a tag")


def from_plain(node):
    """The value a structure from `to_plain` stands for (raises PlainError on anything else)."""
    try:
        return _decode(node, 0, _State())
    except RecursionError:
        raise PlainError(f"the value is nested more than {MAX_DEPTH} levels deep") from None


def loads(text: str | bytes):
    """The value of plain-data JSON text (raises PlainError when it is not plain data or past a cap)."""
    if len(text) > 2 * MAX_BYTES:
        raise PlainError(f"plain data of {len(text) >> 20} MiB is more than {2 * MAX_BYTES >> 20} MiB")
    try:
        node = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise PlainError(f"not plain-data JSON ({str(exc)[:200]})") from None
    return from_plain(node)


def _no_constant(name):
    raise PlainError(f"JSON constant {name} is not plain data (special floats are tagged)")


# --- words --------------------------------------------------------------------------------------------------------

def describe(value) -> str:
    """A short description of a value's kind for messages: "a float32 tensor of shape (3, 4)"."""
    if isinstance(value, torch.Tensor):
        grad = ", requires_grad" if value.requires_grad else ""
        return f"a {str(value.dtype).removeprefix('torch.')} tensor of shape {tuple(value.shape)}{grad}"
    if isinstance(value, np.ndarray):
        return f"a {value.dtype} NumPy array of shape {value.shape}"
    mg = _minigrad()
    if mg is not None and isinstance(value, mg.Tensor):
        grad = ", requires_grad" if value.requires_grad else ""
        return f"a {value.dtype.name} minigrad Tensor of shape {tuple(value.shape)}{grad}"
    if isinstance(value, Opaque):
        return f"a {value.type_name}"
    if isinstance(value, (list, tuple)) and len(value) <= 4:
        inner = ", ".join(describe(v) for v in value)
        return f"a {type(value).__name__} ({inner})" if value else f"an empty {type(value).__name__}"
    if isinstance(value, (list, tuple, dict, set)):
        return f"a {type(value).__name__} of {len(value)} items"
    if value is None or isinstance(value, (bool, int, float, complex, np.generic, torch.dtype, torch.device)):
        text = repr(value)
        return text if len(text) <= 60 else f"a {type(value).__name__}"
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else f"a str of {len(value)} characters"
    return f"a {type(value).__name__}"
