"""Find the class's submissions: nbgrader's folder layout or an LMS zip export."""
from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ID_PATTERN = r"^(?P<student_id>[^_/]+)_"
SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$")
MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024


@dataclass
class Submission:
    student_id: str
    raw: bytes | None          # notebook bytes, or None when there is nothing gradable
    problem: str | None = None  # why raw is None, or a remark (several files...)
    origin: str = ""


@dataclass
class Discovery:
    submissions: list[Submission]
    bad_entries: list[str]     # entries no student could be assigned to, with the reason


def discover(path: Path, assignment: str, notebook: str, id_pattern: str = DEFAULT_ID_PATTERN) -> Discovery:
    if not path.exists():
        raise SystemExit(f"submissions not found: {path} (pass a folder <student>/{assignment}/{notebook} "
                         "or an LMS .zip)")
    if path.is_dir():
        return _from_folder(path, assignment, notebook)
    if zipfile.is_zipfile(path):
        return _from_zip(path, notebook, id_pattern)
    raise SystemExit(f"{path} is neither a folder nor a zip file; pass a folder in nbgrader's layout "
                     f"(<student>/{assignment}/{notebook}) or the LMS's zip export.")


def _from_folder(root: Path, assignment: str, notebook: str) -> Discovery:
    subs, bad = [], []
    for student_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        sid = student_dir.name
        if not SAFE_ID.match(sid):
            bad.append(f"{student_dir.name}: not a usable student id (letters, digits, . _ @ + - only)")
            continue
        folder = student_dir / assignment
        target = folder / notebook
        if target.is_file() and not target.is_symlink():
            subs.append(_read(sid, target))
        elif not folder.is_dir():
            subs.append(Submission(sid, None, f"no {assignment}/ folder was submitted", str(student_dir)))
        else:
            others = sorted(p.name for p in folder.glob("*.ipynb"))
            hint = f" (found {', '.join(others)})" if others else ""
            subs.append(Submission(sid, None, f"the notebook {notebook} is missing{hint}", str(folder)))
    return Discovery(subs, bad)


def _read(sid: str, path: Path) -> Submission:
    size = path.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        return Submission(sid, None, f"the notebook is {size // 2**20} MiB, over the {MAX_NOTEBOOK_BYTES // 2**20} MiB cap",
                          str(path))
    return Submission(sid, path.read_bytes(), None, str(path))


def _from_zip(path: Path, notebook: str, id_pattern: str) -> Discovery:
    try:
        pattern = re.compile(id_pattern)
    except re.error as exc:
        raise SystemExit(f"--id-pattern is not a valid regular expression: {exc}")
    if "student_id" not in pattern.groupindex:
        raise SystemExit("--id-pattern needs a named group (?P<student_id>...)")
    found: dict[str, list[Submission]] = {}
    bad: list[str] = []
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            name = info.filename.rsplit("/", 1)[-1]
            if name.startswith(".") or "__MACOSX" in info.filename:
                continue
            match = pattern.search(name)
            sid = match.group("student_id") if match else None
            if not sid or not SAFE_ID.match(sid):
                bad.append(f"{info.filename}: no student id in the file name (pattern {id_pattern!r})")
                continue
            found.setdefault(sid, []).append(_zip_entry(zf, info, sid, notebook))
    subs = []
    for sid, entries in sorted(found.items()):
        good = [s for s in entries if s.raw is not None]
        chosen = (good or entries)[-1]
        if len(entries) > 1:
            note = f"{len(entries)} files were submitted; graded {chosen.origin}"
            chosen.problem = f"{chosen.problem}; {note}" if chosen.problem else note
        subs.append(chosen)
    return Discovery(subs, bad)


def _zip_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, sid: str, notebook: str) -> Submission:
    origin = info.filename
    if info.file_size > MAX_NOTEBOOK_BYTES:
        return Submission(sid, None, f"{origin} is over the {MAX_NOTEBOOK_BYTES // 2**20} MiB cap", origin)
    try:
        data = zf.read(info)
    except Exception as exc:  # noqa: BLE001 - a damaged zip entry
        return Submission(sid, None, f"{origin} could not be read from the zip ({exc})", origin)
    if info.filename.lower().endswith(".ipynb"):
        return Submission(sid, data, None, origin)
    if info.filename.lower().endswith(".zip"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as inner:
                nbs = [i for i in inner.infolist() if i.filename.lower().endswith(".ipynb")
                       and "__MACOSX" not in i.filename and not i.filename.rsplit("/", 1)[-1].startswith(".")]
                exact = [i for i in nbs if i.filename.rsplit("/", 1)[-1] == notebook]
                pick = exact or nbs
                if len(pick) != 1:
                    return Submission(sid, None, f"{origin} holds {len(nbs)} notebooks; expected one ({notebook})",
                                      origin)
                if pick[0].file_size > MAX_NOTEBOOK_BYTES:
                    return Submission(sid, None, f"{origin} holds a notebook over the size cap", origin)
                return Submission(sid, inner.read(pick[0]), None, f"{origin}/{pick[0].filename}")
        except zipfile.BadZipFile:
            return Submission(sid, None, f"{origin} is not a valid zip", origin)
    return Submission(sid, None, f"{origin} is not a notebook (.ipynb) or a zip holding one", origin)
