"""What a student does in JupyterLab 4, as Playwright calls: open a notebook, run cells, edit a cell, read outputs,
press nbgrader's Validate button, take a screenshot. Selectors are JupyterLab 4.6's and nbgrader 0.9.6's DOM."""
from __future__ import annotations

import re
import time
from pathlib import Path

from playwright.sync_api import Locator, Page

from lab_server import LabServer

PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"
STDERR = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
PROMPT = ".jp-InputArea-prompt"
RUN_TIMEOUT_MS = 90_000

# True when no cell of the open notebook waits or runs ([*]) and its kernel is idle.
_IDLE_JS = """() => {
    const panel = document.querySelector('%s');
    if (!panel) return false;
    const indicator = panel.querySelector('.jp-Notebook-ExecutionIndicator');
    const busy = [...panel.querySelectorAll('%s')].some(p => p.textContent.includes('*'));
    return !busy && indicator !== null && indicator.dataset.status === 'idle';
}""" % (PANEL, PROMPT)

# Record, in window.__labPromptsChanged, which of the cells `idx` get their prompt rewritten from now on.
_WATCH_PROMPTS_JS = """([sel, idx]) => {
    (window.__labPromptWatchers || []).forEach(o => o.disconnect());
    window.__labPromptsChanged = new Set();
    const cells = document.querySelectorAll(sel);
    window.__labPromptWatchers = idx.map(i => {
        const watcher = new MutationObserver(() => window.__labPromptsChanged.add(i));
        watcher.observe(cells[i].querySelector('%s'), {childList: true, characterData: true, subtree: true});
        return watcher;
    });
}""" % PROMPT
_ONE_RAN_JS = """([sel, idx]) => {
    const cells = document.querySelectorAll(sel);
    return idx.some(i => window.__labPromptsChanged.has(i)
                         && /^\\[\\d+\\]/.test(cells[i].querySelector('%s').textContent.trim()));
}""" % PROMPT


class Lab:
    """One browser tab on the course's JupyterLab."""

    def __init__(self, page: Page, server: LabServer, shots: Path):
        self.page, self.server, self.shots = page, server, shots

    # --- notebooks ----------------------------------------------------------------------------------------------
    @property
    def panel(self) -> Locator:
        return self.page.locator(PANEL)

    def open(self, path: str) -> None:
        """Open the notebook at `path` (relative to the server root) alone in a fresh workspace; wait for its kernel."""
        self.page.goto(self.server.url(f"/lab/tree/{path}?reset"))
        tab = self.page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current")
        tab.filter(has_text=Path(path).name).wait_for(timeout=60_000)
        self.cells().first.wait_for(timeout=60_000)
        self.dismiss_kernel_dialog()
        self.server.wait_for_idle_kernel(path, timeout=RUN_TIMEOUT_MS / 1000)
        self.page.wait_for_function(_IDLE_JS, timeout=RUN_TIMEOUT_MS)

    def dismiss_kernel_dialog(self) -> None:
        """A notebook without a kernelspec asks which kernel to use: accept the default (Python 3)."""
        dialog = self.page.locator(".jp-Dialog")
        if dialog.count() and "kernel" in dialog.inner_text().lower():
            dialog.locator(".jp-mod-accept").click()

    def cells(self) -> Locator:
        return self.panel.locator(".jp-Cell")

    def cell(self, index: int) -> Locator:
        return self.cells().nth(index)

    def code_cell_indices(self) -> list[int]:
        classes = self.cells().evaluate_all("cells => cells.map(c => c.classList.contains('jp-CodeCell'))")
        return [i for i, is_code in enumerate(classes) if is_code]

    # --- running ------------------------------------------------------------------------------------------------
    def prompt(self, index: int) -> str:
        return self.cell(index).locator(PROMPT).text_content() or ""

    def run_all(self) -> None:
        """Run > Run All Cells from the menu bar, then wait until the cells have run and the kernel is idle."""
        self.cell(0).locator(PROMPT).click()  # the notebook is the current widget: the menu acts on it
        self.page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
        item = self.page.locator('.lm-Menu-item[data-command="runmenu:run-all"]:not(.lm-mod-disabled)')
        self._run_and_wait(item.click, self.code_cell_indices())

    def run_cells(self, *indices: int) -> None:
        """Select each cell in turn (a click on its prompt) and press the toolbar's Run button, as a student would."""
        run_button = self.panel.locator('.jp-Toolbar jp-button[data-command="notebook:run-cell-and-select-next"]')
        for index in indices:
            def run(index=index):
                self.cell(index).locator(PROMPT).click()
                run_button.click()
            self._run_and_wait(run, [index])

    def _run_and_wait(self, action, indices: list[int]) -> None:
        """Do `action`, then wait until one of the cells `indices` has run (its prompt changed, through [*], to a
        number: comparing numbers alone fails when a fresh kernel repeats a notebook's stored counts) and the
        kernel is idle again. A failing cell stops the cells queued after it, so waiting for all of them could
        hang; the callers check the prompts and outputs."""
        cells = f"{PANEL} .jp-Cell"
        self.page.evaluate(_WATCH_PROMPTS_JS, [cells, indices])
        action()
        try:
            self.page.wait_for_function(_ONE_RAN_JS, arg=[cells, indices], timeout=RUN_TIMEOUT_MS)
            self.page.wait_for_function(_IDLE_JS, timeout=RUN_TIMEOUT_MS)
        except Exception as exc:
            errors = "\n".join(self.error_outputs()) or "(no error output)"
            shot = self.screenshot("failed_run")
            raise AssertionError(f"cells {indices} did not finish running: {exc}\nerror outputs:\n{errors}\n"
                                 f"screenshot: {shot}") from exc

    # --- editing ------------------------------------------------------------------------------------------------
    def set_source(self, index: int, text: str) -> None:
        """Replace the text of cell `index`: click into its editor, select all, type `text` (inserted as typed
        text, without the editor's auto-indent and bracket closing, so it arrives exactly as written)."""
        self.cell(index).scroll_into_view_if_needed()
        editor = self.cell(index).locator(".cm-content")
        editor.click()
        self.page.keyboard.press("Control+a")
        self.page.keyboard.insert_text(text)
        got = self.source(index)
        assert got == text, f"cell {index} holds {got!r} after typing, expected {text!r}"

    def source(self, index: int) -> str:
        return "\n".join(self.cell(index).locator(".cm-line").all_text_contents()).replace("\u200b", "")

    # --- outputs ------------------------------------------------------------------------------------------------
    def outputs_text(self, index: int) -> str:
        return "\n".join(self.cell(index).locator(".jp-OutputArea-output").all_text_contents())

    def error_outputs(self) -> list[str]:
        """Texts of every stderr/error output in the open notebook (error outputs render as stderr)."""
        return self.panel.locator(STDERR).all_text_contents()

    def images(self) -> Locator:
        return self.panel.locator(".jp-OutputArea-output img")

    def cells_with_images(self) -> Locator:
        return self.cells().filter(has=self.page.locator(".jp-OutputArea-output img"))

    # --- nbgrader -----------------------------------------------------------------------------------------------
    def validate(self, timeout_ms: int = 120_000) -> Locator:
        """Press nbgrader's Validate button in the notebook toolbar; return the results dialog once it shows."""
        self.panel.locator(".jp-Toolbar jp-button.validate-button").click()
        dialog = self.page.locator(".jp-Dialog", has=self.page.locator("#validation-message"))
        dialog.wait_for(timeout=timeout_ms)
        return dialog

    def close_dialog(self, dialog: Locator) -> None:
        dialog.locator(".jp-mod-accept").click()
        dialog.wait_for(state="detached")

    # --- evidence -----------------------------------------------------------------------------------------------
    def screenshot(self, name: str, top: Locator | None = None) -> Path:
        """Save artifacts/browser/<name>.png, after scrolling the notebook so that `top` is at the top."""
        if top is not None:
            top.evaluate("el => el.scrollIntoView({block: 'start'})")
            self.page.wait_for_timeout(300)  # let the scroll settle
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path


class Timer:
    """Laps of a journey, as lines `what  seconds`, and the whole journey's time."""

    def __init__(self):
        self.start = self.last = time.monotonic()
        self.lines: list[str] = []

    def lap(self, what: str) -> None:
        now = time.monotonic()
        self.lines.append(f"{what:<60} {now - self.last:6.1f} s")
        self.last = now

    def report(self) -> str:
        return "\n".join(self.lines + [f"{'whole journey':<60} {time.monotonic() - self.start:6.1f} s"])
