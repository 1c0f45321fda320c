"""`python -m grading formgrader DIR`: open nbgrader's formgrader on a grading folder written by
`python -m grading grade ... --out DIR`, to grade manually graded cells and read or change any score.

It is the course's JupyterLab (`grading.lab.lab_launch`, the same server `make lab` starts) with DIR as its root
and its working directory, so nbgrader finds DIR/nbgrader_config.py (course id, DIR as the course root, the
gradebook DIR/gradebook.db) and opens on /formgrader. Scores and comments entered there land in the gradebook;
the next `python -m grading grade` run reads them into grades.csv and the feedback.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

from grading.lab import LabLaunch, lab_launch, nbgrader_labextension_problem

FORMGRADER_URL = "/formgrader"


def formgrader_launch(out: Path, port: int = 8888, **options) -> LabLaunch:
    """How to start formgrader on the grading folder `out` (options as for `grading.lab.lab_launch`)."""
    out = Path(out).resolve()
    if not (out / "nbgrader_config.py").is_file() or not (out / "gradebook.db").is_file():
        raise FileNotFoundError(f"{out} is not a grading folder (no nbgrader_config.py and gradebook.db); "
                                "grade first: python -m grading grade <assignment> <submissions> --out DIR")
    launch = lab_launch(port, root_dir=out, default_url=FORMGRADER_URL, **options)
    return dataclasses.replace(launch, cwd=out)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m grading formgrader", description=__doc__.split("\n\n")[0],
                                     epilog="Other options go to JupyterLab as they are.")
    parser.add_argument("out", type=Path, help="the grading folder (grade's --out)")
    parser.add_argument("--port", type=int, default=8888, help="port (default 8888; the next free one if taken)")
    parser.add_argument("--no-browser", action="store_true", help="print the URL instead of opening a browser")
    parser.add_argument("--token", default=None, help="login token (default: a random one, printed in the URL)")
    args, jupyter_args = parser.parse_known_args(argv)
    try:
        launch = formgrader_launch(args.out, args.port, open_browser=not args.no_browser, token=args.token,
                                   extra_args=jupyter_args)
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 2
    problem = nbgrader_labextension_problem(launch.env)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    print(f"Starting formgrader on {launch.url} (Ctrl-C twice to stop)", flush=True)
    os.chdir(launch.cwd)
    os.execve(launch.argv[0], launch.argv, launch.env)
    return 0  # not reached
