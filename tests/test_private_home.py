"""A jobnb home only its user controls (issue 14): a home, or a file in it, that another
user owns or can write, or a symlink planted there, is refused with a message naming it,
its owner and mode, and the fix; a fresh home is 0700 and its files 0600 whatever the
umask; ``jobnb worker --stop`` signals only a jobnb worker of that home.

The tests run as root, so they can hand a folder to ``nobody``, as another local user
would have made it.
"""

from __future__ import annotations

import fcntl
import os
import pwd
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

import jobnb
from jobnb.backends.huey_worker import stop_worker, worker_pid

NOBODY = pwd.getpwnam("nobody").pw_uid
ME = pwd.getpwuid(os.geteuid()).pw_name


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def submit_to(home: Path):
    jobnb.configure("huey", home=str(home))
    return jobnb.submit(pow, 7, 2)


def worker_command(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``jobnb worker ARGS`` as a user runs it, importing this tree."""
    return subprocess.run(
        [sys.executable, "-m", "jobnb.cli", "worker", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(Path(jobnb.__file__).parent.parent)},
    )


@pytest.fixture
def others_home(tmp_path) -> Path:
    """A home folder another user (nobody) made, open to all as a shared folder is."""
    home = tmp_path / "shared" / ".jobnb"
    home.mkdir(parents=True)
    os.chmod(home, 0o755)
    os.chown(home, NOBODY, -1)
    return home


def test_a_home_owned_by_another_user_is_refused_by_the_kernel(others_home):
    with pytest.raises(jobnb.UnsafeHome) as refused:
        submit_to(others_home)
    message = str(refused.value)
    assert str(others_home) in message
    assert f"nobody (uid {NOBODY})" in message
    assert "0755" in message
    assert "JOBNB_HOME" in message and f"chmod 700 {others_home}" in message
    assert not (others_home / "jobs.db").exists()  # nothing written there


def test_the_worker_command_refuses_a_home_owned_by_another_user(others_home, tmp_path):
    done = worker_command("--home", str(others_home), "--idle-exit", "2", cwd=tmp_path)
    assert done.returncode != 0
    assert f"{others_home} is owned by nobody (uid {NOBODY})" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (others_home / "worker.lock").exists()


def test_a_records_file_owned_by_another_user_is_refused(tmp_path):
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    sqlite3.connect(home / "jobs.db").close()
    os.chown(home / "jobs.db", NOBODY, -1)
    with pytest.raises(jobnb.UnsafeHome) as refused:
        submit_to(home)
    message = str(refused.value)
    assert f"{home / 'jobs.db'} is owned by nobody (uid {NOBODY})" in message


def test_a_group_writable_home_is_refused(tmp_path):
    home = tmp_path / "project" / ".jobnb"
    home.mkdir(parents=True)
    os.chmod(home, 0o775)
    with pytest.raises(jobnb.UnsafeHome) as refused:
        submit_to(home)
    message = str(refused.value)
    assert f"{home} is writable by its group" in message
    assert f"owner {ME}" in message and "mode 0775" in message
    assert f"chmod 700 {home}" in message
    assert mode(home) == 0o775  # refused, not changed behind the user's back


def test_a_home_that_is_a_symlink_is_refused(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    home = tmp_path / ".jobnb"
    home.symlink_to(elsewhere)
    with pytest.raises(jobnb.UnsafeHome) as refused:
        submit_to(home)
    assert f"{home} is a symbolic link (to {elsewhere})" in str(refused.value)
    assert list(elsewhere.iterdir()) == []


def test_a_planted_worker_log_symlink_is_refused_and_not_followed(tmp_path):
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched\n")
    (home / "worker.log").symlink_to(victim)
    with pytest.raises(jobnb.UnsafeHome) as refused:
        submit_to(home)
    assert f"{home / 'worker.log'} is a symbolic link (to {victim})" in str(refused.value)
    assert victim.read_text() == "untouched\n"


def test_a_symlink_planted_after_the_home_was_checked_is_not_followed(tmp_path):
    home = tmp_path / "home"
    job = submit_to(home)
    assert job.result(timeout=60) == 49
    stop_worker(home, grace=0)
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched\n")
    (home / "worker.log").unlink()
    (home / "worker.log").symlink_to(victim)
    with pytest.raises(jobnb.UnsafeHome) as refused:
        for _ in range(40):  # the kernel looks for its worker at most once a second
            jobnb.submit(pow, 2, 2)
            time.sleep(0.1)
    assert f"{home / 'worker.log'} is a symbolic link" in str(refused.value)
    assert victim.read_text() == "untouched\n"


def test_under_umask_000_a_fresh_home_is_0700_and_its_files_0600(tmp_path):
    home = tmp_path / "fresh"
    old = os.umask(0)
    try:
        job = submit_to(home)
        assert job.result(timeout=60) == 49
        assert worker_pid(home)
        modes = {path.name: mode(path) for path in home.iterdir()}
    finally:
        os.umask(old)
        stop_worker(home, grace=0)
    assert mode(home) == 0o700
    for name in (
        "jobs.db",
        "jobs.db-wal",
        "jobs.db-shm",
        "worker.log",
        "worker.lock",
        "secret.key",
        "worker.wake",  # the worker's wake-up socket (huey_wakeup.py)
    ):
        assert modes.pop(name) == 0o600, name
    assert modes == {}  # no other file was made there


def test_an_old_home_readable_by_others_is_tightened(tmp_path):
    home = tmp_path / "old"
    home.mkdir()
    os.chmod(home, 0o755)  # as an older jobnb, or a umask of 022, made it
    sqlite3.connect(home / "jobs.db").close()
    os.chmod(home / "jobs.db", 0o644)
    assert submit_to(home).result(timeout=60) == 49
    stop_worker(home, grace=0)
    assert mode(home) == 0o700
    assert mode(home / "jobs.db") == 0o600


def test_stop_refuses_a_pid_that_is_not_the_worker_of_the_home(tmp_path):
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        # a lock file held by some process, naming another one: what a user who could
        # write it would leave there
        with open(home / "worker.lock", "w") as lock:
            os.chmod(home / "worker.lock", 0o600)
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            lock.write(str(bystander.pid))
            lock.flush()
            done = worker_command("--home", str(home), "--stop", "--grace", "0", cwd=tmp_path)
        assert done.returncode != 0
        assert f"pid {bystander.pid}" in done.stderr
        assert f"not the jobnb worker of {home}" in done.stderr
        assert "nothing was stopped" in done.stderr
        assert "Traceback" not in done.stderr
        assert bystander.poll() is None  # alive
    finally:
        bystander.kill()
        bystander.wait()


def test_stop_still_stops_the_worker_of_the_home(tmp_path):
    home = tmp_path / "home"
    assert submit_to(home).result(timeout=60) == 49
    pid = worker_pid(home)
    assert pid
    done = worker_command("--home", str(home), "--stop", "--grace", "0", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"stopped the worker of {home} (pid {pid})" in done.stdout
    assert worker_pid(home) is None


def test_a_redis_queue_worker_refuses_a_local_home_folder_owned_by_another_user(
    tmp_path, redis_url
):
    local = tmp_path / ".jobnb"  # where a Redis queue's worker keeps this machine's files
    local.mkdir()
    os.chown(local, NOBODY, -1)
    done = worker_command("--url", redis_url, "--idle-exit", "2", cwd=tmp_path)
    assert done.returncode != 0
    assert f"{local} is owned by nobody (uid {NOBODY})" in done.stderr
    assert "Traceback" not in done.stderr
    assert "serving" not in done.stdout
