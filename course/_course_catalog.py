"""The list of lecture notebooks, where each one's graded exercises live, and a reader for them.

One place for these facts: course/execute.py runs the notebooks listed here, and
tests/test_course_*.py check them.
"""
from __future__ import annotations

from pathlib import Path

COURSE_DIR = Path(__file__).resolve().parent
REPO_ROOT = COURSE_DIR.parent

# stem -> the exercise notebook's path relative to the repository root (None: no graded exercises)
NOTEBOOKS: dict[str, str | None] = {
    "00_welcome": None,
    "01_what_is_pytorch": None,
    "02_tensors": "exercises/02_tensors/02_tensors.ipynb",
    "03_numpy_bridge": "exercises/03_numpy_bridge/03_numpy_bridge.ipynb",
    "04_devices": "exercises/04_devices/04_devices.ipynb",
    "05_autograd": "exercises/05_autograd/05_autograd.ipynb",
    "06_jacobians": "exercises/06_jacobians/06_jacobians.ipynb",
    "07_inside_autograd_minigrad": "exercises/07_minigrad/07_minigrad.ipynb",
    "08_end_to_end": "exercises/08_end_to_end/08_end_to_end.ipynb",
}

IGNORE_MARKER = "# NBVAL_IGNORE_OUTPUT"
IGNORE_REASON = "# Output not compared:"  # the line after the marker says why


def notebook_path(stem: str) -> Path:
    """course/<stem>.ipynb, or a ValueError listing the known stems."""
    if stem not in NOTEBOOKS:
        raise ValueError(f"Unknown course notebook {stem!r}; the course has: {', '.join(NOTEBOOKS)}")
    return COURSE_DIR / f"{stem}.ipynb"


def read_notebook(stem: str):
    """The notebook `stem` as an nbformat v4 node."""
    import nbformat

    return nbformat.read(notebook_path(stem), as_version=4)


def output_text(output) -> str:
    """The text a reader sees for one stored output (stream text, text/plain, error message)."""
    if output.get("output_type") == "stream":
        return output.get("text", "")
    if output.get("output_type") == "error":
        return f"{output.get('ename')}: {output.get('evalue')}"
    return output.get("data", {}).get("text/plain", "")


def is_output_ignored(cell) -> bool:
    """True when nbval does not compare this code cell's output."""
    return any(line.strip() == IGNORE_MARKER for line in cell.source.splitlines())
