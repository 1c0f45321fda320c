"""Keep nbgrader's gradebook (DIR/gradebook.db) in step with the grades, and read back what people graded there.

The gradebook is updated in place, never rebuilt: formgrader writes manual scores and comments into the same
file, and they are part of the grade. Per submission the grader writes the student (nbgrader id `safe_name(id)`,
the real id as `lms_user_id`, the display name as first/last name), the submission's timestamp, its late
penalty, and every test's auto score (none for a failed submission or withheld points, which nbgrader then shows
as needing a manual grade). Manually graded answers and tasks get no auto score; the row stays
`needs_manual_grade` until each has a score.

A manual score refers to what the grader saw when it was given. The gradebook keeps, beside nbgrader's tables,
the digest of each graded cell's content as last published (table `grading_published_cell`); when a regraded
submission's content differs there, that cell's manual score is dropped and the record says so. A manually
graded answer's content is its own source; a test's or a task's is everything the student wrote.
"""
from __future__ import annotations

import warnings
from pathlib import Path

from .assignment import Assignment
from .nbcourse import notebook_stem
from .records import score
from .store import safe_name

BASIS_TABLE = "grading_published_cell"


def _stamp_schema_version(db_path: Path) -> None:
    """Create the alembic_version table nbgrader expects, in-process.

    Given an empty database, nbgrader's Gradebook runs the `alembic` executable in a subprocess just
    to read this one string (seconds on a busy machine); with the table present it skips that.
    """
    import sqlite3

    import nbgrader
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(nbgrader.__file__).parent / "alembic"))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    with sqlite3.connect(db_path) as con:
        con.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        con.execute("INSERT INTO alembic_version (version_num) VALUES (?)", (head,))


def _names(display: str) -> tuple[str | None, str | None]:
    parts = (display or "").strip().rsplit(" ", 1)
    if not parts[0]:
        return None, None
    return (parts[0], parts[1]) if len(parts) == 2 else (parts[0], None)


def _define_assignment(gb, assignment: Assignment, course_id: str, duedate) -> None:
    from nbgrader.utils import parse_utc

    extra = {"duedate": parse_utc(duedate)} if duedate else {}
    gb.update_or_create_assignment(assignment.name, course_id=course_id, **extra)
    notebook = notebook_stem(assignment)
    gb.update_or_create_notebook(notebook, assignment.name)
    for cell in assignment.graded:
        if cell.kind == "task":
            gb.update_or_create_task_cell(cell.grade_id, notebook, assignment.name, max_score=cell.points,
                                          cell_type="markdown")
        else:
            gb.update_or_create_grade_cell(cell.grade_id, notebook, assignment.name, max_score=cell.points,
                                           cell_type=cell.cell_type)
        if cell.kind == "manual":
            gb.update_or_create_solution_cell(cell.grade_id, notebook, assignment.name)
        gb.update_or_create_source_cell(cell.grade_id, notebook, assignment.name, cell_type=cell.cell_type,
                                        locked=cell.kind != "manual", source=cell.source)
    for cell in assignment.cells:
        if cell.kind == "answer" and not cell.manual:
            gb.update_or_create_solution_cell(cell.grade_id, notebook, assignment.name)
            gb.update_or_create_source_cell(cell.grade_id, notebook, assignment.name, cell_type="code",
                                            locked=False, source=cell.source)


def _grades_and_comments(gb, notebook: str, assignment: Assignment, student: str) -> tuple[dict, dict]:
    """grade_id -> Grade and grade_id -> Comment of one submitted notebook; Grades of cells added to the
    assignment after the submission was made are created."""
    from nbgrader.api import Grade

    nb = gb.find_submission_notebook(notebook, assignment.name, student)
    grades = {g.cell.name: g for g in nb.grades}
    for cell in assignment.graded:
        if cell.grade_id not in grades:
            graded = gb.find_graded_cell(cell.grade_id, notebook, assignment.name)
            grades[cell.grade_id] = Grade(cell_id=graded.id, notebook=nb)
            gb.db.add(grades[cell.grade_id])
    return grades, {c.cell.name: c for c in nb.comments}


def sync_gradebook(path: Path, assignment: Assignment, records: list[dict], course_id: str, rule) -> None:
    """Write the records' auto grades into the gradebook at `path` (created if missing), merge what people graded
    there back into each record (see `merge_manual`) and score it again under the late `rule` (records.score)."""
    from nbgrader.api import Gradebook
    from sqlalchemy import text

    if not path.exists():
        _stamp_schema_version(path)
    notebook = notebook_stem(assignment)
    with warnings.catch_warnings(), Gradebook(f"sqlite:///{path}", course_id=course_id) as gb:
        warnings.simplefilter("ignore")  # nbgrader's own SQLAlchemy autoflush warnings
        # nbgrader commits after every change; with a write-ahead log a commit needs no fsync of its own, and a
        # killed grader still loses nothing committed (formgrader reads and writes the same file meanwhile)
        gb.db.execute(text("PRAGMA journal_mode=WAL"))
        gb.db.execute(text("PRAGMA synchronous=NORMAL"))
        gb.db.execute(text(f"CREATE TABLE IF NOT EXISTS {BASIS_TABLE} (assignment TEXT, student TEXT, "
                           "grade_id TEXT, digest TEXT, PRIMARY KEY (assignment, student, grade_id))"))
        _define_assignment(gb, assignment, course_id, rule.due)
        gb.db.commit()
        for rec in records:
            _sync_one(gb, text, assignment, notebook, rec, rule)
            gb.db.commit()


def _sync_one(gb, text, assignment: Assignment, notebook: str, rec: dict, rule) -> None:
    sid = safe_name(rec["student_id"])
    first, last = _names(rec.get("name", ""))
    gb.update_or_create_student(sid, lms_user_id=rec["student_id"], first_name=first, last_name=last)
    stamp = {"timestamp": rec["submitted_at"]} if rec.get("submitted_at") else {}
    gb.update_or_create_submission(assignment.name, sid, **stamp)
    digests = rec.get("answer_digests", {})
    basis = dict(gb.db.execute(text(f"SELECT grade_id, digest FROM {BASIS_TABLE} WHERE assignment=:a AND "
                                    "student=:s"), {"a": assignment.name, "s": sid}).all())
    manual, notes = {}, list(rec.get("manual_notes", []))
    auto = auto_scores(assignment, rec)
    found, notes_of = _grades_and_comments(gb, notebook, assignment, sid)

    def comment(grade_id: str) -> str:
        return (notes_of[grade_id].manual_comment or "") if grade_id in notes_of else ""

    for cell in assignment.graded:
        grade = found[cell.grade_id]
        grade.auto_score = auto[cell.grade_id]
        key = cell.grade_id if cell.kind == "manual" else "*"
        new, old = digests.get(key), basis.get(cell.grade_id)
        if new and old and new != old and (grade.manual_score is not None or grade.extra_credit):
            what = "answer" if cell.kind == "manual" else "submission"
            given = f"{grade.manual_score or 0:g}" + (f" + {grade.extra_credit:g} extra" if grade.extra_credit else "")
            notes.append(f"the manual score of {assignment.title(cell.grade_id)!r} ({given}) was "
                         f"dropped: the {what} changed after it was graded")
            grade.manual_score, grade.extra_credit = None, None
        if new:
            gb.db.execute(text(f"INSERT OR REPLACE INTO {BASIS_TABLE} VALUES (:a, :s, :g, :d)"),
                          {"a": assignment.name, "s": sid, "g": cell.grade_id, "d": new})
        grade.needs_manual_grade = grade.auto_score is None and grade.manual_score is None
        manual[cell.grade_id] = {"kind": cell.kind, "max": cell.points, "auto": grade.auto_score,
                                 "manual": grade.manual_score, "extra": grade.extra_credit or 0.0,
                                 "comment": comment(cell.grade_id) if cell.kind != "test" else ""}
    comments = {c.grade_id: comment(c.grade_id) for c in assignment.cells if c.kind == "answer" and not c.manual}
    merge_manual(rec, manual, {k: v for k, v in comments.items() if v}, notes)
    score(rec, rule)
    gb.find_submission_notebook(notebook, assignment.name, sid).late_submission_penalty = \
        float(rec.get("late_penalty") or 0.0)


def auto_scores(assignment: Assignment, rec: dict) -> dict[str, float | None]:
    """grade_id -> the grader's score of each graded cell: a test's points, None where a person must decide
    (manually graded cells, withheld tests, a failed submission)."""
    tests = {t["grade_id"]: t for t in rec.get("tests", [])}
    scores = {}
    for cell in assignment.graded:
        test = tests.get(cell.grade_id) if cell.kind == "test" else None
        usable = rec["status"] != "failed" and test is not None and test["outcome"] != "withheld"
        scores[cell.grade_id] = float(test["points"]) if usable else None
    return scores


def merge_grader_only(assignment: Assignment, rec: dict) -> None:
    """`merge_manual` before any person graded: what a freshly graded record holds until the gradebook is read."""
    grades = {c.grade_id: {"kind": c.kind, "max": c.points, "auto": score, "manual": None, "extra": 0.0,
                           "comment": ""}
              for c, score in zip(assignment.graded, auto_scores(assignment, rec).values())}
    merge_manual(rec, grades, {}, [])


def merge_manual(rec: dict, grades: dict[str, dict], comments: dict[str, str], notes: list[str]) -> None:
    """Put people's grades into a record: `grades` is grade_id -> {kind, max, auto, manual, extra, comment}, what
    records.score turns into manual_score (manual grades of answers and tasks, overrides of tests, extra credit)."""
    rec["manual"], rec["comments"], rec["manual_notes"] = grades, comments, notes
