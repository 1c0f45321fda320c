"""Fixtures for the browser tests: Debian's Chromium driven by Playwright, on the course's own JupyterLab.

Nothing is downloaded or installed at run time: Playwright's Python package drives the system Chromium
(`executable_path`), and the tests skip, saying why, where either is missing. Run them with
`.venv/bin/python -m pytest tests/browser` (or `-m browser`); screenshots land in artifacts/browser/.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from grading.lab import REPO_ROOT

CHROMIUM = Path(os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS_DIR = REPO_ROOT / "artifacts" / "browser"


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}: install Debian's `chromium` package "
                    "(`make system-deps` as root) or point COURSE_CHROMIUM at a Chromium binary")
    return CHROMIUM


@pytest.fixture(scope="session")
def shots(chromium) -> Path:
    """artifacts/browser/ at the repository root (git-ignored), emptied of earlier screenshots (only when the
    browser test can run: a skipped run keeps the last screenshots)."""
    SHOTS_DIR.mkdir(parents=True, exist_ok=True)
    for old in SHOTS_DIR.glob("*.png"):
        old.unlink()
    return SHOTS_DIR


@pytest.fixture
def browser_page(chromium, tmp_path):
    """A Playwright page in a fresh headless Chromium profile; closed however the test ends."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=str(chromium), headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1400, "height": 900})
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(30_000)
            yield page
        finally:
            context.close()


def pytest_terminal_summary(terminalreporter):
    """Print the journey's timings (recorded by the test with record_property), pass or fail."""
    for report in terminalreporter.stats.get("passed", []) + terminalreporter.stats.get("failed", []):
        for name, value in getattr(report, "user_properties", []):
            if name == "browser_timings" and report.when == "call":
                terminalreporter.write_sep("-", f"timings of {report.nodeid}")
                terminalreporter.write_line(value)
