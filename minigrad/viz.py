"""Pictures of a computation graph: `draw` (graphviz) and `to_text` (always available).

Nodes are numbered in the order a walk from the output meets them, never by memory address,
so the same code always draws the same picture (notebooks storing it stay reproducible).
"""
import shutil

from ._device import to_numpy
from .autograd.function import Function


class TextGraph(str):
    """A string that shows as itself (no quotes, real line breaks) in Jupyter and the REPL."""

    def __repr__(self):
        return str(self)

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))


def _short(t):
    """Values of small tensors, else shape and a summary."""
    a = to_numpy(t.array)
    if a.size <= 6:
        return "[" + ", ".join(f"{v:.4g}" for v in a.reshape(-1).tolist()) + "]"
    return f"<{a.size} values, mean {float(a.mean()):.4g}>"


def _walk(tensor):
    """Nodes and leaves reachable from `tensor`, numbered in first-visit (preorder) order."""
    start = tensor.grad_fn if tensor.grad_fn is not None else tensor
    order, ids, stack = [], {}, [start]
    while stack:
        item = stack.pop()
        if item in ids:
            continue
        ids[item] = len(order)
        order.append(item)
        if isinstance(item, Function):
            stack.extend(e for e in reversed(item._edges) if e is not None)
    return order, ids


def _label(item, names, show_grad=True):
    if isinstance(item, Function):
        text = f"{item.name()} {tuple(item._shape)}"
        hooks = item._hooks
        kept = hooks.retained() if hooks is not None and hooks.retained is not None else None
        if show_grad and kept is not None and kept.grad is not None:
            text += f" grad={_short(kept.grad)}"
        return text
    name = names.get(id(item), "leaf")
    text = f"{name} {tuple(item.shape)}"
    if show_grad and item.grad is not None:
        text += f" grad={_short(item.grad)}"
    return text


def to_text(tensor, names=None):
    """The graph behind `tensor` as an indented tree: op names (torch's XBackward style),
    output shapes and, once backward has run, the leaves' gradients. `names` maps a label to
    a tensor, e.g. names={"x": x, "w": w}, to name the leaves. A node reached again is shown
    as a reference to its number."""
    names = {id(t): n for n, t in (names or {}).items()}
    if tensor.grad_fn is None:
        return TextGraph(f"{names.get(id(tensor), 'tensor')} {tuple(tensor.shape)} "
                         f"(a leaf: no graph recorded{'' if tensor.requires_grad else '; requires_grad=False'})")
    _, ids = _walk(tensor)
    lines, done = [], set()
    stack = [(tensor.grad_fn, "", "", True)]
    while stack:
        item, prefix, branch, root = stack.pop()
        num = ids[item]
        if item in done:
            lines.append(f"{prefix}{branch}#{num} (shown above)")
            continue
        done.add(item)
        lines.append(f"{prefix}{branch}#{num} {_label(item, names)}")
        if isinstance(item, Function):
            children = [e for e in item._edges if e is not None]
            child_prefix = prefix + ("" if root else ("    " if branch.startswith("└") else "│   "))
            for k in reversed(range(len(children))):
                last = k == len(children) - 1
                stack.append((children[k], child_prefix, "└── " if last else "├── ", False))
    return TextGraph("\n".join(lines))


def graphviz_available():
    """True when the graphviz Python package imports and the `dot` program is on PATH."""
    try:
        import graphviz  # noqa: F401
    except ImportError:
        return False
    return shutil.which("dot") is not None


def draw(tensor, names=None):
    """A graphviz.Digraph of the graph behind `tensor` (Jupyter renders it) when graphviz is
    installed; otherwise the same graph as text (`to_text`). Ops are ellipses, leaves boxes;
    arrows point the way the forward pass went."""
    if not graphviz_available():
        return to_text(tensor, names)
    import graphviz

    names_by_id = {id(t): n for n, t in (names or {}).items()}
    dot = graphviz.Digraph(graph_attr={"rankdir": "BT"}, node_attr={"fontsize": "10"})
    order, ids = _walk(tensor)
    for item in order:
        label = _label(item, names_by_id).replace(" grad=", "\\ngrad=")
        shape = "ellipse" if isinstance(item, Function) else "box"
        dot.node(f"n{ids[item]}", label, shape=shape)
        if isinstance(item, Function):
            for e in item._edges:
                if e is not None:
                    dot.edge(f"n{ids[e]}", f"n{ids[item]}")
    return dot
