"""No secret on a command line or in what jobnb prints (issue 14).

A command line is for every local user to see (``ps``, ``/proc/<pid>/cmdline``): the
Redis password must reach the processes jobnb starts (rq's worker processes, the huey
worker, the subprocess pool, a notebook's kernel) through their environment, never
their argv. And every URL jobnb prints, parseable or not, shows ``***`` for its
password: in errors, ``repr(settings)``, the worker's banner and ``--status``.

The server here has a password with every character a URL must encode (``#/?@``), and
none of the servers' own command lines holds it (it is set with CONFIG SET), so that
every command line on the machine can be searched for it.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from conftest import eventually, start_redis_server, stop_process

import jobnb
from jobnb.backends.redis_connection import check_url, connect, redacted

NOTEBOOKS = Path(__file__).parent / "notebooks"
PASSWORD = "s3cr#t/pw?x@" + secrets.token_hex(4)  # unique: no other process holds it
ENCODED = quote(PASSWORD, safe="")
SECRET_KEY = "key-" + secrets.token_hex(8)  # JOBNB_SECRET_KEY's value: no argv holds it either
SECRETS = (PASSWORD, ENCODED, SECRET_KEY)


@pytest.fixture(scope="module")
def locked_server(tmp_path_factory):
    """A redis-server that wants PASSWORD (given after it started, not on its command
    line), and the URL with the password encoded in it."""
    server, url = start_redis_server(tmp_path_factory.mktemp("locked"))
    redis.Redis.from_url(url).config_set("requirepass", PASSWORD)
    yield url.replace("redis://", f"redis://:{ENCODED}@")
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture
def locked_url(locked_server, monkeypatch):
    """The password URL; JOBNB_SECRET_KEY set, as for signed messages; emptied after."""
    monkeypatch.setenv("JOBNB_SECRET_KEY", SECRET_KEY)
    yield locked_server
    redis.Redis.from_url(locked_server).flushdb()


def command_lines() -> dict[int, str]:
    """Every process's command line on this machine, as ``ps`` shows it to any user."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue  # ended meanwhile
    return {pid: line.decode(errors="replace") for pid, line in found.items()}


def assert_no_secret_in_any_command_line(but: tuple[int, ...] = ()) -> None:
    leaks = {
        pid: line
        for pid, line in command_lines().items()
        if pid not in but and any(secret in line for secret in SECRETS)
    }
    assert not leaks, f"a secret in the command line of {leaks}"


def assert_shows_no_secret(text: str) -> None:
    for secret in (PASSWORD, ENCODED, SECRET_KEY):
        assert secret not in text


def start_worker(*arguments: str, cwd: Path, env: dict | None = None) -> subprocess.Popen:
    """``jobnb worker ...``, its stdout and stderr kept in cwd/worker.out."""
    out = open(cwd / "worker.out", "ab")  # noqa: SIM115 - the worker's, till it ends
    return subprocess.Popen(
        [sys.executable, "-m", "jobnb.cli", "worker", *arguments],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=out,
        stderr=subprocess.STDOUT,
    )


def jobnb_command(*arguments: str, cwd: Path, env: dict | None = None):
    return subprocess.run(
        [sys.executable, "-m", "jobnb.cli", *arguments],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def rq_workers(url: str) -> int:
    from rq import Worker

    return len(Worker.all(connection=redis.Redis.from_url(url)))


def running_notebook(tmp_path: Path):
    """A notebook job whose kernel runs (sleeping), once its kernel is up."""
    notebook = Path(shutil.copy(NOTEBOOKS / "sleeper.ipynb", tmp_path / "sleeper.ipynb"))
    pid_file = tmp_path / "kernel.pid"
    job = jobnb.submit_notebook(notebook, {"pid_file": str(pid_file)})
    eventually(lambda: pid_file.exists() and pid_file.read_text(), timeout=90)
    return job


def url_file(folder: Path, url: str, line: str = "{url}") -> Path:
    path = folder / "redis.env"
    path.write_text("\n" + line.format(url=url) + "\n")
    path.chmod(0o600)
    return path


# --- no password in a command line -------------------------------------------------------
@pytest.mark.parametrize("given", ["environment", "url-file"])
def test_rq_supervisor_its_workers_and_a_kernel_hold_no_secret_in_argv(
    given, locked_url, tmp_path, monkeypatch
):
    if given == "environment":
        worker = start_worker(
            "--backend", "rq", "-w", "2", cwd=tmp_path, env={"JOBNB_REDIS_URL": locked_url}
        )
    else:
        path = url_file(tmp_path, locked_url, "JOBNB_REDIS_URL={url}")
        worker = start_worker("--backend", "rq", "-w", "2", "--url-file", str(path), cwd=tmp_path)
    try:
        eventually(lambda: rq_workers(locked_url) == 2, timeout=30)
        jobnb.configure("rq", redis_url=locked_url)
        job = running_notebook(tmp_path)  # its kernel is a grandchild of a worker
        assert_no_secret_in_any_command_line()
        job.cancel()
    finally:
        stop_process(worker)
    printed = (tmp_path / "worker.out").read_text()
    assert "serving default at redis://:***@127.0.0.1" in printed  # the banner, redacted
    assert "password" not in printed  # no warning: the URL was not given on the command line
    assert_shows_no_secret(printed)


def test_a_password_given_with_url_warns_once_and_reaches_no_child_argv(locked_url, tmp_path):
    worker = start_worker("--backend", "rq", "-w", "2", "--url", locked_url, cwd=tmp_path)
    try:
        eventually(lambda: rq_workers(locked_url) == 2, timeout=30)
        assert_no_secret_in_any_command_line(but=(worker.pid,))  # the user's own choice
    finally:
        stop_process(worker)
    printed = (tmp_path / "worker.out").read_text()
    assert printed.count("shows in `ps`") == 1 and "--url-file" in printed
    assert "JOBNB_REDIS_URL" in printed
    assert_shows_no_secret(printed)


@pytest.mark.parametrize("given", ["environment", "url-file"])
def test_a_huey_worker_on_a_redis_home_and_its_kernels_hold_no_secret_in_argv(
    given, locked_url, tmp_path
):
    if given == "environment":
        worker = start_worker("-w", "2", cwd=tmp_path, env={"JOBNB_HOME": locked_url})
    else:
        worker = start_worker(
            "-w", "2", "--url-file", str(url_file(tmp_path, locked_url)), cwd=tmp_path
        )
    try:
        jobnb.configure("huey", home=locked_url)
        from jobnb.backends.huey_presence import live_workers

        records = jobnb.api.get_backend().records_store
        eventually(lambda: any(f"pid {worker.pid}" in w for w in live_workers(records)))
        job = running_notebook(tmp_path)
        assert_no_secret_in_any_command_line()
        job.cancel()
    finally:
        stop_process(worker)
    printed = (tmp_path / "worker.out").read_text()
    assert "serving redis://:***@127.0.0.1" in printed
    assert_shows_no_secret(printed)


@pytest.mark.parametrize("backend", ["huey", "subprocess"])
def test_the_processes_a_kernel_starts_hold_no_secret_in_argv(
    backend, locked_url, tmp_path, monkeypatch
):
    """The auto-started huey worker (SQLite home) and the subprocess pool, from a
    kernel whose environment holds the password URL (for rq) and the key."""
    monkeypatch.setenv("JOBNB_REDIS_URL", locked_url)
    jobnb.configure(backend)
    job = running_notebook(tmp_path)
    assert_no_secret_in_any_command_line()
    job.cancel()
    job.wait(30)


# --- redaction ---------------------------------------------------------------------------
SHAPES = [
    "redis://:{p}@host:6379/0",
    "redis://user:{p}@host",
    "redis://:{p}@host",
    "rediss://user:{p}@host:6380/1",
    "unix://:{p}@/run/redis.sock?db=0",
    "redis//:{p}@host",  # no scheme://: garbage, still redacted
    "{p}@host:6379",
]
RAW_PASSWORDS = ["p#ss", "pa/ss", "pa?ss", "p@ss@word", "plain", PASSWORD]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("password", RAW_PASSWORDS)
def test_redacted_hides_the_password_of_any_url(shape, password):
    for written in (password, quote(password, safe="")):
        url = shape.format(p=written)
        shown = redacted(url)
        assert written not in shown and "***" in shown
        assert shown.endswith(url.rpartition("@")[2])  # the server still shows
        try:
            check_url(url)
        except jobnb.ConfigError as exc:
            assert written not in str(exc) and password not in str(exc)


def test_redacted_keeps_the_user_and_leaves_a_url_without_password_alone():
    assert redacted("redis://alice:pa/ss@host:6379/0") == "redis://alice:***@host:6379/0"
    assert redacted("redis://host:6379/0") == "redis://host:6379/0"
    assert redacted("unix:///run/redis.sock?db=0") == "unix:///run/redis.sock?db=0"


@pytest.mark.parametrize("password", ["p#ss", "pa/ss", "pa?ss"])
def test_an_unencoded_password_is_refused_saying_how_to_encode_it(password):
    url = f"redis://:{password}@host:6379/0"
    with pytest.raises(jobnb.ConfigError, match="percent-encode") as error:
        check_url(url)
    assert password not in str(error.value) and "redis://:***@host:6379/0" in str(error.value)


def test_a_url_redis_py_cannot_read_is_a_config_error_that_shows_no_password():
    with pytest.raises(jobnb.ConfigError, match="Invalid value for 'db'") as error:
        connect("redis://:pw-xyz@127.0.0.1:1/0?db=x")
    assert "pw-xyz" not in str(error.value) and "redis://:***@127.0.0.1:1/0?db=x" in str(
        error.value
    )


def test_a_value_that_is_no_url_is_not_shown():
    """A password given where the URL goes (a common slip) is not printed back."""
    with pytest.raises(jobnb.ConfigError, match="is not a Redis URL") as error:
        check_url("hunter2-secret")
    assert "hunter2" not in str(error.value)


@pytest.mark.parametrize("shape", SHAPES)
def test_settings_repr_hides_the_password(shape):
    url = shape.format(p="p#ss/x")
    jobnb.configure("rq", redis_url=url, home=url)
    assert "p#ss/x" not in repr(jobnb.settings()) and "***" in repr(jobnb.settings())
    for backend in ("rq", "huey"):  # the options a backend is made of, and known by
        options = repr(jobnb.settings().backend_options(backend))
        assert "p#ss/x" not in options and "***" in options


def test_submit_without_a_worker_suggests_no_password_on_a_command_line(locked_url):
    jobnb.configure("rq", redis_url=locked_url)
    with pytest.warns(jobnb.JobnbWarning) as warned:
        jobnb.submit(sum, [1, 2])
    message = str(warned[0].message)
    assert "JOBNB_REDIS_URL=" in message and "--url-file" in message
    assert "--url " not in message
    assert_shows_no_secret(message)


def test_a_huey_redis_submit_without_a_worker_suggests_no_password_on_a_command_line(locked_url):
    jobnb.configure("huey", home=locked_url)
    with pytest.warns(jobnb.JobnbWarning) as warned:
        jobnb.submit(sum, [1, 2])
    message = str(warned[0].message)
    assert "JOBNB_HOME=" in message and "--url-file" in message and "--url " not in message
    assert_shows_no_secret(message)


# --- jobnb worker --status, --url-file ---------------------------------------------------
@pytest.mark.parametrize("backend", ["rq", "huey"])
def test_status_shows_no_password_however_the_url_is_given(backend, locked_url, tmp_path):
    variable = "JOBNB_REDIS_URL" if backend == "rq" else "JOBNB_HOME"
    ways = [
        (["--url", locked_url], {}),
        (["--url-file", str(url_file(tmp_path, locked_url))], {}),
        ([], {variable: locked_url}),
    ]
    if backend == "huey":
        ways.append((["--home", locked_url], {}))
    for arguments, env in ways:
        done = jobnb_command(
            "worker", "--backend", backend, "--status", *arguments, cwd=tmp_path, env=env
        )
        assert done.returncode == 1, done.stderr  # no worker serves it
        assert "redis://:***@127.0.0.1" in done.stdout
        assert_shows_no_secret(done.stdout + done.stderr)


def test_status_with_a_wrong_password_shows_neither(locked_url, tmp_path):
    wrong = locked_url.replace(ENCODED, quote("wr0ng#pw/zz", safe=""))
    done = jobnb_command(
        "worker", "--backend", "rq", "--status", cwd=tmp_path, env={"JOBNB_REDIS_URL": wrong}
    )
    assert done.returncode == 1 and "refused the password" in done.stderr
    assert "wr0ng" not in done.stderr and "***" in done.stderr


def test_url_file_takes_the_first_line_with_text(locked_url, tmp_path):
    path = url_file(tmp_path, locked_url, "# the jobnb server\n\n  {url}  \nredis://other")
    done = jobnb_command(
        "worker", "--backend", "rq", "--status", "--url-file", str(path), cwd=tmp_path
    )
    assert done.returncode == 1 and "0 RQ worker(s) at redis://:***@127.0.0.1" in done.stdout


def test_a_url_file_others_can_read_is_used_with_a_warning(locked_url, tmp_path):
    path = url_file(tmp_path, locked_url)
    path.chmod(0o644)
    done = jobnb_command(
        "worker", "--backend", "rq", "--status", "--url-file", str(path), cwd=tmp_path
    )
    assert done.returncode == 1 and "0 RQ worker(s)" in done.stdout
    assert f"{path} can be read by other users (mode 0644)" in done.stderr
    assert f"chmod 600 {path}" in done.stderr
    path.chmod(0o600)
    assert (
        "chmod"
        not in jobnb_command(
            "worker", "--backend", "rq", "--status", "--url-file", str(path), cwd=tmp_path
        ).stderr
    )


@pytest.mark.parametrize("content", [None, "", "\n  \n", "hunter2-not-a-url"])
def test_a_url_file_without_a_url_is_a_clear_error_that_shows_no_content(content, tmp_path):
    path = tmp_path / "redis.env"
    if content is not None:
        path.write_text(content)
    done = jobnb_command(
        "worker", "--backend", "rq", "--status", "--url-file", str(path), cwd=tmp_path
    )
    assert done.returncode == 2
    assert str(path) in done.stderr and "Traceback" not in done.stderr
    assert "hunter2" not in done.stderr


def test_url_and_url_file_together_are_refused(tmp_path):
    done = jobnb_command(
        "worker",
        "--url",
        "redis://h",
        "--url-file",
        str(url_file(tmp_path, "redis://h")),
        cwd=tmp_path,
    )
    assert done.returncode == 2 and "not allowed with" in done.stderr


def test_help_says_where_the_url_comes_from_first(tmp_path):
    shown = " ".join(jobnb_command("worker", "--help", cwd=tmp_path).stdout.split())
    assert "--url-file" in shown and "JOBNB_REDIS_URL" in shown and "JOBNB_HOME" in shown
    assert "ps" in shown  # why not --url with a password
