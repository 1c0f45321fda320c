"""Build LMS exports the way each LMS names its files, from the fixture course's release and solutions."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import nbformat

from grading.autograde.fake_class import student_notebook

from grading_helpers import FIXTURE, FIXTURE_COURSE

NB = f"{FIXTURE}.ipynb"


def notebook(answered=None, course: Path = FIXTURE_COURSE, assignment: str = FIXTURE) -> str:
    """A student's notebook: every answer solved (None), or only those in `answered`."""
    return nbformat.writes(student_notebook(course, assignment, answered=answered))


def write_zip(path: Path, entries: dict[str, bytes | str]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return path


def zipped(entries: dict[str, bytes | str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return buf.getvalue()


def blackboard_receipt(username: str, name: str, stored: str, original: str = NB) -> str:
    return (f"Name: {name} ({username})\nAssignment: Homework 2\nDate Submitted: Thursday, 1 October 2026 "
            f"23:58:01 o'clock UTC\nCurrent Grade: Needs Grading\n\nSubmission Field:\nThere is no student "
            f"submission text data for this assignment.\n\nComments:\nThere are no student comments for this "
            f"assignment.\n\nFiles:\n\tOriginal filename: {original}\n\tFilename: {stored}\n")
