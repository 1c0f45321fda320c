"""Helpers of the nbgrader workflow tests: formgrader as a real server on a grading folder, and its JSON API."""
from __future__ import annotations

import contextlib
import json
import sys
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))
from lab_server import running_lab  # noqa: E402 (the browser tests' server runner; needs no browser)

from grading.formgrader import formgrader_launch  # noqa: E402


class Formgrader:
    """formgrader's pages and its /formgrader/api, as a grader's browser calls them (token-authenticated)."""

    def __init__(self, server):
        self.server = server

    def page(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.server.url(path), timeout=60) as reply:
                return reply.status, reply.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")

    def get(self, path: str):
        status, body = self.page(f"/formgrader/api/{path}")
        assert status == 200, f"GET /formgrader/api/{path}: {status}\n{body[:2000]}\n{self.server.log_tail()}"
        return json.loads(body)

    def put(self, path: str, data: dict):
        request = urllib.request.Request(self.server.url(f"/formgrader/api/{path}"), method="PUT",
                                         data=json.dumps(data).encode(),
                                         headers={"Authorization": f"token {self.server.token}",
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as reply:
            return json.load(reply)

    def submission(self, assignment: str, notebook: str, student: str) -> dict:
        subs = self.get(f"submitted_notebooks/{assignment}/{notebook}")
        return next(s for s in subs if s["student"] == student)

    def grade(self, submission_id: str, grade_id: str, score: float, comment: str | None = None) -> dict:
        """Give `score` to the cell `grade_id` of a submitted notebook (and a comment, where the cell takes one)."""
        grade = next(g for g in self.get(f"grades?submission_id={submission_id}") if g["name"] == grade_id)
        result = self.put(f"grade/{grade['id']}", {"manual_score": score})
        if comment is not None:
            note = next(c for c in self.get(f"comments?submission_id={submission_id}") if c["name"] == grade_id)
            self.put(f"comment/{note['id']}", {"manual_comment": comment})
        return result


@contextlib.contextmanager
def formgrader(out: Path, state_dir: Path):
    """formgrader (`python -m grading formgrader OUT`'s server) on a free port; stopped however the block ends."""
    with running_lab(out, state_dir, launcher=formgrader_launch) as server:
        yield Formgrader(server)
