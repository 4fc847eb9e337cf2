"""Markup in what a job says (its name, its log, its error) shows as text in the job
widget and the dashboard: nothing of it runs in the page."""

from __future__ import annotations

from dashboard_view import DashboardView, JobView
from notebook_code import DASHBOARD, THREAD_SETUP
from notebook_page import NotebookPage
from playwright.sync_api import expect

IMG = '<img src=x onerror="window.__xss=1">'
SCRIPT = "<script>window.__xss=2</script>"
SVG = "<svg onload=\"alert('xss')\">"

EVIL_JOB = f"""\
IMG, SCRIPT, SVG = {IMG!r}, {SCRIPT!r}, {SVG!r}


def evil():
    print("log", IMG)
    print("log", SCRIPT, SVG)
    jobnb.progress(1, 2, "progress " + IMG)
    time.sleep(1)
    raise RuntimeError("error " + IMG + SCRIPT + SVG)


bad = jobnb.options(name="name " + IMG + SCRIPT).submit(evil)
bad
"""


def test_markup_from_a_job_shows_as_text_and_never_runs(page, lab, console):
    notebook = NotebookPage(page, lab, "xss.ipynb", [THREAD_SETUP, EVIL_JOB, DASHBOARD])
    notebook.run_all(range(3))
    job = JobView(notebook.output(1))
    expect(job.root).to_contain_text(f"progress {IMG}", timeout=30_000)
    expect(job.header).to_contain_text(f"name {IMG}{SCRIPT}")
    expect(job.log).to_contain_text(f"log {IMG}")
    expect(job.log).to_contain_text(f"log {SCRIPT} {SVG}")
    expect(job.header).to_contain_text("failed", timeout=30_000)
    expect(job.root).to_contain_text(f"RuntimeError: error {IMG}{SCRIPT}{SVG}")
    job.root.get_by_text("traceback:").click()  # the collapsed traceback, opened
    expect(job.root.locator("pre").last).to_contain_text(f"error {IMG}")

    board = DashboardView(notebook.output(2))
    row = board.rows.first
    expect(row).to_contain_text(f"name {IMG}{SCRIPT}", timeout=30_000)
    board.row_button(row, "details").click()
    expect(board.details).to_contain_text(f"log {SCRIPT} {SVG}", timeout=15_000)
    expect(board.details).to_contain_text(f"RuntimeError: error {IMG}{SCRIPT}{SVG}")
    expect(board.details).to_contain_text(f"progress: progress {IMG}")

    page.wait_for_timeout(1000)  # an onerror or onload would have fired by now
    assert page.evaluate("() => typeof window.__xss") == "undefined", "a payload ran"
    assert console.dialogs == [], f"a payload opened a dialog: {console.dialogs}"
    injected = page.locator(
        ".jobnb-job img, .jobnb-job svg, .jobnb-dashboard img, "
        ".jobnb-job script, .jobnb-dashboard script, "
        ".jobnb-job-saved img, .jobnb-job-saved svg, .jobnb-job-saved script"
    )
    assert injected.count() == 0, "a payload became an element of the page"
