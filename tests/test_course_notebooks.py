"""The lecture notebooks' shape: goals first, exercises last, outputs stored, executed and clean.

(nbval, run over course/ by the test command, checks that a re-run prints what is stored; these
tests check what nbval cannot: structure, order of execution and what the stored outputs contain.)
"""
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "course"))
from _course_catalog import (IGNORE_MARKER, IGNORE_REASON, NOTEBOOKS, REPO_ROOT,  # noqa: E402
                             is_output_ignored, output_text, read_notebook)

STEMS = list(NOTEBOOKS)


def code_cells(nb):
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def test_course_has_exactly_the_listed_notebooks():
    on_disk = sorted(p.stem for p in (REPO_ROOT / "course").glob("*.ipynb"))
    assert on_disk == sorted(STEMS)


@pytest.mark.parametrize("stem", STEMS)
def test_opens_with_what_the_reader_will_be_able_to_do(stem):
    first = read_notebook(stem).cells[0]
    assert first.cell_type == "markdown"
    assert first.source.startswith("# ")
    assert "By the end of this notebook you will be able to" in first.source
    assert first.source.count("\n- ") >= 3, "list at least three goals"


@pytest.mark.parametrize("stem", STEMS)
def test_closes_by_pointing_to_its_graded_exercises(stem):
    last = read_notebook(stem).cells[-1]
    assert last.cell_type == "markdown"
    exercise = NOTEBOOKS[stem]
    if exercise is None:
        assert "no graded exercises" in last.source
    else:
        assert exercise in last.source
        assert f"python -m grading check {exercise}" in last.source


@pytest.mark.parametrize("stem", [s for s in STEMS if NOTEBOOKS[s]])
def test_pointed_exercise_notebook_exists(stem):
    path = REPO_ROOT / NOTEBOOKS[stem]
    assert path.is_file(), f"{stem} points students to {NOTEBOOKS[stem]}, which does not exist"


@pytest.mark.parametrize("stem", STEMS)
def test_executed_top_to_bottom_in_one_run_without_errors(stem):
    nb = read_notebook(stem)
    counts = [cell.execution_count for cell in code_cells(nb)]
    assert counts == list(range(1, len(counts) + 1)), "re-run with course/execute.py"
    errors = [output_text(o) for c in code_cells(nb) for o in c.outputs if o.output_type == "error"]
    assert errors == []
    assert nb.metadata.kernelspec.name == "python3"


@pytest.mark.parametrize("stem", STEMS)
def test_no_per_cell_timestamps_are_stored(stem):
    for cell in read_notebook(stem).cells:
        assert "execution" not in cell.get("metadata", {}), "execute with record_timing=False"


@pytest.mark.parametrize("stem", STEMS)
def test_every_ignored_output_says_why(stem):
    for cell in code_cells(read_notebook(stem)):
        lines = [line.strip() for line in cell.source.splitlines()]
        if IGNORE_MARKER in lines:
            reason = lines[lines.index(IGNORE_MARKER) + 1]
            assert reason.startswith(IGNORE_REASON) and len(reason) > len(IGNORE_REASON) + 10, cell.source


# things that must never appear in a compared output: they change between machines or runs
VOLATILE = {
    "absolute path": re.compile(r"(/work/|/home/|/tmp/|/Users/|[A-Z]:\\\\)"),
    "kernel file name": re.compile(r"ipykernel_\d+"),
    "timestamp": re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}"),
    "version string": re.compile(r"\b2\.\d+\.\d+\+(cpu|cu\d+)"),
}


@pytest.mark.parametrize("stem", STEMS)
def test_compared_outputs_hold_nothing_machine_specific(stem):
    for cell in code_cells(read_notebook(stem)):
        if is_output_ignored(cell):
            continue
        for output in cell.outputs:
            text = output_text(output)
            for what, pattern in VOLATILE.items():
                assert not pattern.search(text), f"{what} in output of:\n{cell.source}\n---\n{text}"
            assert output.output_type != "stream" or output.name == "stdout", f"stderr from:\n{cell.source}"


PREDICT = "**Predict, then run.**"
ANSWER = "<details><summary><b>Answer</b>"
# (notebook, at least this many predictions, a phrase each of some named predictions must contain)
PREDICTIONS = {
    "01_what_is_pytorch": (1, ["how many doublings"]),
    "02_tensors": (5, ["What dtype", "What shape does `(3, 1) + (4,)`", "share memory with `x`",
                       "`torch.cat([p, q])`", "`col.expand(3, 4)`"]),
    "03_numpy_bridge": (2, ["Which of `shared`, `maybe` and `copied`", "`t.add_(1)`"]),
    "04_devices": (1, ["**0-d** tensor"]),
    "05_autograd": (6, ["Is `b` a leaf?", "without touching `x.grad`", "require grad?", "`u = x.detach()`",
                        "What shape is `prediction - target`?", "How many batches"]),
    "06_jacobians": (2, ["jacrev(layer, argnums=(0, 1))", "which of `jacrev` and `jacfwd` is faster"]),
    "07_inside_autograd_minigrad": (1, ["What does PyTorch do with them"]),
    "08_end_to_end": (1, ["**bit for bit**"]),
}


def test_every_lecture_after_the_welcome_asks_for_predictions():
    assert sorted(PREDICTIONS) == sorted(s for s in STEMS if s != "00_welcome")


@pytest.mark.parametrize("stem", list(PREDICTIONS))
def test_predictions_come_before_the_run_and_the_answer_after_it(stem):
    cells = read_notebook(stem).cells
    prompts = [i for i, c in enumerate(cells) if c.cell_type == "markdown" and c.source.startswith(PREDICT)]
    least, phrases = PREDICTIONS[stem]
    assert len(prompts) >= least
    for phrase in phrases:
        assert any(phrase in cells[i].source for i in prompts), f"no prediction asks {phrase!r}"
    for i in prompts:
        rest = cells[i + 1:]
        answer = next(k for k, c in enumerate(rest) if c.cell_type == "markdown" and ANSWER in c.source)
        between = rest[:answer]
        assert any(c.cell_type == "code" for c in between), f"nothing to run between prompt and answer:\n{cells[i].source}"
        assert not any(c.source.startswith(PREDICT) for c in between), "a prompt without its own answer"
        assert rest[answer].source.rstrip().endswith("</details>"), "the answer must stay collapsed until opened"
    answers = [c for c in cells if c.cell_type == "markdown" and ANSWER in c.source]
    assert len(answers) == len(prompts), "every answer belongs to a prompt"
