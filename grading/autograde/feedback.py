"""The feedback a student receives: DIR/feedback/<student>/<assignment>/<notebook>.html (nbgrader's place for it,
so `nbgrader release_feedback` hands it out).

Per question, named by the notebook's heading above it: the points, the student's own answer code with its error
(a SyntaxError with its line), each visible test's result and message, manual scores and the grader's comments;
then a note for any file submitted beside the notebook that was not used. Never the source of a hidden test or a
solution: test cells appear only through their messages.
"""
from __future__ import annotations

import html
from pathlib import Path

from .assignment import Assignment
from .nbcourse import EXCHANGE_FILES, autograded_path, feedback_path
from .outputs import _num, _page
from .store import atomic_write

def questions(assignment: Assignment) -> list[tuple[str, list[str], list]]:
    """(title, answer grade ids, graded cells) per question, in notebook order; a question is the run of cells
    under one heading (its grade id names it when the notebook has no heading above it)."""
    answers = {c.grade_id: c for c in assignment.cells if c.kind == "answer"}
    graded = {c.grade_id: c for c in assignment.graded}
    order: dict[str, tuple[list[str], list]] = {}
    for gid in assignment.order:
        if gid in answers or (gid in graded and graded[gid].kind == "manual"):
            cell = answers.get(gid) or graded[gid]
            order.setdefault(cell.title or gid, ([], []))[0].append(gid)
        if gid in graded:
            order.setdefault(graded[gid].title or gid, ([], []))[1].append(graded[gid])
    return [(title, ids, cells) for title, (ids, cells) in order.items() if cells]


def _cell_points(grade: dict | None, test: dict | None) -> tuple[float | None, str]:
    """(points, how they were decided) of one graded cell."""
    if grade and grade.get("manual") is not None:
        return grade["manual"] + (grade.get("extra") or 0.0), "graded by hand"
    if grade and grade.get("kind") != "test":
        return None, "not graded yet"
    if test is None:
        return None, "not run"
    return float(test["points"]) + ((grade or {}).get("extra") or 0.0), test["outcome"].replace("_", " ")


def feedback_html(assignment: Assignment, record: dict, answers: dict[str, str] | None = None) -> str:
    """One student's feedback page (see the module's docstring)."""
    e = html.escape
    tests = {t["grade_id"]: t for t in record.get("tests", [])}
    grades = record.get("manual", {})
    errors = record.get("answer_errors", {})
    comments = record.get("comments", {})
    answers = answers or {}
    score = "not graded" if record["score"] is None else f"{_num(record['score'])} / {_num(record['max_score'])}"
    parts = [f"<h1>{e(assignment.name)}: feedback for {e(record.get('name') or record['student_id'])}</h1>",
             f"<p>Score: <b>{score}</b> &middot; status: <b>{e(record['status'].replace('_', ' '))}</b>"
             + (f" &middot; late penalty: {_num(record['late_penalty'])}" if record.get("late_penalty") else "")
             + "</p>"]
    if record.get("reason"):
        parts.append(f"<p><b>Note:</b> {e(record['reason'])}</p>")
    for title, answer_ids, cells in questions(assignment):
        got = [_cell_points(grades.get(c.grade_id), tests.get(c.grade_id))[0] for c in cells]
        earned = "?" if any(p is None for p in got) else _num(sum(got))
        parts.append(f"<section><h2>{e(title)}</h2><p>{earned} / {_num(sum(c.points for c in cells))} points</p>")
        for gid in answer_ids:
            if gid in answers:
                parts.append(f"<p>Your answer:</p><pre>{e(answers[gid])}</pre>")
            if gid in errors:
                err = errors[gid]
                where = f" on line {err['line']}" if err.get("line") else ""
                shown = f": <code>{e(err['text'])}</code>" if err.get("text") else ""
                parts.append(f"<p class='error'>Your answer has a {e(err['ename'])}{where}{shown} "
                             f"({e(err['evalue'])}); nothing it defines exists, so the tests that use it fail "
                             "with a NameError.</p>")
            if comments.get(gid):
                parts.append(f"<p><b>Comment:</b> {e(comments[gid])}</p>")
        rows = []
        for cell in cells:
            grade, test = grades.get(cell.grade_id), tests.get(cell.grade_id)
            points, how = _cell_points(grade, test)
            css = test["outcome"] if test and cell.kind == "test" and how != "graded by hand" else (
                "pending" if points is None else "passed")
            what = {"test": "test", "manual": "graded by hand", "task": "task, graded by hand"}[cell.kind]
            what += f" ({cell.grade_id})" if len(cells) > 1 else ""   # several under one heading
            message = test.get("message", "") if test and cell.kind == "test" else ""
            comment = (grade or {}).get("comment", "")
            rows.append(f"<tr><td>{e(what)}</td><td>{e(_num(points) or '-')} / {_num(cell.points)}</td>"
                        f"<td class='{e(css)}'>{e(how)}</td><td>{e(message)}"
                        + (f"<br><b>Comment:</b> {e(comment)}" if comment else "") + "</td></tr>")
        parts.append("<table><tr><th>graded cell</th><th>points</th><th>result</th><th>message</th></tr>"
                     + "".join(rows) + "</table></section>")
    unused = record.get("unused_files", [])
    if unused:
        parts.append(f"<p><b>Files not used:</b> you also submitted {e(', '.join(unused))}. Only the notebook is "
                     "graded, so the grader did not see these files: code the notebook imports from them was "
                     "missing when it ran. Put that code into the notebook itself.</p>")
    for note in record.get("manual_notes", []):
        parts.append(f"<p><b>Regraded:</b> {e(note)}</p>")
    return _page(f"{assignment.name} feedback {record['student_id']}", "".join(parts))


def write_feedback(out: Path, assignment: Assignment, record: dict, answers: dict[str, str] | None = None) -> None:
    """Write the page and the exchange's files nbgrader's release_feedback reads beside it."""
    target = feedback_path(out, assignment, record["student_id"])
    atomic_write(target, feedback_html(assignment, record, answers))
    graded = autograded_path(out, assignment, record["student_id"]).parent
    for name in EXCHANGE_FILES:
        if (graded / name).is_file():
            atomic_write(target.parent / name, (graded / name).read_bytes())
