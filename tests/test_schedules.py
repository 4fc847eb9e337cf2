"""Schedules (issue 17): kept in the backend's store, fired by the queue workers (huey on
SQLite, huey on Redis, rq), each due time once however many workers serve, on time,
and caught up after downtime by the schedule's policy. Real worker processes, a real
redis-server, real SQLite files."""

from __future__ import annotations

import collections
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import eventually, start_redis_worker, stop_process

import jobnb
from jobnb import api
from jobnb.backends.huey_worker import stop_worker, worker_pid
from jobnb.exceptions import (
    ConfigError,
    JobnbWarning,
    ScheduleExists,
    ScheduleNotFound,
    SchedulesNeedAQueue,
    SignatureMismatch,
)
from jobnb.model import JobStatus

QUEUES = ["huey", "huey-redis", "rq"]


@pytest.fixture(autouse=True)
def no_worker_left(tmp_path):
    """A SQLite home's worker stays up while a schedule is active: stop the one a test's
    schedule started, once it holds the home (conftest's stop may come before that)."""
    yield
    from jobnb.backends import huey_worker

    home = tmp_path / ".jobnb"
    for place, (proc, _) in list(huey_worker._spawned.items()):
        if Path(place) != home:
            continue
        eventually(lambda p=proc: p.poll() is not None or worker_pid(home), timeout=20)
        stop_worker(home, grace=0)
        proc.wait(timeout=30)


class Workers:
    """Worker processes of the configured queue backend, started and stopped by the test
    (none to begin with: a test decides when the queue is served)."""

    def __init__(self, kind: str, folder: Path, url: str | None) -> None:
        self.kind, self.folder, self.url = kind, folder, url
        self.procs: list[subprocess.Popen] = []
        self.made = 0

    def start(self, processes: int = 2) -> None:
        if self.kind == "huey":  # one worker serves a SQLite home: the others find it locked
            home = str(self.folder / ".jobnb")
            command = [sys.executable, "-m", "jobnb.cli", "worker", "--backend", "huey"]
            for _ in range(processes):
                self.procs.append(
                    subprocess.Popen([*command, "--home", home, "-w", "2"], cwd=self.folder)
                )
            eventually(lambda: worker_pid(home) is not None, timeout=20)
            return
        backend = self.kind.removesuffix("-redis")
        for _ in range(processes):
            self.made += 1
            folder = self.folder / f"worker-{self.made}"
            folder.mkdir()
            self.procs.append(start_redis_worker(self.url, folder, "-w", "1", backend=backend))

    def stop(self) -> None:
        if self.kind == "huey":
            stop_worker(self.folder / ".jobnb", grace=0)
        for proc in self.procs:
            stop_process(proc)
        self.procs.clear()


@pytest.fixture(params=QUEUES)
def workers(request, monkeypatch, tmp_path):
    """jobnb configured for a queue backend (``request.param``); its workers, not started."""
    name = request.param
    url = None
    if name == "huey":
        jobnb.configure("huey")
        monkeypatch.setenv("JOBNB_BACKEND", "huey")
    else:
        backend = name.removesuffix("-redis")
        url = request.getfixturevalue("redis_url")
        setting = "home" if backend == "huey" else "redis_url"
        monkeypatch.setenv("JOBNB_BACKEND", backend)
        monkeypatch.setenv(f"JOBNB_{setting.upper()}", url)
        jobnb.configure(backend, **{setting: url})
    started = Workers(name, tmp_path, url)
    yield started
    api.shutdown()
    started.stop()


def run_records(schedule) -> list:
    return [api.get_backend().record(job.id) for job in schedule.runs()]


def test_every_2s_fires_each_due_time_once_and_on_time_with_two_workers(workers):
    workers.start(processes=2)
    schedule = jobnb.schedule(time.time, every="2s", name="beat")
    time.sleep(10.5)
    schedule.pause()
    records = run_records(schedule)
    per_due = collections.Counter(round(rec.due, 3) for rec in records)
    assert per_due and max(per_due.values()) == 1, per_due  # never twice for one due time
    dues = sorted(per_due)
    assert len(dues) >= 4  # ~5 in 10.5 s
    assert all(
        abs(b - a - 2.0) < 1e-3 for a, b in zip(dues, dues[1:], strict=False)
    )  # none skipped
    for rec in records:
        assert rec.schedule == "beat" and rec.name == "beat"
    ended = [api.get_backend().record(rec.id) for rec in records]
    eventually(lambda: all(api.get_backend().record(r.id).status.is_done for r in ended))
    for rec in (api.get_backend().record(r.id) for r in ended):
        assert rec.status is JobStatus.FINISHED
        assert rec.started - rec.due < 1.0, rec  # on time
    last = schedule.last_run
    assert last is not None and last.result() >= last.record().due


@pytest.mark.parametrize("catchup", ["one", "all", "none"])
def test_missed_runs_follow_the_catchup_policy_when_workers_come_back(workers, catchup):
    if workers.kind != "huey" and catchup != "all":
        pytest.skip("the three policies are run on SQLite; the Redis queues run 'all'")
    workers.start(processes=1)
    schedule = jobnb.schedule(time.time, every="7s", name="late", catchup=catchup)
    workers.stop()
    stopped_at = time.time()
    first_missed = schedule.record().next_due
    assert first_missed > stopped_at - 0.5
    # back 5.5 s after the second missed due time: past ON_TIME_WITHIN (5 s), so "none"
    # runs neither, "one" the second alone, "all" both
    time.sleep(max(0.0, first_missed + 7 + 5.5 - time.time()))
    back_at = time.time()
    workers.start(processes=2)
    eventually(lambda: schedule.record().last_due >= first_missed + 7, timeout=20)
    caught_up = sorted(rec.due for rec in run_records(schedule) if rec.due < back_at)
    expected = {
        "one": [first_missed + 7],
        "all": [first_missed, first_missed + 7],
        "none": [],
    }[catchup]
    assert caught_up == pytest.approx(expected, abs=1e-3)
    # and it goes on as before: the next due time fires on time
    next_due = first_missed + 14
    eventually(lambda: any(abs(r.due - next_due) < 1e-3 for r in run_records(schedule)), timeout=15)


def test_pause_resume_remove(tmp_path):
    jobnb.configure("huey")
    schedule = jobnb.schedule(time.time, every="1s", name="pr")
    eventually(lambda: len(schedule.runs()) >= 1, timeout=20)
    schedule.pause()
    assert schedule.paused and schedule.next_run is None
    time.sleep(0.3)  # (a run fired as it was paused lands)
    count = len(schedule.runs())
    time.sleep(2.5)
    assert len(schedule.runs()) == count  # none while paused
    resumed_at = time.time()
    schedule.resume()
    assert not schedule.paused and schedule.next_run.timestamp() > resumed_at
    eventually(lambda: len(schedule.runs()) > count, timeout=10)
    # what fell due while paused was not run
    assert all(not (resumed_at - 2.5 < r.due < resumed_at) for r in run_records(schedule))
    schedule.remove()
    assert jobnb.schedules() == []
    with pytest.raises(ScheduleNotFound, match="no schedule 'pr'"):
        schedule.pause()
    assert len(schedule.runs()) >= count  # its runs' jobs stay


def test_a_schedule_is_in_the_store_not_in_the_kernel(tmp_path):
    """Made by one process (a kernel that then ends), listed and fired for another."""
    code = (
        "import time, jobnb\n"
        "jobnb.configure('huey')\n"
        "jobnb.schedule(time.time, every='1s', name='kept', timeout=30)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path)
    jobnb.configure("huey")
    (kept,) = jobnb.schedules()
    assert kept.name == "kept" and kept.when == "every 1 s"
    eventually(lambda: len(kept.runs()) >= 2, timeout=20)
    assert kept.last_run.result(timeout=10) > 0
    assert kept.last_run.record().timeout == 30
    frame = jobnb.schedules_df()
    assert list(frame["name"]) == ["kept"] and frame["last_status"][0] in (
        "queued",
        "running",
        "finished",
    )


def test_same_name_replaces_unless_told_not_to(tmp_path):
    jobnb.configure("huey")
    jobnb.schedule(time.time, every="1h", name="daily")
    jobnb.schedule(time.monotonic, every="2h", name="daily")
    (only,) = jobnb.schedules()
    assert only.when == "every 2 h" and "monotonic" in only.record().description
    with pytest.raises(ScheduleExists, match="'daily'.*replace=True"):
        jobnb.schedule(time.time, every="1h", name="daily", replace=False)


def test_the_kernel_backends_cannot_keep_schedules():
    jobnb.configure("thread")
    with pytest.raises(SchedulesNeedAQueue, match="thread backend.*fire from queue workers"):
        jobnb.schedule(time.time, every="1m")


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"cron": "61 * * * *"}, "cron='61 * * * *'"),
        ({"cron": "0 6 * *"}, "cron='0 6 * *'"),
        ({"every": "soon"}, "every='soon'"),
        ({"every": "0.1s"}, "every='0.1s'"),
        ({"every": "1m", "tz": "Mars/Olympus"}, "tz='Mars/Olympus'"),
        ({"every": "1m", "catchup": "some"}, "catchup='some'"),
        ({"every": "1m", "name": "a b"}, "name='a b'"),
        ({"cron": "0 6 * * *", "every": "1m"}, "exactly one of cron="),
    ],
)
def test_a_bad_timing_is_refused_naming_it(options, named):
    jobnb.configure("huey")
    with pytest.raises(ConfigError) as caught:
        jobnb.schedule(time.time, **options)
    assert named in str(caught.value)
    assert jobnb.schedules() == []


def test_a_schedule_changed_in_the_store_without_the_key_is_refused(tmp_path):
    jobnb.configure("huey")
    schedule = jobnb.schedule(time.time, every="1h", name="signed")
    path = tmp_path / ".jobnb" / "jobs.db"
    with sqlite3.connect(path) as db:
        (blob,) = db.execute("SELECT definition FROM schedules").fetchone()
        forged = blob.replace(b"time", b"tame")
        db.execute("UPDATE schedules SET definition = ?", (forged,))
    with pytest.raises(SignatureMismatch, match="schedule 'signed'"):
        schedule.record()


def test_an_older_home_gets_the_schedules_table(tmp_path):
    home = tmp_path / ".jobnb"
    jobnb.configure("huey")
    jobnb.submit(time.time).result(timeout=30)
    api.shutdown()
    stop_worker(home, grace=0)
    with sqlite3.connect(home / "jobs.db") as db:  # as a jobnb before schedules left it
        db.execute("DROP TABLE schedules")
        db.execute("ALTER TABLE jobs DROP COLUMN schedule")
        db.execute("ALTER TABLE jobs DROP COLUMN due")
    from jobnb.backends.huey_home import _records

    _records.clear()
    jobnb.configure("huey")
    assert jobnb.schedules() == []
    schedule = jobnb.schedule(time.time, every="1s", name="upgraded")
    jobnb.submit(time.time).result(timeout=30)  # (its wait starts a worker again)
    eventually(lambda: schedule.runs(), timeout=20)
    assert schedule.last_run.record().schedule == "upgraded"


def test_a_notebook_schedule_runs_the_notebook_with_its_parameters(tmp_path):
    source = Path(__file__).parent / "notebooks" / "params.ipynb"
    notebook = tmp_path / "params.ipynb"
    notebook.write_text(source.read_text())
    jobnb.configure("huey")
    schedule = jobnb.schedule(notebook, every="2s", parameters={"x": 5}, name="nb")
    job = eventually(lambda: schedule.last_run, timeout=20)
    job.wait(timeout=120)
    rec = job.record()
    assert rec.kind == "notebook" and rec.schedule == "nb" and rec.status is JobStatus.FINISHED
    assert Path(rec.output).exists() and rec.output.endswith(f"params-{job.id}.ipynb")
    schedule.pause()


def test_a_notebook_schedule_is_checked_when_made(tmp_path):
    jobnb.configure("huey")
    with pytest.raises(jobnb.NotebookError):
        jobnb.schedule(tmp_path / "missing.ipynb", every="1m")


def jobnb_command(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "jobnb.cli", *args], cwd=cwd, capture_output=True, text=True
    )


def test_the_schedule_commands(tmp_path):
    added = jobnb_command("schedule", "add", "clock", "--every", "1h", "time:time", cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    assert "clock" in added.stdout and "every 1 h" in added.stdout
    again = jobnb_command("schedule", "add", "clock", "--every", "1h", "time:time", cwd=tmp_path)
    assert again.returncode == 1 and "--replace" in again.stderr
    listed = jobnb_command("schedule", "ls", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    assert row["name"] == "clock" and row["when"] == "every 1 h" and row["paused"] is False
    assert jobnb_command("schedule", "pause", "clock", cwd=tmp_path).returncode == 0
    (row,) = json.loads(jobnb_command("schedule", "ls", "--json", cwd=tmp_path).stdout)
    assert row["paused"] is True and row["next_run"] is None
    assert jobnb_command("schedule", "resume", "clock", cwd=tmp_path).returncode == 0
    shown = jobnb_command("schedule", "ls", cwd=tmp_path)
    assert "clock" in shown.stdout and "every 1 h" in shown.stdout
    assert jobnb_command("schedule", "rm", "clock", cwd=tmp_path).returncode == 0
    gone = jobnb_command("schedule", "rm", "clock", cwd=tmp_path)
    assert gone.returncode == 1 and "no schedule 'clock'" in gone.stderr
    bad = jobnb_command("schedule", "add", "x", "--cron", "99 * * * *", "time:time", cwd=tmp_path)
    assert bad.returncode != 0 and "cron='99 * * * *'" in bad.stderr
    stop_worker(tmp_path / ".jobnb", grace=0)


@pytest.fixture
def shell():
    from IPython.core.interactiveshell import InteractiveShell  # lazy: the magic tests only

    sh = InteractiveShell.instance()
    sh.reset(new_session=False)
    if not hasattr(sh, "_jobnb_magics"):
        sh.run_line_magic("load_ext", "jobnb")
    return sh


def test_the_schedule_magic_takes_a_call_or_a_notebook(shell, tmp_path):
    jobnb.configure("huey")
    shell.run_cell("import time\nfactor = 3")
    made = shell.run_cell("%schedule --every 1s -n magic --job-name tick time.sleep(factor / 100)")
    assert made.error_in_exec is None
    schedule = made.result
    assert isinstance(schedule, jobnb.Schedule) and schedule.name == "magic"
    assert schedule.record().description == "sleep(0.03)"
    job = eventually(lambda: schedule.last_run, timeout=20)
    assert job.name == "tick" and job.record().schedule == "magic"
    source = Path(__file__).parent / "notebooks" / "params.ipynb"
    (tmp_path / "params.ipynb").write_text(source.read_text())
    made = shell.run_cell('%schedule --cron "0 6 * * *" --tz UTC --notebook params.ipynb -p x=2')
    assert made.error_in_exec is None
    assert made.result.when == "cron '0 6 * * *' (UTC)"
    assert made.result.next_run.hour == 6
    bad = shell.run_cell("%schedule --every soon time.time()")
    assert "every='soon'" in str(bad.error_in_exec)
    both = shell.run_cell("%schedule --every 1m --notebook params.ipynb time.time()")
    assert "a call or --notebook, not both" in str(both.error_in_exec)
    assert sorted(s.name for s in jobnb.schedules()) == ["magic", "params"]


def test_the_dashboard_shows_schedules_and_pauses_and_resumes_them(tmp_path):
    from jobnb.widgets.dashboard import Dashboard  # lazy: ipywidgets

    jobnb.configure("huey")
    schedule = jobnb.schedule(time.time, every="1s", name="shown")
    job = eventually(lambda: schedule.last_run, timeout=20)
    job.wait(timeout=20)
    board = Dashboard()
    view = board.schedules_view
    assert view.layout.display is None  # shown: there is a schedule
    assert "shown" in view.table.value and "every 1 s" in view.table.value
    assert ">finished<" in view.table.value or ">running<" in view.table.value
    assert view.chooser.options == ("shown",)
    view.chooser.value = "shown"
    view.pause_button.click()
    assert schedule.paused and "<i>paused</i>" in view.table.value
    view.resume_button.click()
    assert not schedule.paused and "<i>paused</i>" not in view.table.value
    schedule.remove()
    board.refresh()
    assert view.layout.display == "none" and view.chooser.options == ()
    board.close()


def test_a_stale_claim_on_sqlite_writes_nothing(tmp_path, monkeypatch):
    """Two schedulers of one home (as two workers would be) read the same due time; the
    second to write finds last_due moved and its whole transaction (jobs, messages)
    rolls back. The interleaving is forced: the loser's read is taken before the
    winner's write."""
    from jobnb.backends.huey_worker import _queue_side
    from jobnb.backends.schedule_firing import Scheduler

    jobnb.configure("huey")
    jobnb.schedule(time.time, every="1h", name="raced")
    api.shutdown()
    stop_worker(tmp_path / ".jobnb", grace=0)  # (this test fires by hand)
    home = tmp_path / ".jobnb"
    winner, loser = Scheduler(_queue_side(home, None)), Scheduler(_queue_side(home, None))
    stale = loser.store.payload("raced")
    now = stale[0].next_due + 0.01
    assert winner.fire("raced", now) == 1
    monkeypatch.setattr(loser.store, "payload", lambda name: stale)
    assert loser.fire("raced", now) == 0
    jobnb.configure("huey")
    runs = [rec for rec in api.get_backend().records() if rec.schedule == "raced"]
    assert len(runs) == 1 and runs[0].due == pytest.approx(stale[0].next_due)
    from jobnb.backends.huey_home import make_huey

    assert make_huey(home).pending_count() == 1  # one queue message: the winner's


def test_the_stores_keep_pause_resume_replace_and_remove(workers, tmp_path):
    """Every store's writes (SQLite statements, Redis scripts), with no worker serving
    (on Redis, making a schedule says that nothing will fire it yet)."""
    if workers.kind == "huey":  # (a SQLite home's worker is started for it)
        schedule = jobnb.schedule(time.time, cron="0 6 * * *", tz="UTC", name="kept")
    else:
        with pytest.warns(JobnbWarning, match="'kept' fires from the workers, and none is"):
            schedule = jobnb.schedule(time.time, cron="0 6 * * *", tz="UTC", name="kept")
    assert schedule.next_run.hour == 6 and schedule.next_run.minute == 0
    assert schedule.pause().paused and schedule.next_run is None
    assert jobnb.schedules_df()["paused"].tolist() == [True]
    assert not schedule.resume().paused and schedule.next_run.hour == 6
    with pytest.raises(ScheduleExists):
        jobnb.schedule(time.time, every="1m", name="kept", replace=False)
    jobnb.schedule(time.time, every="1m", name="kept")  # replaced
    assert schedule.when == "every 1 min"
    jobnb.schedule(time.monotonic, every="1h", name="other")
    assert [s.name for s in jobnb.schedules()] == ["kept", "other"]
    store = ["--backend", "rq", "--url", workers.url] if workers.kind == "rq" else []
    if workers.kind == "huey-redis":
        store = ["--backend", "huey", "--url", workers.url]
    listed = jobnb_command("schedule", "ls", "--json", *store, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert [row["name"] for row in json.loads(listed.stdout)] == ["kept", "other"]
    schedule.remove()
    with pytest.raises(ScheduleNotFound):
        schedule.record()
    assert [s.name for s in jobnb.schedules()] == ["other"]
    jobnb.schedules()[0].remove()
    assert jobnb.schedules() == [] and jobnb.schedules_df().empty
