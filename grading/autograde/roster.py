"""The class list: who should have submitted, with display names (and the LMS's columns for exports).

Accepted, recognised by their header row:
    plain       student_id,name  (or id,name)
    canvas      a Canvas gradebook export: Student,ID,SIS User ID,SIS Login ID,Section,...  (ID = Canvas user id)
    moodle      a Moodle grading worksheet: Identifier ("Participant 123401"),Full name,...
    blackboard  a Blackboard Grade Centre export: Last Name,First Name,Username,...
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from .store import clip

MOODLE_IDENTIFIER = re.compile(r"^\D*?(\d+)$")


@dataclass
class Roster:
    kind: str
    names: dict[str, str]                                        # student id -> display name, in file order
    extra: dict[str, dict[str, str]] = field(default_factory=dict)  # id -> the row as read (for exports)


def name_key(name: str) -> str:
    """Letters and digits only, case-folded: 'Lee, Anna' -> 'leeanna', Canvas's slug of that name; equal for a
    Moodle name and its folder; '02 Tensors' and '02_tensors' match."""
    return "".join(ch for ch in name.casefold() if ch.isalnum())


def _norm(header: str) -> str:
    return " ".join(header.replace("\ufeff", "").split()).casefold()


def read_roster(path: Path) -> Roster:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise SystemExit(f"--roster {path}: cannot be read ({exc})")
    except UnicodeDecodeError:
        raise SystemExit(f"--roster {path}: not UTF-8 text; save it as 'CSV UTF-8' and pass it again")
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise SystemExit(f"--roster {path} is empty; it needs a header row (student_id,name) and one row per student")
    header = [_norm(h) for h in rows[0]]
    col = {h: i for i, h in enumerate(header)}
    if "student" in col and "id" in col and "sis user id" in col:
        kind, id_col, name_of = "canvas", col["id"], lambda r: r[col["student"]]
    elif "identifier" in col and "full name" in col:
        kind, id_col, name_of = "moodle", col["identifier"], lambda r: r[col["full name"]]
    elif "username" in col and "last name" in col and "first name" in col:
        kind, id_col = "blackboard", col["username"]
        name_of = lambda r: f"{r[col['first name']]} {r[col['last name']]}".strip()  # noqa: E731
    elif "student_id" in col or "id" in col:
        kind, id_col = "plain", col.get("student_id", col.get("id"))
        name_of = (lambda r: r[col["name"]]) if "name" in col else (lambda r: "")  # noqa: E731
    else:
        raise SystemExit(f"--roster {path}: header {rows[0][:6]!r} is not a roster's. Use 'student_id,name', or a "
                         "Canvas gradebook export, a Moodle grading worksheet or a Blackboard Grade Centre export")
    names: dict[str, str] = {}
    extra: dict[str, dict[str, str]] = {}
    problems = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        row = row + [""] * (len(header) - len(row))
        if kind == "canvas" and (row[col["student"]].startswith(" ") or "points possible" in _norm(row[0])):
            continue   # Canvas's "Points Possible" row
        sid = row[id_col].strip()
        if kind == "moodle":
            m = MOODLE_IDENTIFIER.match(sid)
            sid = m.group(1) if m else ""
        if not sid:
            problems.append(f"line {number}: no student id")
        elif sid in names:
            problems.append(f"line {number}: student id {clip(sid, 60)!r} is listed twice")
        else:
            names[sid] = clip(name_of(row).strip())
            extra[sid] = {rows[0][i]: v for i, v in enumerate(row[:len(header)])}
    if problems:
        raise SystemExit(f"--roster {path} ({kind}) has {len(problems)} problem(s): " + "; ".join(problems[:20])
                         + ". Fix the file (one row per student, each with its id) and run again")
    if not names:
        raise SystemExit(f"--roster {path} ({kind}) lists no students")
    return Roster(kind, names, extra)
