"""`python -m grading export <out>`: files an instructor uploads, written from the stored results.

Per assignment, under <out>/exports/<assignment>/:
    questions.csv          one row per student, one column per question (points), then penalty and score
    canvas_gradebook.csv   Canvas's gradebook import: Student,ID,SIS User ID,SIS Login ID,Section,<assignment>
    moodle_worksheet.csv   Moodle's grading worksheet (Identifier "Participant <id>",Full name,Grade,...), when the
                           results came from a Moodle export or --moodle-worksheet is given
A `failed` or `missing` student gets an empty cell, never 0, unless --missing-as-zero.
"""
from __future__ import annotations

import argparse
import csv
import io
import re
import sys
from pathlib import Path

from .outputs import _num
from .roster import name_key, read_roster
from .store import ResultStore, atomic_write, clip

CANVAS_FIXED = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
NO_SCORE = ("failed", "missing")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m grading export",
                                description="Write upload files (per-question CSV, Canvas gradebook import) "
                                            "from the results that `python -m grading grade` stored in OUT.")
    p.add_argument("out", type=Path, help="the --out folder of `grade`")
    p.add_argument("--assignment", nargs="+", help="only these assignments (default: every one in OUT)")
    p.add_argument("--canvas-roster", type=Path,
                   help="Canvas's gradebook export (CSV): fills the Student/SIS/Section columns and names the "
                        "assignment's column as Canvas does, 'Name (id)'")
    p.add_argument("--canvas-column", help="the Canvas column to fill, e.g. '02 Tensors (12345)' (default: the "
                   "roster's column whose name starts with the assignment, else the assignment's name, which "
                   "Canvas imports as a new assignment)")
    p.add_argument("--moodle-worksheet", type=Path,
                   help="the grading worksheet downloaded from the Moodle assignment: written back with Grade filled")
    p.add_argument("--missing-as-zero", action="store_true",
                   help="export failed and missing students as 0 points instead of an empty cell")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not (args.out / "results").is_dir():
        print(f"{args.out} has no results/ folder: pass the --out folder of `python -m grading grade`",
              file=sys.stderr)
        return 2
    store = ResultStore(args.out)
    records = store.all_records()
    names = sorted({r["assignment"] for r in records})
    wanted = args.assignment or names
    unknown = [a for a in wanted if a not in names]
    if unknown or not wanted:
        print(f"no results for {', '.join(unknown) or 'any assignment'} in {args.out} (graded: "
              f"{', '.join(names) or 'none'})", file=sys.stderr)
        return 2
    roster = _canvas_roster(args.canvas_roster) if args.canvas_roster else None
    for assignment in wanted:
        rows = [r for r in records if r["assignment"] == assignment]
        folder = args.out / "exports" / assignment
        atomic_write(folder / "questions.csv", questions_csv(rows, args.missing_as_zero))
        column = args.canvas_column or _canvas_column(roster, assignment)
        text, warnings = canvas_csv(rows, column, roster, args.missing_as_zero)
        atomic_write(folder / "canvas_gradebook.csv", text)
        if args.moodle_worksheet or any(r.get("lms") == "moodle" for r in rows):
            text, more = moodle_csv(rows, args.moodle_worksheet, args.missing_as_zero)
            atomic_write(folder / "moodle_worksheet.csv", text)
            warnings += more
        blank = sum(r["status"] in NO_SCORE for r in rows)
        print(f"{assignment}: {len(rows)} students -> {folder}/questions.csv, canvas_gradebook.csv (column "
              f"{column!r}); {blank} failed/missing exported as {'0' if args.missing_as_zero else 'empty'}",
              file=sys.stderr)
        provisional = [r["student_id"] for r in rows if r["status"] in ("needs_review", "needs_manual_grade")]
        if provisional:
            warnings.append(f"{len(provisional)} score(s) still need review or manual grading and may change: "
                            f"{', '.join(provisional[:20])}")
        for w in warnings:
            print(f"  warning: {w}", file=sys.stderr)
    return 0


def _score(r: dict, missing_as_zero: bool) -> str:
    if r["status"] in NO_SCORE:
        return "0" if missing_as_zero else ""
    return _num(r["score"])


def _csv(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def questions_csv(records: list[dict], missing_as_zero: bool = False) -> str:
    """student_id,name,status,<question (points)>...,late_penalty,score; questions in notebook order."""
    questions: dict[str, float] = {}
    for r in records:
        for t in r["tests"]:
            questions.setdefault(t["grade_id"], t["max_points"])
    header = ["student_id", "name", "status"] + [f"{clip(q, 80)} ({_num(p)})" for q, p in questions.items()] \
        + ["late_penalty", "score"]
    rows = [header]
    for r in sorted(records, key=lambda r: r["student_id"]):
        points = {t["grade_id"]: t["points"] for t in r["tests"]}
        blank = r["status"] in NO_SCORE
        rows.append([clip(r["student_id"]), clip(r.get("name")), r["status"]]
                    + [("0" if missing_as_zero else "") if blank else _num(points.get(q)) for q in questions]
                    + [_num(r.get("late_penalty") or 0.0), _score(r, missing_as_zero)])
    return _csv(rows)


def _canvas_roster(path: Path) -> dict:
    roster = read_roster(path)
    if roster.kind != "canvas":
        raise SystemExit(f"--canvas-roster {path} is a {roster.kind} roster; export the gradebook from Canvas "
                         "(Grades > Export > CSV) and pass that file")
    return {"columns": list(next(iter(roster.extra.values())).keys()), "rows": roster.extra}


def _canvas_column(roster: dict | None, assignment: str) -> str:
    """The roster's assignment column 'Name (id)' whose name matches ours (case, spaces and _ aside)."""
    if roster:
        matches = [c for c in roster["columns"]
                   if re.search(r"\(\d+\)$", c) and name_key(re.sub(r"\(\d+\)$", "", c)) == name_key(assignment)]
        if len(matches) == 1:
            return matches[0]
        print(f"  warning: {'several' if matches else 'no'} Canvas roster column(s) match {assignment!r}"
              f"{': ' + ', '.join(matches) if matches else ''}; pass --canvas-column 'Name (id)'", file=sys.stderr)
    return assignment


def canvas_csv(records: list[dict], column: str, roster: dict | None,
               missing_as_zero: bool = False) -> tuple[str, list[str]]:
    """Canvas's gradebook import file for one assignment, and warnings about rows Canvas cannot match."""
    warnings = []
    not_canvas = sorted(r["student_id"] for r in records if r.get("lms") != "canvas" and
                        not (roster and r["student_id"] in roster["rows"]))
    if not_canvas:
        warnings.append(f"{len(not_canvas)} id(s) did not come from a Canvas export and are not on the Canvas "
                        f"roster, so Canvas may not match them: {', '.join(not_canvas[:20])}")
    max_score = max((r["max_score"] for r in records), default=0)
    rows = [CANVAS_FIXED + [column], ["    Points Possible", "", "", "", "", _num(max_score)]]
    by_id = {r["student_id"]: r for r in records}
    order = list(roster["rows"]) if roster else []
    order += sorted(i for i in by_id if i not in order)
    for sid in order:
        r = by_id.get(sid)
        fixed = roster["rows"].get(sid, {}) if roster else {}
        name = fixed.get("Student") or (r or {}).get("name", "")
        score = _score(r, missing_as_zero) if r else ""
        rows.append([clip(name), sid, fixed.get("SIS User ID", ""), fixed.get("SIS Login ID", ""),
                     fixed.get("Section", ""), score])
    if roster:
        ungraded = [s for s in roster["rows"] if s not in by_id]
        if ungraded:
            warnings.append(f"{len(ungraded)} student(s) on the Canvas roster have no result here (left empty): "
                            f"{', '.join(ungraded[:20])}")
    return _csv(rows), warnings


MOODLE_COLUMNS = ["Identifier", "Full name", "Grade", "Maximum Grade"]


def moodle_csv(records: list[dict], worksheet: Path | None, missing_as_zero: bool = False) -> tuple[str, list[str]]:
    """Moodle's grading worksheet with Grade filled: the downloaded one (every column kept) or a minimal one."""
    by_id = {r["student_id"]: r for r in records}
    if worksheet:
        roster = read_roster(worksheet)
        if roster.kind != "moodle":
            raise SystemExit(f"--moodle-worksheet {worksheet} is a {roster.kind} roster; download the grading "
                             "worksheet from the Moodle assignment (View all submissions > Download grading worksheet)")
        header = list(next(iter(roster.extra.values())).keys())
        grade_col = next((h for h in header if h.strip().casefold() == "grade"), None)
        if grade_col is None:
            raise SystemExit(f"--moodle-worksheet {worksheet} has no Grade column")
        rows = [header]
        for sid, row in roster.extra.items():
            r = by_id.get(sid)
            row = dict(row)
            if r:
                row[grade_col] = _score(r, missing_as_zero)
            rows.append([row[h] for h in header])
        others = sorted(set(by_id) - set(roster.extra))
        warnings = [f"{len(others)} result(s) are not in the worksheet, so Moodle would not take them: "
                    f"{', '.join(others[:20])}"] if others else []
        return _csv(rows), warnings
    max_score = max((r["max_score"] for r in records), default=0)
    rows = [MOODLE_COLUMNS] + [[f"Participant {r['student_id']}", clip(r.get("name")), _score(r, missing_as_zero),
                                _num(max_score)] for r in sorted(records, key=lambda r: r["student_id"])]
    other = sorted(r["student_id"] for r in records if r.get("lms") != "moodle")
    warnings = [f"{len(other)} id(s) are not Moodle participant ids: {', '.join(other[:20])}"] if other else []
    return _csv(rows), warnings
