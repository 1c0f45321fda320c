"""Mirror the grades into an nbgrader gradebook (sqlite), so formgrader shows the same scores.

The database is rebuilt from the per-student results into a temp file and swapped in atomically.
Tests whose points were withheld and submissions that failed get no auto score (nbgrader then marks
them as needing a manual grade), so the gradebook total equals the score in grades.csv.
"""
from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

from .assignment import Assignment


def _stamp_schema_version(db_path: str) -> None:
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


def write_gradebook(path: Path, assignment: Assignment, records: list[dict]) -> None:
    from nbgrader.api import Gradebook
    from sqlalchemy import text

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".gradebook.", suffix=".db.tmp")
    os.close(fd)
    os.unlink(tmp)
    _stamp_schema_version(tmp)
    notebook = Path(assignment.notebook).stem
    try:
        with warnings.catch_warnings(), Gradebook(f"sqlite:///{tmp}") as gb:
            warnings.simplefilter("ignore")  # nbgrader's own SQLAlchemy autoflush warnings
            # a scratch file until os.replace below: no need to fsync every one of nbgrader's commits
            gb.db.execute(text("PRAGMA synchronous=OFF"))
            gb.db.execute(text("PRAGMA journal_mode=MEMORY"))
            gb.update_or_create_assignment(assignment.name)
            gb.update_or_create_notebook(notebook, assignment.name)
            for cell in assignment.cells:
                if cell.kind == "test":
                    gb.update_or_create_grade_cell(cell.grade_id, notebook, assignment.name,
                                                   max_score=cell.points, cell_type="code")
                    gb.update_or_create_source_cell(cell.grade_id, notebook, assignment.name,
                                                    cell_type="code", locked=True, source=cell.source)
                elif cell.kind == "answer":
                    gb.update_or_create_solution_cell(cell.grade_id, notebook, assignment.name)
                    gb.update_or_create_source_cell(cell.grade_id, notebook, assignment.name,
                                                    cell_type="code", locked=False, source=cell.source)
            for rec in records:
                gb.update_or_create_student(rec["student_id"])
                gb.add_submission(assignment.name, rec["student_id"])
                by_id = {t["grade_id"]: t for t in rec["tests"]}
                for cell in assignment.tests:
                    grade = gb.find_grade(cell.grade_id, notebook, assignment.name, rec["student_id"])
                    test = by_id.get(cell.grade_id)
                    if rec["status"] == "failed" or test is None or test["outcome"] == "withheld":
                        grade.auto_score = None
                        grade.needs_manual_grade = True
                    else:
                        grade.auto_score = float(test["points"])
                        grade.needs_manual_grade = False
                gb.db.commit()
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
