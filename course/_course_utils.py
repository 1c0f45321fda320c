"""Helpers shared by the course notebooks: plot set-up, device choice, and the plots (timing: _timing.py).

The notebooks keep every PyTorch idea in plain sight; this module only holds the drawing code and
the few lines of plumbing that would otherwise be repeated in several notebooks.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def setup_plots():
    """Return pyplot configured for small, deterministic inline figures.

    Silences matplotlib's one-time "building the font cache" notice so that a first run on a fresh
    machine prints exactly what a re-run prints.
    """
    logging.getLogger("matplotlib").setLevel(logging.ERROR)
    import matplotlib.pyplot as plt

    plt.rcParams.update({
        "figure.figsize": (7.0, 3.2),
        "figure.dpi": 80,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "svg.hashsalt": "course",  # stable ids should anyone save an SVG
    })
    return plt


def best_device():
    """The best available device: CUDA, then Apple's MPS, then the CPU."""
    import torch

    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def make_minigrad_importable() -> None:
    """Put the repository root on sys.path when minigrad is not installed (fresh checkout)."""
    try:
        import minigrad  # noqa: F401
    except ImportError:
        sys.path.insert(0, str(REPO_ROOT))


# ----------------------------------------------------------------------------------------------
# Plots
# ----------------------------------------------------------------------------------------------

def plot_function_and_derivative(x, y, dydx, f_label: str, df_label: str):
    """Two panels: f(x) on the left, its autograd derivative on the right (all 1-D tensors)."""
    plt = setup_plots()
    fig, (left, right) = plt.subplots(1, 2, sharex=True)
    x, y, dydx = (t.detach().cpu().numpy() for t in (x, y, dydx))
    left.plot(x, y, color="tab:blue")
    left.set_title(f_label)
    right.plot(x, dydx, color="tab:orange")
    right.set_title(df_label)
    for ax in (left, right):
        ax.axhline(0, color="black", linewidth=0.6)
        ax.set_xlabel("x")
    fig.tight_layout()
    plt.show()


def plot_unit_square_map(J, title: str = "J maps the unit square to a parallelogram"):
    """Draw the unit square and its image under the 2x2 matrix `J` (a tensor or nested list)."""
    import numpy as np

    plt = setup_plots()
    J = np.asarray(J.detach().cpu() if hasattr(J, "detach") else J, dtype=float)
    square = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]], dtype=float).T
    image = J @ square
    fig, ax = plt.subplots(figsize=(4.8, 4.8))
    ax.fill(square[0], square[1], alpha=0.25, color="tab:blue", label="unit square")
    ax.fill(image[0], image[1], alpha=0.35, color="tab:orange",
            label=f"image, area |det J| = {abs(np.linalg.det(J)):.2f}")
    for col, name in ((0, "J e1 (column 1)"), (1, "J e2 (column 2)")):
        ax.annotate("", xy=J[:, col], xytext=(0, 0),
                    arrowprops={"arrowstyle": "->", "color": "tab:red", "linewidth": 1.5})
        ax.text(*(J[:, col] * 1.08), name, color="tab:red", fontsize=9, ha="center", va="bottom")
    corners = np.concatenate([square, image], axis=1)
    low, high = corners.min() - 0.7, corners.max() + 0.7
    ax.set_xlim(low, high)
    ax.set_ylim(low, high)
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    plt.show()


def plot_loss(losses, title: str = "training loss"):
    """Loss against step number: one list of values, or a {label: values} dict drawn side by side."""
    plt = setup_plots()
    curves = losses if isinstance(losses, dict) else {None: losses}
    fig, ax = plt.subplots()
    for i, (label, values) in enumerate(curves.items()):  # dashes keep coinciding curves both visible
        ax.plot(range(len(values)), values, label=label, linestyle=["-", "--", ":", "-."][i % 4])
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_ylim(bottom=0)
    ax.set_title(title, fontsize=10)
    if isinstance(losses, dict):
        ax.legend()
    plt.show()


def autograd_graph(root, names: dict | None = None):
    """Walk `root.grad_fn` backwards; return (nodes, edges) with readable labels.

    nodes maps a node to (label, depth); edges is a list of (consumer, producer) pairs: in the forward
    pass the producer's output fed the consumer; backward sends gradient from consumer to producer. Leaves reached through AccumulateGrad are labelled with
    their name from `names` (a {name: tensor} dict) when given.
    """
    names = names or {}
    by_id = {id(t): n for n, t in names.items()}
    nodes, edges = {}, []
    root_label = f"{names_of(root, by_id)}\n{type(root.grad_fn).__name__}"
    frontier = [(root.grad_fn, 0, root_label)]
    while frontier:
        fn, depth, label = frontier.pop()
        if fn in nodes:
            nodes[fn] = (nodes[fn][0], max(nodes[fn][1], depth))
            continue
        nodes[fn] = (label, depth)
        for child, _ in fn.next_functions:
            if child is None:
                continue
            if hasattr(child, "variable"):
                child_label = f"leaf {names_of(child.variable, by_id)}\n{tuple(child.variable.shape)}"
            else:
                child_label = type(child).__name__
            edges.append((fn, child))
            frontier.append((child, depth + 1, child_label))
    # depth must be the longest path so parents sit above everything that feeds them
    changed = True
    while changed:
        changed = False
        for parent, child in edges:
            if nodes[child][1] <= nodes[parent][1]:
                nodes[child] = (nodes[child][0], nodes[parent][1] + 1)
                changed = True
    return nodes, edges


def names_of(tensor, by_id: dict) -> str:
    """The name a tensor was given in autograd_graph's `names`, or '' when it has none."""
    return by_id.get(id(tensor), "")


GRAPH_ARROWS = "arrows: the forward pass, inputs to output; backward() walks them in reverse"


def plot_autograd_graph(root, names: dict | None = None, title: str = "the recorded graph"):
    """Draw the graph behind `root` with matplotlib (no Graphviz needed): output at the top."""
    plt = setup_plots()
    nodes, edges = autograd_graph(root, names)
    rows: dict[int, list] = {}
    for fn, (label, depth) in nodes.items():
        rows.setdefault(depth, []).append(fn)
    position = {}
    for depth, row in rows.items():
        row.sort(key=lambda fn: nodes[fn][0])
        for i, fn in enumerate(row):
            position[fn] = ((i + 1) / (len(row) + 1), -depth)
    fig, ax = plt.subplots(figsize=(6.0, 1.2 + 1.1 * len(rows)))
    for consumer, producer in edges:  # arrows drawn as the forward pass went: producer -> consumer
        (x0, y0), (x1, y1) = position[producer], position[consumer]
        ax.annotate("", xy=(x1, y1 - 0.18), xytext=(x0, y0 + 0.18),
                    arrowprops={"arrowstyle": "->", "color": "gray"})
    for fn, (label, _) in nodes.items():
        leaf = label.startswith("leaf")
        ax.text(*position[fn], label, ha="center", va="center", fontsize=9,
                bbox={"boxstyle": "round", "facecolor": "#cfe8cf" if leaf else "#dde6f5"})
    ax.set_xlim(0, 1)
    ax.set_ylim(-len(rows) + 0.4, 0.6)
    ax.axis("off")
    ax.set_title(f"{title}\n({GRAPH_ARROWS})", fontsize=9)
    plt.show()


def show_error(fn) -> None:
    """Call `fn()` and print the exception it raises as `Type: first line of the message`.

    The notebooks use this to show PyTorch's error messages without stopping the notebook.
    """
    try:
        fn()
    except Exception as error:  # noqa: BLE001 - showing any error is the point
        print(f"{type(error).__name__}: {str(error).strip().splitlines()[0]}")
    else:
        print("no error")



class JitteredRange:
    """A map-style dataset of n items; item i is [i, a torch random number, a NumPy random number].

    It lives in a module (not a notebook cell) so that DataLoader worker processes can import it on
    every platform, including those that start workers by spawning instead of forking.
    """

    def __init__(self, n: int):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        import numpy as np
        import torch

        return torch.tensor([float(i), torch.rand(()).item(), float(np.random.rand())])
