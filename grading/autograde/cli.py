"""`python -m grading grade <assignment> <submissions> --out <dir> [--jobs N]`."""
from __future__ import annotations

import argparse
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict
from pathlib import Path

from . import GRADER_VERSION, forkserver
from .sandbox import CgroupLimits, Limits, SandboxUnavailable, require_bwrap
from .submissions import DEFAULT_ID_PATTERN

# The heavier modules (nbformat, jupyter_client, nbgrader, matplotlib) are imported inside _run, after the
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
    p.add_argument("--id-pattern", default=DEFAULT_ID_PATTERN,
                   help="regex with (?P<student_id>...) applied to LMS zip file names (default: %(default)s)")
    p.add_argument("--cell-timeout", type=float, default=d.cell_timeout, help="seconds per cell (default: %(default)s)")
    p.add_argument("--notebook-timeout", type=float, default=d.notebook_timeout,
                   help="seconds per notebook (default: %(default)s)")
    p.add_argument("--memory-mb", type=int, default=d.memory_mb, help="memory cap per kernel in MiB (default: %(default)s)")
    p.add_argument("--output-kb", type=int, default=d.output_kb, help="output kept per notebook in KiB (default: %(default)s)")
    p.add_argument("--processes", type=int, default=d.processes,
                   help="processes/threads allowed in a sandbox (default: %(default)s)")
    p.add_argument("--force", action="store_true", help="regrade every submission, even unchanged ones")
    p.add_argument("--sandbox", choices=["auto", "fork", "bwrap"], default="auto",
                   help="how kernels are sandboxed: 'bwrap' starts each kernel with bubblewrap; 'fork' forks it "
                        "from a server with torch already imported and builds the same sandbox itself (needs "
                        "root; several times faster); 'auto' = fork when root, else bwrap (default)")
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
    server = forkserver.ForkServer(str(REPO)) if engine == "fork" else None  # warms up meanwhile
    try:
        return _run(args, engine, server)
    finally:
        if server:
            server.close()


def _run(args, engine: str, server) -> int:
    from .assignment import load_assignment
    from .runner import Settings, sweep_stale_folders
    from .store import ResultStore, submission_key
    from .submissions import discover

    CgroupLimits.sweep()
    sweep_stale_folders()
    limits = Limits(memory_mb=args.memory_mb, cell_timeout=args.cell_timeout,
                    notebook_timeout=args.notebook_timeout, output_kb=args.output_kb, processes=args.processes)
    checks = REPO / "grading" / "checks.py"
    assignment = load_assignment(args.course.resolve(), args.assignment,
                                 checks.read_bytes() if checks.exists() else b"")
    found = discover(args.submissions.resolve(), assignment.name, assignment.notebook, args.id_pattern)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    store = ResultStore(out)
    settings_text = repr(sorted(asdict(limits).items())) + f"sandbox={engine != 'none'}"

    todo = []
    for sub in found.submissions:
        key = submission_key(sub.raw, sub.problem if sub.raw is None else None, assignment.digest, settings_text)
        if args.force or not store.is_current(sub.student_id, key):
            todo.append((sub, key))
    skipped = len(found.submissions) - len(todo)
    settings = Settings(repo=REPO, limits=limits, engine=engine, forkserver=server)
    _grade_all(todo, assignment, settings, store, out, found, args.jobs, args.no_progress, skipped,
               args.course.resolve())
    return 0


def _grade_all(todo, assignment, settings, store, out, found, jobs, no_progress, skipped, course) -> None:
    from .nbcourse import publish, sync_course
    from .outputs import write_class_report, write_grades_csv
    from .runner import grade_submission

    ids = [s.student_id for s in found.submissions]
    lock = threading.Lock()

    def finish(sub, key, record) -> None:
        record.update(student_id=sub.student_id, assignment=assignment.name, key=key,
                      grader_version=GRADER_VERSION, origin=sub.origin)
        if sub.raw is not None and sub.problem:
            record["flags"].append(sub.problem)
            if record["status"] == "graded":
                record["status"], record["reason"] = "needs_review", sub.problem
            else:
                record["reason"] = f"{record['reason']}; {sub.problem}" if record["reason"] else sub.problem
        publish(out, assignment, record, sub.raw, sub.origin)   # the autograded notebook, for formgrader
        with lock:
            store.save(record)
            write_grades_csv(out, [r for r in (store.load(i) for i in ids) if r])

    print(f"grading {assignment.name}: {len(found.submissions)} submissions ({skipped} unchanged, skipped), "
          f"{len(found.bad_entries)} unusable entries, {jobs} at a time, sandbox: {settings.engine}"
          + ("" if settings.sandbox else " -- WITHOUT SANDBOX"), file=sys.stderr)
    progress = _progress(len(todo), no_progress)
    # the grader mostly waits on kernels while they run: import what the reports need meanwhile
    threading.Thread(target=_import_report_modules, daemon=True).start()
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
            finish(sub, key, record)
            progress(sub.student_id, record)
    progress(None, None)
    if settings.forkserver:
        settings.forkserver.close()   # its memory is not needed for the reports

    records = [r for r in (store.load(i) for i in ids) if r]
    sync_course(out, assignment, records, course)   # gradebook both ways, feedback, nbgrader_config.py
    for record in records:
        store.save(record)
    write_grades_csv(out, records)
    write_class_report(out, assignment.name, records, found.bad_entries)
    counts = {s: sum(r["status"] == s for r in records)
              for s in ("graded", "needs_review", "needs_manual_grade", "failed")}
    print(f"done: {counts['graded']} graded, {counts['needs_review']} need review, "
          f"{counts['needs_manual_grade']} wait for manual grading, {counts['failed']} failed"
          f" ({skipped} unchanged); {len(found.bad_entries)} unusable entries", file=sys.stderr)
    for bad in found.bad_entries:
        print(f"  unusable: {bad}", file=sys.stderr)
    print(f"results: {out / 'grades.csv'}, {out / 'report.html'}, {out / 'feedback'}/, {out / 'gradebook.db'}; "
          f"manual grading: python -m grading formgrader {out}", file=sys.stderr)


def _import_report_modules() -> None:
    try:
        import matplotlib
        matplotlib.use("agg")
        import matplotlib.pyplot  # noqa: F401
        import nbgrader.api  # noqa: F401
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
