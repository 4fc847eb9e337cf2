"""The dashboard's state, checked without a kernel."""

from __future__ import annotations

from conftest import eventually
from jobs_for_tests import add, fail, wait_for

import jobnb
from jobnb.widgets.dashboard import Dashboard


def test_counts_pages_and_filter(backend):
    for job in [jobnb.options(name=f"n{i}").submit(add, i) for i in range(25)]:
        job.wait(30)
    jobnb.options(name="broken").submit(fail).wait(30)
    board = Dashboard(page_size=10)
    assert ">finished</span> 25" in board.counts_view.value
    assert ">failed</span> 1" in board.counts_view.value
    assert "total 26" in board.counts_view.value
    assert board.page_label.value == "page 1 of 3"
    assert len(board.rows_box.children) == 10
    assert "<b>broken</b>" in board.rows[0].summary.value  # newest first
    assert board.previous_button.disabled and not board.next_button.disabled
    board.next_button.click()
    board.next_button.click()
    assert board.page_label.value == "page 3 of 3"
    assert len(board.rows_box.children) == 6
    assert "<b>n0</b>" in board.rows_box.children[-1].summary.value  # the oldest, last
    board.status_filter.value = "failed"
    assert board.page_label.value == "page 1 of 1"  # a new filter starts at page 1
    assert [r.record.name for r in board.rows_box.children] == ["broken"]
    board.page_size.value = 50
    board.status_filter.value = "all"
    assert len(board.rows_box.children) == 26
    stats = board.stats_view.value
    assert stats.startswith(f"<b>{backend}</b>: ")
    assert "queued 0, running 0" in stats


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

    done = jobnb.options(name="adder").submit(add, 2, 3)
    done.wait(30)
    board.refresh()
    board.rows[0].resubmit_button.click()
    again = jobnb.jobs()[0]
    assert again.id != done.id and again.name == "adder"
    assert again.result(timeout=30) == 5
    assert board.selected == again  # the new job is shown in the detail panel
    board.refresh()
    assert "add(2, 3)" in board.detail.value

    broken = jobnb.options(name="<script>x</script>").submit(fail, "<oops>")
    broken.wait(30)
    board.refresh()
    board.rows[0].logs_button.click()
    assert "ValueError: &lt;oops&gt;" in board.detail.value
    assert "about to fail" in board.detail.value
    assert "<script>" not in board.detail.value + board.rows[0].summary.value


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
        eventually(lambda: board.rows_box.children and job.id in board.rows[0].summary.value)
        board.pause.value = True
        later = jobnb.submit(add, 2, 2)
        later.wait(30)
        import time

        time.sleep(0.6)
        assert later.id not in board.rows_box.children[0].summary.value
        board.pause.value = False
        eventually(lambda: later.id in board.rows_box.children[0].summary.value)
    finally:
        board.close()
