"""The instructor's source notebook of an assignment, read into the cells the grader needs."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

HIDDEN_BLOCK = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?^[ \t]*### END HIDDEN TESTS[^\n]*\n?", re.M | re.S)


@dataclass(frozen=True)
class SourceCell:
    kind: str            # "answer" (student writes it), "test" (graded, points), "course" (given code)
    source: str          # instructor's full source (tests include hidden tests)
    grade_id: str = ""
    points: float = 0.0
    released: str = ""   # what students received (tests without hidden blocks)
    cell_id: str = ""    # nbformat cell id (to recognise course cells in a submission)
    locked: bool = False
    manual: bool = False # an answer cell graded by hand (nbgrader "grade" + "solution")
    title: str = ""      # the notebook's heading above the cell (what reports call the question)


@dataclass(frozen=True)
class GradedCell:
    """A cell that carries points, in notebook order: autograded tests and nbgrader's manually graded cells."""
    grade_id: str
    kind: str            # "test" (autograded), "manual" (an answer graded by hand), "task" (a task graded by hand)
    cell_type: str       # "code" or "markdown"
    points: float
    title: str
    source: str          # instructor's source (tests include hidden tests)


@dataclass(frozen=True)
class Assignment:
    name: str
    notebook: str                  # notebook file name, e.g. "02_tensors.ipynb"
    cells: tuple[SourceCell, ...]
    digest: str                    # sha256 of the source notebook (and checks helpers)
    release_dir: Path | None
    graded: tuple[GradedCell, ...] = ()   # every cell with points, code or markdown, in notebook order
    source_path: Path | None = None       # the instructor's notebook
    order: tuple[str, ...] = ()           # every grade id, code or markdown cell, in notebook order

    @property
    def manual(self) -> list[GradedCell]:
        """Cells a person grades (in formgrader): manually graded answers and tasks."""
        return [c for c in self.graded if c.kind != "test"]

    def question_name(self, grade_id: str) -> str:
        """How reports name a graded cell: its heading, with the grade id added when the heading covers several."""
        title = self.title(grade_id)
        shared = sum(1 for c in self.graded if c.title == title) > 1
        return f"{title} ({grade_id})" if shared and title != grade_id else title

    def title(self, grade_id: str) -> str:
        """The question a cell belongs to, named by the heading above it (its grade id if there is none)."""
        return next((c.title for c in self.cells if c.grade_id == grade_id and c.title),
                    next((c.title for c in self.graded if c.grade_id == grade_id), grade_id))

    @property
    def tests(self) -> list[SourceCell]:
        return [c for c in self.cells if c.kind == "test"]

    @property
    def max_score(self) -> float:
        """Autograded and manually graded points together (as nbgrader's gradebook counts them)."""
        if not self.graded:
            return float(sum(c.points for c in self.tests))
        return float(sum(c.points for c in self.graded))

    def cell(self, grade_id: str) -> SourceCell | None:
        return next((c for c in self.cells if c.grade_id == grade_id), None)


def strip_hidden(source: str) -> str:
    return HIDDEN_BLOCK.sub("", source)


def load_assignment(course: Path, name: str, extra_digest: bytes = b"") -> Assignment:
    """Read solutions/<name>/*.ipynb (one notebook) from the course folder; clear error otherwise."""
    folder = course / "solutions" / name
    notebooks = sorted(folder.glob("*.ipynb")) if folder.is_dir() else []
    if not notebooks:
        known = sorted(p.name for p in (course / "solutions").iterdir() if p.is_dir()) \
            if (course / "solutions").is_dir() else []
        raise SystemExit(f"no source notebook for assignment {name!r} in {folder} "
                         f"(known assignments: {', '.join(known) or 'none'}); "
                         "pass the assignment's folder name under solutions/, or --course for another course.")
    if len(notebooks) > 1:
        raise SystemExit(f"assignment {name!r} has several notebooks ({', '.join(p.name for p in notebooks)}); "
                         "the grader handles one notebook per assignment.")
    raw = notebooks[0].read_bytes()
    nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
    release_dir = course / "exercises" / name
    released = _released_tests(release_dir / notebooks[0].name)
    cells, graded = [], []
    titles = headings_above(nb.cells)
    for cell, title in zip(nb.cells, titles):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        grade_id = meta.get("grade_id", "")
        points = float(meta.get("points", 0) or 0)
        if meta.get("grade"):
            kind = "task" if meta.get("task") else "manual" if meta.get("solution") else "test"
            graded.append(GradedCell(grade_id, kind, cell.cell_type, points, title, cell.source))
        if cell.cell_type != "code":
            continue
        if meta.get("grade") and not meta.get("solution"):
            cells.append(SourceCell("test", cell.source, grade_id, points,
                                    released.get(grade_id, strip_hidden(cell.source)), cell.get("id", ""),
                                    True, title=title))
        elif meta.get("solution"):
            cells.append(SourceCell("answer", cell.source, grade_id, points, "", cell.get("id", ""),
                                    manual=bool(meta.get("grade")), title=title))
        else:
            cells.append(SourceCell("course", cell.source, grade_id, 0.0, cell.source, cell.get("id", ""),
                                    bool(meta.get("locked")), title=title))
    digest = hashlib.sha256(raw + extra_digest).hexdigest()
    return Assignment(name, notebooks[0].name, tuple(cells), digest,
                      release_dir if release_dir.is_dir() else None, tuple(graded), notebooks[0],
                      tuple(c.metadata.get("nbgrader", {}).get("grade_id", "") for c in nb.cells
                            if c.metadata.get("nbgrader", {}).get("grade_id")))


HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+(.+?)[ \t#]*$", re.M)


def headings_above(cells) -> list[str]:
    """For each cell, the last heading of the instructor's markdown at or above it ("" before the first).

    Students' markdown answers (nbgrader solution cells) never name a question.
    """
    titles, current = [], ""
    for cell in cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.get("cell_type") == "markdown" and not meta.get("solution"):
            found = HEADING.findall(cell.get("source", ""))
            if found:
                current = found[-1].strip()
        titles.append(current)
    return titles


def _released_tests(path: Path) -> dict[str, str]:
    """grade_id -> released source of each test cell, if the release exists."""
    if not path.exists():
        return {}
    nb = nbformat.read(path, as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells
            if c.get("metadata", {}).get("nbgrader", {}).get("grade_id")}
