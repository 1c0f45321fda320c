"""Re-execute the course notebooks in place, deterministically, and print how long each one took.

    .venv/bin/python course/execute.py                 # every notebook of the course, in order
    .venv/bin/python course/execute.py 02_tensors      # only these (stem or file name)

Each notebook runs top to bottom in a fresh `python3` kernel (the interpreter running this script),
with the working directory set to course/ and PYTHONHASHSEED fixed, and is written back with its
outputs. nbval (`pytest --nbval course/ --nbval-sanitize-with course/sanitize.cfg`) then checks
that a re-run prints exactly what is stored.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient

from _course_catalog import COURSE_DIR, NOTEBOOKS, notebook_path

KERNEL_NAME = "python3"
HASH_SEED = "0"
TIME_LIMIT_S = 60  # the course promises each notebook runs in under a minute on 2 cores


def course_notebooks(names: list[str]) -> list[Path]:
    """The notebooks to run: the whole course, or those named (stem, file name or path)."""
    try:
        return [notebook_path(Path(name).stem) for name in names or NOTEBOOKS]
    except ValueError as error:
        raise SystemExit(str(error)) from None


def check_kernel() -> None:
    """Refuse to run with a python3 kernel that would start another interpreter than this one."""
    spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
    program = spec.argv[0]
    # jupyter_client replaces a bare 'python'/'python3' with sys.executable when it launches.
    if program not in {"python", "python3", sys.executable}:
        raise SystemExit(
            f"The '{KERNEL_NAME}' kernel at {spec.resource_dir} starts {program}, not {sys.executable}.\n"
            f"Fix: {sys.executable} -m ipykernel install --sys-prefix"
        )


def kernel_env() -> dict[str, str]:
    """This process's environment with the hash seed fixed and the inline plot backend, as in Jupyter."""
    env = {key: value for key, value in os.environ.items() if key != "MPLBACKEND"}
    env["PYTHONHASHSEED"] = HASH_SEED
    return env


def coalesce_streams(nb) -> None:
    """Merge consecutive stdout (or stderr) chunks of a cell into one output.

    The kernel may flush one print in several messages; merging makes the stored JSON identical
    from run to run (nbval compares merged streams anyway)."""
    for cell in nb.cells:
        merged = []
        for output in cell.get("outputs", []):
            previous = merged[-1] if merged else None
            if (output.output_type == "stream" and previous is not None
                    and previous.output_type == "stream" and previous.name == output.name):
                previous.text += output.text
            else:
                merged.append(output)
        if "outputs" in cell:
            cell.outputs = merged


def execute(path: Path) -> float:
    """Run one notebook in place; return its wall-clock seconds."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name=KERNEL_NAME,
        timeout=300,
        record_timing=False,  # keep per-cell timestamps out of the stored notebook
        resources={"metadata": {"path": str(COURSE_DIR)}},
    )
    start = time.perf_counter()
    client.execute(env=kernel_env())
    seconds = time.perf_counter() - start
    coalesce_streams(nb)
    nbformat.write(nb, path)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="stems such as 02_tensors (default: all)")
    args = parser.parse_args(argv)
    check_kernel()
    total, slow = 0.0, []
    for path in course_notebooks(args.notebooks):
        seconds = execute(path)
        total += seconds
        print(f"{path.name:40s} {seconds:6.1f} s", flush=True)
        if seconds > TIME_LIMIT_S:
            slow.append(path.name)
    print(f"{'total':40s} {total:6.1f} s")
    if slow:
        print(f"Over {TIME_LIMIT_S} s: {', '.join(slow)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
