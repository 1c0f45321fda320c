"""Rebuild the notebook to execute: the source's cells in source order, with only the student's answers.

Test cells always come from the instructor's source (hidden tests included); anything the student
did to them (edit, delete, duplicate, reorder, change grade ids or points) is reported as a flag and
never trusted.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from .assignment import Assignment


@dataclass(frozen=True)
class PlanCell:
    kind: str        # "answer", "test", "course", "extra" (a code cell the student added)
    code: str
    grade_id: str = ""
    points: float = 0.0
    label: str = ""  # how reports name the cell


@dataclass
class Plan:
    cells: list[PlanCell]
    flags: list[str] = field(default_factory=list)       # structural tampering / damage, plain words
    student_code: dict[str, str] = field(default_factory=dict)  # label -> code the student wrote


def _norm(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def build_plan(assignment: Assignment, notebook) -> Plan:
    """The cells to run for one submission (an nbformat v4 notebook), plus what looks tampered."""
    flags: list[str] = []
    by_id: dict[str, list] = defaultdict(list)
    source_index = {c.grade_id: i for i, c in enumerate(assignment.cells) if c.grade_id}
    course_by_cell_id = {c.cell_id: i for i, c in enumerate(assignment.cells) if c.kind == "course" and c.cell_id}
    course_by_text = {_norm(c.source): i for i, c in enumerate(assignment.cells) if c.kind == "course"}
    extras: dict[int, list[str]] = defaultdict(list)
    order_seen: list[int] = []
    anchor = -1
    for cell in notebook.cells:
        if cell.get("cell_type") != "code":
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {}) or {}
        grade_id = meta.get("grade_id", "") if isinstance(meta, dict) else ""
        grade_id = grade_id if isinstance(grade_id, str) else repr(grade_id)[:60]
        if grade_id in source_index:
            idx = source_index[grade_id]
            by_id[grade_id].append(cell)
            order_seen.append(idx)
            anchor = idx
            continue
        idx = course_by_cell_id.get(cell.get("id", ""), course_by_text.get(_norm(cell.get("source", ""))))
        if idx is not None:
            src = assignment.cells[idx]
            if src.locked and _norm(cell.get("source", "")) != _norm(src.source):
                flags.append(f"a read-only course cell was edited (the original was run instead)")
            anchor = idx
            continue
        if grade_id:
            flags.append(f"a cell claims grade id {str(grade_id)[:60]!r}, which this assignment does not have "
                         "(it ran as ordinary student code and earns nothing)")
        if cell.get("source", "").strip():
            extras[anchor].append(cell.get("source", ""))

    if sorted(set(order_seen)) != _first_occurrences(order_seen):
        flags.append("graded cells were reordered (they ran in the original order)")

    plan_cells: list[PlanCell] = []
    student_code: dict[str, str] = {}

    def add_extras(at: int) -> None:
        for n, code in enumerate(extras.get(at, []), 1):
            label = f"added cell after {_label(assignment, at)} #{n}"
            plan_cells.append(PlanCell("extra", code, label=label))
            student_code[label] = code

    add_extras(-1)
    for i, src in enumerate(assignment.cells):
        copies = by_id.get(src.grade_id, []) if src.grade_id else []
        if src.kind == "answer":
            if not copies:
                flags.append(f"answer cell {src.grade_id!r} is missing (graded as unanswered)")
                code = "raise NotImplementedError()"
            else:
                if len(copies) > 1:
                    flags.append(f"answer cell {src.grade_id!r} appears {len(copies)} times (the first was graded)")
                code = copies[0].get("source", "")
                _check_meta(src, copies[0], flags)
            plan_cells.append(PlanCell("answer", code, src.grade_id, label=src.grade_id))
            student_code[src.grade_id] = code
        elif src.kind == "test":
            _check_test_copies(src, copies, flags)
            plan_cells.append(PlanCell("test", src.source, src.grade_id, src.points, label=src.grade_id))
        else:
            if copies and src.locked and _norm(copies[0].get("source", "")) != _norm(src.source):
                flags.append(f"read-only cell {src.grade_id!r} was edited (the original was run instead)")
            plan_cells.append(PlanCell("course", src.source, src.grade_id, label=src.grade_id or f"cell {i + 1}"))
        add_extras(i)
    return Plan(plan_cells, flags, student_code)


def _label(assignment: Assignment, index: int) -> str:
    if index < 0:
        return "the start"
    cell = assignment.cells[index]
    return repr(cell.grade_id) if cell.grade_id else f"cell {index + 1}"


def _first_occurrences(order: list[int]) -> list[int]:
    seen: list[int] = []
    for i in order:
        if i not in seen:
            seen.append(i)
    return seen


def _check_meta(src, cell, flags: list[str]) -> None:
    meta = cell.get("metadata", {}).get("nbgrader", {}) or {}
    graded = src.kind == "test" or src.manual   # a manually graded answer is nbgrader "grade" + "solution"
    if float(meta.get("points", src.points) or 0) != src.points or bool(meta.get("grade")) != graded:
        flags.append(f"the nbgrader metadata of {src.grade_id!r} was changed (the original was used)")


def _check_test_copies(src, copies: list, flags: list[str]) -> None:
    if not copies:
        flags.append(f"test cell {src.grade_id!r} was deleted (restored from the source)")
        return
    if len(copies) > 1:
        flags.append(f"test cell {src.grade_id!r} appears {len(copies)} times (run once, from the source)")
    for cell in copies:
        meta = cell.get("metadata", {}).get("nbgrader", {}) or {}
        if _norm(cell.get("source", "")) != _norm(src.released):
            flags.append(f"test cell {src.grade_id!r} was edited (restored from the source)")
            break
    for cell in copies:
        meta = cell.get("metadata", {}).get("nbgrader", {}) or {}
        points = meta.get("points", src.points)
        try:
            changed = float(points) != src.points
        except (TypeError, ValueError):
            changed = True
        if changed or not meta.get("grade") or not meta.get("locked", True):
            flags.append(f"the nbgrader metadata of test cell {src.grade_id!r} was changed "
                         f"(points {points!r} vs {src.points:g}; the original was used)")
            break
