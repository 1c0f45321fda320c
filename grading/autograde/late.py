"""Due dates and late penalties, with nbgrader's rules ('none', 'zero') plus a fraction of the points per day.

    none     no penalty (lateness is still recorded)
    zero     the score becomes 0 (nbgrader's LateSubmissionPlugin.penalty_method = 'zero')
    0.1      10% of max_score off per started day late, never below 0
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path


@dataclass(frozen=True)
class LateRule:
    due: datetime | None = None
    method: str = "none"          # "none", "zero" or "per_day"
    per_day: float = 0.0          # fraction of max_score per started day (method "per_day")

    def describe(self) -> str:
        if self.method == "per_day":
            return f"{self.per_day:.0%} of the points per started day late"
        return {"none": "no penalty", "zero": "a late submission scores 0"}[self.method]


def parse_due(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        due = datetime.fromisoformat(text)
    except ValueError:
        raise SystemExit(f"--due {text!r} is not an ISO 8601 date; e.g. --due 2026-10-01T23:59:00+00:00")
    if due.tzinfo is None:
        raise SystemExit(f"--due {text!r} has no time zone, so lateness would depend on the machine's clock "
                         "settings; add one, e.g. 2026-10-01T23:59:00+00:00 or ...+02:00")
    return due


def parse_rule(text: str, due: datetime | None) -> LateRule:
    if text in ("none", "zero"):
        return LateRule(due, text)
    try:
        fraction = float(text)
    except ValueError:
        fraction = -1.0
    if not 0 < fraction <= 1:
        raise SystemExit(f"--late-penalty {text!r}: use none, zero, or the fraction of the points taken off per "
                         "started day late (e.g. 0.1)")
    return LateRule(due, "per_day", fraction)


@dataclass(frozen=True)
class Lateness:
    late: bool
    penalty: float            # points taken off
    note: str                 # why, for the reason column ("" when on time)


def assess(rule: LateRule, submitted_at: datetime | None, marked_late: bool, earned: float | None,
           max_score: float) -> Lateness:
    """Is it late, and how many of `earned` points does the rule take off (never more than earned)."""
    seconds = (submitted_at - rule.due).total_seconds() if rule.due and submitted_at else None
    late = marked_late or (seconds is not None and seconds > 0)
    if not late:
        return Lateness(False, 0.0, "")
    earned = earned or 0.0
    when = f"submitted {_span(seconds)} after the due date" if seconds and seconds > 0 else \
        "marked late by the LMS"
    if rule.method == "zero":
        return Lateness(True, earned, f"late ({when}): {rule.describe()}")
    if rule.method == "per_day":
        if seconds is None or seconds <= 0:
            return Lateness(True, 0.0, f"late ({when}), submission time unknown: no per-day penalty applied "
                                       "(the LMS's own late policy applies on import)")
        days = math.ceil(seconds / 86400)
        penalty = min(earned, round(days * rule.per_day * max_score, 6))
        return Lateness(True, penalty, f"late ({when}): -{penalty:g} points ({days} day(s) x {rule.describe()})")
    return Lateness(True, 0.0, f"late ({when}): no penalty configured")


def _span(seconds: float) -> str:
    minutes = int(seconds // 60)
    days, minutes = divmod(minutes, 1440)
    hours, minutes = divmod(minutes, 60)
    return f"{days} d {hours} h {minutes} min" if days else f"{hours} h {minutes} min"


def configured_method(config_file: Path) -> str | None:
    """nbgrader's `c.LateSubmissionPlugin.penalty_method` from a config file, if it sets one."""
    if not config_file.is_file():
        return None
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader(config_file.name, str(config_file.parent)).load_config()
    method = config.get("LateSubmissionPlugin", {}).get("penalty_method")
    return str(method) if method else None


def gradebook_due(db: Path, assignment: str) -> datetime | None:
    """The due date nbgrader's gradebook records for an assignment (set in formgrader or `nbgrader db`), in UTC."""
    if not db.is_file():
        return None
    from nbgrader.api import Gradebook, MissingEntry

    try:
        with Gradebook(f"sqlite:///{db}") as gb:
            due = gb.find_assignment(assignment).duedate
    except MissingEntry:
        return None
    except Exception as exc:  # noqa: BLE001 - an unreadable gradebook: say how to go on
        raise SystemExit(f"{db} cannot be read for the due date ({type(exc).__name__}: {exc}); pass --due, or "
                         "move the damaged gradebook away (it is rebuilt from results/)")
    return due.replace(tzinfo=timezone.utc) if due else None   # nbgrader stores naive UTC


def rule_for(due_text: str | None, method_text: str | None, config_file: Path, dbs: list[Path],
             assignment: str) -> LateRule:
    """The command line's due date and rule, else nbgrader's: the due date of the first gradebook in `dbs` that
    has one (the grading folder's, set in formgrader; the course's, set by `nbgrader db assignment add`), the
    config's method."""
    due = parse_due(due_text) if due_text else next(filter(None, (gradebook_due(db, assignment) for db in dbs)), None)
    return parse_rule(method_text or configured_method(config_file) or "none", due)
