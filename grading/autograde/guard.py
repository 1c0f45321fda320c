"""The grader's side of the in-kernel guard: the snippets it sends and how it reads their answer."""
from __future__ import annotations

import inspect
import json
import secrets

from . import guard_kernel


def new_token() -> str:
    return "_" + secrets.token_hex(12)


def new_nonce() -> str:
    return secrets.token_hex(16)


def install_code(token: str, course_root: str, workdir: str, stage: str = "") -> str:
    """Defines and runs install() in a throwaway namespace (nothing lands in the user's namespace)."""
    src = inspect.getsource(guard_kernel.install) + f"\ninstall({token!r}, {course_root!r}, {workdir!r}, {stage!r})\n"
    return (f"exec(compile({src!r}, '<grader>', 'exec'), "
            f"{{'get_ipython': get_ipython, '__name__': '__grader__'}})")


def guard_code(token: str, nonce: str, phase: str) -> str:
    return f"__import__('sys').modules[{token!r}].guard({nonce!r}, {phase!r})"


def before_course_code(token: str) -> str:
    return f"__import__('sys').modules[{token!r}].before_course()"


def mark_course_code(token: str) -> str:
    return f"__import__('sys').modules[{token!r}].mark_course()"


def agent_code(token: str, request: str, nonce: str) -> str:
    """One request to the Student agent in the kernel (its reply comes framed by `nonce` on stdout)."""
    return f"__import__('sys').modules[{token!r}].agent({request!r}, {nonce!r})"


def read_agent_reply(stdout: str, nonce: str) -> str | None:
    """The agent's reply text from a request's stdout, or None when no complete frame arrived."""
    start = stdout.rfind("\n" + nonce + "<")
    end = stdout.rfind(">" + nonce + "\n")
    if start < 0 or end < start:
        return None
    return stdout[start + len(nonce) + 2:end]


def read_guard(stdout: str, nonce: str) -> tuple[list[str], list[str]] | None:
    """(references the guard repaired, suspicious actions the audit hook saw), or None when the
    guard's nonce-tagged line is absent (its output was blocked: tampering)."""
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{") and nonce in line:
            try:
                data = json.loads(line)
            except ValueError:
                return None
            if data.get("guard") == nonce and isinstance(data.get("fixes"), list):
                return [str(x) for x in data["fixes"]], [str(x) for x in data.get("audit", [])]
    return None
