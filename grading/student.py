"""`student`: how a hidden test reaches the student's code, with only plain data crossing (see VOCABULARY.md).

A `Student` sends requests ("call this name with these arguments", "what is this global") as plain-data text to
a transport and reads plain-data replies; `serve` is the other end, which runs inside the student's kernel.
Two transports exist: the local one (here, `local_student()`, used when a notebook runs the test cells itself,
e.g. Validate or nbgrader) calls `serve` in the same process on the notebook's namespace; the grader's one sends
the same text to an agent in the sandboxed kernel (grading.autograde). Both round-trip every value through
grading.plain, so a test behaves the same in both. `literal` reads the student's source, never the kernel:
locally the cells this kernel has run (IPython's input history, in the order they ran; the last assignment
wins), in the grader the answer cells of the submitted notebook.
"""
from __future__ import annotations

import ast
import contextlib
import json
import re
import sys

import numpy as np
import torch

from . import plain
from .checks import CheckFailed, fail

__all__ = ["Student", "StudentError", "serve", "local_student", "FACTS"]

MESSAGE_CAP = 500
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")
FACTS = {"shares_memory": 2, "same_object": 2, "version": 1, "type": 1}


class StudentError(Exception):
    """The student's code raised. `.type_name` is its exception's class name, `.type_names` the names of that
    class and its bases, `.message` its text (capped), `.where` what was being run, e.g. "add_rows(...)"."""

    def __init__(self, type_name: str, message: str, type_names=(), where: str = ""):
        self.type_name = str(type_name)[:100]
        self.message = str(message)[:MESSAGE_CAP]
        self.type_names = tuple(str(n)[:100] for n in type_names)[:32] or (self.type_name,)
        self.where = where
        super().__init__(str(self))

    def __str__(self):
        return f"{self.type_name}: {self.message}"[:MESSAGE_CAP]


class Raised:
    """What `Student.raises` saw: `.error` is the StudentError once the block has raised it."""
    error: StudentError | None = None


class Student:
    """The student's code as a hidden test sees it. `transport(request_text) -> reply_text`; `sources()` gives
    the student's source cells in order (for `literal`)."""

    def __init__(self, transport, sources):
        self._transport = transport
        self._sources = sources
        self._last = ("", None)   # (what was run last, its result) for raises()'s message

    # -- requests ---------------------------------------------------------------------------------------------
    def _request(self, where: str, **fields):
        self._last = (where, None)
        reply_text = self._transport(json.dumps(fields, separators=(",", ":")))
        try:
            reply = json.loads(reply_text)
            if not isinstance(reply, dict) or len(reply) != 1:
                raise ValueError("a reply is an object with one key")
            (kind, body), = reply.items()
        except (ValueError, TypeError, RecursionError) as exc:
            fail(f"{where}: the kernel's answer could not be read ({str(exc)[:200]}).")
        if kind == "ok":
            try:
                return plain.from_plain(body)
            except plain.PlainError as exc:
                fail(f"{where}: the result could not be read back: {exc}.")
        if kind == "raised" and isinstance(body, dict):
            names = body.get("types") if isinstance(body.get("types"), list) else []
            raise StudentError(body.get("type", "Exception"), body.get("message", ""), names, where)
        if kind == "unsendable":
            fail(f"{where} gave a value the grader cannot receive: {str(body)[:300]}.")
        if kind == "no_backward":
            got = plain.from_plain(body)
            fail(f"{where} returned {plain.describe(got)}, not a torch or minigrad tensor, so there is nothing "
                 "to call .backward() on: return the tensor your computation produced.")
        fail(f"{where}: the kernel gave an unexpected answer ({str(kind)[:40]}).")

    @staticmethod
    def _check_name(name) -> str:
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"student: {name!r} is not a name or a dotted path of names (e.g. 'Tanh.apply')")
        return name

    @staticmethod
    def _where(name: str, args, kwargs) -> str:
        parts = [plain.describe(a) for a in args] + [f"{k}={plain.describe(v)}" for k, v in kwargs.items()]
        return f"{name}({', '.join(parts)})"

    def call(self, name: str, *args, **kwargs):
        """The result of the student's `name(*args, **kwargs)`; StudentError if their code raises."""
        where = self._where(self._check_name(name), args, kwargs)
        self._last = (where, None)
        result = self._request(where, op="call", name=name, args=plain.to_plain(list(args)),
                               kwargs=plain.to_plain(kwargs))
        self._last = (where, result)
        return result

    def grad(self, name: str, *args, upstream=None, **kwargs):
        """(result, grads): call `name`, then `result.backward(upstream)`; grads[i] is args[i]'s .grad or None."""
        where = self._where(self._check_name(name), args, kwargs)
        self._last = (where, None)
        result, grads = self._request(where, op="grad", name=name, args=plain.to_plain(list(args)),
                                      kwargs=plain.to_plain(kwargs), upstream=plain.to_plain(upstream))
        self._last = (where, result)
        return result, tuple(grads)

    def value(self, name: str):
        """The student's global `name` (or dotted path), as plain data."""
        return self._request(self._check_name(name), op="value", name=name)

    def has(self, name: str) -> bool:
        """Whether the student's namespace has `name` (a dotted path: every step of it)."""
        return self._request(self._check_name(name), op="has", name=name) is True

    def fact(self, kind: str, *names: str):
        """An in-process fact computed in the kernel (a review signal: the student's code can forge it)."""
        if kind not in FACTS:
            raise ValueError(f"student.fact: unknown kind {kind!r}; known: {', '.join(sorted(FACTS))}")
        if len(names) != FACTS[kind]:
            raise ValueError(f"student.fact({kind!r}, ...) takes {FACTS[kind]} name(s), got {len(names)}")
        for n in names:
            self._check_name(n)
        return self._request(f"{kind}({', '.join(names)})", op="fact", kind=kind, names=list(names))

    @contextlib.contextmanager
    def raises(self, *type_names: str):
        """Require the block to raise a StudentError of one of these class names (or a subclass of one)."""
        if not type_names or not all(isinstance(t, str) for t in type_names):
            raise ValueError("student.raises needs exception class names, e.g. student.raises('ValueError')")
        want = " or ".join(type_names)
        seen = Raised()
        try:
            yield seen
        except StudentError as err:
            if not set(type_names) & set(err.type_names):
                fail(f"{err.where or 'the call'} should raise {want}, but it raised {err}")
            seen.error = err
            return
        where, result = self._last
        fail(f"{where or 'the call'} should raise {want}, but it returned {plain.describe(result)}.")

    # -- source ----------------------------------------------------------------------------------------------
    def literal(self, name: str):
        """The literal the student assigned to `name` in their own cells (`name = <literal>`)."""
        self._check_name(name)
        node = _last_assignment(self._sources(), name)
        if node is None:
            fail(f"{name} was not assigned: write your answer as `{name} = ...` in your answer cell "
                 "(a plain assignment at the top level of the cell).")
        try:
            value = _literal(node)
        except _NotLiteral:
            fail(f"{name} must be written as a literal, not computed: write the value itself (for example "
                 f"`{name} = (2, 3)` or `{name} = torch.float32`), not an expression that computes it.")
        return plain.loads(plain.dumps(value))


# --- literals ---------------------------------------------------------------------------------------------------

class _NotLiteral(Exception):
    pass


def _targets(stmt):
    """(target name, value node) pairs a top-level assignment binds."""
    if isinstance(stmt, ast.AnnAssign) and stmt.value is not None and isinstance(stmt.target, ast.Name):
        return [(stmt.target.id, stmt.value)]
    if not isinstance(stmt, ast.Assign):
        return []
    pairs = []
    for target in stmt.targets:
        if isinstance(target, ast.Name):
            pairs.append((target.id, stmt.value))
        elif isinstance(target, (ast.Tuple, ast.List)) and isinstance(stmt.value, (ast.Tuple, ast.List)) \
                and len(target.elts) == len(stmt.value.elts):
            pairs += [(t.id, v) for t, v in zip(target.elts, stmt.value.elts) if isinstance(t, ast.Name)]
    return pairs


def _last_assignment(sources, name: str):
    found = None
    for source in sources:
        try:
            tree = plain.parse_python(source)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        for stmt in tree.body:
            for target, value in _targets(stmt):
                if target == name:
                    found = value
    return found


_ROOTS = {"torch": lambda: torch, "np": lambda: np, "numpy": lambda: np,
          "mg": lambda: __import__("minigrad"), "minigrad": lambda: __import__("minigrad")}


def _dtype_attribute(node):
    """torch.float32, np.int64, mg.float64 ...: the dtype (or NumPy scalar type) it names."""
    if not (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in _ROOTS):
        raise _NotLiteral
    module = _ROOTS[node.value.id]()
    value = getattr(module, node.attr, None)
    mg = sys.modules.get("minigrad")
    if isinstance(value, (torch.dtype, np.dtype)) or (mg is not None and type(value) is mg.dtype) \
            or (isinstance(value, type) and issubclass(value, np.generic) and value is not np.object_):
        return value
    raise _NotLiteral


def _literal(node):
    try:
        with plain.AST_LOCK:
            return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        pass
    if isinstance(node, (ast.Tuple, ast.List)):
        items = [_literal(e) for e in node.elts]
        return tuple(items) if isinstance(node, ast.Tuple) else items
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and not node.keywords \
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "torch" \
            and node.func.attr in ("Size", "device") and len(node.args) <= 2:
        args = [_literal(a) for a in node.args]
        try:
            return getattr(torch, node.func.attr)(*args)
        except (TypeError, ValueError, RuntimeError):
            raise _NotLiteral from None
    return _dtype_attribute(node)


# --- the kernel's side ------------------------------------------------------------------------------------------

def _resolve(namespace: dict, name: str):
    head, *rest = name.split(".")
    if head not in namespace:
        raise NameError(f"name {head!r} is not defined")
    value = namespace[head]
    for attr in rest:
        value = getattr(value, attr)
    return value


def _is_tensor(value) -> bool:
    if isinstance(value, torch.Tensor):
        return True
    mg = sys.modules.get("minigrad")
    return mg is not None and isinstance(value, mg.Tensor)


def _backward(result, upstream) -> None:
    is_torch = isinstance(result, torch.Tensor)
    if upstream is None:
        if result.numel() == 1:
            result.backward()
            return
        upstream = torch.ones_like(result) if is_torch else __import__("minigrad").ones_like(result)
    elif is_torch and not isinstance(upstream, torch.Tensor):
        upstream = torch.as_tensor(np.asarray(plain._minigrad_array(upstream)))
    elif not is_torch and isinstance(upstream, torch.Tensor):
        upstream = __import__("minigrad").tensor(upstream.detach().numpy())
    result.backward(upstream)


def _fact(namespace: dict, kind: str, names: list[str]):
    values = [_resolve(namespace, n) for n in names]
    if kind == "same_object":
        return values[0] is values[1]
    if kind == "type":
        cls = type(values[0])
        return f"{cls.__module__}.{cls.__qualname__}"[:200]
    if kind == "version":
        version = values[0]._version
        return int(version) if isinstance(version, int) else int(version[1])
    if kind == "shares_memory":
        a, b = (_memory(v) for v in values)
        if a is None or b is None:
            return False
        if isinstance(a, tuple) or isinstance(b, tuple):   # device memory: compare address ranges
            ra = a if isinstance(a, tuple) else None
            rb = b if isinstance(b, tuple) else None
            return ra is not None and rb is not None and ra[0] < rb[1] and rb[0] < ra[1]
        try:
            return bool(np.shares_memory(a, b, max_work=1_000_000))
        except np.exceptions.TooHardError:
            return bool(np.may_share_memory(a, b))
    raise ValueError(f"unknown fact {kind!r}")


def _memory(value):
    """A NumPy view of the value's memory, or (start, end) addresses for device memory, or None."""
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, torch.Tensor):
        if value.device.type == "cpu" and value.layout == torch.strided:
            try:
                return value.detach().resolve_conj().numpy()
            except (TypeError, RuntimeError):
                pass
        storage = value.untyped_storage()
        return (storage.data_ptr(), storage.data_ptr() + storage.nbytes())
    mg = sys.modules.get("minigrad")
    if mg is not None and isinstance(value, mg.Tensor):
        try:
            return plain._minigrad_array(value)
        except Exception:  # noqa: BLE001 - a tensor on a device: no NumPy view
            return None
    return None


def _run(namespace: dict, request: dict):
    op = request.get("op")
    name = request.get("name", "")
    if op in ("call", "grad", "value", "has") and not (isinstance(name, str) and _NAME.match(name)):
        raise ValueError("bad name")
    if op == "has":
        try:
            _resolve(namespace, name)
        except Exception:  # noqa: BLE001 - any failure to reach it means it is not there
            return False
        return True
    if op == "value":
        return _resolve(namespace, name)
    if op == "fact":
        kind, names = request.get("kind"), request.get("names")
        if kind not in FACTS or not isinstance(names, list) or len(names) != FACTS[kind] \
                or not all(isinstance(n, str) and _NAME.match(n) for n in names):
            raise ValueError("bad fact")
        return _fact(namespace, kind, names)
    if op not in ("call", "grad"):
        raise ValueError(f"unknown op {str(op)[:40]!r}")
    args = plain.from_plain(request.get("args"))
    kwargs = plain.from_plain(request.get("kwargs"))
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        raise ValueError("bad arguments")
    fn = _resolve(namespace, name)
    result = fn(*args, **kwargs)
    if op == "call":
        return result
    if not _is_tensor(result):
        raise _NoBackward(result)
    _backward(result, plain.from_plain(request.get("upstream")))
    return [result, tuple(a.grad if _is_tensor(a) else None for a in args)]


class _NoBackward(Exception):
    def __init__(self, result):
        super().__init__()
        self.result = result


def _error_reply(exc: BaseException) -> dict:
    try:
        message = str(exc)
    except Exception:  # noqa: BLE001 - the exception's own __str__ is student code
        message = "(its message could not be read)"
    names = [getattr(c, "__name__", "?") for c in type(exc).__mro__][:32]
    return {"raised": {"type": type(exc).__name__, "types": names, "message": message[:MESSAGE_CAP]}}


def serve(request_text: str, namespace: dict) -> str:
    """Carry out one request on `namespace` (the kernel's side); the reply is plain-data JSON text.

    Replies: {"ok": value}, {"raised": {type, types, message}} when the student's code (or a missing name)
    raised, {"unsendable": why} when the result is past a plain-data cap, {"no_backward": value} when
    `grad`'s result is not a tensor.
    """
    try:
        request = json.loads(request_text)
        if not isinstance(request, dict):
            raise ValueError("a request is a JSON object")
        result = _run(namespace, request)
    except _NoBackward as nb:
        reply = {"no_backward": _plain_or_opaque(nb.result)}
    except plain.PlainError as exc:
        reply = {"unsendable": str(exc)[:MESSAGE_CAP]}
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - the student's code may raise anything
        reply = _error_reply(exc)
    else:
        try:
            reply = {"ok": plain.to_plain(result)}
        except plain.PlainError as exc:
            reply = {"unsendable": str(exc)[:MESSAGE_CAP]}
    try:
        return json.dumps(reply, separators=(",", ":"), allow_nan=False)
    except (ValueError, TypeError) as exc:
        return json.dumps({"unsendable": f"the reply could not be written ({str(exc)[:200]})"})


def _plain_or_opaque(value):
    try:
        return plain.to_plain(value)
    except plain.PlainError:
        return plain.to_plain(plain.Opaque(type(value).__name__, "too large to send"))


# --- the local student --------------------------------------------------------------------------------------------

def _shell():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def _namespace() -> dict:
    shell = _shell()
    return shell.user_ns if shell is not None else vars(sys.modules["__main__"])


def _history() -> list[str]:
    """The cells this kernel has run, in order (IPython's input history, after IPython's own syntax is turned
    into Python); outside IPython, nothing."""
    shell = _shell()
    if shell is None:
        return []
    return [s for s in shell.history_manager.input_hist_parsed if isinstance(s, str) and s]


def local_student() -> Student:
    """The Student of the notebook this code runs in (the same process; values still round-trip as plain data)."""
    return Student(lambda text: serve(text, _namespace()), _history)
