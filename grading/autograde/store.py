"""Crash-safe results: one JSON per (assignment, student), written atomically, keyed by what was graded.

Layout: <out>/results/<assignment>/<safe_name(student_id)>.json. A record that a run replaces is first copied
to <out>/results/<assignment>/history/, so no grade ever written is lost. Results of the previous layout
(<out>/results/<student_id>.json) are moved into the new one when the store opens.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import unicodedata
from pathlib import Path

from . import GRADER_VERSION

PLAIN_ID = re.compile(r"^[A-Za-z0-9._@+-]{1,100}$")
MAX_TEXT = 200   # student-controlled strings (ids, names, reasons) are cut to this many characters in any file

# Keys every record has; records written before they existed read as these defaults.
RECORD_DEFAULTS = {"name": "", "lms": "", "submitted_at": None, "late": False, "late_penalty": 0.0,
                   "manual_score": None, "reason": "", "tests": [], "flags": [], "events": [], "tamper": [],
                   "origin": ""}


def clip(text, limit: int = MAX_TEXT) -> str:
    """A student-controlled string made safe to write anywhere: at most `limit` characters, no NULs."""
    text = "" if text is None else str(text).replace("\x00", "")
    return text if len(text) <= limit else text[:limit - 1] + "…"


def safe_name(student_id: str) -> str:
    """A file name for a student id: the id itself when plain ASCII, else an ASCII slug + hash of the exact id.

    Deterministic and collision-free (distinct ids that slug alike differ in the hash), never '.', '..' or hidden.
    """
    if PLAIN_ID.match(student_id) and not student_id.startswith("."):
        return student_id
    ascii_ = unicodedata.normalize("NFKD", student_id).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9]+", "-", ascii_).strip("-")[:40] or "id"
    digest = hashlib.sha256(student_id.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return f"{slug}-{digest}"


def _process_umask() -> int:
    """This process's umask, read without changing it (os.umask sets it, which races with other threads)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)   # at import, before any thread starts
    os.umask(mask)
    return mask


NEW_FILE_MODE = 0o666 & ~_process_umask()


def atomic_write(path: Path, data: bytes | str) -> None:
    """Write via a temp file in the same folder + fsync + os.replace: all or nothing, even on kill -9. The file
    gets the permissions a plain write would give it (the old file's, else 0666 less the umask), not mkstemp's
    0600: nbgrader hands feedback and notebooks on to other users as they are."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        try:
            mode = path.stat().st_mode & 0o7777
        except OSError:
            mode = NEW_FILE_MODE
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def submission_key(raw: bytes | None, problem: str | None, assignment_digest: str, settings_text: str) -> str:
    """Hash of the submission, the source (+checks), the grader version and the limits."""
    h = hashlib.sha256()
    for part in (raw or b"", (problem or "").encode(), assignment_digest.encode(), GRADER_VERSION.encode(),
                 settings_text.encode()):
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()


def _complete(rec: dict) -> dict:
    for key, value in RECORD_DEFAULTS.items():
        rec.setdefault(key, list(value) if isinstance(value, list) else value)
    rec.setdefault("auto_score", rec.get("score"))
    return rec


def _read(path: Path) -> dict | None:
    try:
        rec = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return _complete(rec) if isinstance(rec, dict) and "student_id" in rec and "assignment" in rec else None


class ResultStore:
    """<out>/results/<assignment>/<safe_name>.json; stale temp files from a killed run are swept on open."""

    def __init__(self, out: Path):
        self.dir = out / "results"
        self.dir.mkdir(parents=True, exist_ok=True)
        for folder in (out, self.dir, *self.dir.glob("*/"), out / "feedback"):
            for stale in folder.glob(".*.tmp"):   # left by a run killed mid-write: never the real file
                stale.unlink(missing_ok=True)
        self._migrate()

    def _migrate(self) -> None:
        """Move results/<id>.json (the layout before assignments had folders) to results/<assignment>/."""
        for old in sorted(self.dir.glob("*.json")):
            rec = _read(old)
            if rec is None or not isinstance(rec["assignment"], str) or not rec["assignment"]:
                continue   # not a result: left where it is
            target = self.path(rec["assignment"], rec["student_id"])
            if not target.exists():
                atomic_write(target, old.read_bytes())
            old.unlink()

    def folder(self, assignment: str) -> Path:
        return self.dir / safe_name(assignment)

    def path(self, assignment: str, student_id: str) -> Path:
        return self.folder(assignment) / f"{safe_name(student_id)}.json"

    def load(self, assignment: str, student_id: str) -> dict | None:
        rec = _read(self.path(assignment, student_id))
        return rec if rec and rec["student_id"] == student_id and rec["assignment"] == assignment else None

    def is_current(self, assignment: str, student_id: str, key: str) -> bool:
        old = self.load(assignment, student_id)
        return bool(old) and old.get("key") == key

    def save(self, record: dict) -> None:
        """Write one record; the one it replaces (if different) is kept under history/ first."""
        path = self.path(record["assignment"], record["student_id"])
        text = json.dumps(record, indent=1, sort_keys=True)
        try:
            previous = path.read_text()
        except OSError:
            previous = None
        if previous == text:
            return
        if previous is not None:
            digest = hashlib.sha256(previous.encode()).hexdigest()[:12]
            atomic_write(path.parent / "history" / f"{path.stem}.{digest}.json", previous)
        atomic_write(path, text)

    def records(self, assignment: str) -> list[dict]:
        """Every stored result of one assignment, sorted by student id."""
        found = [r for r in map(_read, self.folder(assignment).glob("*.json")) if r and r["assignment"] == assignment]
        return sorted(found, key=lambda r: r["student_id"])

    def all_records(self) -> list[dict]:
        """Every stored result of every assignment, sorted by assignment, then student id."""
        found = [r for folder in self.dir.iterdir() if folder.is_dir()
                 for r in map(_read, folder.glob("*.json")) if r]
        return sorted(found, key=lambda r: (r["assignment"], r["student_id"]))
