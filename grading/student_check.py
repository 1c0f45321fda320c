"""`python -m grading check <notebook> [...]`: run an exercise notebook as `nbgrader validate` does and print one
line per question under its heading in the notebook (question id, points, PASS / FAIL / NOT ANSWERED, what the test said, and when
an answer cell above the test does not compile, its SyntaxError and line). Exit code 0 only if every question of
every notebook passes."""
from __future__ import annotations

import argparse
import shutil
import sys
import textwrap
from pathlib import Path

from grading.nbgrader_util import (NOT_ANSWERED, PASS, QuestionResult, execute, is_test_cell, nbgrader_meta,
                                   other_errors, question_results)


def _points(x: float) -> str:
    return f"{x:g}"


def answer_notes(nb) -> list[str]:
    """Per test cell, in order: what is wrong with the answer cells since the previous test (a SyntaxError and its
    line), found by compiling them; "" when nothing is."""
    from grading.autograde.nbcourse import syntax_error

    notes, pending = [], []
    for cell in nb.cells:
        if cell.cell_type == "code" and nbgrader_meta(cell).get("solution"):
            error = syntax_error(cell.source)
            if error:
                shown = f": `{error['text']}`" if error["text"] else ""
                pending.append(f"your answer {nbgrader_meta(cell).get('grade_id', '')!r} has a {error['ename']} on "
                               f"line {error['line']}{shown} ({error['evalue']}); fix it first, nothing in it was "
                               "defined")
        elif is_test_cell(cell):
            notes.append("; ".join(pending))
            pending = []
    return notes


def titled(nb, results: list[QuestionResult]) -> tuple[list[QuestionResult], list[str]]:
    """The results with what is wrong with each test's answer cells added to its message, and the heading above
    each test cell (what the notebook calls the question)."""
    from grading.autograde.assignment import headings_above

    titles = [t for cell, t in zip(nb.cells, headings_above(nb.cells)) if is_test_cell(cell)]
    notes = answer_notes(nb)
    out = [QuestionResult(r.question, r.points, r.status,
                          f"{r.message} -- {note}" if note and r.status != PASS else r.message)
           for r, note in zip(results, notes)]
    return out, titles


def format_report(path: Path, results, errors, titles: list[str] | None = None) -> str:
    """The per-question table of one notebook (each question under its heading, when `titles` are given), then a
    score line and any errors outside the tests."""
    width = max(72, min(shutil.get_terminal_size((100, 20)).columns, 140))
    qw = max([len("question")] + [len(r.question) for r in results])
    head = f"{'question':<{qw}}  {'points':>6}  {'result':<12}  "
    indent = " " * len(head)
    lines = [f"{path}", head + "message", "-" * min(width, len(head) + 40)]
    shown = ""
    for r, title in zip(results, titles or [""] * len(results)):
        if title and title != shown:
            lines.append(f"# {title}")
            shown = title
        message = textwrap.wrap(r.message, width=max(30, width - len(head))) or [""]
        lines.append(f"{r.question:<{qw}}  {_points(r.points):>6}  {r.status:<12}  {message[0]}")
        lines += [indent + more for more in message[1:]]
    earned = sum(r.points for r in results if r.status == PASS)
    total = sum(r.points for r in results)
    passed = sum(r.status == PASS for r in results)
    unanswered = sum(r.status == NOT_ANSWERED for r in results)
    lines.append(f"\n{passed} of {len(results)} questions pass ({_points(earned)} of {_points(total)} points"
                 + (f"; {unanswered} not answered yet" if unanswered else "") + ").")
    if results:
        lines.append("Graders also run hidden tests on other inputs: passing here is necessary, not sufficient.")
    for number, message in errors:
        lines.append(f"note: cell {number} (not a test) raised {message}")
    return "\n".join(lines)


def check_notebook(path: Path, timeout: int) -> bool:
    """Run one notebook, print its report, say whether every question passed."""
    nb = execute(path, timeout=timeout)
    results, titles = titled(nb, question_results(nb))
    if not results:
        print(f"{path}: no autograded questions found; is this an exercise notebook from exercises/?")
        return False
    print(format_report(path, results, other_errors(nb), titles))
    by_hand = [c for c in nb.cells if nbgrader_meta(c).get("grade") and
               (nbgrader_meta(c).get("solution") or nbgrader_meta(c).get("task"))]
    if by_hand:
        points = sum(float(nbgrader_meta(c).get("points", 0) or 0) for c in by_hand)
        print(f"{_points(points)} more points are graded by hand, after you submit: "
              + ", ".join(nbgrader_meta(c).get("grade_id", "?") for c in by_hand) + ".")
    return all(r.status == PASS for r in results)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m grading check",
        description="Run exercise notebooks like nbgrader validate and say which questions pass.")
    parser.add_argument("notebooks", nargs="+", type=Path, help="exercise notebooks, e.g. exercises/02_tensors/02_tensors.ipynb")
    parser.add_argument("--timeout", type=int, default=120, help="seconds allowed per cell (default 120)")
    args = parser.parse_args(argv)
    for path in args.notebooks:
        if path.suffix != ".ipynb" or not path.is_file():
            print(f"error: {path} is not a notebook file; pass the path of an .ipynb file, "
                  "e.g. exercises/02_tensors/02_tensors.ipynb", file=sys.stderr)
            return 2
    ok = True
    for i, path in enumerate(args.notebooks):
        if i:
            print()
        ok = check_notebook(path, args.timeout) and ok
    return 0 if ok else 1
