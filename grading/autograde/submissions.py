"""Find the class's submissions in a folder or zip: who submitted what, read from the export's own names.

Every file in the input is an entry (a path inside it). Junk that tools add (`__MACOSX/`, `.DS_Store`,
`.ipynb_checkpoints/`) is ignored with a note; every other entry must belong to exactly one student, or the
run stops (see `Discovery.unidentified`). lms.py reads the names; this module groups them per student and
picks the notebook to grade.
"""
from __future__ import annotations

import io
import os
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from pathlib import Path
from typing import Callable

from . import lms
from .store import clip, safe_name

MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024
JUNK_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini"}


@dataclass
class Submission:
    student_id: str
    raw: bytes | None          # notebook bytes, or None when there is nothing gradable
    problem: str | None = None  # why raw is None, or a remark that needs review (several notebooks...)
    origin: str = ""
    name: str = ""
    lms: str = ""
    submitted_at: datetime | None = None
    late: bool = False
    missing: bool = False      # the student is known (a folder, a roster) but submitted nothing
    notes: list[str] = field(default_factory=list)   # remarks that need no review (extra files not graded)


@dataclass
class Discovery:
    submissions: list[Submission]
    unidentified: list[Submission]  # entries with no readable owner, or one id claimed by two people: `failed`
    notes: list[str]                # entries ignored on purpose, and why
    lms: str

    @property
    def bad_entries(self) -> list[str]:
        return [s.problem for s in self.unidentified]


@dataclass(frozen=True)
class Entry:
    path: str
    size: int
    read: Callable[[], bytes]


def discover(path: Path, assignment: str, notebook: str, id_pattern: str | None = None, lms_name: str | None = None,
             tz: tzinfo | None = None) -> Discovery:
    """Submissions of `assignment` in a folder or zip, in any format of lms.py (forced by lms_name/id_pattern)."""
    if not path.exists():
        raise SystemExit(f"submissions not found: {path} (pass a folder <student>/{assignment}/{notebook}, "
                         "an LMS's zip export or the folder it unzips to)")
    if path.is_dir():
        entries, notes = _folder_entries(path)
        return _discover(path, entries, notes, assignment, notebook, id_pattern, lms_name, tz)
    if zipfile.is_zipfile(path):
        try:
            zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise SystemExit(f"{path} is a damaged zip ({exc}); download the export from the LMS again")
        with zf:
            return _discover(path, _zip_entries(path, zf), [], assignment, notebook, id_pattern, lms_name, tz)
    raise SystemExit(f"{path} is neither a folder nor a zip file (or it is a damaged zip: download the export "
                     f"again); pass a folder in nbgrader's layout (<student>/{assignment}/{notebook}) or the "
                     "LMS's zip export.")


def _discover(path: Path, entries: list[Entry], notes: list[str], assignment: str, notebook: str,
              id_pattern: str | None, lms_name: str | None, tz: tzinfo | None) -> Discovery:
    kept = []
    for entry in entries:
        why = _junk(entry.path)
        if why:
            notes.append(f"ignored {clip(entry.path)}: {why}")
        else:
            kept.append(entry)
    if not kept and not (path.is_dir() and _student_folders(path)):
        raise SystemExit(f"{path} holds no submissions ({len(entries)} entries, all ignored or none at all); "
                         "check that it is the right export (it may be the wrong file or an empty download)")
    fmt, reader = _reader(kept, assignment, id_pattern, lms_name)
    receipts = _blackboard_receipts(kept) if fmt == "blackboard" else {}
    owned: dict[str, list[tuple[lms.Owner, Entry]]] = {}
    unidentified, elsewhere = [], []
    for entry in kept:
        owner = reader(entry.path, assignment=assignment, timezone=tz, receipts=receipts)
        if owner is None and fmt == "nbgrader":   # a folder's other assignments and loose files: not this one's
            elsewhere.append(entry.path)
            continue
        problem = _unreadable(owner, fmt, entry.path, assignment)
        if problem:
            unidentified.append(_unidentified(entry.path, problem))
        else:
            owned.setdefault(owner.student_id, []).append((owner, entry))
    if elsewhere:
        notes.append(f"ignored {len(elsewhere)} files outside <student>/{assignment}/ (other assignments, loose "
                     f"files), e.g. {clip(elsewhere[0])}")
    unidentified += _conflicts(owned)
    subs = [_pick(sid, items, fmt, assignment, notebook) for sid, items in sorted(owned.items())]
    if fmt == "nbgrader" and path.is_dir():
        have = {s.student_id for s in subs} | {s.student_id for s in unidentified}
        for name in _student_folders(path):
            if name not in have:
                subs.append(Submission(name, None, f"no {assignment}/ folder was submitted", name, lms="nbgrader",
                                       missing=True))
        subs.sort(key=lambda s: s.student_id)
    return Discovery(subs, unidentified, notes, fmt)


# --- entries ------------------------------------------------------------------------------------------------------

def _folder_entries(root: Path) -> tuple[list[Entry], list[str]]:
    entries, notes = [], []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files) + sorted(d for d in dirs if os.path.islink(os.path.join(folder, d))):
            full = Path(folder) / name
            rel = full.relative_to(root).as_posix()
            if full.is_symlink():   # never followed: it could point at another student's file
                entries.append(Entry(rel, 0, _refuse_link))
                continue
            entries.append(Entry(rel, full.stat().st_size, full.read_bytes))
    return entries, notes


def _refuse_link() -> bytes:
    raise OSError("it is a symbolic link, which is never followed; copy the file itself into the folder")


def _zip_entries(path: Path, zf: zipfile.ZipFile) -> list[Entry]:
    entries = [Entry(i.filename.replace("\\", "/").lstrip("/"), i.file_size, lambda i=i: zf.read(i))
               for i in zf.infolist() if not i.is_dir()]
    if not entries:
        raise SystemExit(f"{path} is an empty zip (no files); download the export from the LMS again, after the "
                         "students have submitted")
    return entries


def _junk(path: str) -> str | None:
    parts = path.split("/")
    if "__MACOSX" in parts or parts[-1].startswith("._"):
        return "macOS metadata added by the zip tool, not a submission"
    if ".ipynb_checkpoints" in parts:
        return "a Jupyter checkpoint (autosave copy); the notebook itself is graded"
    if parts[-1] in JUNK_NAMES:
        return "file-manager metadata, not a submission"
    return None


def _student_folders(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.is_symlink() and not p.name.startswith("."))


# --- owners -------------------------------------------------------------------------------------------------------

def _reader(entries: list[Entry], assignment: str, id_pattern: str | None, lms_name: str | None):
    if id_pattern:
        return "pattern", lms.pattern_reader(lms.compile_pattern(id_pattern))
    if lms_name:
        return lms_name, lms.READERS[lms_name]
    fmt = lms.detect([e.path for e in entries], assignment)
    if fmt is None and all(e.path.lower().endswith(".zip") for e in entries):
        raise SystemExit(f"this export holds only zips ({', '.join(clip(e.path, 80) for e in entries[:3])}), no "
                         "student's file: it is a zip inside a zip. Unzip it once and pass the export inside")
    if fmt is None:
        sample = ", ".join(repr(clip(e.path, 80)) for e in entries[:3])
        raise SystemExit(f"cannot tell which LMS made this export: no entry is named like {lms.EXAMPLES} "
                         f"(first entries: {sample}). Pass --lms canvas|moodle|blackboard|nbgrader, or "
                         "--id-pattern with a (?P<student_id>...) group for another format.")
    return fmt, lms.READERS[fmt]


def _blackboard_receipts(entries: list[Entry]) -> dict[str, tuple[str, str]]:
    found = {}
    for e in entries:
        if "/" not in e.path and e.path.endswith(".txt") and "_attempt_" in e.path and e.size < 1 << 20:
            try:
                got = lms.blackboard_receipt(e.read().decode("utf-8", "replace"))
            except Exception:  # noqa: BLE001 - a damaged receipt: the file name alone is used
                got = None
            if got:
                found[e.path[:-4]] = got
    return found


def readable_id(student_id: str) -> bool:
    """An id that can be shown and stored: not empty or '.'/'..', no path separators or control characters."""
    return (0 < len(student_id) <= 200 and student_id not in (".", "..") and "/" not in student_id
            and "\\" not in student_id and student_id == student_id.strip()
            and not any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in student_id))


def _unreadable(owner: lms.Owner | None, fmt: str, path: str, assignment: str) -> str | None:
    if owner is None:
        hint = (f"it is not in {assignment}/ of a student folder" if fmt == "nbgrader"
                else f"its name is not in the {fmt} format")
        return (f"{clip(path)}: no student id can be read from this entry ({hint}). Fix: rename it in the "
                "export's format, remove it, pass --lms or --id-pattern, or --grade-the-rest to grade the others")
    if not readable_id(owner.student_id):
        return (f"{clip(path)}: the student id {clip(owner.student_id, 60)!r} is not usable (empty, a path or "
                "control characters). Fix: rename the entry, or --grade-the-rest to grade the others")
    return None


def _unidentified(path: str, problem: str) -> Submission:
    return Submission(f"unidentified-{safe_name(path)}"[:120], None, problem, clip(path))


def _conflicts(owned: dict[str, list[tuple[lms.Owner, Entry]]]) -> list[Submission]:
    """Ids claimed by two different names, and ids that differ only in Unicode normalisation: removed from
    `owned`, returned as failed rows."""
    bad: list[Submission] = []
    for sid in list(owned):
        names = sorted({" ".join(o.name.split()).casefold() for o, _ in owned[sid] if o.name})
        if len(names) > 1:
            entries = ", ".join(clip(e.path, 120) for _, e in owned.pop(sid))
            bad.append(Submission(sid, None, f"{sid}: one id, {len(names)} different names ({', '.join(names)}) "
                                  f"in {entries}. Two people cannot share an id: remove the entries that are "
                                  "not this student's from the export, or --grade-the-rest to grade the others",
                                  entries))
    by_form: dict[str, list[str]] = {}
    for sid in owned:
        by_form.setdefault(unicodedata.normalize("NFC", sid), []).append(sid)
    for same in (v for v in by_form.values() if len(v) > 1):
        for sid in same:
            entries = ", ".join(clip(e.path, 120) for _, e in owned.pop(sid))
            bad.append(Submission(sid, None, f"{sid}: the ids {same!r} differ only in how their accents are "
                                  f"encoded ({entries}); rename the folders to one spelling, or --grade-the-rest",
                                  entries))
    return bad


# --- the notebook of one student ----------------------------------------------------------------------------------

def _pick(sid: str, items: list[tuple[lms.Owner, Entry]], fmt: str, assignment: str, notebook: str) -> Submission:
    name = next((o.name for o, _ in items if o.name), "")
    late = any(o.late for o, _ in items)
    sub = Submission(sid, None, None, "", clip(name), fmt, None, late)
    if fmt == "nbgrader":
        return _pick_nbgrader(sub, items, assignment, notebook)
    files = [(o, e) for o, e in items if not o.receipt]
    candidates = [(o, e) for o, e in files if e.path.lower().endswith((".ipynb", ".zip"))]
    sub.notes = [f"also submitted {clip(e.path)} (not a notebook: not graded)" for o, e in files
                 if (o, e) not in candidates]
    if not candidates:
        sent = ", ".join(clip(e.path, 120) for _, e in files) or "only the LMS's receipt"
        sub.problem, sub.origin = f"no notebook was submitted (got {sent}); {notebook} was expected", sent
        return sub
    named = [(o, e) for o, e in candidates if o.file == notebook]
    if len(named) == 1:   # the assignment's notebook once, beside other notebooks (scratch work): no doubt
        sub.notes += [f"also submitted {clip(e.path)} (not graded: the notebook is {notebook})"
                      for o, e in candidates if (o, e) not in named]
        candidates = named
    read = [(o, e, *_notebook_from(e, notebook)) for o, e in candidates]
    usable = [r for r in read if r[2] is not None] or read
    owner, entry, raw, problem, origin = max(usable, key=lambda r: (r[0].file == notebook, r[0].order))
    sub.raw, sub.problem, sub.origin, sub.submitted_at = raw, problem, origin, owner.submitted_at
    if len(candidates) > 1:
        listed = ", ".join(clip(e.path, 120) for _, e in candidates)
        note = (f"{len(candidates)} notebooks were submitted ({listed}); graded {clip(origin)} (the latest upload "
                f"named {notebook} if any). To grade another, remove the others from the export and re-run "
                f"with --only {sid}")
        sub.problem = f"{problem}; {note}" if problem else note
    return sub


def _pick_nbgrader(sub: Submission, items, assignment: str, notebook: str) -> Submission:
    by_file = {o.file: e for o, e in items}
    sub.origin = f"{sub.student_id}/{assignment}/{notebook}"
    stamp = by_file.get("timestamp.txt")
    if stamp is not None:
        sub.submitted_at, note = _nbgrader_timestamp(stamp)
        if note:
            sub.notes.append(note)
    entry = by_file.get(notebook)
    if entry is None:
        others = sorted(f for f in by_file if f.endswith(".ipynb"))
        hint = f" (found {', '.join(clip(o, 80) for o in others)})" if others else ""
        sub.problem = f"the notebook {notebook} is missing{hint}; nbgrader's layout needs that exact name"
        return sub
    sub.raw, sub.problem = _checked_read(entry)
    return sub


def _nbgrader_timestamp(entry: Entry) -> tuple[datetime | None, str | None]:
    from nbgrader.utils import parse_utc   # nbgrader's own reader of the timestamps its exchange writes

    try:
        if entry.size > 1000:
            raise ValueError("too long for a timestamp")
        text = entry.read().decode("utf-8").strip()
        return parse_utc(text).replace(tzinfo=timezone.utc), None
    except Exception as exc:  # noqa: BLE001 - any unreadable timestamp
        return None, f"{clip(entry.path)} is not a timestamp nbgrader can read ({type(exc).__name__}); " \
                     "submission time unknown"


def _checked_read(entry: Entry) -> tuple[bytes | None, str | None]:
    if entry.size > MAX_NOTEBOOK_BYTES:
        return None, f"{clip(entry.path)} is over the {MAX_NOTEBOOK_BYTES // 2**20} MiB cap"
    try:
        return entry.read(), None
    except Exception as exc:  # noqa: BLE001 - a damaged zip entry, an unreadable file
        return None, f"{clip(entry.path)} could not be read ({type(exc).__name__}: {clip(exc, 120)}); " \
                     "download the export again or ask the student to resubmit"


def _notebook_from(entry: Entry, notebook: str) -> tuple[bytes | None, str | None, str]:
    """(notebook bytes or None, problem, origin) of an uploaded .ipynb, or of a zip holding exactly one."""
    raw, problem = _checked_read(entry)
    if raw is None or entry.path.lower().endswith(".ipynb"):
        return raw, problem, entry.path
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as inner:
            infos = [i for i in inner.infolist() if not i.is_dir() and not _junk(i.filename)]
            nbs = [i for i in infos if i.filename.lower().endswith(".ipynb")]
            exact = [i for i in nbs if i.filename.rsplit("/", 1)[-1] == notebook]
            pick = exact or nbs
            if len(pick) != 1:
                nested = " and another zip inside it (zips are opened one level deep)" \
                    if any(i.filename.lower().endswith(".zip") for i in infos) else ""
                return None, (f"{clip(entry.path)} holds {len(nbs)} notebooks{nested}; expected one ({notebook}): "
                              "ask the student to submit the notebook itself"), entry.path
            if pick[0].file_size > MAX_NOTEBOOK_BYTES:
                return None, f"{clip(entry.path)} holds a notebook over the size cap", entry.path
            return inner.read(pick[0]), None, f"{entry.path}/{pick[0].filename}"
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        return None, f"{clip(entry.path)} is not a readable zip ({clip(exc, 120)}): ask the student to resubmit", \
            entry.path
