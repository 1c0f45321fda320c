"""What the exercise tools share: where things are, running a notebook as `nbgrader validate` does, and reading
each question's result from the executed notebook."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import nbformat

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG_FILE = REPO_ROOT / "grading" / "nbgrader_config.py"
SOURCE_DIR = REPO_ROOT / "solutions"
RELEASE_DIR = REPO_ROOT / "exercises"

PASS, FAIL, NOT_ANSWERED = "PASS", "FAIL", "NOT ANSWERED"
TEST_SUFFIX = "_test"  # a question's test cell is named <question id>_test


def assignments(source_dir: Path = SOURCE_DIR) -> list[str]:
    """Assignment names: the folders of `source_dir` that hold a notebook of the same name."""
    return sorted(p.name for p in source_dir.iterdir() if (p / f"{p.name}.ipynb").is_file())


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def is_test_cell(cell) -> bool:
    """An autograded test cell: graded, not a solution, code."""
    meta = nbgrader_meta(cell)
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def question_id(cell) -> str:
    grade_id = nbgrader_meta(cell).get("grade_id", "?")
    return grade_id[: -len(TEST_SUFFIX)] if grade_id.endswith(TEST_SUFFIX) else grade_id


def execute(path: Path, timeout: int = 120) -> nbformat.NotebookNode:
    """Run the notebook at `path` the way `nbgrader validate` does and return it with outputs.

    Uses nbgrader's own Execute preprocessor (all cells run, errors recorded as outputs) in the notebook's folder,
    with NBGRADER_VALIDATING set and the repository root on the kernel's PYTHONPATH so `grading.checks` imports
    even for a copy of the notebook outside the repository. The kernel logs errors only (no start-up warnings).
    """
    from nbgrader import utils
    from nbgrader.preprocessors import ClearOutput, Execute

    path = Path(path).resolve()
    nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    pythonpath = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    with utils.chdir(str(path.parent)), utils.setenv(NBGRADER_VALIDATING="1", NBGRADER_EXECUTION="validate",
                                                     PYTHONPATH=pythonpath):
        nb, _ = ClearOutput().preprocess(nb, {})
        executor = Execute(timeout=timeout, extra_arguments=["--IPKernelApp.log_level=ERROR"])
        nb, _ = executor.preprocess(nb, {})
    return nb


@dataclass(frozen=True)
class QuestionResult:
    question: str
    points: float
    status: str  # PASS, FAIL or NOT ANSWERED
    message: str = ""


def _error_of(cell) -> tuple[str, str] | None:
    """(exception name, message) of a cell's first error, a stderr line counting as an error (as in nbgrader)."""
    for out in cell.get("outputs", []):
        if out.output_type == "error":
            return out.ename, out.evalue
    for out in cell.get("outputs", []):
        if out.output_type == "stream" and out.name == "stderr":
            return "stderr", f"the test printed to stderr, which nbgrader counts as a failure: {out.text.strip()}"
    return None


def _message(ename: str, evalue: str) -> str:
    if ename in ("CheckFailed", "stderr"):
        return evalue
    if ename == "AssertionError" and not evalue:
        return "AssertionError (no message)"
    return f"{ename}: {evalue}" if evalue else ename


def _was_edited(cell) -> bool:
    from nbgrader.utils import compute_checksum

    checksum = nbgrader_meta(cell).get("checksum")
    return checksum is not None and checksum != compute_checksum(cell)


def question_results(nb) -> list[QuestionResult]:
    """One result per autograded test cell of an executed notebook, in notebook order."""
    results = []
    for cell in nb.cells:
        if not is_test_cell(cell):
            continue
        points = float(nbgrader_meta(cell).get("points", 0))
        error = _error_of(cell)
        if _was_edited(cell):
            status, message = FAIL, ("this test cell was edited; graders run the original, so restore it "
                                     "(copy it from a fresh exercises/ notebook).")
        elif error is None:
            status, message = PASS, ""
        elif error[0] == "NotImplementedError":
            status, message = NOT_ANSWERED, "replace `raise NotImplementedError()` with your answer."
        else:
            status, message = FAIL, _message(*error)
        results.append(QuestionResult(question_id(cell), points, status, message))
    return results


def other_errors(nb) -> list[tuple[int, str]]:
    """(cell number from 1, message) for each code cell that is not a test cell and raised an error."""
    found = []
    for number, cell in enumerate(nb.cells, start=1):
        if cell.cell_type == "code" and not is_test_cell(cell):
            for out in cell.get("outputs", []):
                if out.output_type == "error":
                    found.append((number, _message(out.ename, out.evalue)))
    return found
