"""`python -m grading grade <assignment> <submissions> --out <dir> [--jobs N]`."""
from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import threading
import unicodedata
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict
from pathlib import Path

from . import forkserver
from .records import finish, missing_record
from .sandbox import CgroupLimits, Limits, SandboxUnavailable, require_bwrap
from .store import submission_key
from .submissions import Submission, discover

# The heavier modules (nbformat, jupyter_client, nbgrader) are imported inside _run, after the
# fork server has been started, so its imports and ours use both cores at once.

REPO = Path(__file__).resolve().parents[2]


def build_parser() -> argparse.ArgumentParser:
    d = Limits()
    p = argparse.ArgumentParser(
        prog="python -m grading grade",
        description="Grade a class's submissions of one assignment: each notebook in its own sandbox, "
                    "in parallel, with grades.csv, feedback, a class report and an nbgrader gradebook.")
    p.add_argument("assignment", help="assignment name, a folder under solutions/ (e.g. 02_tensors)")
    p.add_argument("submissions", type=Path,
                   help="folder in nbgrader's layout <student>/<assignment>/<notebook>.ipynb, or an LMS zip")
    p.add_argument("--out", type=Path, required=True, help="output folder (created; re-runs resume in it)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="submissions graded at once (default: all cores)")
    p.add_argument("--course", type=Path, default=REPO, help="course folder holding solutions/ and exercises/ "
                   "(default: this repository)")
    p.add_argument("--lms", choices=["canvas", "moodle", "blackboard", "nbgrader"],
                   help="the export's format (default: recognised from the entries' names; see GRADING.md)")
    p.add_argument("--id-pattern", help="for any other format: a regex with (?P<student_id>...) and optionally "
                   "(?P<name>...), searched in each entry's whole path in the zip or folder")
    p.add_argument("--roster", type=Path, help="class list CSV (student_id,name; or a Canvas gradebook export, "
                   "Moodle grading worksheet, Blackboard Grade Centre export): every student on it gets a row")
    p.add_argument("--only", nargs="+", metavar="ID", help="grade only these students (others keep their results)")
    p.add_argument("--grade-the-rest", action="store_true",
                   help="when some entries cannot be assigned to exactly one student, grade the others anyway "
                        "(each such entry gets a failed row) instead of stopping")
    p.add_argument("--due", help="due date, ISO 8601 with a time zone, e.g. 2026-10-01T23:59:00+00:00 (default: "
                   "the one nbgrader's gradebook in --out records, e.g. set in formgrader)")
    p.add_argument("--late-penalty", metavar="none|zero|FRACTION",
                   help="late rule: none, zero, or the fraction of max_score taken off per started day late "
                        "(default: c.LateSubmissionPlugin.penalty_method of grading/nbgrader_config.py, else none)")
    p.add_argument("--timezone", help="time zone of the times in Blackboard's file names (default: this "
                   "machine's), e.g. Europe/Berlin")
    p.add_argument("--cell-timeout", type=float, default=d.cell_timeout, help="seconds per cell (default: %(default)s)")
    p.add_argument("--notebook-timeout", type=float, default=d.notebook_timeout,
                   help="seconds per notebook (default: %(default)s)")
    p.add_argument("--memory-mb", type=int, default=d.memory_mb, help="memory cap per kernel in MiB (default: %(default)s)")
    p.add_argument("--output-kb", type=int, default=d.output_kb, help="output kept per notebook in KiB (default: %(default)s)")
    p.add_argument("--processes", type=int, default=d.processes,
                   help="processes/threads allowed in a sandbox (default: %(default)s)")
    p.add_argument("--force", action="store_true", help="regrade every submission, even unchanged ones")
    p.add_argument("--sandbox", choices=["auto", "fork", "bwrap"], default="auto",
                   help="how kernels are sandboxed: 'fork' forks each kernel from a server with torch already "
                        "imported and builds the sandbox itself (needs root); 'bwrap' does the same from a server "
                        "inside a bubblewrap user namespace (any user; bubblewrap per kernel where user namespaces "
                        "are off); 'auto' = fork when root, else bwrap (default)")
    p.add_argument("--no-sandbox", action="store_true",
                   help="run kernels without any sandbox (UNSAFE: only for notebooks you trust)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs one line per student)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.jobs < 1:
        print("--jobs must be at least 1", file=sys.stderr)
        return 2
    for name in ("cell_timeout", "notebook_timeout", "memory_mb", "output_kb", "processes"):
        if getattr(args, name) <= 0:
            print(f"--{name.replace('_', '-')} must be positive", file=sys.stderr)
            return 2
    if args.lms and args.id_pattern:
        print("pass either --lms or --id-pattern, not both", file=sys.stderr)
        return 2
    from .late import parse_due, parse_rule
    if args.due:
        parse_due(args.due)                      # bad options fail before anything starts
    if args.late_penalty:
        parse_rule(args.late_penalty, None)
    engine = "none" if args.no_sandbox else args.sandbox
    if engine == "auto":
        engine = "fork" if forkserver.available() else "bwrap"
    if engine == "fork" and not forkserver.available():
        print("--sandbox fork needs root on Linux (x86_64/aarch64); use --sandbox bwrap", file=sys.stderr)
        return 2
    if engine == "bwrap":
        try:
            require_bwrap()
        except SandboxUnavailable as exc:
            print(exc, file=sys.stderr)
            return 2
    server = None   # the fork server warms up meanwhile; for bwrap it lives in a user namespace (any user)
    if engine == "fork" or (engine == "bwrap" and forkserver.userns_available()):
        notebooks = sorted((args.course / "solutions" / args.assignment).glob("*.ipynb"))
        functorch = forkserver.uses_functorch("".join(p.read_text(errors="replace") for p in notebooks))
        server = forkserver.ForkServer(str(REPO), userns=engine == "bwrap", functorch=functorch)
    try:
        return _run(args, engine, server)
    finally:
        if server:
            server.close()


def _run(args, engine: str, server) -> int:
    from .assignment import load_assignment
    from .late import rule_for
    from .runner import Settings, sweep_stale_folders
    from .store import ResultStore

    from .nbcourse import course_config_file

    course = args.course.resolve()
    rule = rule_for(args.due, args.late_penalty, course_config_file(course),
                    [args.out.resolve() / "gradebook.db", course / "gradebook.db"], args.assignment)
    roster = None
    if args.roster:
        from .roster import read_roster
        roster = read_roster(args.roster)
    helpers = [REPO / "grading" / name for name in ("checks.py", "plain.py", "student.py")]   # tests depend on them
    assignment = load_assignment(course, args.assignment,
                                 b"".join(p.read_bytes() for p in helpers if p.exists()))
    found = discover(args.submissions, assignment.name, assignment.notebook, args.id_pattern, args.lms,
                     _timezone(args.timezone))
    if found.unidentified and not args.grade_the_rest:
        print(f"stopped before grading: {len(found.unidentified)} entries cannot be assigned to exactly one "
              "student (nothing was graded or changed):", file=sys.stderr)
        for sub in found.unidentified:
            print(f"  - {sub.problem}", file=sys.stderr)
        return 2
    if roster and found.submissions and not {s.student_id for s in found.submissions} & set(roster.names):
        print(f"stopped before grading: the {roster.kind} roster {args.roster} matches none of the "
              f"{len(found.submissions)} submissions in this {found.lms} export (roster ids such as "
              f"{', '.join(list(roster.names)[:3])}; export ids such as "
              f"{', '.join(s.student_id for s in found.submissions[:3])}). Pass the roster of this class from the "
              "same LMS as the export", file=sys.stderr)
        return 2
    subs = found.submissions + found.unidentified
    if args.only:
        known = {s.student_id for s in subs} | set(roster.names if roster else ())
        by_form = {unicodedata.normalize("NFC", k): k for k in known}   # however the shell spelled the accents
        args.only = [by_form.get(unicodedata.normalize("NFC", i), i) for i in args.only]
        unknown = [i for i in args.only if i not in known]
        if unknown:
            print(f"--only: {', '.join(map(repr, unknown))} not found in {args.submissions}"
                  + (" or the roster" if roster else "") + f"; ids there: {', '.join(sorted(known)[:20])}",
                  file=sys.stderr)
            return 2
        subs = [s for s in subs if s.student_id in args.only]
    if roster:
        present = {s.student_id for s in subs}
        subs += [Submission(sid, None, "nothing was submitted", "", name, found.lms, missing=True)
                 for sid, name in roster.names.items()
                 if sid not in present and (not args.only or sid in args.only)]

    CgroupLimits.sweep()
    sweep_stale_folders()
    limits = Limits(memory_mb=args.memory_mb, cell_timeout=args.cell_timeout,
                    notebook_timeout=args.notebook_timeout, output_kb=args.output_kb, processes=args.processes)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    lock = _lock(out)
    if lock is None:
        print(f"another grading run is writing to {out}; wait for it to finish (grades.csv is rewritten from "
              "every result at each run), or grade into another --out", file=sys.stderr)
        return 2
    store = ResultStore(out)
    settings_text = repr(sorted(asdict(limits).items())) + f"sandbox={engine != 'none'}"
    run = ClassRun(assignment, store, out, rule, roster, _folder_of(args.submissions.resolve()))
    todo = []
    for sub in subs:
        if sub.missing:
            run.missing(sub)
            continue
        key = submission_key(sub.raw, sub.problem if sub.raw is None else None, assignment.digest, settings_text)
        old = store.load(assignment.name, sub.student_id)
        if args.force or not old or old.get("key") != key:
            todo.append((sub, key))
        else:
            run.refresh(sub, old)
    settings = Settings(repo=REPO, limits=limits, engine=engine, forkserver=server)
    _grade_all(todo, run, settings, args.jobs, args.no_progress, found, course)
    return 0


def _folder_of(root: Path):
    """A submission -> its own folder when graded from a folder in nbgrader's layout (the files beside the
    notebook and the exchange's timestamp.txt are there), else None."""
    def folder(sub: Submission) -> Path | None:
        path = root / sub.origin
        return path.parent if root.is_dir() and sub.lms == "nbgrader" and path.is_file() else None
    return folder


def _lock(out: Path):
    """An exclusive lock on <out>/.grading.lock for this process's lifetime (released by the OS, even on kill -9);
    None when another run holds it."""
    import fcntl
    fh = open(out / ".grading.lock", "a")  # noqa: SIM115 - held open until the process ends
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        return None
    return fh


def _timezone(name: str | None):
    if not name:
        return None
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SystemExit(f"--timezone {name!r} is not a time zone name; e.g. --timezone Europe/Berlin or UTC")


class ClassRun:
    """The records of one run: saved one by one (crash-safe), grades.csv rewritten after each, counts kept."""

    def __init__(self, assignment, store, out: Path, rule, roster, folder_of):
        self.assignment, self.store, self.out, self.rule, self.roster = assignment, store, out, rule, roster
        self.folder_of = folder_of
        self.table = {(r["assignment"], r["student_id"]): r for r in store.all_records()}
        self.counts = dict.fromkeys(("added", "updated", "unchanged", "failed", "missing"), 0)
        self.replaced_grades: list[str] = []   # graded before, failed now (the old result is in history/)
        self.lock = threading.Lock()

    def _name(self, sub: Submission) -> str:
        if self.roster and sub.student_id in self.roster.names:
            return self.roster.names[sub.student_id] or sub.name
        return sub.name

    def _save(self, record: dict) -> None:
        from .outputs import write_grades_csv

        key = (record["assignment"], record["student_id"])
        with self.lock:
            old = self.table.get(key)
            self.counts["added" if old is None else "unchanged" if old == record else "updated"] += 1
            self.counts["failed"] += record["status"] == "failed" and old != record
            self.counts["missing"] += record["status"] == "missing"
            if old and old["score"] is not None and record["score"] is None:
                self.replaced_grades.append(record["student_id"])
            if old != record:
                self.store.save(record)
                self.table[key] = record
                write_grades_csv(self.out, list(self.table.values()))

    def graded(self, sub: Submission, key: str, record: dict) -> dict:
        """A freshly graded submission: its autograded notebook for formgrader, then its record (people's grades
        are read back from the gradebook at the end of the run)."""
        from .nbcourse import publish

        record.update(student_id=sub.student_id, assignment=self.assignment.name, key=key)
        publish(self.out, self.assignment, record, sub.raw, self.folder_of(sub))
        self._save(finish(record, sub, self.rule, self._name(sub)))
        return record

    def refresh(self, sub: Submission, old: dict) -> None:
        """An unchanged submission: re-apply name and late rule (they are not part of the key)."""
        self._save(finish(json.loads(json.dumps(old)), sub, self.rule, self._name(sub)))

    def missing(self, sub: Submission) -> None:
        """A known student with no submission: a `missing` row, unless an earlier run graded something."""
        old = self.table.get((self.assignment.name, sub.student_id))
        if old and old["status"] != "missing":
            self.counts["unchanged"] += 1
            return
        record = missing_record(sub.student_id, self.assignment.name, self.assignment.max_score, sub.problem or "")
        self._save(finish(record, sub, self.rule, self._name(sub)))

    def records(self) -> list[dict]:
        return sorted((r for (a, _), r in self.table.items() if a == self.assignment.name),
                      key=lambda r: r["student_id"])


def _grade_all(todo, run: ClassRun, settings, jobs, no_progress, found, course: Path) -> None:
    from .nbcourse import sync_course
    from .outputs import write_class_report, write_grades_csv
    from .runner import grade_submission

    assignment, out = run.assignment, run.out
    print(f"grading {assignment.name} ({found.lms} export): {len(todo)} to grade, {run.counts['unchanged']} "
          f"unchanged, {len(found.unidentified)} unusable entries, {jobs} at a time, sandbox: {settings.engine}"
          + ("" if settings.sandbox else " -- WITHOUT SANDBOX"), file=sys.stderr)
    progress = _progress(len(todo), no_progress)
    # the grader mostly waits on kernels while they run: import what the reports need meanwhile
    threading.Thread(target=_import_ahead, daemon=True).start()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(grade_submission, assignment, sub.raw, sub.problem, settings): (sub, key)
                   for sub, key in todo}
        for fut in as_completed(futures):
            sub, key = futures[fut]
            try:
                record = fut.result()
            except Exception as exc:  # noqa: BLE001 - a grader bug must not stop the class
                record = {"score": None, "max_score": assignment.max_score, "status": "failed",
                          "reason": f"internal grader error ({type(exc).__name__}: {exc})",
                          "tests": [], "flags": [], "events": [], "tamper": []}
            run.graded(sub, key, record)
            progress(sub.student_id, record)
    progress(None, None)
    if settings.forkserver:
        settings.forkserver.close()   # its memory is not needed for the reports

    records = run.records()
    before = {r["student_id"]: _grade_of(r) for r in records}
    sync_course(out, assignment, records, course, run.rule)   # gradebook both ways, feedback, nbgrader_config.py
    for record in records:
        run.store.save(record)   # with what people graded in formgrader since (the replaced one goes to history/)
    regraded = sorted(r["student_id"] for r in records if _grade_of(r) != before[r["student_id"]])
    write_grades_csv(out, list(run.table.values()))
    report = write_class_report(out, assignment.name, records, found.bad_entries)
    c = run.counts
    print(f"done: {c['added']} added, {c['updated']} updated, {c['unchanged']} unchanged, {c['failed']} failed"
          + (f", {c['missing']} missing" if run.roster else "")
          + f"; {len(found.unidentified)} unusable entries", file=sys.stderr)
    statuses = {s: sum(r["status"] == s for r in records)
                for s in ("graded", "needs_review", "needs_manual_grade", "failed", "missing")}
    print(f"{assignment.name} so far: {len(records)} students: " + ", ".join(f"{n} {s}" for s, n in statuses.items()),
          file=sys.stderr)
    if regraded:
        print(f"  {len(regraded)} row(s) changed by manual grades entered in formgrader, the due date or the late "
              f"rule (applied to every student of {assignment.name}): {', '.join(regraded[:20])}"
              + (" ..." if len(regraded) > 20 else ""), file=sys.stderr)
    if run.replaced_grades:
        print(f"  warning: {len(run.replaced_grades)} student(s) had a score and now have none (their new upload "
              f"failed): {', '.join(run.replaced_grades)}; the earlier results are kept in "
              f"{out / 'results' / assignment.name / 'history'}/", file=sys.stderr)
    for bad in found.bad_entries:
        print(f"  unusable: {bad}", file=sys.stderr)
    for note in found.notes:
        print(f"  {note}", file=sys.stderr)
    if run.roster:
        from .roster import name_key
        strangers = sorted(s.student_id for s in found.submissions if s.student_id not in run.roster.names)
        if strangers:
            print(f"  not on the roster (graded, check who they are): {', '.join(strangers)}", file=sys.stderr)
        for s in found.submissions:
            listed = run.roster.names.get(s.student_id)
            if listed and s.name and name_key(listed) != name_key(s.name):
                print(f"  roster mismatch: {s.student_id} is {listed!r} on the roster but {s.name!r} in "
                      f"{s.origin}; check the export is this class's", file=sys.stderr)
    print(f"results: {out / 'grades.csv'}, {report}, {out / 'feedback'}/, {out / 'gradebook.db'}; "
          f"manual grading: python -m grading formgrader {out}", file=sys.stderr)



def _grade_of(record: dict) -> tuple:
    """What grades.csv shows of a record's grade."""
    return tuple(record.get(k) for k in ("score", "auto_score", "manual_score", "late_penalty", "status", "reason"))


def _import_ahead() -> None:
    """What the reports need, and what the trusted checks' first torch.autograd.backward(outputs, grads)
    imports (with sympy, 0.3 s), while the grader waits on kernels."""
    for name in ("torch.fx.experimental.symbolic_shapes", "nbgrader.api"):
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - only a head start; the real imports report errors
            pass


def _progress(total: int, plain: bool):
    """A callable(student_id, record) that advances a rich progress bar; (None, None) closes it."""
    if plain or not sys.stderr.isatty():
        done = [0]

        def log(student_id, record):
            if student_id is None:
                return
            done[0] += 1
            print(f"[{done[0]}/{total}] {student_id}: {record['status']} "
                  f"{'' if record['score'] is None else record['score']:}", file=sys.stderr, flush=True)
        return log
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("{task.description}"), transient=False)
    bar.start()
    task = bar.add_task("", total=total)

    def advance(student_id, record):
        if student_id is None:
            bar.stop()
            return
        bar.update(task, advance=1, description=f"{student_id}: {record['status']}")
    return advance
