"""`python -m grading release [--check]`: regenerate exercises/ from solutions/ with `nbgrader generate_assignment`.

nbgrader runs in a scratch copy of the course (no gradebook, no log file left behind); the fresh release then
replaces exercises/, or, with --check, is compared with it: exit code 1 naming every stale, missing or extra file.
"""
from __future__ import annotations

import argparse
import filecmp
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from grading.nbgrader_util import CONFIG_FILE, RELEASE_DIR, SOURCE_DIR, assignments

IGNORED = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.pyc")


def generate(source_dir: Path, out_dir: Path) -> None:
    """Write nbgrader's release of every assignment in `source_dir` to `out_dir` (which must not exist)."""
    names = assignments(source_dir)
    if not names:
        raise SystemExit(f"no assignments in {source_dir}: expected folders like 02_tensors/02_tensors.ipynb")
    with tempfile.TemporaryDirectory(prefix="release-") as tmp:
        root = Path(tmp)
        shutil.copytree(source_dir, root / "solutions", ignore=IGNORED)
        cmd = [sys.executable, "-m", "nbgrader", "generate_assignment", "*", "--no-db", "--force",
               f"--NbGrader.config_file={CONFIG_FILE}", f"--CourseDirectory.root={root}",
               "--CourseDirectory.source_directory=solutions", "--CourseDirectory.release_directory=exercises"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"nbgrader generate_assignment failed (exit {proc.returncode}):\n{proc.stderr}")
        missing = [n for n in names if not (root / "exercises" / n / f"{n}.ipynb").is_file()]
        if missing:
            raise SystemExit(f"nbgrader produced no release for {missing}:\n{proc.stderr}")
        shutil.copytree(root / "exercises", out_dir, ignore=IGNORED)


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()
            and not {".ipynb_checkpoints", "__pycache__"} & set(p.parts) and p.suffix != ".pyc"}


def differences(fresh: Path, current: Path) -> list[str]:
    """Lines naming each file of `current` that is stale, missing or extra compared with `fresh`."""
    want, have = _files(fresh), _files(current) if current.is_dir() else set()
    lines = [f"missing: {current.name}/{f}" for f in sorted(want - have)]
    lines += [f"extra (not produced from {SOURCE_DIR.name}/): {current.name}/{f}" for f in sorted(have - want)]
    lines += [f"stale: {current.name}/{f}" for f in sorted(want & have)
              if not filecmp.cmp(fresh / f, current / f, shallow=False)]
    return lines


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m grading release", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 if exercises/ differs from a fresh generation")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fresh-release-") as tmp:
        fresh = Path(tmp) / "exercises"
        generate(SOURCE_DIR, fresh)
        diff = differences(fresh, RELEASE_DIR)
        if args.check:
            if diff:
                print("exercises/ is out of date with solutions/; run `python -m grading release`:\n  "
                      + "\n  ".join(diff))
                return 1
            print(f"exercises/ is up to date ({len(_files(fresh))} files from {SOURCE_DIR.name}/).")
            return 0
        if RELEASE_DIR.exists():
            shutil.rmtree(RELEASE_DIR)
        shutil.copytree(fresh, RELEASE_DIR)
        print(f"released {len(_files(fresh))} files to {RELEASE_DIR.name}/"
              + (":\n  " + "\n  ".join(diff) if diff else " (no changes)."))
    return 0
