"""A result record: what the runner found, plus who it belongs to, when it came, what people graded by hand in
formgrader and what lateness costs.

`finish` fills in identity and timing; `score` decides score, status and reason. Both are pure functions of the
record (the runner's part, people's grades in record["manual"]) and the late rule, so a re-run re-applies a new
due date, roster name or manual grade to a stored record without regrading it (and can tell whether anything
changed). This is the one place a score is computed.
"""
from __future__ import annotations

from datetime import datetime

from . import GRADER_VERSION
from .late import LateRule, assess
from .store import clip
from .submissions import Submission

NO_SCORE = ("failed", "missing")


def runner_part(record: dict) -> dict:
    """Remember what the runner decided, so `score` can be applied again later."""
    record.setdefault("auto_score", record.get("score"))
    record.setdefault("grading_status", record.get("status"))
    record.setdefault("grading_reason", record.get("reason", ""))
    return record


def missing_record(student_id: str, assignment: str, max_score: float, why: str) -> dict:
    return runner_part({"student_id": student_id, "assignment": assignment, "score": None, "max_score": max_score,
                        "status": "missing", "reason": why, "tests": [], "flags": [], "events": [], "tamper": [],
                        "key": "missing"})


def finish(record: dict, sub: Submission, rule: LateRule, name: str | None = None) -> dict:
    """Fill identity and timing into a record, then `score` it (in place; returns it)."""
    runner_part(record)
    record.update(student_id=sub.student_id, name=clip(name if name is not None else sub.name), lms=sub.lms,
                  origin=clip(sub.origin), grader_version=GRADER_VERSION,
                  submitted_at=sub.submitted_at.isoformat() if sub.submitted_at else None,
                  lms_late=sub.late, notes=[clip(n) for n in sub.notes],
                  # graded, but the submission itself needs a look (several notebooks...)
                  problem=clip(sub.problem, 600) if sub.raw is not None and sub.problem else "")
    return score(record, rule)


def manual_points(record: dict) -> tuple[float | None, list[str]]:
    """(what people changed or added, None when nobody graded and nothing waits; the grade ids still waiting for a
    person) from record["manual"]: grade_id -> {kind, max, auto, manual, extra, comment} (gradebook.py)."""
    grades = record.get("manual") or {}
    total = sum((g["manual"] if g["manual"] is not None else (g["auto"] or 0.0)) + (g["extra"] or 0.0)
                for g in grades.values())
    tests_auto = sum(g["auto"] or 0.0 for g in grades.values() if g["kind"] == "test")
    people = any(g["manual"] is not None or g["extra"] for g in grades.values())
    pending = [gid for gid, g in grades.items() if g["kind"] != "test" and g["manual"] is None]
    return (round(total - tests_auto, 6) if people or pending else None), pending


def score(record: dict, rule: LateRule) -> dict:
    """score = auto_score + manual_score - late penalty (empty for failed and missing); status `needs_review` for a
    doubtful submission, `needs_manual_grade` while a manually graded cell has no score; reason says every why."""
    runner_part(record)
    status, reasons = record["grading_status"], [record["grading_reason"]]
    if record.get("problem"):
        status = "needs_review" if status == "graded" else status
        reasons.append(record["problem"])
    manual, pending = manual_points(record)
    record["manual_score"] = None if status in NO_SCORE else manual
    if status in NO_SCORE:
        record.update(status=status, score=None, late=bool(record.get("lms_late")), late_penalty=0.0)
    else:
        earned = (record["auto_score"] or 0.0) + (manual or 0.0)
        submitted = datetime.fromisoformat(record["submitted_at"]) if record.get("submitted_at") else None
        lateness = assess(rule, submitted, bool(record.get("lms_late")), earned, record["max_score"])
        reasons.append(lateness.note)
        if pending:
            status = "needs_manual_grade" if status == "graded" else status
            reasons.append(f"{len(pending)} manually graded cell(s) not graded yet in formgrader")
        record.update(status=status, late=lateness.late, late_penalty=lateness.penalty,
                      score=max(0.0, round(earned - lateness.penalty, 6)))
    record["due_at"] = rule.due.isoformat() if rule.due else None
    reasons += record.get("manual_notes", []) + record.get("notes", [])
    record["reason"] = "; ".join(r for r in dict.fromkeys(reasons) if r)
    return record
