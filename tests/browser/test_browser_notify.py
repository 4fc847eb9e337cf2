"""Desktop notifications of ended jobs in a real JupyterLab: ``%%submit --notify``
shows one, through the browser's Notifications API, with the job's name, status and
duration, and clicking it focuses the page; where the browser blocks notifications,
the job's widget says so instead, and the note stays once the job has ended.

The browser's own ``Notification`` is kept (it is what shows the notification): a
script run before the page's own wraps it to record what was made, and ``window.focus``
to count the calls."""

from __future__ import annotations

import re

from dashboard_view import JobView
from notebook_code import THREAD_SETUP
from notebook_page import NotebookPage
from playwright.sync_api import expect

#: runs in the page before JupyterLab: records each notification made, and each focus
SPY = """
(() => {
  const Real = window.Notification;
  window.__notes = [];
  window.__focused = 0;
  window.__asked = 0;
  const focus = window.focus.bind(window);
  window.focus = () => { window.__focused += 1; focus(); };
  if (!Real) return;
  class Recorded extends Real {
    constructor(title, options) {
      super(title, options);
      window.__notes.push({ title, body: options && options.body, made: this });
    }
    static requestPermission() { window.__asked += 1; return Real.requestPermission(); }
  }
  window.Notification = Recorded;
})();
"""
NOTES = "window.__notes.map(({ title, body }) => ({ title, body }))"

NOTIFY = [
    THREAD_SETUP,
    "%%submit --notify -n train\ntime.sleep(4)\nscore = 0.9",
]


def set_permission(page, lab, setting: str) -> None:
    """The browser's answer for notifications on the Lab's origin, as its settings
    would give it (``granted``, ``denied``, ``prompt``): before the page opens."""
    origin = f"http://127.0.0.1:{lab.port}"
    if setting == "granted":
        page.context.grant_permissions(["notifications"], origin=origin)
        return
    cdp = page.context.new_cdp_session(page)
    context_id = cdp.send("Target.getTargetInfo")["targetInfo"]["browserContextId"]
    cdp.send(
        "Browser.setPermission",
        {
            "permission": {"name": "notifications"},
            "setting": setting,
            "origin": origin,
            "browserContextId": context_id,
        },
    )


def open_notebook(page, lab, name: str, permission: str) -> NotebookPage:
    set_permission(page, lab, permission)
    page.add_init_script(SPY)
    return NotebookPage(page, lab, name, NOTIFY)


def test_a_notify_job_shows_a_desktop_notification_when_it_ends(page, lab):
    notebook = open_notebook(page, lab, "notify.ipynb", "granted")
    notebook.run(0)
    notebook.run(1)
    job = JobView(notebook.output(1), "train")
    expect(job.header).to_contain_text("running", timeout=30_000)
    expect(
        notebook.output(1).locator(".jobnb-notify-granted"), "the widget never said it will notify"
    ).to_contain_text("a desktop notification will say when this job ends")
    assert page.evaluate(NOTES) == [], "a notification came before the job ended"

    page.wait_for_function("window.__notes.length > 0", timeout=30_000)
    notes = page.evaluate(NOTES)
    job_id = re.search(r"[0-9a-f]{12}", job.header.inner_text()).group()
    assert len(notes) == 1, notes
    assert notes[0]["title"] == "train finished"
    assert re.fullmatch(rf"in \d\.\ds \(job {job_id}\)", notes[0]["body"]), notes[0]["body"]
    seconds = float(notes[0]["body"].split()[1].rstrip("s"))
    assert 3.5 <= seconds < 9, f"the job slept 4 s, the notification says {seconds}"

    # clicking the notification focuses the page
    page.evaluate("window.__notes[0].made.dispatchEvent(new Event('click'))")
    assert page.evaluate("window.__focused") == 1

    # the widget ended as plain HTML, without a note: the notification was shown
    expect(notebook.output(1).locator(".jobnb-job-saved")).to_contain_text("finished")
    expect(notebook.output(1).locator(".jobnb-notify-note")).to_have_count(0)
    page.wait_for_timeout(1_000)  # no second notification for the same end
    assert len(page.evaluate(NOTES)) == 1
    assert page.evaluate("window.__asked") == 0, "the browser was asked though it had said yes"


def test_where_notifications_are_blocked_the_widget_says_so(page, lab):
    notebook = open_notebook(page, lab, "notify-denied.ipynb", "denied")
    notebook.run(0)
    notebook.run(1)
    job = JobView(notebook.output(1), "train")
    expect(job.header).to_contain_text("running", timeout=30_000)
    expect(
        notebook.output(1).locator(".jobnb-notify-denied"), "no note in the live widget"
    ).to_contain_text("Desktop notifications are blocked for this page")

    saved = notebook.output(1).locator(".jobnb-job-saved")
    expect(saved, "the job never ended").to_contain_text("finished", timeout=30_000)
    expect(saved.locator(".jobnb-notify-note"), "the ended job does not say why").to_contain_text(
        "Not notified: this browser blocks desktop notifications for this page"
    )
    assert page.evaluate(NOTES) == []


def test_the_browser_is_asked_once_from_the_widgets_button(page, lab):
    """Permission not given yet: the widget shows a button (a browser asks only on a
    click); a click asks, and once the browser has said yes the button is gone."""
    notebook = open_notebook(page, lab, "notify-ask.ipynb", "prompt")
    notebook.run(0)
    notebook.run(1)
    allow = notebook.output(1).locator(".jobnb-notify-allow")
    expect(allow, "no button to allow notifications").to_have_text(
        re.compile("Allow desktop notifications"), timeout=30_000
    )
    allow.click()
    page.wait_for_function("window.__asked === 1")
    set_permission(page, lab, "granted")  # what the browser's prompt does on "Allow"
    expect(notebook.output(1).locator(".jobnb-notify-granted")).to_be_visible()
    expect(allow).to_have_count(0)
    page.wait_for_function("window.__notes.length > 0", timeout=30_000)
    assert page.evaluate(NOTES)[0]["title"] == "train finished"


def test_a_page_reloaded_while_the_job_runs_still_shows_the_notification(page, lab):
    """The notifier is the kernel's, not the page's: a reloaded page gets it back with
    every other widget, and shows the notification of a job submitted before."""
    set_permission(page, lab, "granted")
    page.add_init_script(SPY)  # (on every load of the page, the reloaded one too)
    notebook = NotebookPage(
        page,
        lab,
        "notify-reload.ipynb",
        [THREAD_SETUP, "%%submit --notify -n long\ntime.sleep(15)"],
    )
    notebook.run(0)
    notebook.run(1)
    expect(JobView(notebook.output(1), "long").header).to_contain_text("running", timeout=30_000)
    notebook.save()  # (the reloaded page shows the outputs the file holds)
    notebook.reload()
    # (15 s: the job must still run once the page is back, or no page was there to tell)
    expect(
        JobView(notebook.output(1), "long").header, "the job ended before the page was back"
    ).to_contain_text("running", timeout=30_000)
    page.wait_for_function("window.__notes.length > 0", timeout=60_000)
    assert [note["title"] for note in page.evaluate(NOTES)] == ["long finished"]
