"""The grader's output folder as an nbgrader course directory, so stock nbgrader and formgrader work on it.

    DIR/nbgrader_config.py                               course id, export plugin (nbgrader reads it from DIR)
    DIR/gradebook.db                                     nbgrader's gradebook (gradebook.py keeps it up to date)
    DIR/submitted/<student>/<assignment>/<nb>.ipynb      the notebook as received (formgrader counts these)
    DIR/autograded/<student>/<assignment>/<nb>.ipynb     the notebook as graded, for formgrader and generate_feedback
    DIR/feedback/<student>/<assignment>/<nb>.html        what the student receives (feedback.py)

<student> is `safe_name(student_id)`. The autograded notebook holds what the student received (visible tests only,
never hidden test source or the instructor's solutions), the student's answers and added cells, each test's
result as an output, and an error output on an answer cell that does not compile (a SyntaxError with its line).
"""
from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timezone
from pathlib import Path

import nbformat

from .assignment import Assignment, strip_hidden
from .store import atomic_write, safe_name

# files nbgrader's exchange puts beside a submitted notebook; they travel with it into autograded/ and feedback/
EXCHANGE_FILES = ("timestamp.txt", "submission_secret.txt")
CONFIG_HEADER = '"""nbgrader configuration of this grading folder (written by `python -m grading grade`)."""'
MANUAL_SCHEME = re.compile(r"^[ \t]*=+ *BEGIN MARK SCHEME.*?^[ \t]*=+ *END MARK SCHEME[^\n]*\n?", re.M | re.S)


def notebook_stem(assignment: Assignment) -> str:
    return Path(assignment.notebook).stem


def autograded_path(out: Path, assignment: Assignment, student_id: str) -> Path:
    return out / "autograded" / safe_name(student_id) / assignment.name / assignment.notebook


def submitted_path(out: Path, assignment: Assignment, student_id: str) -> Path:
    return out / "submitted" / safe_name(student_id) / assignment.name / assignment.notebook


def feedback_path(out: Path, assignment: Assignment, student_id: str) -> Path:
    return out / "feedback" / safe_name(student_id) / assignment.name / f"{notebook_stem(assignment)}.html"


# --- the course's configuration ----------------------------------------------------------------------------------

def _configured_course_id(config_file: Path) -> str:
    """The `CourseDirectory.course_id` an nbgrader_config.py sets, or "" when it sets none."""
    if not config_file.is_file():
        return ""
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader(config_file.name, str(config_file.parent)).load_config()
    return str(config.CourseDirectory.get("course_id", "") or "")


def course_id_of(course: Path) -> str:
    """The course id nbgrader has for `course`: set by the course's own config file, else by an nbgrader_config.py
    on Jupyter's config path (a hub's role configuration, as nbgrader itself reads it), else "default_course"."""
    from jupyter_core.paths import jupyter_config_path

    for config in [course_config_file(course), *(Path(d) / "nbgrader_config.py" for d in jupyter_config_path())]:
        if found := _configured_course_id(config):
            return found
    return "default_course"


def course_config_file(course: Path) -> Path:
    """Where a course keeps its nbgrader configuration (this repository: grading/nbgrader_config.py)."""
    for candidate in (course / "grading" / "nbgrader_config.py", course / "nbgrader_config.py"):
        if candidate.is_file():
            return candidate
    return course / "nbgrader_config.py"


def write_course_config(out: Path, course_id: str, source_dir: Path) -> None:
    """DIR/nbgrader_config.py: nbgrader run in DIR (or formgrader started by `python -m grading formgrader DIR`)
    sees DIR as the course root, with our course id, the instructors' source folder and our CSV exporter. A
    configuration the grader did not write (DIR is the course directory itself) is left alone."""
    target = out / "nbgrader_config.py"
    if target.is_file() and not target.read_text(errors="replace").startswith(CONFIG_HEADER):
        return   # --out is a course directory with its own configuration (a hub's course): it stays as it is
    repo = str(Path(__file__).resolve().parents[2])   # where `grading` is, for the exporter below
    text = (f'{CONFIG_HEADER}\n'
            "import os\nimport sys\n\n"
            f"sys.path.append({repo!r})\n"
            "c = get_config()  # noqa: F821\n"
            "c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))\n"
            f"c.CourseDirectory.course_id = {course_id!r}\n"
            f"c.CourseDirectory.source_directory = {str(source_dir)!r}\n"
            "# `nbgrader export` writes the same scores as grades.csv: empty, not 0, for what could not be graded\n"
            "c.ExportApp.plugin_class = 'grading.autograde.nbexport.GradesCsvExport'\n")
    atomic_write(target, text)


# --- one graded submission ---------------------------------------------------------------------------------------

def publish(out: Path, assignment: Assignment, record: dict, raw: bytes | None, folder: Path | None) -> None:
    """Write a graded submission's autograded notebook (and the exchange's files beside it) and add to the
    record what its feedback needs: answer digests and compile errors, question titles, files not used.
    `folder` is the submission's own folder in nbgrader's layout (None for an LMS export)."""
    submission = _read(raw)
    for test in record.get("tests", []):
        test["title"] = assignment.question_name(test["grade_id"])
    record["unused_files"] = unused_files(folder, assignment) if folder else []
    from .gradebook import merge_grader_only

    merge_grader_only(assignment, record)   # the same fields the gradebook sync fills in later
    _keep_submitted(out, assignment, record["student_id"], raw, folder)
    if submission is None:   # formgrader still gets a page: the release, under a note saying why
        record.setdefault("answer_digests", {})
        record.setdefault("answer_errors", {})
        nb = _release_notebook(assignment)
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(
            f"**Not graded: {record.get('reason') or 'nothing could be read'}.** The cells below are the release "
            "as students received it, not this student's work."))
        _write_autograded(out, assignment, record, nb, folder)
        return
    answers = answer_sources(assignment, submission)
    record["answer_digests"] = answer_digests(assignment, submission, answers)
    record["answer_errors"] = {gid: err for gid, src in answers.items()
                               if (err := compile_error(src, assignment, gid)) is not None}
    cells = record.get("cells") or []   # the runner's notebook as graded: its outputs and errors are the truth
    record["answer_errors"].update({c["grade_id"]: c["error"] for c in cells
                                    if c.get("kind") == "answer" and c.get("error") and c.get("grade_id")})
    nb = with_runner_outputs(autograded_notebook(assignment, record, submission, answers), cells)
    _write_autograded(out, assignment, record, nb, folder)


def _write_autograded(out: Path, assignment: Assignment, record: dict, nb, folder: Path | None) -> None:
    target = autograded_path(out, assignment, record["student_id"])
    atomic_write(target, nbformat.writes(nb))
    for name in EXCHANGE_FILES:
        if folder and (folder / name).is_file():
            atomic_write(target.parent / name, (folder / name).read_bytes())
    if not (target.parent / "timestamp.txt").exists():
        stamp = record.get("submitted_at") or datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f %Z")
        atomic_write(target.parent / "timestamp.txt", stamp)


def _keep_submitted(out: Path, assignment: Assignment, student_id: str, raw: bytes | None,
                    folder: Path | None) -> None:
    """The submission as received, in nbgrader's submitted/ folder (left alone when it was graded from there)."""
    target = submitted_path(out, assignment, student_id)
    if raw is None or (folder is not None and folder.resolve() == target.parent.resolve()):
        return
    atomic_write(target, raw)
    for name in EXCHANGE_FILES:
        if folder and (folder / name).is_file():
            atomic_write(target.parent / name, (folder / name).read_bytes())


def _read(raw: bytes | None):
    if raw is None:
        return None
    try:
        nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
        return nb if isinstance(nb.get("cells"), list) else None
    except Exception:  # noqa: BLE001 - the runner has already reported an unreadable notebook
        return None


def _meta(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def answer_sources(assignment: Assignment, submission) -> dict[str, str]:
    """grade_id -> the student's source of each answer cell (code or markdown); the first copy counts."""
    wanted = {c.grade_id for c in assignment.cells if c.kind == "answer"}
    wanted |= {c.grade_id for c in assignment.graded if c.kind == "manual"}
    found: dict[str, str] = {}
    for cell in submission.cells:
        gid = _meta(cell).get("grade_id", "")
        if gid in wanted and gid not in found and isinstance(cell.get("source"), str):
            found[gid] = cell.source
    return found


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def answer_digests(assignment: Assignment, submission, answers: dict[str, str]) -> dict[str, str]:
    """What a manual score refers to: a manually graded answer -> its own source; "*" (tests and tasks) ->
    everything the student wrote (answers and added cells)."""
    digests = {gid: _digest(src) for gid, src in answers.items()}
    known = {c.grade_id for c in assignment.graded} | {c.grade_id for c in assignment.cells if c.grade_id}
    added = [c.get("source", "") for c in submission.cells if _meta(c).get("grade_id", "") not in known]
    digests["*"] = _digest(json.dumps([sorted(answers.items()), added]))
    return digests


def compile_error(source: str, assignment: Assignment, grade_id: str) -> dict | None:
    """A code answer's SyntaxError (with its line), or None; see `syntax_error`."""
    cell = next((c for c in assignment.cells if c.grade_id == grade_id), None)
    return syntax_error(source) if cell is not None and cell.kind == "answer" else None


def syntax_error(source: str) -> dict | None:
    """{ename, evalue, line, text} when the cell does not compile as IPython would compile it, else None.
    Compiling runs nothing, so the grader may do it outside the sandbox."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        compile(TransformerManager().transform_cell(source), "<answer>", "exec")
    except SyntaxError as exc:
        return {"ename": type(exc).__name__, "evalue": exc.msg or str(exc), "line": exc.lineno or 0,
                "text": (exc.text or "").strip()[:300]}
    except Exception:  # noqa: BLE001 - a transformer error: the kernel reports it when it runs the cell
        return None
    return None


def unused_files(folder: Path, assignment: Assignment) -> list[str]:
    """Files the student submitted beside the notebook that the grader does not use (only the notebook is
    graded; files the release itself provides are not counted)."""
    release = assignment.release_dir
    names = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if (not path.is_file() or path.name == assignment.notebook or str(rel) in EXCHANGE_FILES
                or any(part.startswith(".") or part in ("__pycache__", ".ipynb_checkpoints") for part in rel.parts)):
            continue
        if release is not None and (release / rel).is_file() and (release / rel).read_bytes() == path.read_bytes():
            continue
        names.append(str(rel))
    return names[:50]


# --- the autograded notebook -----------------------------------------------------------------------------------

def _release_notebook(assignment: Assignment):
    """What students received: the release, or else the source with hidden tests, solutions and mark schemes
    cut (the student's answers replace the solutions anyway)."""
    if assignment.release_dir is not None and (assignment.release_dir / assignment.notebook).is_file():
        return nbformat.read(assignment.release_dir / assignment.notebook, as_version=4)
    nb = nbformat.read(assignment.source_path, as_version=4)
    for cell in nb.cells:
        meta = _meta(cell)
        if meta.get("solution"):
            cell.source = ""
        elif meta.get("grade") and cell.cell_type == "code":
            cell.source = strip_hidden(cell.source)
    return nb


def _norm(text: str) -> str:
    return "\n".join(line.rstrip() for line in str(text).strip().splitlines())


def autograded_notebook(assignment: Assignment, record: dict, submission, answers: dict[str, str]):
    """The notebook as graded: the release's cells in release order with the student's answers, the cells the
    student added where they put them, test results as outputs, compile errors on answer cells."""
    release = _release_notebook(assignment)
    by_gid = {_meta(c).get("grade_id"): i for i, c in enumerate(release.cells) if _meta(c).get("grade_id")}
    by_id = {c.get("id"): i for i, c in enumerate(release.cells) if c.get("id")}
    by_text = {_norm(c.source): i for i, c in enumerate(release.cells) if not _meta(c).get("solution")}
    extras: dict[int, list] = {}
    anchor = -1
    for cell in submission.cells:
        gid = _meta(cell).get("grade_id", "")
        idx = by_gid.get(gid) if gid else None
        if idx is None and not gid:
            idx = by_id.get(cell.get("id")) if cell.get("id") in by_id and not _meta(release.cells[by_id[cell.get("id")]]).get("solution") else None
            idx = by_text.get(_norm(cell.get("source", ""))) if idx is None else idx
        if idx is not None:
            anchor = idx
            continue
        if str(cell.get("source", "")).strip() and cell.get("cell_type") in ("code", "markdown"):
            extras.setdefault(anchor, []).append(cell)
    tests = {t["grade_id"]: t for t in record.get("tests", [])}
    errors = record.get("answer_errors", {})
    cells = [_added(c) for c in extras.get(-1, [])]
    for i, cell in enumerate(release.cells):
        cell = nbformat.from_dict(json.loads(json.dumps(cell)))
        gid = _meta(cell).get("grade_id", "")
        if _meta(cell).get("solution") and gid in answers:
            cell.source = answers[gid]
        if cell.cell_type == "markdown" and _meta(cell).get("task"):
            cell.source = MANUAL_SCHEME.sub("", cell.source)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            if gid in tests:
                cell.source = strip_hidden(cell.source)
                cell.outputs = _test_outputs(tests[gid])
            elif gid in errors:
                cell.outputs = [_error_output(errors[gid])]
        cells.append(cell)
        cells += [_added(c) for c in extras.get(i, [])]
    release.cells = cells
    return release


def with_runner_outputs(nb, cells: list[dict]):
    """Give the autograded notebook's code cells the outputs they had when the runner ran them: `cells` is the
    runner's record of the notebook as graded, a list of {source, grade_id, kind, outputs} (test cells with their
    visible source only, error tracebacks cut to one line). Graded cells are matched by grade id, the others by
    their source; a cell the runner did not run keeps what autograded_notebook gave it."""
    by_gid = {c["grade_id"]: c["outputs"] for c in cells if c.get("grade_id") and c.get("kind") in ("answer", "test")}
    by_source: dict[str, list] = {}
    for c in cells:
        if not c.get("grade_id"):
            by_source.setdefault(_norm(c.get("source", "")), []).append(c["outputs"])
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        gid = _meta(cell).get("grade_id", "")
        outputs = by_gid.get(gid) if gid else (by_source.get(_norm(cell.source)) or [None]).pop(0)
        if outputs is not None:
            cell.outputs = [nbformat.from_dict(json.loads(json.dumps(o))) for o in outputs]
    return nb


def _added(cell):
    """A cell the student added, as an ordinary cell (no nbgrader metadata: it earns nothing by itself)."""
    if cell.get("cell_type") == "markdown":
        return nbformat.v4.new_markdown_cell(str(cell.get("source", "")))
    return nbformat.v4.new_code_cell(str(cell.get("source", "")))


def _error_output(error: dict):
    where = f" (line {error['line']}: {error.get('text', '').strip()})" if error.get("line") else ""
    return nbformat.v4.new_output("error", ename=error["ename"], evalue=f"{error['evalue']}{where}",
                                  traceback=[f"{error['ename']}: {error['evalue']}{where}"])


def _test_outputs(test: dict) -> list:
    """A test's result as the notebook shows it: nothing when it passed, else the test's own message."""
    outcome, message = test.get("outcome", ""), test.get("message", "")
    if outcome == "passed":
        return []
    if outcome == "failed" and message:
        ename, sep, evalue = message.partition(": ")
        if not (sep and re.match(r"^[A-Za-z_][\w.]*$", ename)):
            ename, evalue = "AssertionError", message
        return [nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])]
    text = f"{outcome.replace('_', ' ')}: {message}" if message else outcome.replace("_", " ")
    return [nbformat.v4.new_output("stream", name="stderr", text=text + "\n")]


# --- after a run ---------------------------------------------------------------------------------------------------

def published_answers(out: Path, assignment: Assignment, student_id: str) -> dict[str, str]:
    """The student's answers as the autograded notebook holds them ({} when there is none)."""
    path = autograded_path(out, assignment, student_id)
    try:
        return answer_sources(assignment, nbformat.read(path, as_version=4))
    except (OSError, ValueError):
        return {}


def sync_course(out: Path, assignment: Assignment, records: list[dict], course: Path, rule) -> None:
    """Bring the nbgrader side of `out` up to date with the records: its config, the gradebook (manual grades
    read back into the records) and the feedback of every submission whose grading is complete (or failed).
    Feedback waits while a manually graded cell has no score; `nbgrader generate_feedback` or the next run writes
    it then."""
    from .feedback import write_feedback
    from .gradebook import sync_gradebook

    for folder in ("submitted", "autograded", "feedback"):   # half-written files of a killed run
        for stale in (out / folder).glob("*/*/.*.tmp"):
            stale.unlink(missing_ok=True)
    course_id = course_id_of(course)
    if out.resolve() != course.resolve():   # graded into the course directory itself: its own config rules
        write_course_config(out, course_id, course / "solutions")
    submitted = [r for r in records if r["status"] != "missing"]   # nbgrader knows no submission of theirs
    sync_gradebook(out / "gradebook.db", assignment, submitted, course_id, rule)
    for rec in submitted:
        waiting = any(g["kind"] != "test" and g["manual"] is None for g in rec.get("manual", {}).values())
        if rec["status"] == "failed" or not waiting:
            write_feedback(out, assignment, rec, published_answers(out, assignment, rec["student_id"]))
