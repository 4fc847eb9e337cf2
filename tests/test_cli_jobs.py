"""The jobs seen and steered from a shell: ``jobnb ls/show/logs/cancel/forget/prune/
wait`` on huey (SQLite home) and rq (a real Redis server and ``jobnb worker``), against
jobs another process submitted; and ``Job.add_done_callback`` on every backend."""

from __future__ import annotations

import json
import logging
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import eventually, start_redis_worker, stop_process

import jobnb
from jobnb.backends.kernel_log import KernelLog
from jobnb.cli.log_follow import LogFollower

HERE = Path(__file__).parent
COMMANDS = ["ls", "show", "logs", "cancel", "forget", "prune", "wait"]
NOTE = re.compile(
    r"\[jobnb logs: ([\d,]+) bytes of log were dropped by its store before they could be "
    r"printed\]\n"
)


def jobnb_command(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "jobnb.cli", *args],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=cwd,
        env=env,
    )


def test_every_command_has_help_and_the_store_options():
    for command in COMMANDS:
        done = subprocess.run(
            [sys.executable, "-m", "jobnb.cli", command, "--help"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        for option in ("--backend", "--home", "--url", "--url-file"):
            assert option in done.stdout, (command, option)
    listed = subprocess.run(
        [sys.executable, "-m", "jobnb.cli", "--help"], capture_output=True, text=True, timeout=60
    ).stdout
    assert all(re.search(rf"^\s+{c}\s", listed, re.M) for c in COMMANDS)


def test_jobnb_help_does_not_load_rich_nor_the_backends():
    code = (
        "import sys; from jobnb.cli import build_parser; build_parser(); "
        "print([m for m in ('rich', 'redis', 'huey', 'rq', 'pandas') if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stderr


def test_prune_says_which_age_it_cannot_read(tmp_path):
    done = jobnb_command("prune", "--older-than", "7 days", cwd=tmp_path, env=dict(os.environ))
    assert done.returncode == 2
    assert "'7 days' is not an age" in done.stderr and "7d, 12h, 30m" in done.stderr


def test_a_home_that_does_not_exist_is_named_not_made(tmp_path):
    done = jobnb_command("ls", "--home", "nowhere", cwd=tmp_path, env=dict(os.environ))
    assert done.returncode == 1
    assert f"jobnb ls: no jobnb home at {tmp_path / 'nowhere'}" in done.stderr
    assert not (tmp_path / "nowhere").exists()


def test_no_password_of_the_url_in_any_message(tmp_path, free_redis_url_with_password):
    done = jobnb_command(
        "ls", "--backend", "rq", "--url", free_redis_url_with_password, cwd=tmp_path,
        env=dict(os.environ),
    )  # fmt: skip
    assert done.returncode == 1
    assert "s3cret" not in done.stdout + done.stderr
    assert "shows in `ps`" in done.stderr and "jobnb ls:" in done.stderr


@pytest.fixture
def free_redis_url_with_password():
    from redis_server import free_port

    return f"redis://:s3cret@127.0.0.1:{free_port()}/0"  # nothing listens there


# --- following a log whose middle its store drops ------------------------------------------
def rebuilds(whole: bytes, pieces: list[bytes], skipped: list[int], k: int = 0, at: int = 0):
    """Whether the printed ``pieces``, with the ``skipped`` counts the notes between them
    say, are the whole log in order, each byte once (a piece before a note may end with
    a line break the follower put there; a count may be one too many: log_follow.py)."""
    if k == len(pieces):
        return at == len(whole)
    piece = pieces[k]
    for used in {len(piece), len(piece) - (k < len(skipped) and piece.endswith(b"\n"))}:
        if whole[at : at + used] != piece[:used]:
            continue
        for slack in (0, 1) if k < len(skipped) else (0,):
            after = at + used + (skipped[k] - slack if k < len(skipped) else 0)
            if rebuilds(whole, pieces, skipped, k + 1, after):
                return True
    return False


@pytest.mark.parametrize("seed", range(60))
def test_a_followed_log_prints_each_part_once_in_order(seed):
    """A real bounded log (the kernel's, 1 KiB kept, with the stores' marker), read by a
    follower now at every append and now lagging: what it prints, with the bytes its
    notes say it could not print, is the whole log, each part once."""
    rng = random.Random(seed)
    log, whole, follower, printed = KernelLog(1024), "", LogFollower(), ""
    eager = seed % 2 == 1
    for _ in range(rng.randint(1, 200)):
        text = "".join(rng.choice("ab\nxé") for _ in range(rng.randint(1, 60)))
        log.append(text)
        whole += text
        if rng.random() < (0.95 if eager else 0.2):
            printed += follower.next(log.text())
    printed += follower.next(log.text())
    parts = NOTE.split(printed)
    pieces = [part.encode() for part in parts[0::2]]
    skipped = [int(count.replace(",", "")) for count in parts[1::2]]
    assert rebuilds(whole.encode(), pieces, skipped)
    if eager and not skipped:
        assert printed == whole


# --- every command, against jobs of another process ------------------------------------------
@pytest.fixture(params=["huey", "huey-redis", "rq"])
def store(request, tmp_path, monkeypatch):
    """(the store options of the commands, the environment of every process) for huey on
    a SQLite home, or huey on Redis and rq, each with a worker started here."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBNB_")}
    env["JOBNB_SECRET_KEY"] = os.environ["JOBNB_SECRET_KEY"]
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), str(Path(jobnb.__file__).parents[1])])
    if request.param == "huey":
        env["JOBNB_BACKEND"] = "huey"
        yield ["--home", str(tmp_path / ".jobnb")], env
        return
    url = request.getfixturevalue("redis_url")
    backend = request.param.removesuffix("-redis")
    # huey's queue is in Redis when its home is a URL; rq's server is JOBNB_REDIS_URL
    env.update(
        JOBNB_BACKEND=backend, **{"JOBNB_HOME" if backend == "huey" else "JOBNB_REDIS_URL": url}
    )
    for name, value in env.items():
        monkeypatch.setenv(name, value)  # the worker started below inherits them
    worker = start_redis_worker(url, tmp_path, backend=backend)
    try:
        yield ["--backend", backend, "--url", url], env
    finally:
        stop_process(worker)


def submit_from_another_process(tmp_path: Path, env: dict[str, str], *names: str) -> dict:
    done = subprocess.run(
        [sys.executable, str(HERE / "jobs_for_cli.py"), *names],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=tmp_path,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_every_command_on_jobs_another_process_submitted(store, tmp_path):
    options, env = store

    def jobnb_cli(*args: str) -> subprocess.CompletedProcess:
        return jobnb_command(*args, *options, cwd=tmp_path, env=env)

    def shown(job: str) -> dict:
        done = jobnb_cli("show", job, "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    ids = submit_from_another_process(tmp_path, env)
    assert jobnb.__version__  # (the commands run this tree's jobnb: PYTHONPATH above)

    # logs -f: every line once, in order, and it ends when the job ends
    followed = jobnb_cli("logs", "-f", "train")
    assert followed.returncode == 0, followed.stderr
    assert followed.stdout == "".join(f"line {i:04d} of the training log\n" for i in range(120))
    assert f"job {ids['train']} (train) finished in" in followed.stderr
    assert jobnb_cli("logs", ids["train"]).stdout == followed.stdout

    # wait: 0 when all finished, 1 when one failed
    assert jobnb_cli("wait", ids["train"]).returncode == 0
    waited = jobnb_cli("wait", "train", "broken")
    assert waited.returncode == 1
    assert f"job {ids['broken']} (broken) failed: ValueError: bad input 42" in waited.stdout
    assert f"job {ids['train']} (train) finished in" in waited.stdout

    # show
    broken = shown("broken")
    assert broken["id"] == ids["broken"] and broken["status"] == "failed"
    assert "ValueError: bad input 42" in broken["error"] and broken["description"] == "broken()"
    assert broken["finished_epoch"] >= broken["started_epoch"] >= broken["submitted_epoch"]
    assert broken["finished"].endswith("+00:00")
    text = jobnb_cli("show", ids["train"]).stdout
    assert f"job {ids['train']} (train)" in text and "status:       finished" in text
    assert "progress:     [120/120] line 119" in text and "runs:         train(120)" in text

    # cancel reaches a running job; forget refuses it while it runs
    eventually(lambda: shown("sleeper")["status"] == "running", timeout=30)
    # wait: 2 when --timeout passed first, naming the jobs still running (not a failure)
    timed_out = jobnb_cli("wait", "train", "sleeper", "--timeout", "0.5")
    assert timed_out.returncode == 2, timed_out.stderr
    still = (
        f"jobnb wait: not ended after 0.5 s (the jobs go on): {ids['sleeper']} (sleeper) running"
    )
    assert timed_out.stderr.strip().endswith(still)
    assert f"job {ids['train']} (train) finished in" in timed_out.stdout
    failed_too = jobnb_cli("wait", "broken", "sleeper", "--timeout", "0.5")
    assert failed_too.returncode == 1 and still in failed_too.stderr  # a failure wins
    refused = jobnb_cli("forget", "sleeper")
    assert refused.returncode == 1 and "jobnb forget:" in refused.stderr
    cancelled = jobnb_cli("cancel", "sleeper")
    assert cancelled.returncode == 0, cancelled.stderr
    assert f"cancelled {ids['sleeper']} (sleeper) (it was running)" in cancelled.stdout
    eventually(lambda: shown("sleeper")["status"] == "cancelled", timeout=30)
    assert shown("sleeper")["cancelled_by"].endswith("via jobnb cancel")
    again = jobnb_cli("cancel", ids["sleeper"])
    assert "had already ended: cancelled" in again.stdout

    # ls: the table and the JSON
    listed = jobnb_cli("ls", "--json")
    assert listed.returncode == 0, listed.stderr
    document = json.loads(listed.stdout)
    assert [row["name"] for row in document["jobs"]] == ["sleeper", "broken", "train"]
    assert set(document["jobs"][0]) >= set(jobnb.history.JOBS_DF_COLUMNS)
    assert document["counts"] == {
        "waiting": 0, "queued": 0, "running": 0, "finished": 1, "failed": 1,
        "cancelled": 1, "lost": 0,
    }  # fmt: skip
    table = jobnb_cli("ls").stdout
    assert re.search(rf"^{ids['broken']}\s+broken\s+failed\s", table, re.M)
    assert "ValueError: bad input 42" in table
    assert table.rstrip().endswith("3 jobs: 1 finished, 1 failed, 1 cancelled")
    assert jobnb_cli("ls", "-s", "failed", "-n", "1").stdout.count(ids["broken"]) == 1

    # unknown ids are named, exit 1, nothing done
    missing = jobnb_cli("cancel", "train", "no-such-job")
    assert missing.returncode == 1 and "no job has the id or name 'no-such-job'" in missing.stderr
    for command in ("show", "logs", "wait", "forget"):
        done = jobnb_cli(command, "no-such-job")
        assert done.returncode == 1, command
        assert f"jobnb {command}: no job has the id or name 'no-such-job'" in done.stderr

    # forget, prune
    assert jobnb_cli("forget", "broken").stdout == f"forgot {ids['broken']}\n"
    assert jobnb_cli("show", ids["broken"]).returncode == 1
    pruned = jobnb_cli("prune", "--older-than", "0", "--status", "finished")
    assert pruned.returncode == 0 and pruned.stdout.startswith("deleted 1 finished job ")
    names = [row["name"] for row in json.loads(jobnb_cli("ls", "--json").stdout)["jobs"]]
    assert names == ["sleeper"]


def test_logs_f_of_a_log_whose_middle_is_dropped(store, tmp_path):
    """A store keeping 1 KiB of the log: ``logs -f`` prints what it could, each line
    once, in order, and says how much was dropped before it could print it."""
    options, env = store
    env = {**env, "JOBNB_LOG_BYTES_KEPT": "1024"}
    ids = submit_from_another_process(tmp_path, env, "train")
    followed = jobnb_command("logs", "-f", ids["train"], *options, cwd=tmp_path, env=env)
    assert followed.returncode == 0, followed.stderr
    printed = [
        int(n) for n in re.findall(r"^line (\d{4}) of the training log$", followed.stdout, re.M)
    ]
    assert printed == sorted(set(printed)) and printed[0] == 0 and printed[-1] == 119
    kept = jobnb_command("logs", ids["train"], *options, cwd=tmp_path, env=env).stdout
    assert "bytes of log dropped here" in kept
    if len(printed) < 120:  # (a follower quicker than the job prints it all)
        assert NOTE.search(followed.stdout)


# --- add_done_callback ----------------------------------------------------------------------
def _nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def test_done_callbacks_run_once_on_every_backend(backend, caplog):
    called: list[tuple[str, str]] = []

    def failing(job) -> None:
        raise RuntimeError("a callback's own bug")

    job = jobnb.submit(_nap, 0.5)
    job.add_done_callback(lambda j: called.append(("first", j.status.value)))
    job.add_done_callback(failing)
    job.add_done_callback(lambda j: called.append(("second", j.result())))
    with caplog.at_level(logging.ERROR, logger="jobnb"):
        job.wait(timeout=60)
        eventually(lambda: len(called) == 2, timeout=10)
    assert called == [("first", "finished"), ("second", 0.5)]
    assert any(
        job.id in r.getMessage() and "a callback's own bug" in r.exc_text for r in caplog.records
    )
    job.add_done_callback(lambda j: called.append(("late", j.id)))  # ended: at once
    assert called[-1] == ("late", job.id)
    broken = jobnb.submit(_nap, "not seconds")
    ended = []
    broken.add_done_callback(lambda j: ended.append(j.status.value))
    eventually(lambda: ended, timeout=60)
    time.sleep(0.6)  # two more rounds of the watcher: still called once
    assert ended == ["failed"] and len(called) == 3


def test_a_notebooks_shell_command_gets_plain_lines_though_it_runs_on_a_pty(monkeypatch):
    """IPython runs ``!jobnb run`` on a pseudo-terminal, but the cell's output cannot be
    redrawn: a live bar there would leave a line per redraw, escapes and all."""
    from jobnb.cli import progress

    leader, follower = os.openpty()
    with os.fdopen(follower, "w") as tty:
        try:
            monkeypatch.delenv("JPY_PARENT_PID", raising=False)
            assert isinstance(progress.display(tty), progress.TerminalDisplay)
            monkeypatch.setenv("JPY_PARENT_PID", "1")  # (what a kernel's children have)
            assert isinstance(progress.display(tty), progress.PlainDisplay)
        finally:
            os.close(leader)
