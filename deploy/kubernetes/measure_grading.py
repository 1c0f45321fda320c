"""Measure how many submissions `python -m grading grade` grades per core-minute on this machine.

    .venv/bin/python deploy/kubernetes/measure_grading.py [--students 12] [--assignment 06_jacobians]
                                                           [--sandbox fork|bwrap]

Makes a class of solved submissions (the instructors' answers, as grading/autograde/fake_class builds them),
grades it with one job, and prints wall time, the CPU time of the grader and of everything it started (kernels,
sandboxes, fork server: counted by a cgroup v1 cpuacct group of its own when this runs as root where one can be
made, else by RUSAGE_CHILDREN, which misses processes killed before their parent reaped them: a lower bound),
and submissions per CPU-minute. The sizing in deploy/README.md quotes these numbers.
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from grading.autograde.fake_class import student_notebook, write_submission  # noqa: E402

CPUACCT = Path("/sys/fs/cgroup/cpuacct")


def run_counting_cpu(argv: list[str]) -> tuple[float, str]:
    """Run argv; return the CPU seconds it and all its descendants used, and how they were counted."""
    group = CPUACCT / f"measure-grading-{os.getpid()}"
    try:
        group.mkdir()
    except OSError:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(argv, cwd=REPO, check=True, stderr=subprocess.DEVNULL)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), "RUSAGE_CHILDREN (lower bound)"
    try:
        def join():
            (group / "cgroup.procs").write_text(str(os.getpid()))
        subprocess.run(argv, cwd=REPO, check=True, stderr=subprocess.DEVNULL, preexec_fn=join)
        return int((group / "cpuacct.usage").read_text()) / 1e9, "cgroup cpuacct"
    finally:
        group.rmdir()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--students", type=int, default=12)
    p.add_argument("--assignment", default="06_jacobians")
    p.add_argument("--sandbox", choices=["fork", "bwrap"], default="bwrap")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="measure-grading-") as tmp:
        subs, out = Path(tmp) / "submitted", Path(tmp) / "out"
        for i in range(args.students):
            write_submission(subs, f"s{i:03d}", args.assignment, f"{args.assignment}.ipynb",
                             student_notebook(REPO, args.assignment))
        start = time.monotonic()
        cpu, counted = run_counting_cpu([sys.executable, "-m", "grading", "grade", args.assignment, str(subs),
                                         "--out", str(out), "--jobs", "1", "--sandbox", args.sandbox,
                                         "--no-progress"])
        wall = time.monotonic() - start
        graded = sum(1 for line in (out / "grades.csv").read_text().splitlines()[1:] if ",graded," in line)
    print(f"{args.assignment}, {args.students} submissions ({graded} graded), sandbox {args.sandbox}, one job: "
          f"wall {wall:.1f} s, CPU {cpu:.1f} s ({counted}); {args.students / (cpu / 60):.1f} submissions per "
          f"CPU-minute, {cpu / args.students:.2f} CPU-s per submission")
    return 0 if graded == args.students else 1


if __name__ == "__main__":
    sys.exit(main())
