"""What an instructor reads: grades.csv and each assignment's class report (rebuilt from results); students'
feedback is in feedback.py."""
from __future__ import annotations

import csv
import html
import io
from pathlib import Path

from .store import atomic_write, clip, safe_name

CSV_COLUMNS = ["student_id", "name", "assignment", "score", "max_score", "auto_score", "manual_score",
               "late_penalty", "submitted_at", "status", "reason"]


def _num(x) -> str:
    return "" if x is None else f"{float(x):g}"


def grades_rows(records: list[dict]) -> list[list[str]]:
    """One row per (assignment, student), sorted by assignment then student id; student text clipped."""
    rows = []
    for r in sorted(records, key=lambda r: (r["assignment"], r["student_id"])):
        rows.append([clip(r["student_id"]), clip(r.get("name")), clip(r["assignment"]), _num(r["score"]),
                     _num(r["max_score"]), _num(r.get("auto_score")), _num(r.get("manual_score")),
                     _num(r.get("late_penalty") or 0.0), r.get("submitted_at") or "", r["status"],
                     clip(r["reason"], 1000)])
    return rows


def write_grades_csv(out: Path, records: list[dict]) -> None:
    """<out>/grades.csv: every (assignment, student) graded into this folder so far, with CSV_COLUMNS."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(grades_rows(records))
    atomic_write(out / "grades.csv", buf.getvalue())


_STYLE = ("body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.4}"
          "pre{background:#f6f6f6;padding:.5em;overflow-x:auto}"
          "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}"
          ".passed{color:#060}.failed,.error,.timeout,.died{color:#a00}.withheld,.not_run,.pending{color:#a60}")


def _page(title: str, body: str) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body>{body}</body></html>")


def question_stats(records: list[dict]) -> list[tuple[str, float, int, int]]:
    """(question, max points, students passing, students graded) per autograded test, in notebook order; the
    question is named by the notebook's heading (the test's "title"), else by its grade id."""
    order: dict[str, list] = {}
    for r in records:
        if r["status"] == "failed":
            continue
        for t in r["tests"]:
            entry = order.setdefault(t.get("title") or t["grade_id"], [t["max_points"], 0, 0])
            entry[1] += t["outcome"] == "passed"
            entry[2] += 1
    return [(gid, v[0], v[1], v[2]) for gid, v in order.items()]


def _bar_chart(title: str, labels: list[str], values: list[float], top: float, y_label: str, color: str) -> str:
    """A small inline SVG bar chart (values from 0 to `top`), with each bar's label under it and its value in its
    tooltip. The report draws two of these: matplotlib took a grading run about a CPU-second to import and render."""
    e = html.escape
    width, height, left, right, bottom, pad = 480, 280, 44, 40, 104, 22
    plot_w, plot_h = width - left - right, height - bottom - pad
    step = plot_w / max(1, len(values))
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' role='img' "
             f"aria-label='{e(title)}' font-family='sans-serif' font-size='11'>",
             f"<text x='{left + plot_w / 2}' y='14' text-anchor='middle' font-size='13'>{e(title)}</text>",
             f"<text transform='translate(11 {pad + plot_h / 2}) rotate(-90)' text-anchor='middle'>{e(y_label)}</text>"]
    for k in range(5):   # horizontal grid lines with their values
        y = pad + plot_h * (1 - k / 4)
        parts.append(f"<line x1='{left}' x2='{left + plot_w}' y1='{y:.1f}' y2='{y:.1f}' stroke='#ddd'/>"
                     f"<text x='{left - 4}' y='{y + 4:.1f}' text-anchor='end'>{top * k / 4:g}</text>")
    for i, (label, value) in enumerate(zip(labels, values)):
        h = plot_h * min(max(value / top, 0.0), 1.0) if top else 0.0
        x = left + i * step
        short = label if len(label) <= 16 else label[:15] + "\u2026"
        parts.append(f"<rect x='{x + step * 0.1:.1f}' y='{pad + plot_h - h:.1f}' width='{step * 0.8:.1f}' "
                     f"height='{h:.1f}' fill='{color}'><title>{e(label)}: {value:g}</title></rect>"
                     f"<text transform='translate({x + step / 2 - 3:.1f} {pad + plot_h + 8}) rotate(60)'>"
                     f"{e(short)}</text>")
    parts.append(f"<line x1='{left}' x2='{left + plot_w}' y1='{pad + plot_h}' y2='{pad + plot_h}' stroke='#333'/>"
                 "</svg>")
    return "".join(parts)


def score_histogram(scores: list[float], max_score: float) -> tuple[list[str], list[int]]:
    """(bin labels, students per bin) over 0..max_score. Up to 20 points, one bin per whole point ("7" holds
    7 <= score < 8, the last bin max_score itself); else 20 equal bins labelled by their range."""
    whole = float(max_score).is_integer() and max_score <= 20
    bins = int(max_score) + 1 if whole else 20
    width = 1.0 if whole else max_score / bins
    counts = [0] * bins
    for score in scores:
        counts[min(bins - 1, max(0, int(score / width)))] += 1
    labels = [f"{k}" for k in range(bins)] if whole else \
        [f"{k * width:.3g}\u2013{(k + 1) * width:.3g}" for k in range(bins)]
    return labels, counts


def class_report_html(assignment: str, records: list[dict], bad_entries: list[str]) -> str:
    e = html.escape
    scores = [r["score"] for r in records if r["score"] is not None]
    max_score = max((r["max_score"] for r in records), default=0) or 1
    stats = question_stats(records)
    labels, per_bin = score_histogram(scores, max_score)
    charts = (_bar_chart("score distribution", labels, per_bin, 4 * -(-max(per_bin) // 4) or 4, "students", "#4a7")
              + _bar_chart("pass rate per question", [s[0] for s in stats],
                           [100 * s[2] / s[3] if s[3] else 0 for s in stats], 100, "% of graded students", "#47a"))
    counts = {s: sum(r["status"] == s for r in records)
              for s in ("graded", "needs_review", "needs_manual_grade", "failed")}
    mean = sum(scores) / len(scores) if scores else 0.0
    qrows = "".join(f"<tr><td>{e(g)}</td><td>{_num(m)}</td><td>{p} / {n}</td>"
                    f"<td>{(100 * p / n if n else 0):.0f}%</td></tr>" for g, m, p, n in stats)
    review = "".join(f"<tr><td>{e(r['student_id'])}</td><td>{e(r['status'])}</td><td>{_num(r['score'])}</td>"
                     f"<td>{e(r['reason'])}</td></tr>" for r in records if r["status"] != "graded")
    bad = "".join(f"<li>{e(b)}</li>" for b in bad_entries)
    body = (f"<h1>{e(assignment)}: class report</h1>"
            f"<p>{len(records)} students: {counts['graded']} graded, {counts['needs_review']} need review, "
            f"{counts['needs_manual_grade']} wait for manual grading, {counts['failed']} failed. Mean score {mean:.2f} / {_num(max_score)}.</p>"
            f"<div class='charts'>{charts}</div>"
            f"<h2>Questions</h2><table><tr><th>question</th><th>points</th><th>passed</th><th>pass rate</th></tr>"
            f"{qrows}</table>"
            + (f"<h2>Needs attention</h2><table><tr><th>student</th><th>status</th><th>score</th><th>reason</th></tr>"
               f"{review}</table>" if review else "")
            + (f"<h2>Entries that could not be assigned to a student</h2><ul>{bad}</ul>" if bad else ""))
    return _page(f"{assignment} class report", body)


def report_path(out: Path, assignment: str) -> Path:
    """<out>/reports/<assignment>.html: one class report per assignment graded into <out>."""
    return out / "reports" / f"{safe_name(assignment)}.html"


def write_class_report(out: Path, assignment: str, records: list[dict], bad_entries: list[str]) -> Path:
    path = report_path(out, assignment)
    atomic_write(path, class_report_html(assignment, records, bad_entries))
    return path
