"""The browser tests' session: one JupyterLab server (lab_server.py) and one headless
Debian chromium for every test; each test gets a fresh browser page, and its kernels
are stopped after it.

Playwright cannot download browsers here, so the tests drive the system's chromium:
without it they fail, saying how to install it (CI's ``.ci/run`` does)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# the tests and benchmarks/browser.py import these helpers by their own names
sys.path.insert(0, str(Path(__file__).resolve().parent))

from lab_server import LabServer  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
#: (JupyterLab's own size; the layout tests set theirs)
VIEWPORT = {"width": 1280, "height": 900}


#: seconds a browser test may take (the suite's 120 is too short for a cold Lab and ten
#: reloads on a loaded 2-core machine); a test's own timeout mark wins
BROWSER_TIMEOUT = 300
HERE = Path(__file__).parent


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        if HERE in item.path.parents and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(BROWSER_TIMEOUT))


@pytest.fixture(scope="session")
def lab(tmp_path_factory) -> Iterator[LabServer]:
    server = LabServer(tmp_path_factory.mktemp("lab"))
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install chromium` (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # (--no-sandbox: CI runs as root, where chromium's sandbox refuses to start)
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


class Console:
    """What the page logged, and the dialogs it opened (an XSS would open one)."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.dialogs: list[str] = []

    def errors_with(self, text: str) -> list[str]:
        return [m for m in self.messages if text.lower() in m.lower()]


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def page(browser, lab, console, tmp_path) -> Iterator[object]:
    context = browser.new_context(viewport=VIEWPORT)
    new_page = context.new_page()
    new_page.on("console", lambda message: console.messages.append(message.text))
    new_page.on("pageerror", lambda error: console.messages.append(str(error)))

    def dismiss(dialog) -> None:
        if dialog.type == "beforeunload":  # "leave the page?" on a reload: yes
            dialog.accept()
            return
        console.dialogs.append(dialog.message)
        dialog.dismiss()

    new_page.on("dialog", dismiss)
    try:
        yield new_page
    finally:
        # what the page looked like at the end: the first thing to look at when one fails
        new_page.screenshot(path=tmp_path / "last-page.png", full_page=True)
        context.close()
        lab.shutdown_kernels()  # this test's notebooks are done: free the 2 cores


@pytest.fixture(scope="session")
def screenshots(request, tmp_path_factory) -> Path:
    """Where the screenshots go: $JOBNB_SCREENSHOTS (from where pytest was started),
    else a folder of the session's tmp dir."""
    chosen = os.environ.get("JOBNB_SCREENSHOTS")
    if not chosen:
        return tmp_path_factory.mktemp("screenshots")
    folder = request.config.invocation_params.dir / chosen
    folder.mkdir(parents=True, exist_ok=True)
    return folder
