"""The dashboard in a real JupyterLab: status filter, paging, a row's details."""

from __future__ import annotations

import re

from dashboard_view import DashboardView
from notebook_code import DASHBOARD, THREAD_SETUP
from notebook_page import NotebookPage
from playwright.sync_api import expect

#: 12 jobs, newest first: stopped (cancelled), long-1, long-0 (running), bad-2..0
#: (failed), fit-5..fit-0 (finished)
TWELVE_JOBS = """\
fits = [jobnb.options(name=f"fit-{i}").submit(fit, i) for i in range(6)]
bads = [jobnb.options(name=f"bad-{i}").submit(boom, i) for i in range(3)]
for job in fits + bads:
    job.wait(60)
longs = [jobnb.options(name=f"long-{i}").submit(spin, 300) for i in range(2)]
stopped = jobnb.options(name="stopped").submit(spin, 300)
time.sleep(0.5)
stopped.cancel()
"""


def test_filter_pages_and_details_under_their_row(page, lab, screenshots):
    notebook = NotebookPage(page, lab, "board.ipynb", [THREAD_SETUP, TWELVE_JOBS, DASHBOARD])
    notebook.run_all(range(3))
    board = DashboardView(notebook.output(2))
    expect(board.root, "no dashboard under its cell").to_be_visible(timeout=30_000)
    expect(board.page_label).to_have_text("page 1 of 2", timeout=30_000)
    expect(board.rows).to_have_count(10)
    expect(board.rows.first).to_contain_text("stopped")
    expect(board.newer).to_be_disabled()

    board.older.click()
    expect(board.page_label).to_have_text("page 2 of 2")
    expect(board.rows).to_have_count(2)
    expect(board.rows.first).to_contain_text("fit-1")
    expect(board.older).to_be_disabled()
    board.newer.click()
    expect(board.page_label).to_have_text("page 1 of 2")
    expect(board.rows).to_have_count(10)

    board.status_filter.select_option("failed")
    expect(board.page_label).to_have_text("page 1 of 1")
    expect(board.rows).to_have_count(3)
    for index in range(3):
        expect(board.rows.nth(index)).to_contain_text("failed")
    board.status_filter.select_option("running")
    expect(board.rows).to_have_count(2)
    expect(board.rows.first).to_contain_text("long-1")
    board.status_filter.select_option("all")
    expect(board.rows).to_have_count(10)

    row = board.row("bad-1")
    board.row_button(row, "details").click()
    expect(row, "the chosen row is not marked").to_have_class(
        re.compile(r"\bjobnb-row-selected\b"), timeout=15_000
    )
    expect(board.details).to_contain_text("ValueError: bad input 1", timeout=15_000)
    expect(board.details).to_contain_text("about to fail 1")
    follows = row.evaluate("el => el.nextElementSibling.classList.contains('jobnb-details')")
    assert follows, "the details are not right under their row"
    expect(board.details, "the details are out of view").to_be_in_viewport()
    expect(board.row_button(row, "close")).to_be_visible()
    assert board.root.locator(".jobnb-row-selected").count() == 1
    board.root.screenshot(path=screenshots / "dashboard.png")

    board.row_button(row, "close").click()
    expect(board.details).to_have_count(0)
    expect(row).not_to_have_class(re.compile(r"\bjobnb-row-selected\b"))
