"""The GPU reference: measurements made once on a real CUDA machine, stored as data in course/data/.

`course/gpu_reference.py` (run by `make gpu-reference`) writes the file; notebooks 01 and 04 read it
with `load_reference()` and plot it beside the reader's own measurement. Until someone has run the
command on a GPU, there is no file, and the charts say so instead of showing invented numbers.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

COURSE_DIR = Path(__file__).resolve().parent
REFERENCE_PATH = COURSE_DIR / "data" / "gpu_reference.json"
RECORD_COMMAND = "make gpu-reference"
SCHEMA = 1

# field -> the type every value there must have (nested dicts spelled out as "section.field")
FIELDS = {
    "schema": int, "recorded": str, "device": str, "cpu": str, "torch": str, "cuda": str,
    "matmul.sizes": list, "matmul.cpu_ms": list, "matmul.gpu_ms": list,
    "timer_mistake.n": int, "timer_mistake.unsynchronized_ms": float, "timer_mistake.cuda_events_ms": float,
    "copies.megabytes": int, "copies.pageable_ms": float, "copies.pinned_ms": float,
}


def not_recorded_message() -> str:
    """What the notebooks print (and the charts show) while no reference exists."""
    return (f"GPU reference not recorded yet. To record it, run `{RECORD_COMMAND}` once on a machine with "
            f"an NVIDIA GPU and commit {REFERENCE_PATH.relative_to(COURSE_DIR.parent)}.")


def validate(reference: dict) -> dict:
    """Return `reference` if every field of FIELDS is present with the right type, else a ValueError."""
    for dotted, kind in FIELDS.items():
        value = reference
        for key in dotted.split("."):
            if not isinstance(value, dict) or key not in value:
                raise ValueError(f"GPU reference lacks '{dotted}'. Re-record it with `{RECORD_COMMAND}`.")
            value = value[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind):
            raise ValueError(f"GPU reference field '{dotted}' should be {kind.__name__}, found "
                             f"{type(value).__name__}. Re-record it with `{RECORD_COMMAND}`.")
    if reference["schema"] != SCHEMA:
        raise ValueError(f"GPU reference has schema {reference['schema']}, this course reads {SCHEMA}. "
                         f"Re-record it with `{RECORD_COMMAND}`.")
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", reference["recorded"]):
        raise ValueError(f"GPU reference 'recorded' should be a date YYYY-MM-DD, found {reference['recorded']!r}.")
    matmul = reference["matmul"]
    if not (len(matmul["sizes"]) == len(matmul["cpu_ms"]) == len(matmul["gpu_ms"]) > 0):
        raise ValueError("GPU reference 'matmul' needs one CPU and one GPU time per size. "
                         f"Re-record it with `{RECORD_COMMAND}`.")
    return reference


def load_reference(path: Path = REFERENCE_PATH) -> dict | None:
    """The stored reference, checked; None when it has not been recorded yet."""
    path = Path(path)
    if not path.exists():
        return None
    return validate(json.loads(path.read_text()))


def describe(reference: dict | None) -> str:
    """One deterministic line saying where the reference comes from (or that it does not exist yet)."""
    if reference is None:
        return not_recorded_message()
    return (f"GPU reference: {reference['device']}, recorded {reference['recorded']} "
            f"(CPU of that machine: {reference['cpu']}).")


def _say_not_recorded(ax) -> None:
    ax.text(0.5, 0.5, "GPU reference not recorded yet\nrun `" + RECORD_COMMAND + "` on a CUDA machine",
            ha="center", va="center", transform=ax.transAxes, fontsize=8,
            bbox={"boxstyle": "round", "facecolor": "#fff3cd"})


def plot_matmul_with_reference(sizes, own_ms: dict, reference: dict | None, own_machine: str):
    """Log-log chart: the reader's own milliseconds per size (solid) beside the stored GPU reference (dashed)."""
    from _course_utils import setup_plots

    plt = setup_plots()
    fig, ax = plt.subplots(figsize=(7.0, 3.6))
    for label, ms in own_ms.items():
        ax.plot(sizes, ms, marker="o", label=f"yours, {label} ({own_machine})")
    if reference is None:
        _say_not_recorded(ax)
    else:
        ref = reference["matmul"]
        ax.plot(ref["sizes"], ref["cpu_ms"], "--", marker="s", label="reference CPU")
        ax.plot(ref["sizes"], ref["gpu_ms"], "--", marker="^", label=f"reference {reference['device']}")
    all_sizes = sorted(set(sizes) | set(reference["matmul"]["sizes"] if reference else []))
    ax.set_xscale("log", base=2)
    ax.set_xticks(all_sizes, labels=[str(n) for n in all_sizes])
    ax.set_yscale("log")
    ax.set_xlabel("n (an n x n @ n x n float32 product)")
    ax.set_ylabel("milliseconds (median)")
    ax.set_title("matrix product time: your machine beside the GPU reference", fontsize=10)
    ax.legend(fontsize=7)
    plt.show()


def plot_gpu_timing_reference(reference: dict | None, own: dict | None = None):
    """Two bar panels from the reference: the unsynchronized-timer mistake, and pageable vs pinned copies.

    `own` (the reader's measurement on a CUDA machine, same keys as the reference's sections) is drawn
    beside the reference when given.
    """
    from _course_utils import setup_plots

    plt = setup_plots()
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.0, 3.2))
    if reference is None:
        left.set_title("a large product: clock without sync vs CUDA events", fontsize=9)
        right.set_title("copy to the GPU: pageable vs pinned memory", fontsize=9)
        for ax in (left, right):
            _say_not_recorded(ax)
            ax.set_xticks([])
            ax.set_yticks([])
        plt.show()
        return
    sources = [("reference", reference)] + ([("yours", own)] if own else [])
    width = 0.8 / len(sources)
    for offset, (name, data) in enumerate(sources):
        mistake, copies = data["timer_mistake"], data["copies"]
        xs = [i + offset * width for i in range(2)]
        bars = left.bar(xs, [mistake["unsynchronized_ms"], mistake["cuda_events_ms"]], width, label=name)
        left.bar_label(bars, fmt="%.3g", fontsize=7)
        bars = right.bar(xs, [copies["pageable_ms"], copies["pinned_ms"]], width, label=name)
        right.bar_label(bars, fmt="%.3g", fontsize=7)
    centre = [i + (len(sources) - 1) * width / 2 for i in range(2)]
    left.set_xticks(centre, labels=["clock, no sync\n(wrong)", "CUDA events"])
    left.set_title(f"{reference['timer_mistake']['n']}x{reference['timer_mistake']['n']} product, ms", fontsize=9)
    right.set_xticks(centre, labels=["pageable", "pinned"])
    right.set_title(f"copy {reference['copies']['megabytes']} MB to the GPU, ms", fontsize=9)
    left.set_yscale("log")  # the mistake is off by orders of magnitude; copies differ by a factor
    for ax in (left, right):
        ax.legend(fontsize=7)
    fig.suptitle(f"{reference['device']}, recorded {reference['recorded']}", fontsize=9)
    fig.tight_layout()
    plt.show()
