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


@dataclass(frozen=True)
class Assignment:
    name: str
    notebook: str                  # notebook file name, e.g. "02_tensors.ipynb"
    cells: tuple[SourceCell, ...]
    digest: str                    # sha256 of the source notebook (and checks helpers)
    release_dir: Path | None

    @property
    def tests(self) -> list[SourceCell]:
        return [c for c in self.cells if c.kind == "test"]

    @property
    def max_score(self) -> float:
        return float(sum(c.points for c in self.tests))

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
    cells = []
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type != "code":
            continue
        grade_id = meta.get("grade_id", "")
        if meta.get("grade") and not meta.get("solution"):
            cells.append(SourceCell("test", cell.source, grade_id, float(meta.get("points", 0) or 0),
                                    released.get(grade_id, strip_hidden(cell.source)), cell.get("id", ""),
                                    True))
        elif meta.get("solution"):
            cells.append(SourceCell("answer", cell.source, grade_id, float(meta.get("points", 0) or 0),
                                    "", cell.get("id", "")))
        else:
            cells.append(SourceCell("course", cell.source, grade_id, 0.0, cell.source, cell.get("id", ""),
                                    bool(meta.get("locked"))))
    digest = hashlib.sha256(raw + extra_digest).hexdigest()
    return Assignment(name, notebooks[0].name, tuple(cells), digest,
                      release_dir if release_dir.is_dir() else None)


def _released_tests(path: Path) -> dict[str, str]:
    """grade_id -> released source of each test cell, if the release exists."""
    if not path.exists():
        return {}
    nb = nbformat.read(path, as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells
            if c.get("metadata", {}).get("nbgrader", {}).get("grade_id")}
