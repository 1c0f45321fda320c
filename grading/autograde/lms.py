"""Who submitted an entry: the file-name conventions of LMS exports and of nbgrader's folders.

Each reader takes an entry's path inside the export (posix, relative) and returns an `Owner` (the LMS's stable
student id, a display name if the name carries one, the submission time or late mark if it carries one) or
None when the path is not in its format. `detect` picks the format that reads the most entries.

    canvas      leeanna_10004_5551_02_tensors.ipynb         name slug, [LATE_,] user id, attachment id, file
                leeanna_LATE_10004_5551_02_tensors-1.ipynb  (-1, -2 ...: the same file name uploaded again)
    moodle      Anna Lee_123401_assignsubmission_file_/02_tensors.ipynb   (folder per participant)
                Anna Lee_123401_assignsubmission_file_02_tensors.ipynb    (flat)
    blackboard  Homework 2_alee_attempt_2026-10-01-23-58-01_02_tensors.ipynb (+ ..._attempt_<time>.txt receipt)
    nbgrader    alee/02_tensors/02_tensors.ipynb (+ alee/02_tensors/timestamp.txt)
    pattern     --id-pattern, a regex with (?P<student_id>...) [and (?P<name>...)] searched in the whole path
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, tzinfo

# Most specific first: a Moodle or Blackboard name can also read as a Canvas one, never the reverse.
FORMATS = ("nbgrader", "moodle", "blackboard", "canvas")

CANVAS = re.compile(r"^(?P<name>[^/]*?)_(?:(?P<late>LATE|late)_)?(?P<uid>\d+)(?:_(?P<sub>\d+))?_(?P<file>[^/]+)$")
CANVAS_RESUBMIT = re.compile(r"^(?P<stem>.*?)-(?P<n>\d+)(?P<ext>\.[^.]+)$")
MOODLE = re.compile(r"^(?P<name>[^/]+?)_(?P<pid>\d+)_assignsubmission_(?P<plugin>[a-z]+)_/?(?P<file>.+)$")
BLACKBOARD = re.compile(r"^(?P<prefix>.+)_attempt_(?P<ts>\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d)(?:_(?P<file>[^/]+)|\.txt)$")
BLACKBOARD_RECEIPT_NAME = re.compile(r"^Name:\s*(?P<name>.*?)\s*\((?P<user>[^()\s]+)\)\s*$", re.M)


@dataclass(frozen=True)
class Owner:
    student_id: str
    name: str = ""
    file: str = ""                     # the student's own file name (after the LMS's prefix)
    submitted_at: datetime | None = None
    late: bool = False
    order: tuple = ()                  # sorts a student's uploads, oldest first
    receipt: bool = False              # a file the LMS adds (Blackboard's .txt), not something the student sent


def canvas(path: str, **_) -> Owner | None:
    m = CANVAS.match(path)
    if not m:
        return None
    resub = CANVAS_RESUBMIT.match(m["file"])
    again = int(resub["n"]) if resub else 0
    file = f"{resub['stem']}{resub['ext']}" if resub else m["file"]
    return Owner(m["uid"], m["name"], file, None, bool(m["late"]), (int(m["sub"] or 0), again))


def moodle(path: str, **_) -> Owner | None:
    m = MOODLE.match(path)
    if not m:
        return None
    return Owner(m["pid"], m["name"], m["file"].rsplit("/", 1)[-1], receipt=m["plugin"] != "file")


def blackboard(path: str, timezone: tzinfo | None = None, receipts: dict[str, tuple[str, str]] | None = None,
               **_) -> Owner | None:
    """`receipts` maps '<prefix>_attempt_<time>' to the (username, name) its .txt receipt gives."""
    if "/" in path:
        return None
    m = BLACKBOARD.match(path)
    if not m:
        return None
    stem = f"{m['prefix']}_attempt_{m['ts']}"
    user, name = (receipts or {}).get(stem, (None, ""))
    if not user or not m["prefix"].endswith(f"_{user}"):
        if "_" not in m["prefix"]:
            return None
        user, name = m["prefix"].rsplit("_", 1)[1], ""
    naive = datetime.strptime(m["ts"], "%Y-%m-%d-%H-%M-%S")
    when = naive.replace(tzinfo=timezone) if timezone else naive.astimezone()   # default: this machine's zone
    return Owner(user, name, m["file"] or "", when, False, (m["ts"],), receipt=m["file"] is None)


def blackboard_receipt(text: str) -> tuple[str, str] | None:
    """(username, name) from a Blackboard receipt's 'Name: First Last (username)' line."""
    m = BLACKBOARD_RECEIPT_NAME.search(text)
    return (m["user"], m["name"]) if m else None


def nbgrader(path: str, assignment: str = "", **_) -> Owner | None:
    parts = path.split("/")
    if len(parts) < 3 or parts[1] != assignment or parts[0].startswith("."):
        return None
    return Owner(parts[0], "", "/".join(parts[2:]), receipt=parts[2] == "timestamp.txt" and len(parts) == 3)


def pattern_reader(regex: re.Pattern):
    def read(path: str, **_) -> Owner | None:
        m = regex.search(path)
        if not m or not m.group("student_id"):
            return None
        name = m.group("name") if "name" in regex.groupindex else ""
        return Owner(m.group("student_id"), name or "", path.rsplit("/", 1)[-1])
    return read


READERS = {"canvas": canvas, "moodle": moodle, "blackboard": blackboard, "nbgrader": nbgrader}


def compile_pattern(text: str) -> re.Pattern:
    try:
        regex = re.compile(text)
    except re.error as exc:
        raise SystemExit(f"--id-pattern is not a valid regular expression: {exc}")
    if "student_id" not in regex.groupindex:
        raise SystemExit("--id-pattern needs a named group (?P<student_id>...); e.g. "
                         r"--id-pattern '^(?P<student_id>[^_/]+)_' (an optional (?P<name>...) gives the name)")
    return regex


def detect(paths: list[str], assignment: str, **context) -> str | None:
    """The format that reads the most entries (None if none reads any); ties go to the order of FORMATS."""
    best, best_count = None, 0
    for fmt in FORMATS:
        count = sum(READERS[fmt](p, assignment=assignment, **context) is not None for p in paths)
        if count > best_count:
            best, best_count = fmt, count
    return best


EXAMPLES = ("Canvas 'leeanna_10004_5551_02_tensors.ipynb', Moodle 'Anna Lee_123401_assignsubmission_file_/"
            "02_tensors.ipynb', Blackboard 'Homework 2_alee_attempt_2026-10-01-23-58-01_02_tensors.ipynb', "
            "nbgrader 'alee/02_tensors/02_tensors.ipynb'")
