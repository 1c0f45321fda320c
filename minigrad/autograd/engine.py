"""The backward pass: walk the graph from the outputs in topological order, without recursion.

1. Count, for every node reachable from the outputs, how many edges point at it.
2. Start from the output nodes; a node runs its backward once every consumer has sent it a
   gradient (its count reached zero), so each gradient is complete before it is used.
Gradients waiting for a node live in one dict and are dropped as soon as the node has run, so
memory is linear in the graph and a chain of a million operations needs no deep call stack.
"""
import warnings

import numpy as np

from .. import _device
from . import grad_mode as _gm
from .function import _FREED, Function, OutputGrads


def _check_grad(node, i, g, edge):
    """Broadcasting undone (built-in ops only), then the one check every backward rule passes."""
    if type(g) is OutputGrads:  # on its way to a Function with several outputs
        return g
    expected = edge._shape if isinstance(edge, Function) else edge.array.shape
    if not isinstance(g, Tensor):
        raise TypeError(
            f"{type(node).__name__}.backward returned a {type(g).__name__} for input {i}; "
            "it must return minigrad Tensors (or None)."
        )
    if g.array.shape != expected:
        if node._broadcasts:
            g = unbroadcast(g, expected)
        if g.array.shape != expected:
            raise RuntimeError(
                f"Function {type(node).__name__} returned an invalid gradient at index {i} - "
                f"got shape {list(g.array.shape)} but expected shape {list(expected)} (the shape "
                "of that input). A backward must return one gradient per input with exactly that "
                "input's shape: if forward broadcast the input, sum the gradient over the "
                "broadcast dimensions."
            )
    expected_dtype = edge._dtype if isinstance(edge, Function) else edge.array.dtype
    if g.array.dtype != expected_dtype:
        g = g.to(FROM_NP[expected_dtype])
    return g


def run_backward(roots, root_grads, retain_graph=False, create_graph=False, targets=None):
    """Propagate `root_grads` from `roots` through the graph.

    Without `targets`, gradients of leaves are accumulated into their `.grad`. With `targets`
    (the tensors of autograd.grad), their gradients are returned in order instead (None where
    unreached) and no `.grad` is touched."""
    buffers = {}  # node or leaf tensor -> gradient received so far
    for r, g in zip(roots, root_grads):
        key = r.grad_fn if r.grad_fn is not None else r
        buffers[key] = g if key not in buffers else buffers[key] + g

    deps = {}  # node -> number of edges from unprocessed nodes
    stack = [k for k in buffers if isinstance(k, Function)]
    while stack:
        for e in stack.pop()._edges:
            if isinstance(e, Function):
                n = deps.get(e)
                if n is None:
                    deps[e] = 1
                    stack.append(e)
                else:
                    deps[e] = n + 1
    ready = [k for k in buffers if isinstance(k, Function) and k not in deps]

    wanted = needed = None
    if targets is not None:
        wanted = {(t.grad_fn if t.grad_fn is not None else t) for t in targets}
        needed = _ancestors(wanted, [k for k in buffers if isinstance(k, Function)], deps)
    captured = {}
    owned = set()  # sums this pass made itself: later contributions are added in place
    pop, get, is_node_type, tensor_type = buffers.pop, buffers.get, Function, Tensor  # locals: hot loop
    prev_mode, _gm.state.enabled = _gm.state.enabled, bool(create_graph)
    try:
        while ready:
            node = ready.pop()
            g = pop(node, None)
            if owned and g in owned:
                owned.discard(g)  # (complete: nothing adds to it any more)
            edges = node._edges
            grads = None
            if g is not None:
                if node._hooks is not None:
                    g = node._hooks.run(g, create_graph)
                if wanted is not None and node in wanted:
                    captured[node] = g
                if needed is None or node in needed:
                    grads = node.backward(node, g)
                    if type(grads) is not tuple:
                        grads = (grads,)
                    if len(grads) != len(edges):
                        grads = _trim(node, grads, len(edges))
                    if not retain_graph and node._saved:  # (torch frees only what was saved)
                        node._saved = _FREED
            for i, e in enumerate(edges):
                if e is None:
                    continue
                is_node = isinstance(e, is_node_type)
                gi = None if grads is None else grads[i]
                if gi is not None:
                    if is_node:
                        shape, dtype = e._shape, e._dtype
                    else:
                        arr = e.array
                        shape, dtype = arr.shape, arr.dtype
                    gd = gi.array if type(gi) is tensor_type else None
                    if gd is None or gd.shape != shape or (gd.dtype is not dtype and gd.dtype != dtype):
                        gi = _check_grad(node, i, gi, e)
                    prev = get(e)
                    if prev is None:
                        buffers[e] = gi
                    elif create_graph or type(gi) is not tensor_type:
                        buffers[e] = prev + gi
                    elif prev in owned:
                        prev.array += gi.array
                    else:
                        buffers[e] = total = _make(prev.array + gi.array)
                        owned.add(total)
                if is_node:
                    n = deps[e] - 1
                    deps[e] = n
                    if n == 0:
                        ready.append(e)
    finally:
        _gm.state.enabled = prev_mode

    leaves = [(leaf, g if leaf._hooks is None else leaf._hooks.run(g, create_graph))
              for leaf, g in buffers.items()]
    if targets is not None:
        for key, g in leaves:  # (nodes were popped)
            if key in wanted:
                captured[key] = g
        return [captured.get(t.grad_fn if t.grad_fn is not None else t) for t in targets]
    # One gradient object may reach several leaves, or be the caller's own `gradient=`: each
    # leaf gets an array of its own.
    seen = {id(g) for g in root_grads}
    for leaf, g in leaves:
        if not leaf.requires_grad:
            continue
        old = leaf._grad
        if create_graph:  # (a gradient of its own: not shared, not a view of another tensor)
            own = id(g) not in seen and getattr(g, "_base", None) is None and g.array.flags.owndata
            leaf._grad = (g if own else g * 1) if old is None else old + g
        elif old is None:  # an array of its own (not a view, not shared), as torch gives
            leaf._grad = g if g.array.base is None and id(g) not in seen else _make(g.array.copy())
        elif old.requires_grad or not old.array.flags.writeable:
            leaf._grad = old.detach() + g
        else:
            old.array += g.array  # accumulate in place, keeping the .grad object
        seen.add(id(g))
    return None


def _trim(node, grads, n_inputs):
    """A backward may return extra trailing Nones (torch accepts them); anything else is an error."""
    if len(grads) > n_inputs and all(g is None for g in grads[n_inputs:]):
        return grads[:n_inputs]
    raise RuntimeError(
        f"function {node.name()} returned an incorrect number of gradients (expected "
        f"{n_inputs}, got {len(grads)})"
    )


def _ancestors(wanted, roots, deps):
    """The nodes from which some tensor in `wanted` can be reached: only they must run for
    autograd.grad (torch leaves the rest of the graph alone, saved tensors included)."""
    parents = {}
    for node in list(deps) + roots:
        for e in node._edges:
            if e is not None:
                parents.setdefault(e, []).append(node)
    needed, stack = set(), list(wanted)
    while stack:
        for p in parents.get(stack.pop(), ()):
            if p not in needed:
                needed.add(p)
                stack.append(p)
    return needed


def _as_tuple(x):
    if x is None:
        return None
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _root_grads(outputs, grad_outputs):
    """The gradients to start from: given ones (checked), or 1 for scalar outputs."""
    grads = []
    for i, out in enumerate(outputs):
        g = grad_outputs[i] if grad_outputs is not None else None
        if not out.requires_grad:
            raise RuntimeError(
                f"element {i} of tensors does not require grad and does not have a grad_fn "
                "(was it computed under no_grad, or from tensors without requires_grad=True?)"
            )
        if g is None:
            if out.array.size != 1:
                raise RuntimeError(
                    "grad can be implicitly created only for scalar outputs; pass gradient= "
                    f"(a tensor of shape {list(out.shape)}, e.g. ones_like(y)) to backward."
                )
            xp = np if isinstance(out.array, np.ndarray) else _device.array_module("cuda")
            ones = xp.empty(out.array.shape, dtype=out.array.dtype)
            ones.fill(1)  # (xp.ones, without its ~1 us of Python-level overhead)
            g = _make(ones)
        else:
            if not isinstance(g, Tensor):
                g = tensor(g, dtype=out.dtype)
            if g.shape != out.shape:
                raise RuntimeError(
                    f"Mismatch in shape: grad_output[{i}] has a shape of {list(g.shape)} and "
                    f"output[{i}] has a shape of {list(out.shape)}."
                )
            if g.array.dtype != out.array.dtype:
                g = g.to(out.dtype)
        grads.append(g)
    return grads


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """torch.autograd.backward: accumulate gradients of `tensors` into the leaves' `.grad`."""
    tensors = _as_tuple(tensors)
    grad_tensors = _as_tuple(grad_tensors)
    if retain_graph is None:
        retain_graph = create_graph
    roots = _root_grads(tensors, grad_tensors)
    if inputs is not None:
        inputs = _as_tuple(inputs)
        grads = run_backward(tensors, roots, retain_graph, create_graph, targets=inputs)
        for t, g in zip(inputs, grads):
            if g is not None:
                g = g if create_graph else g.detach()
                t._grad = g if t._grad is None else t._grad + g
        return
    if create_graph:
        warnings.warn(_CREATE_GRAPH_WARNING, UserWarning, stacklevel=3)
    run_backward(tensors, roots, retain_graph, create_graph)


_CREATE_GRAPH_WARNING = (
    "Using backward() with create_graph=True will create a reference cycle between the parameter "
    "and its gradient which can cause a memory leak. We recommend using autograd.grad when "
    "creating the graph to avoid this. If you have to use this function, make sure to reset the "
    ".grad fields of your parameters to None after use to break the cycle and avoid the leak."
)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=None, materialize_grads=False):
    """torch.autograd.grad: the gradients of `outputs` with respect to `inputs`, as a tuple,
    without touching any `.grad`. With create_graph=True they are themselves differentiable."""
    outputs, inputs = _as_tuple(outputs), _as_tuple(inputs)
    if retain_graph is None:
        retain_graph = create_graph
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(
                f"One of the differentiated Tensors (input {i}) does not require grad; create it "
                "with requires_grad=True."
            )
    roots = _root_grads(outputs, _as_tuple(grad_outputs))
    grads = run_backward(outputs, roots, retain_graph, create_graph, targets=inputs)
    result = []
    for i, (t, g) in enumerate(zip(inputs, grads)):
        if g is None:
            if materialize_grads:
                g = _make(t.array * 0)
            elif not allow_unused:
                raise RuntimeError(
                    f"One of the differentiated Tensors (input {i}) appears to not have been used "
                    "in the graph. Set allow_unused=True if this is the desired behavior."
                )
        elif not create_graph:
            g = g.detach()
        result.append(g)
    return tuple(result)


from .._dtype import FROM_NP  # noqa: E402
from ..creation import tensor  # noqa: E402
from ..ops import unbroadcast  # noqa: E402
from ..tensor import Tensor, _make  # noqa: E402
