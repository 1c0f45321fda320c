"""Crash-safe results: one JSON per student, written atomically, keyed by what was graded."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from . import GRADER_VERSION


def atomic_write(path: Path, data: bytes | str) -> None:
    """Write via a temp file in the same folder + fsync + os.replace: all or nothing, even on kill -9."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
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


class ResultStore:
    """<out>/results/<student_id>.json; stale temp files from a killed run are swept on open."""

    def __init__(self, out: Path):
        self.dir = out / "results"
        self.dir.mkdir(parents=True, exist_ok=True)
        for folder in (out, self.dir, out / "feedback"):
            for stale in folder.glob(".*.tmp"):   # left by a run killed mid-write: never the real file
                stale.unlink(missing_ok=True)

    def path(self, student_id: str) -> Path:
        return self.dir / f"{student_id}.json"

    def load(self, student_id: str) -> dict | None:
        try:
            return json.loads(self.path(student_id).read_text())
        except (OSError, ValueError):
            return None

    def is_current(self, student_id: str, key: str) -> bool:
        old = self.load(student_id)
        return bool(old) and old.get("key") == key

    def save(self, record: dict) -> None:
        atomic_write(self.path(record["student_id"]), json.dumps(record, indent=1, sort_keys=True))

    def all(self, assignment: str) -> list[dict]:
        out = []
        for path in sorted(self.dir.glob("*.json")):
            try:
                rec = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if rec.get("assignment") == assignment:
                out.append(rec)
        return out
