"""Grade one submission: parse, rebuild, run in a fresh sandboxed kernel, decide from evidence."""
from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from grading.student import Student

from . import guard as g
from . import trusted
from .assignment import Assignment
from .kernel import ExecResult, KernelStartError, SandboxedKernel
from .rebuild import Plan, PlanCell, build_plan
from .sandbox import STAGE_INSIDE, Limits
from .scan import scan_plan

MAX_RESTARTS = 3
INTERNAL_OUTPUT = 1 << 20
TMP_PREFIX = "grade-"   # private folders are grade-<grader pid>-*: sweep_stale_folders removes a dead grader's
GUARD_TIMEOUT = 10.0
KERNEL_START_TIMEOUT = 60.0
INSTALL_TIMEOUT = 120.0
REASON_CAP = 2000        # characters of a record's reason (it lands in grades.csv and feedback)


@dataclass(frozen=True)
class Settings:
    repo: Path                 # the course repository (its packages are visible read-only in the sandbox)
    limits: Limits
    engine: str = "bwrap"      # "bwrap", "fork" (fork server, root only) or "none" (no sandbox)
    forkserver: object = None  # the ForkServer when engine == "fork"

    @property
    def sandbox(self) -> bool:
        return self.engine != "none"


_sandbox_counter = itertools.count()


def _slot() -> int:
    """A new number per sandbox (the fork engine runs each sandbox under its own uid, so processes
    a killed sandbox leaves for a moment never count against the next one's process limit)."""
    return next(_sandbox_counter) % 4000


def sweep_stale_folders() -> None:
    """Delete private folders left by a grader that was killed (kill -9 gives it no chance to clean up)."""
    for path in Path(tempfile.gettempdir()).glob(f"{TMP_PREFIX}*-*"):
        try:
            pid = int(path.name[len(TMP_PREFIX):].split("-")[0])
        except ValueError:
            continue
        if not Path(f"/proc/{pid}").exists():
            shutil.rmtree(path, ignore_errors=True)


KERNEL_MODULES = ("__init__.py", "checks.py", "plain.py", "student.py")   # grading/ files a kernel may import


def course_files(repo: Path) -> dict[str, Path]:
    """Inside path -> outside path of the course code a kernel may read (never solutions/)."""
    files = {}
    if (repo / "minigrad").is_dir():
        files[str(repo / "minigrad")] = repo / "minigrad"
    for name in KERNEL_MODULES:
        if (repo / "grading" / name).is_file():
            files[str(repo / "grading" / name)] = repo / "grading" / name
    return files


def grade_submission(assignment: Assignment, raw: bytes | None, problem: str | None,
                     settings: Settings) -> dict:
    """The result record of one submission (JSON-able; see store.py for how it is kept)."""
    tests = [{"grade_id": c.grade_id, "max_points": c.points, "points": 0.0, "outcome": "not_run",
              "message": ""} for c in assignment.tests]
    record = {"score": None, "max_score": assignment.max_score, "status": "failed", "reason": "",
              "tests": tests, "flags": [], "events": [], "tamper": [], "seconds": 0.0, "cells": [],
              "grader_errors": []}
    if raw is None:
        record["reason"] = problem or "no notebook was submitted"
        return record
    try:
        notebook = nbformat.reads(raw.decode("utf-8"), as_version=4)
        if not isinstance(notebook.get("cells"), list):
            raise ValueError("it has no list of cells")
    except Exception as exc:  # noqa: BLE001 - any parse error is the submission's problem
        record["reason"] = f"the notebook could not be read ({type(exc).__name__}: {str(exc)[:200]}); " \
                           "it may be truncated or not a notebook"
        return record
    plan = build_plan(assignment, notebook)
    references = {c.grade_id: c.source for c in assignment.cells if c.kind == "answer"}
    all_reference = "\n".join(c.source for c in assignment.cells)
    record["flags"] = list(dict.fromkeys(plan.flags))
    record["tamper"] = scan_plan(plan.student_code, references, all_reference)
    started = time.monotonic()
    run = _Run(assignment, plan, settings, raw)
    try:
        run.execute_all(tests, record)
    finally:
        run.close()
    record["seconds"] = round(time.monotonic() - started, 2)
    return _decide(record)


class _Run:
    """One submission's kernel(s): start, run the plan, restart and replay after a crash."""

    def __init__(self, assignment: Assignment, plan: Plan, settings: Settings, raw: bytes):
        self.assignment, self.plan, self.settings = assignment, plan, settings
        self.limits = settings.limits
        self.tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{os.getpid()}-"))
        self.tmp.chmod(0o700)
        self.workdir = self.tmp / "work"
        self.workdir.mkdir()
        if assignment.release_dir is not None:
            for item in assignment.release_dir.iterdir():
                if item.suffix != ".ipynb" and item.name != ".ipynb_checkpoints":
                    (shutil.copytree if item.is_dir() else shutil.copy2)(item, self.workdir / item.name)
        (self.workdir / assignment.notebook).write_bytes(raw)
        self.workdir.chmod(0o777)
        self.scratch = self.tmp / "root"     # mount point of the fork engine's sandbox root (stays empty)
        self.scratch.mkdir()
        self.kernel: SandboxedKernel | None = None
        self.token = g.new_token()
        self.budget = [self.limits.output_kb * 1024]
        self.deadline = time.monotonic() + self.limits.notebook_timeout
        self.replay: list[PlanCell] = []
        self.restarts = 0
        self.starts = 0
        self.memory_errors = 0
        self.protocol: list[str] = []       # protocol evidence from every kernel this run started
        self.lost: ExecResult | None = None  # a request of the trusted side that timed out or killed the kernel
        sources = [c.code for c in plan.cells if c.kind in ("answer", "extra")]
        self.student = Student(trusted.KernelTransport(self, self.protocol), lambda: sources)
        self.trusted_ns = trusted.namespace(self.student)

    def close(self) -> None:
        if self.kernel:
            self._retire_kernel()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _retire_kernel(self) -> None:
        """Read what the kernel sent after its last request (evidence), then stop it."""
        if self.kernel.alive():
            time.sleep(0.05)
            self.kernel.audit()
        self.protocol += [t for t in self.kernel.tamper if t not in self.protocol]
        self.kernel.shutdown()

    def call_kernel(self, code: str, budget: list[int]) -> ExecResult:
        """One request of the trusted side's Student (its own output allowance; the cell time limit)."""
        res = self._exec(code, self.limits.cell_timeout, history=False, budget=budget)
        if res.status in ("timeout", "died"):
            self.lost = res
        return res

    def _start(self) -> None:
        if self.kernel:
            self._retire_kernel()
        self.starts += 1
        runtime = self.tmp / f"runtime{self.starts}"
        runtime.mkdir()
        runtime.chmod(0o777)
        repo = self.settings.repo
        inside = str(repo / "exercises" / self.assignment.name) if self.settings.sandbox else str(self.workdir)
        self.kernel = SandboxedKernel(repo=repo, workdir=self.workdir, workdir_inside=inside,
                                      runtime=runtime, course_files=course_files(repo),
                                      limits=self.limits, engine=self.settings.engine,
                                      forkserver=self.settings.forkserver, scratch=self.scratch, slot=_slot())
        self.kernel.wait_ready(min(KERNEL_START_TIMEOUT, max(10.0, self._remaining())))
        stage = STAGE_INSIDE if self.settings.sandbox else ""
        res = self._exec(g.install_code(self.token, str(repo), inside, stage), INSTALL_TIMEOUT, history=False,
                         internal=True)
        if res.status != "ok":
            raise KernelStartError(f"the grader could not prepare the kernel ({res.status}: {res.ename} {res.evalue})")

    def _remaining(self) -> float:
        return self.deadline - time.monotonic()

    def _exec(self, code: str, timeout: float, history: bool = True, marker: str = "",
              internal: bool = False, budget: list[int] | None = None) -> ExecResult:
        """Run a cell; the grader's own snippets (internal) get their own output allowance."""
        timeout = max(0.5, min(timeout, self._remaining()))
        budget = budget if budget is not None else [INTERNAL_OUTPUT] if internal else self.budget
        res = self.kernel.execute(code, timeout, budget, store_history=history, marker=marker)
        if res.ename == "MemoryError" or "can't allocate memory" in res.evalue or "out of memory" in res.evalue:
            self.memory_errors += 1
        return res

    def _recover(self, record: dict, why: str) -> bool:
        """Fresh kernel with every earlier good cell replayed; False when out of restarts or time."""
        if self.restarts >= MAX_RESTARTS or self._remaining() <= 1:
            record["events"].append(f"{why}; no more restarts, later cells were not run")
            return False
        self.restarts += 1
        try:
            self._start()
            for cell in self.replay:
                if cell.kind == "course":
                    self._exec(g.before_course_code(self.token), 10, history=False, internal=True)
                res = self._exec(cell.code, self.limits.cell_timeout, history=cell.kind != "test")
                if res.status in ("died", "timeout"):
                    raise KernelStartError("a replayed cell failed")
                if cell.kind == "course":
                    self._exec(g.mark_course_code(self.token), 10, history=False, internal=True)
        except KernelStartError as exc:
            record["events"].append(f"{why}; restarting the kernel failed ({exc})")
            return False
        record["events"].append(f"{why}; the kernel was restarted and earlier cells replayed")
        return True

    def execute_all(self, tests: list[dict], record: dict) -> None:
        try:
            try:
                self._start()
            except KernelStartError:
                self._start()    # one retry: a loaded machine can make a start time out
        except KernelStartError as exc:
            record["fatal"] = f"the kernel could not start: {exc}"
            return
        by_id = {t["grade_id"]: t for t in tests}
        runtime_tamper: list[str] = []
        for cell in self.plan.cells:
            if self._remaining() <= 0:
                record["events"].append(f"the notebook time limit ({self.limits.notebook_timeout:g}s) was reached; "
                                        "later cells were not run")
                break
            if cell.kind == "test":
                ok = self._run_test(cell, by_id[cell.grade_id], runtime_tamper, record)
            else:
                if cell.kind == "course":
                    self._exec(g.before_course_code(self.token), 10, history=False, internal=True)
                res = self._exec(cell.code, self.limits.cell_timeout)
                record["cells"].append(_graded_cell(cell, cell.code, res))
                ok = self._after_cell(cell, res, record)
                if ok and res.status == "ok":
                    self.replay.append(cell)
                    if cell.kind == "course":
                        self._exec(g.mark_course_code(self.token), 10, history=False, internal=True)
            if not ok:
                break
        if self.memory_errors:
            record["events"].append(f"a cell ran out of memory (limit {self.limits.memory_mb} MiB)")
        if self.budget[0] < 0:
            record["events"].append(f"output exceeded {self.limits.output_kb} KiB; the rest was discarded")
        if self.kernel:
            self._retire_kernel()
            self.kernel = None
        runtime_tamper += self.protocol
        record["tamper"] += list(dict.fromkeys(runtime_tamper))

    def _after_cell(self, cell: PlanCell, res: ExecResult, record: dict) -> bool:
        """Handle a dead or stuck kernel after any cell; False when grading cannot go on."""
        where = cell.label or cell.kind
        if res.status == "timeout":
            probe = self.kernel.execute("pass", 3, [INTERNAL_OUTPUT], store_history=False)
            why = f"cell {where} ran past the time limit ({self.limits.cell_timeout:g}s per cell)"
            if probe.status == "ok":
                record["events"].append(why + " and was interrupted")
                return True
            return self._recover(record, why)
        if res.status == "died":
            why = (f"the kernel died while running {where} (the code exited the process, crashed it "
                   f"or ran out of memory)")
            return self._recover(record, why)
        return True

    def _run_test(self, cell: PlanCell, test: dict, runtime_tamper: list[str], record: dict) -> bool:
        """The visible part in the kernel, then (if it passed) the hidden blocks on the trusted side."""
        visible, blocks = trusted.split_test(cell.code)
        hidden = [b for b in blocks if trusted.uses_student(b)]
        legacy = [b for b in blocks if not trusted.uses_student(b)]   # old-style: they can only run in the kernel
        kernel_code = visible + "".join("\n" + b for b in legacy)
        test["trusted"] = bool(hidden)
        if legacy:
            record.setdefault("legacy_hidden", []).append(cell.grade_id)
        before, nonce, after = g.new_nonce(), g.new_nonce(), g.new_nonce()
        pre = self._exec(g.guard_code(self.token, before, "before"), GUARD_TIMEOUT, history=False, internal=True)
        res = self._exec(kernel_code + f"\nprint({nonce!r})\n", self.limits.cell_timeout, history=False,
                         marker=nonce)
        post = self._exec(g.guard_code(self.token, after, "after"), GUARD_TIMEOUT, history=False, internal=True) \
            if res.status not in ("died",) and self.kernel.alive() else None
        record["cells"].append(_graded_cell(cell, visible, res, marker=nonce))
        problems = _guard_problems(g.read_guard(pre.stdout, before) if pre.status == "ok" else None, "before")
        if post is not None and post.status != "died":
            problems += _guard_problems(g.read_guard(post.stdout, after) if post.status == "ok" else None, "after")
        if problems:
            runtime_tamper.append(f"{cell.grade_id}: " + "; ".join(problems))
        passed = res.status == "ok" and not res.errors and res.marker_seen and not res.ename
        test["seconds"] = round(res.seconds, 2)
        if res.status in ("timeout", "died"):
            test["outcome"] = res.status
            test["message"] = ("the test ran past the time limit" if res.status == "timeout"
                               else "the kernel died during the test")
        elif res.status == "ok" and not res.ename and not res.marker_seen:
            test["outcome"] = "error"
            test["message"] = "the test did not run to its end (its completion mark never appeared)"
        elif not passed:
            test["outcome"] = "failed"
            test["message"] = _message(res)
        if res.status == "ok" or res.status == "error":
            self.replay.append(PlanCell("test", kernel_code, cell.grade_id))
        if not self._after_cell(cell, res, record):
            return False
        if passed:
            verdict = self._hidden(cell, hidden, record) if hidden else trusted.HiddenVerdict("passed")
            test["outcome"], test["message"] = verdict.outcome, verdict.message
            test["points"] = cell.points if verdict.outcome == "passed" else 0.0
            if self.lost is not None:
                lost, self.lost = self.lost, None
                return self._after_cell(cell, lost, record)
        return True

    def _hidden(self, cell: PlanCell, blocks: list[str], record: dict) -> trusted.HiddenVerdict:
        started = time.monotonic()
        verdict = trusted.run_hidden(blocks, self.trusted_ns, cell.grade_id)
        if verdict.grader_error:
            record["grader_errors"].append(f"{cell.grade_id}: {verdict.grader_error}")
            record["events"].append(f"the grader's hidden test {cell.grade_id} could not run (see grader_errors)")
        record["tests"][[t["grade_id"] for t in record["tests"]].index(cell.grade_id)]["hidden_seconds"] = \
            round(time.monotonic() - started, 2)
        return verdict


def _graded_cell(cell: PlanCell, source: str, res: ExecResult | None, marker: str = "") -> dict:
    """One cell of the notebook as graded (for the autograded notebook and feedback); a test cell's `source` is
    its visible part only, and the grader's completion mark is taken out of its output."""
    kind = {"extra": "added"}.get(cell.kind, cell.kind)
    outputs = list(res.outputs) if res is not None else []
    if marker:
        for o in outputs:
            if o.get("output_type") == "stream":
                o["text"] = o["text"].replace(marker + "\n", "")
        outputs = [o for o in outputs if o.get("output_type") != "stream" or o["text"]]
    if cell.kind == "test":   # a traceback quotes the lines around the error: old-style hidden lines among them
        outputs = [dict(o, traceback=[f"{o.get('ename', '')}: {o.get('evalue', '')}"])
                   if o.get("output_type") == "error" else o for o in outputs]
    out = {"cell_type": "code", "source": source, "grade_id": cell.grade_id if cell.kind in ("answer", "test") else "",
           "kind": kind, "outputs": outputs}
    if cell.kind == "answer" and res is not None and res.ename:
        from .nbcourse import syntax_error

        error = {"ename": res.ename[:200], "evalue": res.evalue[:2000]}
        if res.ename in ("SyntaxError", "IndentationError", "TabError"):
            error.update(syntax_error(source) or {})   # its line and text, as the feedback shows them
        out["error"] = error
    return out


def _guard_problems(report, phase: str) -> list[str]:
    """Plain words for one guard report (None = its tagged line never arrived)."""
    if report is None:
        return [f"the grader's check {phase} the test was blocked"]
    fixes, audit = report
    out = []
    if fixes:
        out.append(("changed before the test: " if phase == "before" else "changed during the test: ")
                   + ", ".join(fixes[:8]))
    out += list(dict.fromkeys(audit))[:6]
    return out


def _message(res: ExecResult) -> str:
    text = f"{res.ename}: {res.evalue}" if res.evalue else (res.ename or "the test failed")
    return text[:600]


def _decide(record: dict) -> dict:
    """Score and status from the evidence; never a crash as a zero or as full marks."""
    tests = record["tests"]
    if record.get("fatal"):
        record["status"], record["reason"], record["score"] = "failed", record.pop("fatal"), None
        for t in tests:
            t["outcome"], t["points"] = "not_run", 0.0
        return record
    reasons = []
    if record["tamper"]:
        withheld = 0.0
        for t in tests:
            if t["outcome"] == "passed" and not t.get("trusted"):   # decided in the kernel only: can be forged
                withheld += t["points"]
                t["outcome"], t["points"] = "withheld", 0.0
                t["message"] = "points withheld pending review (possible tampering, see the reason)"
        reasons.append(f"possible tampering ({'; '.join(record['tamper'][:6])})"
                       + (f"; {withheld:g} points withheld pending review" if withheld else ""))
    reasons += record["flags"] + record["events"]
    record["score"] = float(sum(t["points"] for t in tests))
    record["status"] = "needs_review" if reasons else "graded"
    reason = "; ".join(reasons)
    record["reason"] = reason if len(reason) <= REASON_CAP else reason[:REASON_CAP - 3] + "..."
    return record
