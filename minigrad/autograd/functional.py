"""Higher-level derivatives with the signatures, return structures and errors of
`torch.autograd.functional`: `vjp`, `jvp`, `jacobian`, `hessian`, `hvp`, `vhp`.

A Tensor given as `inputs` gives Tensors back; a tuple of inputs gives tuples (per input).
`strict=True` raises where a result would be all zeros because an output does not depend on
an input. `vectorize=True` gives the same values as the default (torch batches the work with
vmap; minigrad has none and computes it one row at a time). `strategy="forward-mode"` builds
the Jacobian one column at a time from Jacobian-vector products.
"""
from .engine import grad as _grad
from .grad_mode import enable_grad


def _tuple(x, arg_name, fn_name):
    """(was it a tuple, the tensors as a tuple); anything else raises torch's TypeError."""
    is_tuple = isinstance(x, tuple)
    items = x if is_tuple else (x,)
    for i, t in enumerate(items):
        if not isinstance(t, Tensor):
            where = f"value at index {i}" if is_tuple else f"given {arg_name}"
            raise TypeError(
                f"The {arg_name} given to {fn_name} must be either a Tensor or a tuple of Tensors "
                f"but the {where} has type {type(t)}."
            )
    return is_tuple, items


def _prepare(inputs, create_graph):
    """Fresh inputs that require grad; with create_graph they stay connected to the originals.
    Integer inputs raise, as torch's requires_grad_ does."""
    out = []
    for x in inputs:
        if create_graph and x.requires_grad:
            out.append(x.reshape(x.shape))
        else:
            out.append(x.detach().requires_grad_(True))
    return tuple(out)


def _check_outputs(outputs, strict):
    if strict:
        for i, o in enumerate(outputs):
            if not o.requires_grad:
                raise RuntimeError(
                    f"Output {i} of the user-provided function does not require gradients. The "
                    "outputs must be computed in a differentiable manner from the input when "
                    "running in strict mode."
                )


def _grads(outputs, inputs, grad_outputs, create_graph, strict=False, what="input"):
    """Gradients of outputs wrt inputs; zeros where an input was not used (strict: raise)."""
    outs = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    res = (None,) * len(inputs)
    if outs:
        res = _grad([o for o, _ in outs], inputs, [g for _, g in outs], retain_graph=True,
                    create_graph=create_graph, allow_unused=True)
    if strict:
        for i, g in enumerate(res):
            if g is None:
                raise RuntimeError(
                    f"The output of the user-provided function is independent of {what} {i}. "
                    "This is not allowed in strict mode."
                )
    return tuple(zeros_like(x) if g is None else g for x, g in zip(inputs, res))


def _finish(items, is_tuple, create_graph):
    items = tuple(t if create_graph else t.detach() for t in items)
    return items if is_tuple else items[0]


def _validate_v(v, other, other_is_tuple):
    if len(v) != len(other):
        if other_is_tuple:
            raise RuntimeError(f"v is a tuple of invalid length: should be {len(other)} but got {len(v)}.")
        raise RuntimeError("The given v should contain a single Tensor.")
    for i, (vi, o) in enumerate(zip(v, other)):
        if vi.shape != o.shape:
            entry = f"Entry {i} in " if other_is_tuple else ""
            raise RuntimeError(
                f"{entry}v has invalid size: should be {_size(o)} but got {_size(vi)}."
            )


def _size(t):
    return f"minigrad.Size({list(t.shape)})"


def _vector(v, tensors, is_tuple, what, name):
    """`v` as a tuple, checked against `tensors`; None only for one single-element tensor."""
    if v is None:
        if len(tensors) != 1 or tensors[0].numel() != 1:
            raise RuntimeError(
                f"The vector v can only be None if {what} a single Tensor with a single element."
            )
        return (ones_like(tensors[0]),)
    v = _tuple(v, "v", name)[1]
    _validate_v(v, tensors, is_tuple)
    return v


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(*inputs), v^T J): the vector-Jacobian product, what backward computes."""
    with enable_grad():
        in_tuple, inputs = _tuple(inputs, "inputs", "vjp")
        inputs = _prepare(inputs, create_graph)
        outputs = func(*inputs)
        out_tuple, outputs = _tuple(outputs, "outputs of the user-provided function", "vjp")
        _check_outputs(outputs, strict)
        v = _vector(v, outputs, out_tuple, "the user-provided function returns", "vjp")
        res = _grads(outputs, inputs, v, create_graph, strict)
    return _finish(outputs, out_tuple, create_graph), _finish(res, in_tuple, create_graph)


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(*inputs), J v): the Jacobian-vector product (forward mode), computed here with
    two reverse passes (the 'double-vjp trick'), as torch.autograd.functional does."""
    with enable_grad():
        in_tuple, inputs = _tuple(inputs, "inputs", "jvp")
        inputs = _prepare(inputs, create_graph)
        v = _vector(v, inputs, in_tuple, "the input to the user-provided function is", "jvp")
        outputs = func(*inputs)
        out_tuple, outputs = _tuple(outputs, "outputs of the user-provided function", "jvp")
        _check_outputs(outputs, strict)
        dummies = tuple(zeros_like(o, requires_grad=True) for o in outputs)
        g = _grads(outputs, inputs, dummies, True, strict)  # u -> J^T u, linear in u
        res = _grads(g, dummies, v, create_graph)            # d(J^T u . v)/du = J v
    return _finish(outputs, out_tuple, create_graph), _finish(res, out_tuple, create_graph)


_STRATEGY_ERROR = (
    'Expected strategy to be either "forward-mode" or "reverse-mode". Hint: If your function has '
    'more outputs than inputs, "forward-mode" tends to be more performant. Otherwise, prefer to '
    'use "reverse-mode".'
)


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
    """The Jacobian. Entry [i][j] (tuples) has shape outputs[i].shape + inputs[j].shape; a single
    input and output give a single Tensor. Reverse mode: one backward pass per output element;
    forward mode (vectorize=True only, as in torch): one Jacobian-vector product per input element."""
    if strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError(_STRATEGY_ERROR)
    if strategy == "forward-mode":
        if create_graph:
            raise NotImplementedError(
                'torch.autograd.functional.jacobian: `create_graph=True` and `strategy="forward-mode"` '
                "are not supported together (yet). Please either set `create_graph=False` or "
                '`strategy="reverse-mode"`.'
            )
        if not vectorize:
            raise NotImplementedError(
                "Computing Jacobian using forward-AD or forward-over-reverse Hessian is only "
                "implemented for `vectorize=True`."
            )
        return _jacobian_forward(func, inputs, strict)
    with enable_grad():
        in_tuple, inputs = _tuple(inputs, "inputs", "jacobian")
        inputs = _prepare(inputs, create_graph)
        outputs = func(*inputs)
        out_tuple, outputs = _tuple(outputs, "outputs of the user-provided function", "jacobian")
        _check_outputs(outputs, strict)
        if vectorize and strict:
            raise RuntimeError(
                "torch.autograd.functional.jacobian: `strict=True` and `vectorized=True` are not "
                "supported together. Please either set `strict=False` or `vectorize=False`."
            )
        blocks = []
        for i, out in enumerate(outputs):
            rows = []
            for k in range(out.numel()):
                onehot = zeros(out.numel(), dtype=out.dtype)
                onehot.array[k] = 1
                rows.append(_row(out, onehot.reshape(out.shape), inputs, create_graph, strict, i))
            per_input = []
            for j, x in enumerate(inputs):
                if rows:
                    block = stack([r[j] for r in rows]).reshape(out.shape + x.shape)
                else:
                    block = zeros(out.shape + x.shape, dtype=x.dtype)
                per_input.append(block if create_graph else block.detach())
            blocks.append(tuple(per_input) if in_tuple else per_input[0])
    return tuple(blocks) if out_tuple else blocks[0]


def _row(out, onehot, inputs, create_graph, strict, i):
    """One row of the Jacobian of `out`, per input; strict checks as torch words them."""
    res = (None,) * len(inputs)
    if out.requires_grad:
        res = _grad((out,), inputs, (onehot,), retain_graph=True, create_graph=create_graph,
                    allow_unused=True)
    for j, g in enumerate(res):
        if strict and g is None:
            raise RuntimeError(
                f"Output {i} of the user-provided function is independent of input {j}. This is "
                "not allowed in strict mode."
            )
        if strict and create_graph and not g.requires_grad:
            raise RuntimeError(
                f"The jacobian of the user-provided function is independent of input {i}. This "
                "is not allowed in strict mode when create_graph=True."
            )
    return tuple(zeros_like(x) if g is None else g for x, g in zip(inputs, res))


def _jacobian_forward(func, inputs, strict):
    """The Jacobian column by column: J e_k for every element k of every input."""
    in_tuple, inputs = _tuple(inputs, "inputs", "jacobian")
    columns = []  # per input, per element: the tuple of output tangents
    outputs = None
    for j, x in enumerate(inputs):
        cols = []
        for k in range(x.numel()):
            onehot = zeros(x.numel(), dtype=x.dtype)
            onehot.array[k] = 1
            v = tuple(onehot.reshape(x.shape) if m == j else zeros_like(y) for m, y in enumerate(inputs))
            outputs, tangents = jvp(func, inputs if in_tuple else inputs[0],
                                    v if in_tuple else v[0], strict=strict)
            cols.append(tangents if isinstance(tangents, tuple) else (tangents,))
        columns.append(cols)
    if outputs is None:
        outputs = func(*inputs)
    out_tuple, outs = isinstance(outputs, tuple), outputs if isinstance(outputs, tuple) else (outputs,)
    blocks = []
    for i, out in enumerate(outs):
        per_input = []
        for j, x in enumerate(inputs):
            if columns[j]:
                block = stack([c[i].reshape(-1) for c in columns[j]], dim=1)
                block = block.reshape(out.shape + x.shape)
            else:
                block = zeros(out.shape + x.shape, dtype=x.dtype)
            per_input.append(block.detach())
        blocks.append(tuple(per_input) if in_tuple else per_input[0])
    return tuple(blocks) if out_tuple else blocks[0]


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """The matrix of second derivatives of a scalar function: the Jacobian of its gradient."""
    in_tuple, inputs_t = _tuple(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode".')

    def scalar_func(*inp):
        out = func(*inp)
        is_tuple, outs = _tuple(out, "outputs of the user-provided function", "hessian")
        _check_outputs(outs, strict)
        if is_tuple:
            raise RuntimeError("The function given to hessian should return a single Tensor")
        if out.numel() != 1:
            raise RuntimeError(
                "The Tensor returned by the function given to hessian should contain a single element"
            )
        return out.reshape(())

    def gradient(*inp):
        if outer_jacobian_strategy == "forward-mode":
            inp = tuple(t.requires_grad_(True) for t in inp)
        jac = jacobian(scalar_func, inp, create_graph=True)
        if strict:
            for i, g in enumerate(jac):
                if not g.requires_grad:
                    raise RuntimeError(
                        "While computing the hessian, found that the jacobian of the "
                        f"user-provided function with respect to input {i} is independent of "
                        "the input. This is not allowed in strict mode. You should ensure that "
                        "your function is twice differentiable and that the jacobian depends on "
                        "the inputs (this would be violated by a linear function for example)."
                    )
        return jac if in_tuple else jac[0]

    return jacobian(gradient, inputs_t if in_tuple else inputs_t[0], create_graph=create_graph,
                    strict=strict, vectorize=vectorize, strategy=outer_jacobian_strategy)


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(*inputs), H v) for a scalar function; v has the inputs' structure."""
    return _second_order(func, inputs, v, create_graph, strict, "hvp")


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(*inputs), v^T H); equal to hvp since H is symmetric."""
    return _second_order(func, inputs, v, create_graph, strict, "vhp")


def _second_order(func, inputs, v, create_graph, strict, name):
    with enable_grad():
        in_tuple, inputs = _tuple(inputs, "inputs", name)
        inputs = _prepare(inputs, create_graph)
        v = _vector(v, inputs, in_tuple, "the input to the user-provided function is", name)
        out = func(*inputs)
        is_tuple, outs = _tuple(out, "outputs of the user-provided function", name)
        _check_outputs(outs, strict)
        if is_tuple:
            raise RuntimeError(f"The function given to {name} should return a single Tensor")
        if out.numel() != 1:
            raise RuntimeError(
                f"The Tensor returned by the function given to {name} should contain a single element"
            )
        g = _grads((out,), inputs, (ones_like(out),), True, strict)
        if strict:
            for i, gi in enumerate(g):
                if not gi.requires_grad:
                    raise RuntimeError(
                        f"The gradient with respect to input {i} is independent of the inputs of "
                        "the user-provided function. This is not allowed in strict mode."
                    )
        res = _grads(g, inputs, v, create_graph)
    return (out if create_graph else out.detach()), _finish(res, in_tuple, create_graph)


from ..creation import ones_like, zeros, zeros_like  # noqa: E402
from ..functions import stack  # noqa: E402
from ..tensor import Tensor  # noqa: E402
