"""The thread and subprocess backends keep their jobs' logs in the kernel's memory:
bounded by ``log_bytes_kept`` as the stores bound theirs (head and tail kept, one marker
line for the middle), so a chatty job cannot grow the kernel without end."""

from __future__ import annotations

import threading

import pytest
from jobs_for_logs import numbered_line, print_lines
from test_log_bounds import (
    assert_head_and_tail_of,
    assert_tail_reads_match,
    printed_text,
    split_at_marker,
)

import jobnb
from jobnb.backends.kernel_log import KernelLog

BOUND = 16 * 1024


def test_a_short_log_is_kept_whole():
    log = KernelLog(BOUND)
    for n in range(10):
        log.append(numbered_line(n, 60))
    assert log.text() == printed_text(10) and log.dropped == 0
    assert_tail_reads_match(log.tail, log.text())


@pytest.mark.parametrize("piece", [1, 61, 5000, 100_000])
def test_a_long_log_keeps_its_head_and_tail_within_the_bound(piece):
    log = KernelLog(BOUND)
    printed = printed_text(20_000)  # 1.2 MB: 75 times the bound
    for start in range(0, len(printed), piece):
        log.append(printed[start : start + piece])
    text = log.text()
    assert assert_head_and_tail_of(printed, text) == log.dropped > 0
    assert len(printed.encode()) - log.dropped <= BOUND  # what is kept, the marker aside
    where = split_at_marker(text)[2]
    assert "the kernel keeps the first 4,096 and the last 12,288 bytes" in where
    assert_tail_reads_match(log.tail, text)


def test_text_that_is_not_ascii_is_cut_between_characters():
    log = KernelLog(BOUND)
    printed = "".join(f"ligne {n} — épée ✓\n" for n in range(5000))
    for start in range(0, len(printed), 333):
        log.append(printed[start : start + 333])
    assert assert_head_and_tail_of(printed, log.text()) == log.dropped


def test_appends_from_a_thread_while_the_tail_is_read():
    log = KernelLog(BOUND)
    stop = threading.Event()
    tails = []

    def read() -> None:
        while not stop.is_set():
            tails.append(log.tail(3))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for n in range(30_000):
            log.append(numbered_line(n, 60))
    finally:
        stop.set()
        reader.join()
    assert log.tail(1) == numbered_line(29_999, 60)
    assert all(t == "" or t.endswith("\n") for t in tails)


@pytest.mark.parametrize("backend_name", ["thread", "subprocess"])
def test_a_chatty_job_leaves_a_bounded_log_in_the_kernel(backend_name, tmp_path):
    jobnb.configure(backend_name, log_bytes_kept=BOUND)
    count = 20_000  # 1.2 MB printed
    job = jobnb.submit(print_lines, count)
    assert job.result(timeout=120) == count
    text = job.logs()
    assert assert_head_and_tail_of(printed_text(count), text) == job.logs_dropped > 0
    assert len(text.encode()) <= BOUND + 200
    assert job.log_tail(1) == numbered_line(count - 1, 60)


def test_the_bound_goes_to_the_thread_backend_from_the_settings(monkeypatch):
    monkeypatch.setenv("JOBNB_LOG_BYTES_KEPT", str(BOUND))
    jobnb.configure("thread")
    assert jobnb.api.get_backend().store.log_bytes_kept == BOUND
