"""The job widget's state, checked without a kernel: what a user would see in it."""

from __future__ import annotations

import subprocess
import sys
import time

from conftest import eventually
from jobs_for_tests import fail, spin

import jobnb
from jobnb.job import asked_by
from jobnb.widgets.job import JobWidget, job_widget, take_snapshot
from jobnb.widgets.monitor import Monitor, monitor


def reporting(steps: int = 5) -> int:
    for i in range(steps):
        jobnb.progress(i + 1, steps, f"<b>step</b> {i + 1}")
        print(f"line <script>{i}</script>")
        time.sleep(0.05)
    return 42


def test_a_running_job_shows_progress_logs_and_cancel(backend):
    job = jobnb.options(name="reporting").submit(spin, 60)
    widget = job_widget(job)
    eventually(lambda: ">running<" in widget.header.value)
    assert "<b>reporting</b>" in widget.header.value
    assert f"on {backend}" in widget.header.value
    assert widget.controls in widget.children
    widget.cancel_button.click()
    assert job.status is jobnb.JobStatus.CANCELLED or job.wait(2).status.value == "cancelled"
    eventually(lambda: ">cancelled<" in widget.header.value)
    assert widget.controls not in widget.children


def test_a_finished_job_shows_its_result_by_updates_alone(backend):
    job = jobnb.submit(reporting)
    widget = job_widget(job)
    eventually(lambda: widget.ended, timeout=20)
    assert ">finished<" in widget.header.value
    assert "took " in widget.header.value
    assert widget.bar.value == 1.0
    assert widget.bar.bar_style == "success"
    assert widget.ending_view.value == "result: 42"
    assert widget.ending_view in widget.children
    assert "line &lt;script&gt;4&lt;/script&gt;" in widget.log_view.value
    assert widget.message.value == "&lt;b&gt;step&lt;/b&gt; 5"


def test_a_failed_job_shows_its_traceback_collapsed(backend):
    job = jobnb.submit(fail, "<bad> input")
    job.wait(30)
    widget = job_widget(job)
    assert ">failed<" in widget.header.value
    assert widget.error_view in widget.children
    assert widget.error_view.selected_index is None  # collapsed
    assert widget.error_view.get_title(0) == "traceback: ValueError: <bad> input"
    assert "ValueError: &lt;bad&gt; input" in widget.traceback_view.value
    assert "<bad>" not in widget.traceback_view.value


def test_a_cell_job_lists_its_outputs(backend):
    job = jobnb.options().submit_cell("a = 1\nb = 2", {}, ("a", "b"))
    job.wait(30)
    assert take_snapshot(job).ending.startswith("outputs: a, b")


def test_every_text_from_a_job_is_escaped(backend):
    evil = "<img src=x onerror=alert(1)>"
    job = jobnb.options(name=evil).submit(print, evil)
    job.wait(30)
    widget = job_widget(job)
    shown = " ".join(
        str(getattr(c, "value", ""))
        for c in (widget.header, widget.log_view, widget.message, widget.ending_view)
    )
    assert "<img" not in shown
    assert "&lt;img src=x onerror=alert(1)&gt;" in widget.header.value
    assert "&lt;img src=x onerror=alert(1)&gt;" in widget.log_view.value
    returned = jobnb.submit(str, evil)
    returned.wait(30)
    ending = job_widget(returned).ending_view.value
    assert ending == "result: &#x27;&lt;img src=x onerror=alert(1)&gt;&#x27;"


def test_one_poll_per_backend_per_tick_and_the_monitor_stops(tmp_path):
    jobnb.configure("thread", workers=4)
    release = tmp_path / "release"
    from jobs_for_tests import wait_for

    jobs = [jobnb.submit(wait_for, str(release)) for _ in range(4)]
    backend = jobs[0]._backend
    calls = []
    original = backend.poll
    # count, then poll
    backend.poll = lambda ids, lines: calls.append(list(ids)) or original(ids, lines)
    try:
        own = Monitor(interval=0.05)
        for job in jobs:
            widget = JobWidget(job)
            widget.show(take_snapshot(job))
            own.watch(widget)
        eventually(lambda: calls and len(calls[-1]) == 4)  # one request for all four jobs
        polls, ticks = len(calls), own.ticks
        eventually(lambda: own.ticks >= ticks + 3)
        assert abs((len(calls) - polls) - (own.ticks - ticks)) <= 1  # one poll per tick
        assert all(len(ids) == 4 for ids in calls[polls:])
        release.touch()
        eventually(lambda: not own.running, timeout=10)  # nothing active: it ends
        assert all(job.done() for job in jobs)
    finally:
        backend.poll = original


def test_the_kernel_has_one_monitor():
    assert monitor() is monitor()


class Recorder:
    """A view of the monitor that is no widget: it keeps what each round read."""

    def __init__(self, job):
        self.job = job
        self.seen: list[str] = []

    @property
    def ended(self) -> bool:
        return bool(self.seen) and self.seen[-1] in ("finished", "failed")

    def watched(self):
        return [self.job]

    def update(self, polled):
        if self.job in polled:
            record, _logs = polled[self.job]
            self.seen.append(record.status.value)


def test_the_monitor_feeds_any_view_until_it_has_ended(tmp_path):
    jobnb.configure("thread")
    from jobs_for_tests import wait_for

    release = tmp_path / "release"
    view = Recorder(jobnb.submit(wait_for, str(release)))
    own = Monitor(interval=0.05)
    own.watch(view)
    eventually(lambda: "running" in view.seen)
    release.touch()
    eventually(lambda: not own.running, timeout=10)
    assert view.seen[-1] == "finished"


def test_import_jobnb_in_ipython_loads_neither_the_magics_nor_ipywidgets():
    code = (
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "InteractiveShell.instance()\n"
        "import sys, jobnb\n"
        "print('jobnb.magics' in sys.modules, 'ipywidgets' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False False"


# --- issue 15: no leak, the status once, cancellation as a status, a saved view -------------
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def widget_count() -> int:
    # what ``ipywidgets.Widget.widgets`` (deprecated) counts: every widget not closed
    from ipywidgets.widgets.widget import _instances

    return len(_instances)


def reports_then_waits(release: str) -> str:
    jobnb.progress(1, 4, "first step")
    print("started")
    from jobs_for_tests import wait_for

    wait_for(release)
    return "released"


def visible_text(value: str) -> str:
    """What a person reads of an HTML value: the text between the tags."""
    import re

    return " ".join(re.sub(r"<[^>]+>", " ", value).split())


def test_200_refreshes_of_a_running_job_make_no_widget(tmp_path):
    jobnb.configure("thread")
    release = tmp_path / "release"
    job = jobnb.submit(reports_then_waits, str(release))
    eventually(lambda: job.progress.total == 4)
    widget = JobWidget(job)
    widget.show(take_snapshot(job))
    after_one = widget_count()
    for _ in range(199):
        widget.show(take_snapshot(job))
    assert widget_count() == after_one
    assert widget.progress_row in widget.children
    release.touch()
    job.wait(10)


def test_a_job_that_ended_is_no_longer_refreshed_and_stays_open(tmp_path):
    jobnb.configure("thread")
    release = tmp_path / "release"
    job = jobnb.submit(reports_then_waits, str(release))
    own = Monitor(interval=0.02)
    widget = JobWidget(job)
    widget.show(take_snapshot(job))
    own.watch(widget)
    eventually(lambda: own.ticks > 3)
    before = widget_count()
    release.touch()
    eventually(lambda: not own.running, timeout=10)
    assert widget.ended and ">finished<" in widget.header.value
    assert widget_count() == before  # nothing made, nothing closed
    assert all(part.comm is not None for part in (widget, *widget.children))  # still shown


def test_the_status_shows_once_and_cancel_is_a_small_button(tmp_path):
    jobnb.configure("thread")
    release = tmp_path / "release"
    job = jobnb.options(name="once").submit(reports_then_waits, str(release))
    widget = job_widget(job)
    eventually(lambda: ">running<" in widget.header.value)
    text = visible_text(widget.header.value)
    assert text.split().count("running") == 1, text
    assert widget.cancel_button not in widget.children  # not a full-width bar of its own
    assert widget.cancel_button in widget.controls.children and widget.controls in widget.children
    assert widget.cancel_button.button_style != "warning"
    assert widget.cancel_button.layout.width == "auto"
    release.touch()
    job.wait(10)


def test_a_cancelled_job_says_cancelled_and_when_never_a_traceback():
    jobnb.configure("thread")
    job = jobnb.options(name="to-stop").submit(spin, 60)
    widget = job_widget(job)
    eventually(lambda: ">running<" in widget.header.value)
    widget.cancel_button.click()
    eventually(lambda: ">cancelled<" in widget.header.value)
    text = visible_text(widget.header.value)
    assert text.split().count("cancelled") == 1, text
    assert "cancelled at " in text and "while running" in text, text
    assert f"by {asked_by('the job widget')}" in text, text  # who, and from where
    assert asked_by("the job widget") in widget._repr_mimebundle_()["text/html"]
    assert widget.error_view not in widget.children
    shown = " ".join(str(getattr(part, "value", "")) for part in widget.children)
    assert "JobCancelled" not in shown
    assert "JobCancelled" not in widget._repr_mimebundle_()["text/html"]


def test_an_ended_job_that_printed_nothing_shows_no_log():
    jobnb.configure("thread")
    job = jobnb.submit(sum, [1, 2])
    job.wait(10)
    widget = job_widget(job)
    assert widget.log_view not in widget.children
    html_view = widget._repr_mimebundle_()["text/html"]
    assert "nothing yet" not in html_view and "<pre" not in html_view


def test_the_bundle_carries_the_widget_and_an_inert_saved_view():
    jobnb.configure("thread")
    evil = "<img src=x onerror=alert(1)>"
    job = jobnb.options(name=evil).submit(fail, evil)
    job.wait(10)
    bundle = job_widget(job)._repr_mimebundle_()
    assert WIDGET_VIEW in bundle
    assert bundle["text/plain"].startswith(f"<Job {job.id} ")
    saved = bundle["text/html"]
    assert "<img" not in saved and "<script" not in saved.lower()
    assert "&lt;img src=x onerror=alert(1)&gt;" in saved  # the name, the log and the error
    assert ">failed<" in saved and job.id in saved
    assert "ValueError: &lt;img" in saved
    assert f"%job {job.id}" in saved and f"jobnb.get(&quot;{job.id}&quot;)" in saved
    assert "its final state" in saved


def test_the_saved_view_of_a_running_job_shows_its_progress_and_last_lines(tmp_path):
    jobnb.configure("thread")
    release = tmp_path / "release"
    job = jobnb.options(name="halfway").submit(reports_then_waits, str(release))
    eventually(lambda: job.progress.total == 4 and job.logs())
    saved = job_widget(job)._repr_mimebundle_()["text/html"]
    release.touch()
    assert ">running<" in saved and "<b>halfway</b>" in saved
    assert 'title="25%"' in saved and "first step" in saved
    assert "started" in saved
    assert "not live" in saved
