"""Measure how many submissions `python -m grading grade` grades per core-minute on this machine.

    .venv/bin/python deploy/kubernetes/measure_grading.py [--students 12] [--assignment 06_jacobians]
                                                           [--sandbox fork|bwrap]

Makes a class of solved submissions (the instructors' answers, as grading/autograde/fake_class builds them),
grades it with one job (one core), and prints wall time, the CPU time of the grader and everything it started
(RUSAGE_CHILDREN: kernels, sandboxes, fork server), and submissions per CPU-minute and per wall-minute. The
sizing in deploy/README.md quotes these numbers.
"""
from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from grading.autograde.fake_class import student_notebook, write_submission  # noqa: E402


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
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.monotonic()
        subprocess.run([sys.executable, "-m", "grading", "grade", args.assignment, str(subs), "--out", str(out),
                        "--jobs", "1", "--sandbox", args.sandbox, "--no-progress"], cwd=REPO, check=True,
                       stderr=subprocess.DEVNULL)
        wall = time.monotonic() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        graded = sum(1 for line in (out / "grades.csv").read_text().splitlines()[1:] if ",graded," in line)
    print(f"{args.assignment}, {args.students} submissions ({graded} graded), sandbox {args.sandbox}, one job: "
          f"wall {wall:.1f} s, CPU {cpu:.1f} s; {args.students / (cpu / 60):.1f} submissions per CPU-minute, "
          f"{args.students / (wall / 60):.1f} per wall-minute (one job)")
    return 0 if graded == args.students else 1


if __name__ == "__main__":
    sys.exit(main())
