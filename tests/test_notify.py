"""Notifications of ended jobs, kernel side: who asked (``--notify``, ``options``,
``configure``), what the notification says, and, in a real kernel on every backend,
the one message the kernel sends the page when the job ends, and the note the ended
job's view keeps where the page's browser blocks notifications. (What the browser then
shows: tests/browser/test_browser_notify.py.)"""

from __future__ import annotations

import time
from queue import Empty

import pytest
from kernel_client import run

import jobnb
from jobnb import api, notify
from jobnb.exceptions import ConfigError
from jobnb.model import JobRecord, JobStatus
from jobnb.widgets.notifier import duration_text, notification_of


def record(status: JobStatus, ran: float | None, error: str | None = None) -> JobRecord:
    now = time.time()
    return JobRecord(
        id="0a1b2c3d4e5f",
        name="train",
        backend="huey",
        kind="call",
        description="train()",
        status=status,
        submitted=now - 500,
        started=None if ran is None else now - ran,
        finished=now,
        error=error,
    )


def test_the_notification_names_the_job_its_status_and_duration():
    assert notification_of(record(JobStatus.FINISHED, 192)) == (
        "train finished",
        "in 3m 12s (job 0a1b2c3d4e5f)",
    )
    failed = record(JobStatus.FAILED, 4.25, "Traceback ...\nValueError: bad input 3\n")
    assert notification_of(failed) == (
        "train failed",
        "after 4.2s: ValueError: bad input 3 (job 0a1b2c3d4e5f)",
    )
    assert notification_of(record(JobStatus.CANCELLED, None, "JobCancelled")) == (
        "train cancelled",
        "before it started (job 0a1b2c3d4e5f)",
    )
    assert notification_of(record(JobStatus.LOST, 7300))[1].startswith("after 2h 01m")


@pytest.mark.parametrize(
    ("seconds", "said"), [(0.42, "0.4s"), (42.4, "42s"), (60, "1m 00s"), (3599.6, "1h 00m")]
)
def test_durations_read_as_a_person_says_them(seconds, said):
    assert duration_text(seconds) == said


@pytest.fixture
def told(monkeypatch) -> list:
    """The jobs handed to the teller, as the notebook's notifier would get them."""
    handed: list = []
    monkeypatch.setattr(notify, "_teller", handed.append)
    return handed


def test_a_job_asks_with_options_and_every_job_with_configure(told):
    jobnb.configure("thread")
    quiet = jobnb.submit(time.sleep, 0)
    asked = jobnb.options(notify=True).submit(time.sleep, 0)
    assert told == [asked]
    assert notify.wished(asked) and not notify.wished(quiet)

    jobnb.configure(notify=True)
    every = [jobnb.submit(time.sleep, 0), *jobnb.map(time.sleep, [0, 0])]
    not_this = jobnb.options(notify=False).submit(time.sleep, 0)
    assert told == [asked, *every]
    assert not notify.wished(not_this)


def test_notify_is_a_switch_from_configure_or_the_environment(monkeypatch):
    assert jobnb.settings().notify is False
    monkeypatch.setenv("JOBNB_NOTIFY", "yes")
    assert api.config.resolve({}).notify is True
    assert jobnb.configure(notify="off").notify is False  # configure() wins
    with pytest.raises(ConfigError, match="notify must be on or off .* not 'sometimes'"):
        jobnb.configure(notify="sometimes")
    monkeypatch.setenv("JOBNB_NOTIFY", "maybe")
    with pytest.raises(ConfigError, match="not 'maybe'"):
        api.config.resolve({})


def test_the_magics_ask_with_notify_and_turn_it_on_for_every_job(told, capsys):
    from IPython.core.error import UsageError
    from IPython.core.interactiveshell import InteractiveShell

    jobnb.configure("thread")
    sh = InteractiveShell.instance()
    if not hasattr(sh, "_jobnb_magics"):
        sh.run_line_magic("load_ext", "jobnb")
    asked = sh.run_cell("%%submit --notify -n asked\nx = 1").result
    quiet = sh.run_cell("%%submit -n quiet\nx = 2").result
    call = sh.run_cell("j = %submit --notify -n call abs(-3)\nj").result
    assert told == [asked, call] and not notify.wished(quiet)

    sh.run_line_magic("jobnb", "notify on")
    assert "jobnb: notify on: a desktop notification when each job" in capsys.readouterr().out
    every = sh.run_cell("%%submit -n every\nx = 3").result
    assert told[-1] == every and jobnb.settings().notify
    sh.run_line_magic("jobnb", "")
    assert capsys.readouterr().out.strip().endswith(", notify on")
    sh.run_line_magic("jobnb", "notify off")
    assert not jobnb.settings().notify
    with pytest.raises(UsageError, match="%jobnb notify takes on or off, not 'loud'"):
        sh.run_line_magic("jobnb", "notify loud")
    for job in (asked, quiet, call, every):
        job.wait(30)
    sh._jobnb_magics.pending.clear()


def comm_messages(client, until, seconds: float = 30, after: float = 1.0) -> list[dict]:
    """The widget and display messages the kernel sends (what a page gets) until
    ``until(messages)`` holds, then for ``after`` seconds more (what should not come);
    at most ``seconds``."""
    found: list[dict] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            msg = client.get_iopub_msg(timeout=max(0.01, deadline - time.monotonic()))
        except Empty:
            break
        if msg["msg_type"].startswith("comm_") or msg["msg_type"] == "update_display_data":
            found.append(msg)
        if until(found):
            deadline = min(deadline, time.monotonic() + after)
            until = _never
    return found


def _never(_messages: list[dict]) -> bool:
    return False


def ended(messages: list[dict]) -> bool:
    """The job's display was updated to its final view (its widget then closed)."""
    return any(m["msg_type"] == "update_display_data" for m in messages)


def told_page(comm: str, messages: list[dict]) -> list[dict]:
    """The custom messages the notifier ``comm`` sent the page."""
    return [
        m["content"]["data"]["content"]
        for m in messages
        if m["msg_type"] == "comm_msg"
        and m["content"]["comm_id"] == comm
        and m["content"]["data"].get("method") == "custom"
    ]


def notifier_comm(messages: list[dict]) -> str:
    opened = [
        m["content"]["comm_id"]
        for m in messages
        if m["msg_type"] == "comm_open" and "permission" in m["content"]["data"].get("state", {})
    ]
    assert len(opened) == 1, "the kernel made no notifier (or more than one)"
    return opened[0]


def test_the_kernel_tells_the_page_once_when_a_notify_job_ends(backend, kernel):
    """On every backend: the page gets one "job ended" message, with the name, the
    status and the duration, and nothing before the end."""
    submitted = run(
        kernel,
        "%load_ext jobnb\nimport time\n%submit --notify -n train time.sleep(1.5)",
    )
    comm = notifier_comm(submitted)
    later = comm_messages(kernel, lambda found: ended(found) and told_page(comm, found))
    said = told_page(comm, later)
    assert len(said) == 1, said
    assert said[0]["kind"] == "job ended"
    assert said[0]["title"] == "train finished"
    seconds = float(said[0]["body"].split()[1].rstrip("s"))
    assert 1.4 <= seconds < 6, said[0]["body"]
    closed = [m["content"]["comm_id"] for m in later if m["msg_type"] == "comm_close"]
    assert comm not in closed, "the notifier was closed with the job's widget"


@pytest.mark.parametrize("backend", ["thread", "huey"], indirect=True)
def test_where_the_browser_blocks_them_the_ended_job_says_so(backend, kernel):
    """The page says its browser blocks notifications (as notifier.js does): the job's
    final view, which stays in the saved notebook, carries the note."""
    submitted = run(
        kernel, "%load_ext jobnb\nimport time\njob = %submit --notify time.sleep(2)\njob"
    )
    comm = notifier_comm(submitted)
    kernel.shell_channel.send(
        kernel.session.msg(
            "comm_msg",
            {
                "comm_id": comm,
                "data": {"method": "update", "state": {"permission": "denied"}, "buffer_paths": []},
            },
        )
    )
    finals = [
        m["content"]["data"]["text/html"]
        for m in comm_messages(kernel, ended, after=0)
        if m["msg_type"] == "update_display_data"
    ]
    assert finals, "the job's view was never updated to its end"
    assert ">finished<" in finals[-1]
    assert "Not notified: this browser blocks desktop notifications" in finals[-1]
