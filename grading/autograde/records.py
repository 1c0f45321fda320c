"""A result record: what the runner found, plus who it belongs to, when it came and what lateness costs.

`finish` is a pure function of the runner's part and the identity/late settings, so a re-run can re-apply a new
due date or roster name to a stored record without regrading it (and tell whether anything changed).
"""
from __future__ import annotations

from . import GRADER_VERSION
from .late import LateRule, assess
from .store import clip
from .submissions import Submission

NO_SCORE = ("failed", "missing")


def runner_part(record: dict) -> dict:
    """Remember what the runner decided, so `finish` can be applied again later."""
    record.setdefault("auto_score", record.get("score"))
    record.setdefault("grading_status", record.get("status"))
    record.setdefault("grading_reason", record.get("reason", ""))
    return record


def missing_record(student_id: str, assignment: str, max_score: float, why: str) -> dict:
    return runner_part({"student_id": student_id, "assignment": assignment, "score": None, "max_score": max_score,
                        "status": "missing", "reason": why, "tests": [], "flags": [], "events": [], "tamper": [],
                        "key": "missing"})


def finish(record: dict, sub: Submission, rule: LateRule, name: str | None = None) -> dict:
    """Fill identity, lateness and the final score/status/reason into a record (in place; returns it)."""
    runner_part(record)
    record.update(student_id=sub.student_id, name=clip(name if name is not None else sub.name), lms=sub.lms,
                  origin=clip(sub.origin), grader_version=GRADER_VERSION,
                  submitted_at=sub.submitted_at.isoformat() if sub.submitted_at else None,
                  notes=[clip(n) for n in sub.notes], due_at=rule.due.isoformat() if rule.due else None)
    record.setdefault("manual_score", None)
    status, reasons = record["grading_status"], [record["grading_reason"]]
    if sub.raw is not None and sub.problem:   # graded, but the submission itself needs a look (several notebooks)
        if status == "graded":
            status = "needs_review"
        reasons.append(clip(sub.problem, 600))
    if status in NO_SCORE:
        record.update(status=status, score=None, late=sub.late, late_penalty=0.0)
    else:
        earned = (record["auto_score"] or 0.0) + (record["manual_score"] or 0.0)
        lateness = assess(rule, sub.submitted_at, sub.late, earned, record["max_score"])
        reasons.append(lateness.note)
        record.update(status=status, late=lateness.late, late_penalty=lateness.penalty,
                      score=max(0.0, round(earned - lateness.penalty, 6)))
    reasons += record["notes"]   # remarks that need no review: extra files, an unreadable timestamp
    record["reason"] = "; ".join(r for r in dict.fromkeys(reasons) if r)
    return record
