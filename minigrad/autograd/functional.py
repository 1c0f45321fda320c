"""Higher-level derivatives with the signatures and return structures of
`torch.autograd.functional`: `vjp`, `jvp`, `jacobian`, `hessian`, `hvp`, `vhp`.

A Tensor given as `inputs` gives Tensors back; a tuple of inputs gives tuples (per input).
"""
from .engine import grad as _grad
from .grad_mode import enable_grad


def _tuple(x, arg_name, fn_name):
    is_tuple = isinstance(x, (tuple, list))
    items = tuple(x) if is_tuple else (x,)
    for i, t in enumerate(items):
        if not isinstance(t, Tensor):
            raise TypeError(
                f"The {arg_name} given to {fn_name} must be either a Tensor or a tuple of Tensors "
                f"but the value at index {i} has type {type(t).__name__}."
            )
    return is_tuple, items


def _prepare(inputs, create_graph):
    """Fresh inputs that require grad; with create_graph they stay connected to the originals."""
    out = []
    for x in inputs:
        if create_graph and x.requires_grad:
            out.append(x.reshape(x.shape))  # an identity op: differentiable back to x
        else:
            out.append(x.detach().requires_grad_(x.dtype.is_floating_point))
    return tuple(out)


def _grads(outputs, inputs, grad_outputs, create_graph):
    """Gradients of outputs wrt inputs; zeros (not None) where an input was not used."""
    outs = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    if not outs:
        return tuple(zeros_like(x) for x in inputs)
    res = _grad([o for o, _ in outs], inputs, [g for _, g in outs], retain_graph=True,
                create_graph=create_graph, allow_unused=True)
    return tuple(zeros_like(x) if g is None else g for x, g in zip(inputs, res))


def _finish(items, is_tuple, create_graph):
    items = tuple(t if create_graph else t.detach() for t in items)
    return items if is_tuple else items[0]


def _check_v(v, outputs, fn_name):
    for vi, o in zip(v, outputs):
        if vi.shape != o.shape:
            raise RuntimeError(
                f"Mismatch in shape: v has shape {list(vi.shape)} but the output of {fn_name}'s "
                f"function has shape {list(o.shape)}."
            )


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(*inputs), v^T J): the vector-Jacobian product, what backward computes."""
    with enable_grad():
        in_tuple, inputs = _tuple(inputs, "inputs", "vjp")
        inputs = _prepare(inputs, create_graph)
        outputs = func(*inputs)
        out_tuple, outputs = _tuple(outputs, "outputs of the user-provided function", "vjp")
        v = _vector_or_default(v, outputs, "the user-provided function returns", "vjp")
        _check_v(v, outputs, "vjp")
        res = _grads(outputs, inputs, v, create_graph)
    return _finish(outputs, out_tuple, create_graph), _finish(res, in_tuple, create_graph)


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(*inputs), J v): the Jacobian-vector product (forward mode), computed here with
    two reverse passes (the 'double-vjp trick'), as torch.autograd.functional does."""
    with enable_grad():
        in_tuple, inputs = _tuple(inputs, "inputs", "jvp")
        inputs = _prepare(inputs, create_graph)
        v = _vector_or_default(v, inputs, "the input to the user-provided function is", "jvp")
        outputs = func(*inputs)
        out_tuple, outputs = _tuple(outputs, "outputs of the user-provided function", "jvp")
        dummies = tuple(zeros_like(o, requires_grad=True) for o in outputs)
        g = _grads(outputs, inputs, dummies, create_graph=True)  # u -> J^T u, linear in u
        res = _grads(g, dummies, v, create_graph)                 # d(J^T u . v)/du = J v
    return _finish(outputs, out_tuple, create_graph), _finish(res, out_tuple, create_graph)


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
    """The Jacobian, one reverse pass per output element. Entry [i][j] (tuples) has shape
    outputs[i].shape + inputs[j].shape; a single input and output give a single Tensor."""
    with enable_grad():
        in_tuple, inputs = _tuple(inputs, "inputs", "jacobian")
        inputs = _prepare(inputs, create_graph)
        outputs = func(*inputs)
        out_tuple, outputs = _tuple(outputs, "outputs of the user-provided function", "jacobian")
        blocks = []
        for out in outputs:
            rows = []
            for k in range(out.numel()):
                onehot = zeros(out.numel(), dtype=out.dtype)
                onehot.array[k] = 1
                rows.append(_grads((out,), inputs, (onehot.reshape(out.shape),), create_graph))
            per_input = []
            for j, x in enumerate(inputs):
                if rows:
                    block = stack([r[j] for r in rows]).reshape(out.shape + x.shape)
                else:
                    block = zeros(out.shape + x.shape, dtype=x.dtype)
                per_input.append(block if create_graph else block.detach())
            blocks.append(tuple(per_input) if in_tuple else per_input[0])
    return tuple(blocks) if out_tuple else blocks[0]


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False, outer_jacobian_strategy="reverse-mode"):
    """The matrix of second derivatives of a scalar function: the Jacobian of its gradient."""
    in_tuple, inputs_t = _tuple(inputs, "inputs", "hessian")

    def scalar_func(*inp):
        out = func(*inp)
        if isinstance(out, (tuple, list)) or out.numel() != 1:
            raise RuntimeError(
                "The function given to hessian should return a single Tensor with a single element."
            )
        return out.reshape(())

    def gradient(*inp):
        return jacobian(scalar_func, inp if in_tuple else inp[0], create_graph=True)

    return jacobian(gradient, inputs_t if in_tuple else inputs_t[0], create_graph=create_graph)


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(*inputs), H v) for a scalar function; v has the inputs' structure."""
    return _second_order(func, inputs, v, create_graph, "hvp")


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(*inputs), v^T H); equal to hvp since H is symmetric."""
    return _second_order(func, inputs, v, create_graph, "vhp")


def _second_order(func, inputs, v, create_graph, name):
    with enable_grad():
        in_tuple, inputs = _tuple(inputs, "inputs", name)
        inputs = _prepare(inputs, create_graph)
        v = _vector_or_default(v, inputs, "the input to the user-provided function is", name)
        out = func(*inputs)
        if isinstance(out, (tuple, list)) or out.numel() != 1:
            raise RuntimeError(
                f"The function given to {name} should return a single Tensor with a single element."
            )
        g = _grads((out,), inputs, (ones_like(out),), create_graph=True)
        res = _grads(g, inputs, v, create_graph)
    return (out if create_graph else out.detach()), _finish(res, in_tuple, create_graph)


from ..creation import ones_like, zeros, zeros_like  # noqa: E402
from ..functions import stack  # noqa: E402
from ..tensor import Tensor  # noqa: E402


def _vector_or_default(v, tensors, what, name):
    """`v` as a tuple; None is allowed only for a single one-element tensor, where it means 1."""
    if v is None:
        if len(tensors) != 1 or tensors[0].numel() != 1:
            raise RuntimeError(
                f"The vector v can only be None if {what} a single Tensor with a single element."
            )
        return (ones_like(tensors[0]),)
    return _tuple(v, "v", name)[1]
