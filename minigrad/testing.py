"""Checks for gradients, usable in pytest and in notebook cells.

- `gradcheck(fn, inputs)`: minigrad's gradients against central differences in float64.
- `compare_with_torch(fn, *inputs)`: one function run in minigrad and in PyTorch; forward
  values and the gradient of every float input must agree.

Both raise an `AssertionError` subclass whose message says what disagreed and where.
"""
import numpy as np

from . import _device


class GradcheckError(AssertionError, RuntimeError):
    """Raised by gradcheck (an AssertionError for pytest, a RuntimeError like torch's)."""


# ----------------------------------------------------------------------------------------------
def _fmt_index(idx):
    return "(" + ", ".join(str(int(i)) for i in idx) + ")" if len(idx) != 1 else f"({int(idx[0])},)"


def _outputs_tuple(out, lib_name=None):
    """The outputs as a flat tuple (nested tuples such as max's (values, indices) unpacked)."""
    if isinstance(out, (tuple, list)):
        return tuple(leaf for item in out for leaf in _outputs_tuple(item))
    return (out,)


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, n_probes=2,
              seed=0, nondet_tol=0.0):
    """Check minigrad's gradients of `fn(*inputs)` against central finite differences.

    `inputs` is a Tensor or a tuple of them (other values are passed through unchanged). Every
    floating input that requires grad is checked; all are copied to float64 first so that the
    differences are accurate. `fn` may return a Tensor or a tuple of Tensors.

    Instead of building whole Jacobians, the check compares vector-Jacobian products: for
    `n_probes` random upstream vectors u (seeded; never all ones, which can hide a wrong
    reduction) it compares backward's u^T J with (u.f(x + eps e_j) - u.f(x - eps e_j)) / 2eps
    for every input element j. An element passes when |analytic - numeric| <= atol + rtol *
    |numeric|. On failure the message names the input, the worst element, both values and the
    error; returns True when all pass (False instead of raising with raise_exception=False).
    """
    from .autograd import grad as _grad
    from .autograd.grad_mode import no_grad
    from .tensor import Tensor

    single = isinstance(inputs, Tensor)
    inputs = (inputs,) if single else tuple(inputs)
    xs = []
    for x in inputs:
        if isinstance(x, Tensor) and x.requires_grad and x.dtype.is_floating_point:
            xs.append(x.detach().double().requires_grad_())
        else:
            xs.append(x)
    checked = [i for i, x in enumerate(xs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError(
            "gradcheck: no input requires grad; create the inputs with requires_grad=True."
        )

    def run(args):
        outs = _outputs_tuple(fn(*args), "minigrad")
        for k, o in enumerate(outs):
            if not isinstance(o, Tensor):
                raise TypeError(f"gradcheck: output {k} of fn is a {type(o).__name__}, not a Tensor")
        return outs

    outs = run(xs)
    rng = np.random.default_rng(seed)
    probes = [[rng.standard_normal(o.shape) + 0.5 for o in outs] for _ in range(n_probes)]
    diff_outs = [k for k, o in enumerate(outs) if o.requires_grad]

    # analytic: one backward per probe
    analytic = []
    for u in probes:
        if diff_outs:
            res = _grad([outs[k] for k in diff_outs], [xs[i] for i in checked],
                        [tensor(u[k]) for k in diff_outs], retain_graph=True, allow_unused=True)
        else:
            res = [None] * len(checked)
        analytic.append([np.zeros(xs[i].shape) if r is None else _device.to_numpy(r.array)
                         for i, r in zip(checked, res)])

    # numeric: each element of each checked input moved by +-eps, reused for every probe
    worst = None
    failures = 0
    with no_grad():
        for c, i in enumerate(checked):
            x = xs[i]
            flat = x.array.reshape(-1)
            numeric = np.zeros((n_probes, flat.size))
            for j in range(flat.size):
                orig = flat[j].item()
                values = []
                for step in (eps, -eps):
                    flat[j] = orig + step
                    values.append([_device.to_numpy(o.array).astype(np.float64) for o in run(xs)])
                flat[j] = orig
                for p, u in enumerate(probes):
                    plus = builtins_sum(float((uk * vk).sum()) for uk, vk in zip(u, values[0]))
                    minus = builtins_sum(float((uk * vk).sum()) for uk, vk in zip(u, values[1]))
                    numeric[p, j] = (plus - minus) / (2 * eps)
            for p in range(n_probes):
                a = analytic[p][c].reshape(-1)
                n = numeric[p]
                err = np.abs(a - n)
                bad = ~(err <= atol + rtol * np.abs(n))
                failures += int(bad.sum())
                score = err - (atol + rtol * np.abs(n))
                if score.size:
                    j = int(np.nanargmax(np.where(np.isnan(score), np.inf, score)))
                    if worst is None or score[j] > worst[0] or (np.isnan(a[j]) and not np.isnan(worst[3])):
                        worst = (score[j], i, np.unravel_index(j, x.shape), a[j], n[j], err[j], p)
    if failures == 0:
        return True
    _, i, idx, a, n, err, p = worst
    msg = (
        f"gradcheck failed: {failures} gradient element(s) outside atol={atol}, rtol={rtol}.\n"
        f"Worst: input {i}, element {_fmt_index(idx) if len(idx) else '()'}, random upstream "
        f"vector {p}: backward gives {a:.6g}, finite differences give {n:.6g} "
        f"(abs error {err:.3g}).\nCheck the backward rule for that input."
    )
    if raise_exception:
        raise GradcheckError(msg)
    return False


builtins_sum = sum


# ----------------------------------------------------------------------------------------------
class CompareReport:
    """What compare_with_torch checked: `.ok`, `.max_abs_err`, `.max_rel_err`, `.checked`."""

    def __init__(self):
        self.ok = True
        self.max_abs_err = 0.0
        self.max_rel_err = 0.0
        self.checked = []  # (name, shape, max abs err)

    def _add(self, name, shape, abs_err, rel_err):
        self.checked.append((name, shape, abs_err))
        self.max_abs_err = max(self.max_abs_err, abs_err)
        self.max_rel_err = max(self.max_rel_err, rel_err)

    def __str__(self):
        lines = [f"minigrad matches torch: {len(self.checked)} tensor(s) compared, "
                 f"max abs error {self.max_abs_err:.3g}, max rel error {self.max_rel_err:.3g}"]
        lines += [f"  {name}: shape {tuple(shape)}, max abs error {err:.3g}" for name, shape, err in self.checked]
        return "\n".join(lines)

    __repr__ = __str__

    def __bool__(self):
        return self.ok


_DEFAULT_TOL = {np.dtype(np.float64): (1e-7, 1e-9), np.dtype(np.float32): (1e-4, 1e-5)}


def _compare_arrays(name, expected, got, atol, rtol, report):
    """expected (torch) vs got (minigrad), both NumPy; raises AssertionError naming `name`."""
    if expected.shape != got.shape:
        raise AssertionError(
            f"{name}: shape mismatch: torch gives {tuple(expected.shape)}, minigrad gives {tuple(got.shape)}"
        )
    if expected.dtype != got.dtype:
        raise AssertionError(
            f"{name}: dtype mismatch: torch gives {expected.dtype}, minigrad gives {got.dtype}"
        )
    if expected.dtype.kind == "f":
        r, a = _DEFAULT_TOL.get(expected.dtype, (1e-4, 1e-5))
        rtol, atol = (r if rtol is None else rtol), (a if atol is None else atol)
        abs_err = np.abs(expected.astype(np.float64) - got.astype(np.float64))
        both_nan = np.isnan(expected) & np.isnan(got)
        same_inf = np.isinf(expected) & (expected == got)
        abs_err = np.where(both_nan | same_inf, 0.0, abs_err)
        abs_err = np.where(np.isnan(abs_err), np.inf, abs_err)
        # Relative error is undefined where torch gives exactly 0: those elements count through atol only.
        scale = np.abs(expected.astype(np.float64))
        rel_err = np.divide(abs_err, scale, out=np.zeros_like(abs_err), where=scale > 0)
        bad = abs_err > atol + rtol * np.abs(expected)
    else:
        abs_err = (expected != got).astype(np.float64)
        rel_err = abs_err
        bad = expected != got
    max_abs = float(abs_err.max()) if abs_err.size else 0.0
    max_rel = float(rel_err.max()) if rel_err.size else 0.0
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise AssertionError(
            f"{name}: values differ at index {idx}: torch (expected) {expected[idx].item()!r}, "
            f"minigrad (got) {got[idx].item()!r}; {int(bad.sum())} of {bad.size} element(s) differ; "
            f"max abs error {max_abs:.3g}, max rel error {max_rel:.3g} "
            f"(atol={atol}, rtol={rtol})."
        )
    report._add(name, expected.shape, max_abs, max_rel)


def _to_numpy_input(x):
    from .tensor import Tensor

    if isinstance(x, Tensor):
        return np.array(_device.to_numpy(x.detach().array))
    try:
        import torch

        if isinstance(x, torch.Tensor):
            return x.detach().cpu().numpy().copy()
    except ImportError:
        pass
    return np.array(x)


def compare_with_torch(fn, *inputs, atol=None, rtol=None, seed=0, check_grads=True):
    """Run `fn` in minigrad and in PyTorch on the same inputs; compare outputs and gradients.

    fn: either one function `fn(lib, *tensors)` written against the shared API, called with
        `lib` = the `minigrad` module and then the `torch` module, e.g.
        ``compare_with_torch(lambda lib, x, y: (x * y).sum(dim=0).tanh(), np_x, np_y)``;
        or a pair `(minigrad_fn, torch_fn)`, each called as `f(*tensors)`, for code whose API
        differs (a student's minigrad Function against torch's own op).
    inputs: NumPy arrays, nested lists or numbers, turned into tensors of each library with
        `np.asarray`'s dtype (Python floats give float64). Floating inputs get
        requires_grad=True; integer and bool inputs are passed as plain tensors.
    atol, rtol: per-element tolerance |torch - minigrad| <= atol + rtol * |torch|; defaults
        rtol=1e-7, atol=1e-9 for float64 and rtol=1e-4, atol=1e-5 for float32.

    The outputs (a tensor, or a tuple/list of them) must have equal shapes, dtypes and values.
    Then both libraries backpropagate the same random upstream gradient (seeded by `seed`, not
    all ones) from every floating output, and every float input's gradient is compared
    ("grad of input 1"). Inputs must not be modified in place by minigrad.

    Raises AssertionError naming the tensor ("output", "output 1", "grad of input 0"), the
    first mismatching index, torch's (expected) and minigrad's (got) value and the max abs/rel
    error. Returns a CompareReport (`.ok`, `.max_abs_err`, printable) when all agree.
    """
    import torch

    import minigrad

    if isinstance(fn, (tuple, list)):
        if len(fn) != 2 or not all(callable(f) for f in fn):
            raise TypeError("compare_with_torch: fn must be a callable or a pair (minigrad_fn, torch_fn)")
        mg_fn, torch_fn = fn
        call = {"minigrad": lambda *t: mg_fn(*t), "torch": lambda *t: torch_fn(*t)}
    elif callable(fn):
        call = {"minigrad": lambda *t: fn(minigrad, *t), "torch": lambda *t: fn(torch, *t)}
    else:
        raise TypeError(f"compare_with_torch: fn must be callable, got {type(fn).__name__}")

    arrays = [_to_numpy_input(x) for x in inputs]
    originals = [a.copy() for a in arrays]
    is_float = [a.dtype.kind == "f" for a in arrays]
    mg_in = [minigrad.tensor(a.copy(), requires_grad=f) for a, f in zip(arrays, is_float)]
    th_in = [torch.tensor(a.copy(), requires_grad=f) for a, f in zip(arrays, is_float)]

    results = {}
    for name, args in (("torch", th_in), ("minigrad", mg_in)):
        try:
            results[name] = call[name](*args)
        except Exception as e:
            if hasattr(e, "add_note"):
                e.add_note(f"(raised while running fn with {name})")
            raise
    th_out = _outputs_tuple(results["torch"], "torch")
    mg_out = _outputs_tuple(results["minigrad"], "minigrad")
    if len(th_out) != len(mg_out):
        raise AssertionError(
            f"output: torch returns {len(th_out)} value(s), minigrad returns {len(mg_out)}"
        )

    report = CompareReport()
    multi = len(th_out) > 1
    for k, (t, m) in enumerate(zip(th_out, mg_out)):
        name = f"output {k}" if multi else "output"
        if isinstance(t, torch.Tensor) != isinstance(m, minigrad.Tensor):
            raise AssertionError(
                f"{name}: torch returns a {type(t).__name__}, minigrad returns a {type(m).__name__}"
            )
        te = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
        me = _device.to_numpy(m.detach().array) if isinstance(m, minigrad.Tensor) else np.asarray(m)
        _compare_arrays(name, te, me, atol, rtol, report)
    for i, (a, orig) in enumerate(zip(mg_in, originals)):
        if not np.array_equal(_device.to_numpy(a.array), orig, equal_nan=True):
            raise AssertionError(f"input {i}: minigrad modified the input in place")

    if check_grads and any(is_float):
        rng = np.random.default_rng(seed)
        pairs = [(t, m) for t, m in zip(th_out, mg_out)
                 if isinstance(t, torch.Tensor) and t.requires_grad]
        mg_diff = [m for t, m in zip(th_out, mg_out) if isinstance(m, minigrad.Tensor) and m.requires_grad]
        if len(mg_diff) != len(pairs):
            raise AssertionError(
                f"requires_grad of the outputs differs: {len(pairs)} torch output(s) require grad, "
                f"{len(mg_diff)} minigrad output(s)"
            )
        if pairs:
            ups = [rng.standard_normal(t.shape).astype(t.detach().numpy().dtype) + 0.5 for t, _ in pairs]
            torch.autograd.backward([t for t, _ in pairs], [torch.tensor(u) for u in ups])
            minigrad.autograd.backward([m for _, m in pairs], [minigrad.tensor(u) for u in ups])
        for i, (t, m) in enumerate(zip(th_in, mg_in)):
            if not is_float[i]:
                continue
            name = f"grad of input {i}"
            if (t.grad is None) != (m.grad is None):
                which = "torch" if t.grad is not None else "minigrad"
                raise AssertionError(f"{name}: only {which} computed a gradient (the other has None)")
            if t.grad is not None:
                expected = t.grad.detach().cpu().numpy(force=True)  # force: torch's ZeroTensor
                _compare_arrays(name, expected, _device.to_numpy(m.grad.array), atol, rtol, report)
    return report


from .creation import tensor  # noqa: E402
