"""Build student notebooks from an assignment's release: used by the red-team tests and the benchmark.

A "student" here is the released notebook with some answer cells filled in with the instructor's
solution (the way a student who solved them would), optionally with extra code cells inserted.
"""
from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat

SOLUTION_MARKERS = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[^\n]*\n?", re.M)


def released_notebook(course: Path, assignment: str):
    folder = course / "exercises" / assignment
    path = next(iter(sorted(folder.glob("*.ipynb"))), None)
    if path is None:
        raise FileNotFoundError(f"no released notebook in {folder}; run `python -m grading release` first")
    return nbformat.read(path, as_version=4)


def solution_answers(course: Path, assignment: str) -> dict[str, str]:
    """grade_id -> the instructor's answer with the solution markers removed."""
    folder = course / "solutions" / assignment
    path = next(iter(sorted(folder.glob("*.ipynb"))))
    nb = nbformat.read(path, as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: SOLUTION_MARKERS.sub("", c.source) for c in nb.cells
            if c.get("metadata", {}).get("nbgrader", {}).get("solution")}


def student_notebook(course: Path, assignment: str, answered: set[str] | None = None,
                     overrides: dict[str, str] | None = None,
                     extra_cells: list[tuple[str, str]] | None = None):
    """The release with `answered` answers solved (None = all), `overrides` (grade_id -> code)
    replacing cells, and extra code cells inserted after the named grade_id ("" = at the top)."""
    nb = copy.deepcopy(released_notebook(course, assignment))
    answers = solution_answers(course, assignment)
    overrides = overrides or {}
    for cell in nb.cells:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid in overrides:
            cell.source = overrides[gid]
        elif gid in answers and (answered is None or gid in answered):
            cell.source = answers[gid]
    for after, code in reversed(extra_cells or []):
        index = 0
        if after:
            index = next(i for i, c in enumerate(nb.cells)
                         if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == after) + 1
        nb.cells.insert(index, nbformat.v4.new_code_cell(code))
    return nb


def write_submission(root: Path, student_id: str, assignment: str, notebook_name: str, nb_or_bytes) -> Path:
    """Place a submission in nbgrader's layout: root/<student>/<assignment>/<notebook>."""
    path = root / student_id / assignment / notebook_name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(nb_or_bytes, (bytes, str)):
        path.write_bytes(nb_or_bytes.encode() if isinstance(nb_or_bytes, str) else nb_or_bytes)
    else:
        nbformat.write(nb_or_bytes, path)
    return path
