"""The dashboard's state, checked without a kernel: what its widgets hold is what the
page shows (tests/browser/ looks at the page itself)."""

from __future__ import annotations

import re
import time
import warnings

import ipywidgets
import pytest
from conftest import eventually
from jobs_for_tests import add, fail, print_then_wait, progress_then_wait, wait_for

import jobnb
from jobnb.job import asked_by
from jobnb.widgets.dashboard import Dashboard

COLUMNS = ["name", "id", "status", "progress", "submitted", "duration", "worker"]


@pytest.fixture
def thread_backend():
    jobnb.configure("thread")
    yield "thread"


def columns(cells_html: str) -> list[str]:
    """The column classes of a row's (or the header's) cells, left to right."""
    return re.findall(r'<span class="jobnb-c-(\w+)"', cells_html)


def cell(row, column: str) -> str:
    """The HTML inside one cell of a row."""
    found = dict(
        re.findall(
            r'<span class="jobnb-c-(\w+)"[^>]*>(.*?)</span>(?=<span class|</div>$)',
            row.summary.value,
        )
    )
    assert column in found, f"no {column} cell in {row.summary.value}"
    return found[column]


def widget_count() -> int:
    """Every widget model the kernel holds (and the page mirrors)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # ipywidgets 8 keeps it, warning
        return len(ipywidgets.Widget.widgets)


def test_each_count_stays_on_one_line_with_its_status():
    """In a narrow window the counts wrap between statuses, never inside one: the
    browser showed "total" at a line's end and its number on the next."""
    jobnb.configure("thread")
    jobnb.submit(add, 1).wait(30)
    board = Dashboard()
    pairs = re.findall(r'<span style="white-space:nowrap">(.*?\d+)</span>', board.counts_view.value)
    assert len(pairs) == 8, board.counts_view.value  # seven statuses and the total
    assert pairs[-1] == "total 1"
    assert all(re.fullmatch(r'<span style="[^"]*">[a-z]+</span> \d+', pair) for pair in pairs[:-1])
    board.close()


def shown_rows(board):
    return [child for child in board.table.children if "jobnb-row" in child._dom_classes]


def test_counts_pages_and_filter(backend):
    for job in [jobnb.options(name=f"n{i}").submit(add, i) for i in range(25)]:
        job.wait(30)
    jobnb.options(name="broken").submit(fail).wait(30)
    board = Dashboard(page_size=10)
    assert ">finished</span> 25" in board.counts_view.value
    assert ">failed</span> 1" in board.counts_view.value
    assert "total 26" in board.counts_view.value
    assert board.page_label.value == "page 1 of 3"
    assert len(shown_rows(board)) == 10
    assert "<b>broken</b>" in board.rows[0].summary.value  # newest first
    assert board.previous_button.disabled and not board.next_button.disabled
    board.next_button.click()
    board.next_button.click()
    assert board.page_label.value == "page 3 of 3"
    assert len(shown_rows(board)) == 6
    assert "<b>n0</b>" in shown_rows(board)[-1].summary.value  # the oldest, last
    board.status_filter.value = "failed"
    assert board.page_label.value == "page 1 of 1"  # a new filter starts at page 1
    assert [r.record.name for r in shown_rows(board)] == ["broken"]
    board.status_filter.value = "lost"
    assert shown_rows(board) == [] and "no lost jobs" in board.empty_note.value
    board.page_size.value = 50
    board.status_filter.value = "all"
    assert len(shown_rows(board)) == 26
    stats = board.stats_view.value
    assert stats.startswith(f"<b>{backend}</b>: ")
    assert "queued 0, running 0" in stats


def test_a_header_row_and_columns_that_line_up(thread_backend, tmp_path):
    release = tmp_path / "release"
    running = jobnb.options(name="counting").submit(progress_then_wait, str(release))
    eventually(lambda: running.progress.total == 10)
    jobnb.options(name="done").submit(add, 1, 2).wait(10)
    board = Dashboard()
    header = board.table.children[0]
    assert "jobnb-header" in header._dom_classes
    assert columns(header.cells.value) == COLUMNS
    assert re.findall(r">(\w+)</span>", header.cells.value) == COLUMNS
    assert "actions" in header.actions.value
    for row in shown_rows(board):
        # the same cells in the same grid, and the same layouts as the header: one
        # template lines every row up with the header
        assert columns(row.summary.value) == COLUMNS
        assert row.summary.layout is header.cells.layout
        assert row.children[1].layout is header.actions.layout
    assert "jobnb-dashboard" in board._dom_classes
    assert board.style_view.value.count("<style>") == 1
    assert ".jobnb-cells" in board.style_view.value and "grid-template-columns" in (
        board.style_view.value
    )
    done, counting = shown_rows(board)
    assert ">finished</span>" in cell(done, "status") and "<b>done</b>" in cell(done, "name")
    assert cell(done, "id") == f"<code>{done.record.id}</code>"
    assert re.fullmatch(r"\d\d:\d\d:\d\d", cell(done, "submitted"))
    assert re.fullmatch(r"\d+\.\ds", cell(done, "duration"))
    # progress is a bar as wide as the job has come, with its percentage beside it
    bar = cell(counting, "progress")
    assert 'class="jobnb-bar" title="three of ten"' in bar and "width:30%" in bar
    assert "30%" in bar
    release.touch()
    running.wait(10)


def test_actions_that_do_not_apply_are_disabled_and_look_it(thread_backend, tmp_path):
    release = tmp_path / "release"
    running = jobnb.options(name="blocker").submit(wait_for, str(release))
    eventually(lambda: running.status.value == "running")
    jobnb.options(name="ended").submit(add, 1).wait(10)
    board = Dashboard()
    ended, active = shown_rows(board)
    assert not active.cancel_button.disabled and active.cancel_button.button_style == "warning"
    assert active.resubmit_button.disabled  # it has not ended: nothing to run again yet
    assert ended.cancel_button.disabled and ended.cancel_button.button_style == ""
    assert not ended.resubmit_button.disabled
    assert not ended.logs_button.disabled and not active.logs_button.disabled
    assert ":disabled" in board.style_view.value and "opacity: 0.35" in board.style_view.value
    # the row buttons keep their width: the cells give way, never "ca…"
    for button in (ended.cancel_button, ended.resubmit_button, ended.logs_button):
        assert button.layout.flex == "0 0 auto" and button.layout.min_width == button.layout.width
    release.touch()
    running.wait(10)


def test_details_open_under_the_chosen_row_move_and_close(thread_backend, tmp_path):
    release = tmp_path / "release"
    jobnb.options(name="oldest").submit(add, 1).wait(10)
    talking = jobnb.options(name="talking").submit(print_then_wait, str(release), "hello <b>")
    eventually(lambda: "hello" in talking.logs())
    jobnb.options(name="newest").submit(add, 3).wait(10)
    board = Dashboard()
    header, newest, middle, oldest = board.table.children
    assert board.details not in board.table.children  # closed until asked
    middle.logs_button.click()
    assert board.table.children == (header, newest, middle, board.details, oldest)
    assert "jobnb-details" in board.details._dom_classes
    assert "jobnb-row-selected" in middle._dom_classes
    assert not any("jobnb-row-selected" in r._dom_classes for r in (newest, oldest))
    assert middle.logs_button.description == "close"
    assert "<b>talking</b>" in board.details.value and "hello &lt;b&gt;" in board.details.value
    # a new job moves every row down: the details follow their job
    jobnb.options(name="newer still").submit(add, 4).wait(10)
    board.refresh()
    children = board.table.children
    chosen = children.index(board.details) - 1
    assert children[chosen].record.id == talking.id
    assert "jobnb-row-selected" in children[chosen]._dom_classes
    assert [r for r in shown_rows(board) if "jobnb-row-selected" in r._dom_classes] == [
        children[chosen]
    ]
    # "details" on another row moves them there
    last = shown_rows(board)[-1]
    last.logs_button.click()
    assert board.table.children[-2:] == (last, board.details)
    assert "<b>oldest</b>" in board.details.value and "result: 1" in board.details.value
    assert [r for r in shown_rows(board) if "jobnb-row-selected" in r._dom_classes] == [last]
    # its job filtered out of the page: the details stay in sight, under the header
    board.status_filter.value = "running"
    assert board.table.children[:2] == (board.table.children[0], board.details)
    assert "<b>oldest</b>" in board.details.value
    assert not any("jobnb-row-selected" in r._dom_classes for r in shown_rows(board))
    board.status_filter.value = "all"
    last = shown_rows(board)[-1]
    # pressing it again closes them
    last.logs_button.click()
    assert board.details not in board.table.children
    assert not any("jobnb-row-selected" in r._dom_classes for r in shown_rows(board))
    assert last.logs_button.description == "details"
    release.touch()
    talking.wait(10)


def test_details_of_a_forgotten_job_close_without_a_banner(thread_backend):
    job = jobnb.options(name="short-lived").submit(add, 1)
    job.wait(10)
    board = Dashboard()
    assert "no jobs yet" not in board.empty_note.value
    board.rows[0].logs_button.click()
    assert board.details in board.table.children
    jobnb.forget(job)
    board.refresh()
    assert board.banner.layout.display == "none"  # not "cannot read the jobs"
    assert board.details not in board.table.children and board.selected is None
    assert "no jobs yet" in board.empty_note.value and board.empty_note in board.table.children


def test_the_controls_wrap_and_show_their_values(thread_backend):
    board = Dashboard(page_size=20)
    assert "jobnb-controls" in board.controls._dom_classes
    assert board.controls.layout.flex_flow == "row wrap"  # wraps instead of being cut
    for control in (board.status_filter, board.page_size, board.interval, board.pause):
        assert control.layout.flex == "0 0 auto"  # none shrinks below what it shows
    for labelled in (board.status_filter, board.page_size, board.interval):
        assert labelled.style.description_width == "initial"  # the label takes its text only
    assert board.page_size.value == 20 and board.page_label.value == "page 1 of 1"
    board.pause.value = True
    assert board.pause.description == "resume" and board.pause.icon == "play"
    board.pause.value = False
    assert board.pause.description == "pause"


def test_row_actions_cancel_resubmit_and_details(backend, tmp_path):
    release = tmp_path / "release"
    running = jobnb.options(name="blocker").submit(wait_for, str(release))
    eventually(lambda: running.status.value == "running")
    board = Dashboard()
    row = board.rows[0]
    assert row.record.id == running.id and not row.cancel_button.disabled
    row.cancel_button.click()
    running.wait(5)
    assert running.status.value == "cancelled"
    board.refresh()  # what the monitor does on its next tick
    assert ">cancelled<" in board.rows[0].summary.value and board.rows[0].cancel_button.disabled
    board.rows[0].logs_button.click()  # its details say who cancelled it, and from where
    assert f"cancelled by {asked_by('the dashboard')}" in board.details.value
    board.rows[0].logs_button.click()

    done = jobnb.options(name="adder").submit(add, 2, 3)
    done.wait(30)
    board.refresh()
    board.rows[0].resubmit_button.click()
    again = jobnb.jobs()[0]
    assert again.id != done.id and again.name == "adder"
    assert again.result(timeout=30) == 5
    assert board.selected == again  # the new job is shown in the details
    board.refresh()
    assert "add(2, 3)" in board.details.value
    assert board.table.children[2] is board.details  # right under the new job's row

    broken = jobnb.options(name="<script>x</script>").submit(fail, "<oops>")
    broken.wait(30)
    board.refresh()
    board.rows[0].logs_button.click()
    assert "ValueError: &lt;oops&gt;" in board.details.value
    assert "about to fail" in board.details.value
    assert "<script>" not in board.details.value + board.rows[0].summary.value


def test_every_text_from_a_job_is_escaped_also_in_titles(thread_backend):
    payload = '"><img src=x onerror=alert(1)>'
    job = jobnb.options(name=payload).submit(fail, payload)
    job.wait(10)
    board = Dashboard()
    board.rows[0].logs_button.click()
    shown = board.rows[0].summary.value + board.details.value
    assert "<img" not in shown and "&lt;img" in shown
    # the hover title is an attribute: its quote is escaped too, so it cannot end early
    assert 'title="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"' in board.rows[0].summary.value


def test_the_widget_count_stays_constant_over_200_refreshes(thread_backend, tmp_path):
    release = tmp_path / "release"
    for i in range(12):
        jobnb.options(name=f"n{i}").submit(add, i).wait(10)
    running = jobnb.options(name="counting").submit(progress_then_wait, str(release))
    eventually(lambda: running.progress.total == 10)
    board = Dashboard(page_size=10)
    board.next_button.click()  # the pool has grown to its largest page once
    board.previous_button.click()
    board.rows[0].logs_button.click()
    before = widget_count()
    for turn in range(200):
        if turn % 50 == 10:
            board.next_button.click()
        if turn % 50 == 20:
            board.previous_button.click()
        if turn % 50 == 30:
            shown_rows(board)[turn % 7].logs_button.click()
        board.refresh()
    assert widget_count() == before
    release.touch()
    running.wait(10)


def test_the_monitor_thread_never_makes_a_widget_as_jobs_come(thread_backend):
    """A reload asks the kernel for every widget's state, iterating over them on its own
    thread: a widget made meanwhile on the monitor's thread broke that answer (issue 15,
    item 2). A page filling up as jobs come, or a bigger page chosen, gets rows made on
    the kernel's thread."""
    import threading

    def refresh_on_another_thread():
        refresher = threading.Thread(target=board.refresh)
        refresher.start()
        refresher.join(10)

    for i in range(3):
        jobnb.options(name=f"n{i}").submit(add, i).wait(10)
    board = Dashboard(page_size=10)
    before = widget_count()
    for i in range(3, 25):  # the page fills up while the monitor refreshes it
        jobnb.options(name=f"n{i}").submit(add, i).wait(10)
    refresh_on_another_thread()
    assert widget_count() == before
    assert len(shown_rows(board)) == 10
    board.page_size.value = 20  # on the kernel's thread (a comm message), as a click is
    before = widget_count()
    refresh_on_another_thread()
    assert widget_count() == before
    assert len(shown_rows(board)) == 20


def test_the_banner_escapes_and_a_working_refresh_clears_it(backend):
    board = Dashboard()
    board.show_banner("cannot reach <Redis>")
    assert board.banner.layout.display is None
    assert "cannot reach &lt;Redis&gt;" in board.banner.value
    board.refresh()
    assert board.banner.layout.display == "none"


def test_the_monitor_refreshes_a_dashboard_until_paused(backend):
    board = jobnb.dashboard(interval=0.2)
    try:
        job = jobnb.submit(add, 1, 1)
        job.wait(30)
        eventually(lambda: board.rows and job.id in board.rows[0].summary.value)
        board.pause.value = True
        later = jobnb.submit(add, 2, 2)
        later.wait(30)
        time.sleep(0.6)
        assert later.id not in board.rows[0].summary.value
        board.pause.value = False
        eventually(lambda: later.id in board.rows[0].summary.value)
    finally:
        board.close()


def test_where_widgets_cannot_live_the_dashboard_shows_its_last_page_as_html(thread_backend):
    payload = "<script>alert(1)</script>"
    for n in range(3):
        jobnb.options(name=f"job-{n}").submit(add, n, 1).wait(10)
    jobnb.options(name=payload).submit(fail, payload).wait(10)
    board = Dashboard(page_size=2)
    bundle = board._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle  # the live widget first
    saved = bundle["text/html"]
    assert "finished</span> 3" in saved and "failed</span> 1" in saved, saved
    assert "page 1 of 2" in saved and saved.count('class="jobnb-c-name"') == 3  # head + 2
    assert "<script>" not in saved and "&lt;script&gt;" in saved  # the newest job's name
    board.page_size.value = 10
    board.refresh()
    assert "job-0" in board._repr_mimebundle_()["text/html"]
