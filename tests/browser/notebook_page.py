"""A notebook open in JupyterLab, driven as a user drives it: select a cell, Shift+Enter,
wait until the cell's prompt shows its execution count (the DOM's word that the kernel
has run it), read what its output area shows.

Waits poll the DOM (playwright's expect and wait_for_function) with generous time
limits: CI runs these on a shared 2-core machine.
"""

from __future__ import annotations

import re

from lab_server import LabServer
from playwright.sync_api import Locator, Page, expect

KERNEL_START = 90_000  # ms: a cold kernel on a loaded machine
CELL_TIMEOUT = 60_000  # ms: a cell of these tests runs in seconds
#: a prompt that shows an execution count other than the one it showed before the run
NEW_COUNT = "([el, old]) => /\\[\\d+\\]/.test(el.textContent) && el.textContent !== old"


class NotebookPage:
    """The notebook ``name`` (code cells ``cells``) written into the server's root and
    opened in ``page``, with its kernel idle."""

    def __init__(self, page: Page, lab: LabServer, name: str, cells: list[str]) -> None:
        self.page = page
        self.lab = lab
        self.name = name
        page.goto(lab.write_notebook(name, cells))
        self.wait_until_ready()

    def wait_until_ready(self) -> None:
        """The notebook shows its cells and its kernel is idle (after opening or a reload)."""
        expect(self.cells.first, "the notebook never showed its cells").to_be_visible(
            timeout=KERNEL_START
        )
        # the status bar names the kernel's state once the page is connected to it (the
        # toolbar's indicator says idle before: a cell run then is dropped)
        expect(
            self.page.locator(".jp-StatusBar-Widget", has_text="Python 3 (ipykernel) |"),
            "the notebook's kernel never became idle",
        ).to_contain_text("| Idle", timeout=KERNEL_START)
        expect(self.page.locator(".jp-Notebook-ExecutionIndicator").first).to_have_attribute(
            "data-status", "idle", timeout=KERNEL_START
        )

    @property
    def cells(self) -> Locator:
        return self.page.locator(".jp-NotebookPanel:visible .jp-Notebook .jp-Cell")

    def cell(self, index: int) -> Locator:
        return self.cells.nth(index)

    def prompt(self, index: int) -> Locator:
        return self.cell(index).locator(".jp-InputPrompt")

    def output(self, index: int) -> Locator:
        return self.cell(index).locator(".jp-OutputArea-output")

    def run(self, index: int, wait: bool = True, timeout: float = CELL_TIMEOUT) -> None:
        """Select cell ``index`` and press Shift+Enter; with ``wait``, until it has run."""
        prompt = self.prompt(index)
        before = prompt.text_content()
        prompt.click()
        self.page.keyboard.press("Shift+Enter")
        if wait:
            self.wait_until_run(index, before, timeout)

    def wait_until_run(self, index: int, before: str, timeout: float = CELL_TIMEOUT) -> None:
        """Until the prompt of cell ``index`` shows a new execution count (not ``[*]``)."""
        handle = self.prompt(index).element_handle()
        self.page.wait_for_function(NEW_COUNT, arg=[handle, before], timeout=timeout)

    def is_busy(self, index: int) -> bool:
        return "*" in (self.prompt(index).text_content() or "")

    def run_all(self, indexes: range | list[int], timeout: float = CELL_TIMEOUT) -> None:
        for index in indexes:
            self.run(index, timeout=timeout)

    def save(self) -> None:
        """Ctrl+S, until the tab no longer says the notebook has unsaved changes."""
        self.cell(0).locator(".jp-InputPrompt").click()
        self.page.keyboard.press("Control+s")
        tab = self.page.locator(f'.lm-TabBar-tab:has-text("{self.name}")').first
        expect(tab, "the notebook was not saved").not_to_have_class(
            re.compile(r"jp-mod-dirty"), timeout=30_000
        )

    def reload(self) -> None:
        self.page.reload()
        self.wait_until_ready()
