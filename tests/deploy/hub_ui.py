"""What a hub user does in the browser, as Playwright calls: log in, open nbgrader's Assignments tab, fetch,
answer in the notebook and save, submit, fetch feedback. Selectors are JupyterHub 6's login page, JupyterLab 4.6's
and nbgrader 0.9.6's assignment list."""
from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import Page

from grading.lab import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "tests" / "browser"))
from lab_ui import Lab, Timer  # noqa: E402, F401 (Timer: for the journey) (the course's own notebook helpers: set_source types an answer)

SPAWN_TIMEOUT_MS = 180_000  # a first login starts the user's JupyterLab


class HubUser:
    """One user's browser tab on the hub."""

    def __init__(self, page: Page, hub_url: str, name: str, shots: Path):
        self.page, self.hub_url, self.name, self.shots = page, hub_url, name, shots

    def url(self, path: str = "") -> str:
        return f"{self.hub_url}/user/{self.name}{path}"

    def log_in(self, password: str) -> None:
        """The hub's login form; waits until the user's own JupyterLab has opened."""
        self.page.goto(f"{self.hub_url}/hub/login")
        self.page.fill("#username_input", self.name)
        self.page.fill("#password_input", password)
        self.page.click("#login_submit")
        self.page.wait_for_url(f"**/user/{self.name}/lab**", timeout=SPAWN_TIMEOUT_MS)
        self.page.locator(".lm-MenuBar-item").first.wait_for(timeout=SPAWN_TIMEOUT_MS)

    def menu_labels(self) -> list[str]:
        self.page.locator(".lm-MenuBar-item", has_text="Nbgrader").click()
        labels = self.page.locator(".lm-Menu-content .lm-Menu-itemLabel").all_inner_texts()
        self.page.keyboard.press("Escape")
        return labels

    # --- the Assignments tab -----------------------------------------------------------------------------------
    def open_assignments(self) -> None:
        """Nbgrader > Assignment List: the Assignments tab, refreshed."""
        self.page.goto(self.url("/lab"))
        self.page.locator(".lm-MenuBar-item", has_text="Nbgrader").click(timeout=SPAWN_TIMEOUT_MS)
        self.page.locator('.lm-Menu-item[data-command="nbgrader:open-assignment-list"]').click()
        self.page.locator("#assignments").wait_for()
        self.refresh()

    def refresh(self) -> None:
        self.page.locator("#refresh_assignments_list").click()
        for part in ("released", "fetched", "submitted"):
            self.page.locator(f"#{part}_assignments_list_loading").wait_for(state="hidden")

    def row(self, part: str, assignment: str):
        return self.page.locator(f"#{part}_assignments_list > .list_item", has_text=assignment)

    def fetch(self, assignment: str) -> None:
        self.row("released", assignment).locator("button", has_text="Fetch").click()
        self.row("fetched", assignment).wait_for()

    def submissions(self, assignment: str) -> list[str]:
        """The timestamps the Submitted list shows for `assignment` (one nested row per submission)."""
        self.refresh()
        return self.row("submitted", assignment).locator(".nested_list_item .item_name").all_inner_texts()

    def submit(self, assignment: str) -> str:
        """Press Submit; return '' once one more submission is listed, or the text of the dialog nbgrader shows
        when the submission fails."""
        before = len(self.submissions(assignment))
        self.row("fetched", assignment).locator("button", has_text="Submit").click()
        self.page.wait_for_function(
            """([n]) => document.querySelector('.jp-Dialog') ||
                       document.querySelectorAll('#submitted_assignments_list .nested_list_item').length > n""",
            arg=[before], timeout=120_000)
        dialog = self.page.locator(".jp-Dialog")
        if dialog.count():
            text = dialog.inner_text()
            dialog.locator(".jp-mod-accept").click()
            return text
        return ""

    def fetch_feedback(self, assignment: str) -> None:
        """Fetch Feedback on the submitted assignment; wait until a submission offers its feedback to view."""
        self.row("submitted", assignment).locator("button", has_text="Fetch Feedback").click()
        self.row("submitted", assignment).locator("a", has_text="view feedback").first.wait_for(timeout=120_000)

    # --- the notebook ------------------------------------------------------------------------------------------
    def answer(self, notebook: str, answers: dict[int, str]) -> None:
        """Open `notebook` (relative to the home), type each answer into its cell (index -> code), save."""
        self.page.goto(self.url(f"/lab/tree/{notebook}"))
        lab = Lab(self.page, server=None, shots=self.shots)
        lab.cells().first.wait_for(timeout=SPAWN_TIMEOUT_MS)
        lab.dismiss_kernel_dialog()
        for index, code in answers.items():
            lab.set_source(index, code)
        self.page.keyboard.press("Control+s")
        self.page.wait_for_function("() => !document.querySelector('.lm-TabBar-tab.jp-mod-dirty')")

    def screenshot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path
