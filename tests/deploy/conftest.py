"""Fixtures of the hub tests: a class on a real JupyterHub (class_hub.ClassHub) and headless Chromium pages, one
browser context (cookie jar) per user. Skips, saying why, where the hub or the browser cannot run."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from grading.lab import REPO_ROOT

CHROMIUM = Path(os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS_DIR = REPO_ROOT / "artifacts" / "hub"


@pytest.fixture(scope="module")
def class_hub(shots):
    """The class's hub; its log (the hub's and every user server's) is kept in artifacts/hub/hub.log."""
    from class_hub import ClassHub, why_not_here

    reason = why_not_here()
    if reason:
        pytest.skip(reason)
    with ClassHub(keep_log=shots / "hub.log") as hub:
        yield hub


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium; `browser.new_context()` gives each user their own cookies."""
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}: install Debian's `chromium` package (`make system-deps` as "
                    "root) or point COURSE_CHROMIUM at a Chromium binary")
    pytest.importorskip("playwright.sync_api", reason="the `playwright` Python package is not installed: run "
                        "`make setup`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def shots() -> Path:
    SHOTS_DIR.mkdir(parents=True, exist_ok=True)
    for old in [*SHOTS_DIR.glob("*.png"), *SHOTS_DIR.glob("*.log")]:
        old.unlink()
    return SHOTS_DIR


def pytest_terminal_summary(terminalreporter):
    """Print the journey's timings (recorded with record_property), pass or fail."""
    for report in [r for k in ("passed", "failed", "xfailed") for r in terminalreporter.stats.get(k, [])]:
        for name, value in getattr(report, "user_properties", []):
            if name == "hub_timings" and report.when == "call":
                terminalreporter.write_sep("-", f"timings of {report.nodeid}")
                terminalreporter.write_line(value)
