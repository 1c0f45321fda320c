"""Grade one generated class with stock `nbgrader autograde` and with `python -m grading grade`, side by side.

    .venv/bin/python bench/bench_grading.py              # 7 students x 6 assignments = 42 submissions
    .venv/bin/python bench/bench_grading.py --per-assignment 3 --assignments 02_tensors

Per assignment the class has: 2 correct (every answer from the solution), 2 partly correct (every other
answer), 1 blank (the release as is), 1 crashing (first answer raises) and 1 broken (truncated JSON).
Stock nbgrader runs in a temporary course folder (its own gradebook, PYTHONPATH set so the course's
checks import); ours runs with the sandbox on, each engine (--sandbox fork bwrap) with --jobs 2. All grade the
same files in this one run, assignment by assignment in turn, so a shared machine's changing load weighs on each.
Scores must agree on every honest submission (all but the broken ones).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from grading.autograde.assignment import load_assignment  # noqa: E402
from grading.autograde.fake_class import solution_answers, student_notebook, write_submission  # noqa: E402

ALL = ["02_tensors", "03_numpy_bridge", "04_devices", "05_autograd", "06_jacobians", "07_minigrad"]
TARGETS = {"fork": 5.0, "bwrap": 3.0}   # stock time / ours, per engine
KINDS = ["correct1", "correct2", "partial1", "partial2", "blank", "crash", "broken"]


def make_class(root: Path, assignments: list[str], per_assignment: int) -> dict[tuple[str, str], str]:
    """Write the submissions (nbgrader layout, one folder per assignment); returns (assignment, student) -> kind."""
    kinds = {}
    for a in assignments:
        answers = list(solution_answers(REPO, a))
        for i, kind in enumerate(KINDS[:per_assignment] if per_assignment < len(KINDS) else KINDS):
            student = f"s{i:02d}_{kind}"
            if kind.startswith("correct"):
                nb = student_notebook(REPO, a)
            elif kind.startswith("partial"):
                nb = student_notebook(REPO, a, answered=set(answers[int(kind[-1]) % 2::2]))
            elif kind == "blank":
                nb = student_notebook(REPO, a, answered=set())
            elif kind == "crash":
                nb = student_notebook(REPO, a, overrides={answers[0]: "raise RuntimeError('student bug')"})
            else:
                import nbformat
                nb = nbformat.writes(student_notebook(REPO, a)).encode()[:2000]
            write_submission(root / a, student, a, f"{a}.ipynb", nb)
            kinds[(a, student)] = kind
    return kinds


def run_stock(root: Path, assignments: list[str], work: Path) -> tuple[float, dict]:
    """nbgrader generate_assignment (setup, untimed) then nbgrader autograde per assignment (timed)."""
    course = work / "nbgrader_course"
    (course / "source").mkdir(parents=True)
    for a in assignments:
        shutil.copytree(REPO / "solutions" / a, course / "source" / a)
        for student_dir in (root / a).iterdir():
            shutil.copytree(student_dir, course / "submitted" / student_dir.name, dirs_exist_ok=True)
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        f"c.CourseDirectory.db_url = 'sqlite:///{course}/gradebook.db'\n"
        "c.Execute.timeout = 120\n")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "PYTHONPATH": str(REPO)}
    nbgrader = [sys.executable, "-m", "nbgrader"]
    for a in assignments:
        subprocess.run(nbgrader + ["generate_assignment", a, "--force"], cwd=course, env=env,
                       capture_output=True, check=True)
    start = time.perf_counter()
    for a in assignments:
        subprocess.run(nbgrader + ["autograde", a, "--force"], cwd=course, env=env, capture_output=True)
    elapsed = time.perf_counter() - start
    from nbgrader.api import Gradebook
    scores = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Gradebook(f"sqlite:///{course}/gradebook.db") as gb:
            for a in assignments:
                for sub in gb.assignment_submissions(a):
                    scores[(a, sub.student.id)] = float(sub.score)
    return elapsed, scores


def run_ours(root: Path, assignments: list[str], work: Path, jobs: int, sandbox: str) -> tuple[float, dict, dict]:
    import csv
    start = time.perf_counter()
    for a in assignments:
        subprocess.run([sys.executable, "-m", "grading", "grade", a, str(root / a), "--out", str(work / "ours" / a),
                        "--jobs", str(jobs), "--no-progress", "--sandbox", sandbox],
                       cwd=REPO, capture_output=True, check=True)
    elapsed = time.perf_counter() - start
    scores, status = {}, {}
    for a in assignments:
        with open(work / "ours" / a / "grades.csv", newline="") as fh:
            for row in csv.DictReader(fh):
                scores[(a, row["student_id"])] = float(row["score"]) if row["score"] else None
                status[(a, row["student_id"])] = row["status"]
    return elapsed, scores, status


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--assignments", nargs="*", default=ALL)
    p.add_argument("--per-assignment", type=int, default=len(KINDS))
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--sandbox", nargs="+", choices=["fork", "bwrap"], default=None,
                   help="our sandbox engines, each timed in this one run (default: fork when root, and bwrap)")
    args = p.parse_args(argv)
    from grading.autograde import forkserver
    engines = args.sandbox or (["fork"] if forkserver.available() else []) + ["bwrap"]
    missing = [a for a in args.assignments if not (REPO / "exercises" / a).is_dir()]
    if missing:
        print(f"not released yet: {missing}; run `python -m grading release` first")
        return 2
    if shutil.which("bwrap") is None:
        print("bwrap is not installed: the comparison needs the sandbox on (make system-deps)")
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        work = Path(tmp)
        kinds = make_class(work / "class", args.assignments, args.per_assignment)
        n = len(kinds)
        print(f"class: {n} submissions over {len(args.assignments)} assignments "
              f"({', '.join(f'{k}: {sum(v == k for v in kinds.values())}' for k in sorted(set(kinds.values())))}); "
              f"{os.cpu_count()} cores")
        # assignment by assignment, stock and each engine in turn: a shared machine's load then weighs on all alike
        runs = {engine: [0.0, {}, {}] for engine in engines}
        stock_t, stock = 0.0, {}
        for a in args.assignments:
            t, scores = run_stock(work / "class", [a], work / f"stock-{a}")
            stock_t += t
            stock.update(scores)
            for engine in engines:
                t, scores, status = run_ours(work / "class", [a], work / engine, args.jobs, engine)
                runs[engine][0] += t
                runs[engine][1].update(scores)
                runs[engine][2].update(status)
        load = os.getloadavg()
        print(f"load average during the run (1/5/15 min): {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
        print(f"stock nbgrader autograde (serial, no sandbox): {stock_t:7.1f} s  {stock_t / n:5.2f} s/submission")
        honest = [key for key, kind in kinds.items() if kind != "broken"]
        maxes = {a: load_assignment(REPO, a).max_score for a in args.assignments}
        full = [k for k, kind in kinds.items() if kind.startswith("correct")]
        broken = [key for key, kind in kinds.items() if kind == "broken"]
        failed = False
        for engine, (ours_t, ours, status) in runs.items():
            agree = [key for key in honest if key in stock and ours.get(key) == stock[key]]
            disagree = [key for key in honest if key not in agree]
            failed = failed or bool(disagree)
            target = TARGETS[engine]
            print(f"python -m grading grade (--jobs {args.jobs}, sandbox {engine}): {ours_t:7.1f} s  "
                  f"{ours_t / n:5.2f} s/submission; ratio (stock time / ours): {stock_t / ours_t:.2f}x "
                  f"(target >= {target:g}x) {'met' if stock_t / ours_t >= target else 'NOT met'}")
            print(f"  scores agree on {len(agree)}/{len(honest)} honest submissions"
                  + (f"; differ: {[(k, stock.get(k), ours.get(k)) for k in disagree]}" if disagree else ""))
            print(f"  broken notebooks: ours says {sorted(set(status[k] for k in broken))}; correct submissions at "
                  f"full marks: {sum(ours[k] == maxes[k[0]] for k in full)}/{len(full)}")
        print(f"stock nbgrader recorded {sum(k in stock for k in broken)}/{len(broken)} broken notebooks "
              f"(scores {sorted(set(stock[k] for k in broken if k in stock))})")
        return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
