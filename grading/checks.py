"""Assertion helpers for the exercises' test cells: every failure says what is wrong and what to try.

Each check raises `CheckFailed` (an AssertionError, so nbgrader counts it as a failed test) through the one
function `fail`; nothing here ever raises a bare AssertionError. `name` is how the student's value is shown in
messages, e.g. "make_fives()" or "x.grad".

`student` (grading.student) is how a hidden test reaches the student's code; here it is the local one, working on
the namespace of the notebook that imports this module (the grader gives hidden tests its own, see VOCABULARY.md).
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = [
    "CheckFailed", "fail", "check", "check_equal", "check_tensor", "check_array", "check_grad",
    "check_shares_memory", "check_device", "check_uniform", "check_matches_torch", "check_minigrad_tensor",
    "available_device", "check_student_matches_torch", "student", "StudentError",
]


class CheckFailed(AssertionError):
    """A test found something wrong in an answer; the message says what and how to fix it."""


def fail(message: str) -> None:
    """Raise CheckFailed(message). Every check in this module fails through here."""
    raise CheckFailed(message)


def check(condition, message: str) -> None:
    """Fail with `message` unless `condition` is true."""
    if not condition:
        fail(message)


def check_equal(got, expected, name: str, hint: str = "") -> None:
    """`got == expected` for plain Python values (bools, tuples, numbers, strings)."""
    check(got is not None or expected is None,
          f"{name} is None: did you forget to `return` the result?")
    try:
        same = bool(got == expected)
    except (TypeError, ValueError, RuntimeError):  # e.g. a many-element tensor where a plain value belongs
        same = False
    check(same, f"{name}: expected {expected!r}, got {got!r}." + (f" {hint}" if hint else ""))


# --- tensors and arrays -----------------------------------------------------------------------------------------

_DTYPE_HINTS = {
    (torch.int64, torch.float32): "build the tensor from Python ints (torch.tensor, not torch.Tensor, which always "
                                  "makes float32) or pass dtype=torch.int64",
    (torch.float32, torch.int64): "use float values (5.0, not 5) or pass dtype=torch.float32",
    (torch.float64, torch.float32): "torch.rand/randn/ones default to float32: pass dtype=torch.float64",
    (torch.float32, torch.float64): "float64 usually comes from NumPy arrays: pass dtype=torch.float32 or call .float()",
}


def _dtype_message(name: str, expected, got) -> str:
    hint = _DTYPE_HINTS.get((expected, got), f"pass dtype={expected} when you create it, or convert with .to({expected})")
    return f"{name}: expected dtype {expected}, got {got}: {hint}."


def _require_tensor(value, name: str) -> None:
    # Exact types only: a Tensor subclass can override __eq__/__torch_function__ and lie to the checks.
    if type(value) is torch.Tensor:
        return
    if isinstance(value, torch.Tensor):
        fail(f"{name} is a {type(value).__name__}, a subclass of torch.Tensor; return a plain tensor "
             "(for example `result.detach()` or `torch.as_tensor(result)`).")
    if value is None:
        fail(f"{name} is None: did you forget to `return` the result?")
    if isinstance(value, np.ndarray):
        fail(f"{name} is a NumPy array, expected a torch.Tensor: convert it with torch.from_numpy(...).")
    fail(f"{name} should be a torch.Tensor, got {type(value).__name__} ({value!r:.80}).")


def check_device(t: torch.Tensor, expected, name: str) -> None:
    """`t` lives on a device of `expected`'s type (a torch.device or a string such as 'cpu' or 'cuda')."""
    _require_tensor(t, name)
    want = torch.device(expected).type
    check(t.device.type == want,
          f"{name}: expected a tensor on device '{want}', got one on '{t.device}': "
          + ("move it back with .cpu() or .to('cpu')." if want == "cpu"
             else "move it with .to(device) or create it there with device=device."))


def _first_mismatch(got: np.ndarray, expected: np.ndarray, atol: float, rtol: float) -> str:
    """Where and by how much two same-shaped arrays differ, in words."""
    bad = ~np.isclose(got, expected, atol=atol, rtol=rtol, equal_nan=True)
    index = tuple(int(i) for i in np.argwhere(bad)[0]) if got.ndim else ()
    with np.errstate(invalid="ignore", divide="ignore"):
        abs_err = np.abs(got.astype(np.float64) - expected.astype(np.float64))
        rel_err = abs_err / np.maximum(np.abs(expected.astype(np.float64)), 1e-12)
    values = f"expected {expected[index].item()!r}, got {got[index].item()!r}"
    where = f"{int(bad.sum())} of {bad.size} elements differ, the first at index {list(index)}: " if index else ""
    return f"{where}{values}; max abs error {np.nanmax(abs_err):.3g}, max rel error {np.nanmax(rel_err):.3g}"


def _compare_values(got: np.ndarray, expected: np.ndarray, name: str, atol: float, rtol: float,
                    hint: str) -> None:
    check(tuple(got.shape) == tuple(expected.shape),
          f"{name}: expected shape {tuple(expected.shape)}, got {tuple(got.shape)}." + (f" {hint}" if hint else ""))
    if not np.allclose(got, expected, atol=atol, rtol=rtol, equal_nan=True):
        fail(f"{name}: wrong values: {_first_mismatch(got, expected, atol, rtol)}." + (f" {hint}" if hint else ""))


def _to_numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().resolve_conj().numpy() if t.dtype != torch.bfloat16 else t.detach().float().cpu().numpy()


def check_tensor(got, expected, name: str, *, dtype=True, device="cpu", atol: float = 1e-6, rtol: float = 1e-5,
                 hint: str = "") -> None:
    """`got` is a tensor like `expected`: same shape, values within atol/rtol, and

    dtype: True = same dtype as `expected`, a torch.dtype = that dtype, False/None = any dtype;
    device: a device type the tensor must be on ('cpu' by default), or None for any.
    """
    _require_tensor(got, name)
    expected = torch.as_tensor(expected)
    want_dtype = expected.dtype if dtype is True else dtype
    if want_dtype:
        check(got.dtype == want_dtype, _dtype_message(name, want_dtype, got.dtype))
    if device is not None:
        check_device(got, device, name)
    _compare_values(_to_numpy(got), _to_numpy(expected), name, atol, rtol, hint)


def check_array(got, expected, name: str, *, dtype=True, atol: float = 1e-6, rtol: float = 1e-5,
                hint: str = "") -> None:
    """`got` is a NumPy array like `expected`: same shape, values, and (with dtype=True) the same dtype."""
    if isinstance(got, torch.Tensor):
        fail(f"{name} is a torch.Tensor, expected a NumPy array: convert it with .numpy().")
    check(type(got) is np.ndarray, f"{name} should be a NumPy array, got {type(got).__name__}"
          + (": did you forget to `return` the result?" if got is None else "."))
    expected = np.asarray(expected)
    if dtype:
        check(got.dtype == expected.dtype, f"{name}: expected NumPy dtype {expected.dtype}, got {got.dtype}.")
    _compare_values(got, expected, name, atol, rtol, hint)


def check_uniform(t, name: str, *, shape, dtype) -> None:
    """`t` looks like draws from U[0, 1): right shape and dtype, every value in [0, 1), not all equal."""
    _require_tensor(t, name)
    check(tuple(t.shape) == tuple(shape), f"{name}: expected shape {tuple(shape)}, got {tuple(t.shape)}.")
    check(t.dtype == dtype, _dtype_message(name, dtype, t.dtype))
    low, high = float(t.min()), float(t.max())
    check(low >= 0 and high < 1, f"{name}: values must lie in [0, 1), got min {low:.4g} and max {high:.4g}: "
                                 "use torch.rand (uniform), not torch.randn (normal) or randint.")
    check(t.numel() < 4 or t.unique().numel() > 1,
          f"{name}: all {t.numel()} values equal {low:.4g}; expected random values (torch.rand or rand_like).")


# --- memory sharing and gradients -------------------------------------------------------------------------------

def check_shares_memory(t, array, name: str) -> None:
    """The tensor `t` and the NumPy array `array` use the same memory (a write to one shows in the other)."""
    _require_tensor(t, name)
    check(t.device.type == "cpu", f"{name} is on {t.device}; only CPU tensors can share memory with NumPy.")
    check(not t.requires_grad, f"{name} requires grad, so it cannot be a NumPy view: wrap the array with "
                               "torch.from_numpy(array) and leave requires_grad off.")
    check(np.shares_memory(t.numpy(), array),
          f"memory is not shared between {name} and the NumPy array: torch.tensor (and .clone(), .copy()) copies; "
          "use torch.from_numpy(array) to wrap the array and tensor.numpy() to go back.")


def _accumulation_factor(got: np.ndarray, expected: np.ndarray):
    """k >= 2 when got == k * expected for a whole number k: the signature of gradients not being zeroed."""
    nonzero = np.abs(expected) > 1e-12
    if not nonzero.any() or not np.allclose(got[~nonzero], 0):
        return None
    ratios = got[nonzero] / expected[nonzero]
    k = round(float(ratios.mean()))
    return k if k >= 2 and np.allclose(ratios, k, rtol=1e-4) else None


def check_grad(leaf, expected, name: str, *, atol: float = 1e-5, rtol: float = 1e-4) -> None:
    """`leaf.grad` equals `expected`. `name` names the leaf, e.g. "x" (messages then talk about x.grad)."""
    _require_tensor(leaf, name)
    check(leaf.grad is not None,
          f"{name}.grad is None: make {name} a leaf with requires_grad=True (e.g. torch.tensor(..., "
          f"requires_grad=True)), build the result from it, and call .backward() on the result.")
    got, want = _to_numpy(leaf.grad), _to_numpy(torch.as_tensor(expected, dtype=leaf.grad.dtype))
    if got.shape == want.shape and not np.allclose(got, want, atol=atol, rtol=rtol):
        k = _accumulation_factor(got.astype(np.float64), want.astype(np.float64))
        if k:
            fail(f"{name}.grad is {k} times the expected gradient: gradients accumulate in .grad across backward() "
                 f"calls. Did you zero the gradients? Create a fresh leaf for each computation, or reset it with "
                 f"{name}.grad = None (or {name}.grad.zero_()) before calling backward() again.")
    _compare_values(got, want, f"{name}.grad", atol, rtol, "")


# --- minigrad against PyTorch ------------------------------------------------------------------------------------

def check_matches_torch(fn, *inputs, what: str, atol: float | None = None, rtol: float | None = None) -> None:
    """minigrad and torch agree on `fn`'s outputs and on the gradients of every float input.

    `fn` is `fn(lib, *tensors)` or a pair `(minigrad_fn, torch_fn)`; `inputs` are NumPy arrays; `what` says what
    was tested, e.g. "Tanh.apply on a (3, 4) float64 input". The comparison is minigrad.testing.compare_with_torch
    (random upstream gradients, per-dtype tolerances unless atol/rtol are given); its message (which tensor, first
    mismatching index, expected vs got, max errors) or the error minigrad raised is passed on after `what`.
    """
    from minigrad.testing import compare_with_torch

    try:
        compare_with_torch(fn, *inputs, atol=atol, rtol=rtol)
    except NotImplementedError:
        raise
    except AssertionError as err:
        fail(f"{what}: minigrad disagrees with PyTorch. {err}")
    except Exception as err:  # e.g. the engine's check that a gradient has its input's shape
        fail(f"{what}: {type(err).__name__}: {err}")


def check_minigrad_tensor(got, expected: torch.Tensor, name: str, **kwargs) -> None:
    """`got` is a minigrad Tensor equal to the torch tensor `expected` (keywords as in check_tensor)."""
    import minigrad

    if isinstance(got, torch.Tensor):
        fail(f"{name} is a torch.Tensor; compute it with minigrad and return a minigrad Tensor.")
    check(type(got) is minigrad.Tensor, f"{name} should be a minigrad Tensor, got {type(got).__name__}"
          + (": did you forget to `return` the result?" if got is None else "."))
    check_tensor(torch.from_numpy(np.array(got.detach().numpy())), expected, name, **kwargs)


_MINIGRAD_TOLERANCE = {np.dtype(np.float64): (1e-9, 1e-7), np.dtype(np.float32): (1e-5, 1e-4)}  # (atol, rtol)


def check_student_matches_torch(student, name: str, torch_fn, *inputs, what: str, args=(), atol=None, rtol=None,
                                seed: int = 0) -> None:
    """The student's minigrad callable `name`, reached through `student` (grading.student), agrees with `torch_fn`
    on the output and on the gradient of every floating input.

    `inputs` are NumPy arrays: each becomes a minigrad tensor for the student's side and a torch tensor here
    (floating ones require grad); `args` are further plain arguments (e.g. a dim). Both sides backpropagate the
    same random upstream gradient (seeded). Tolerances default per dtype as in minigrad.testing.
    """
    import minigrad

    arrays = [np.asarray(x) for x in inputs]
    floating = [a.dtype.kind == "f" for a in arrays]
    mine = [torch.tensor(a, requires_grad=f) for a, f in zip(arrays, floating)]
    expected = torch_fn(*mine, *args)
    upstream = np.asarray(np.random.default_rng(seed).standard_normal(tuple(expected.shape)) + 0.5,
                          dtype=_to_numpy(expected).dtype)
    expected.backward(torch.from_numpy(upstream.copy()))
    theirs = [minigrad.tensor(a, requires_grad=f) for a, f in zip(arrays, floating)]
    result, grads = student.grad(name, *theirs, *args, upstream=minigrad.tensor(upstream))
    default = _MINIGRAD_TOLERANCE.get(_to_numpy(expected).dtype, (1e-5, 1e-4))
    tol = {"atol": default[0] if atol is None else atol, "rtol": default[1] if rtol is None else rtol}
    check_minigrad_tensor(result, expected.detach(), f"{what}: the output", **tol)
    for i, (a, f) in enumerate(zip(mine, floating)):
        if not f:
            continue
        label = f"{what}: the gradient of input {i}" if len(arrays) > 1 else f"{what}: the gradient"
        check(grads[i] is not None, f"{label} is None: backward() did not reach this input (does your Function's "
                                    "backward return a gradient for it?).")
        check_minigrad_tensor(grads[i], a.grad, label, **tol)


def available_device() -> torch.device:
    """The best device this machine offers: CUDA, else Apple's MPS, else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


# Last: grading.student builds on CheckFailed and fail above.
from .student import StudentError, local_student  # noqa: E402

student = local_student()
