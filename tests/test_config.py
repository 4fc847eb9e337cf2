"""Settings precedence: configure() > environment > jobnb.toml [worker] > defaults."""

from __future__ import annotations

import threading
import time

import pytest

import jobnb


def test_defaults_with_nothing_configured():
    settings = jobnb.settings()
    assert settings.backend == "huey"
    assert settings.workers == 2
    assert settings.redis_url is None


def test_jobnb_toml_takes_the_seeds_worker_section(tmp_path):
    (tmp_path / "jobnb.toml").write_text(
        '[worker]\ntype = "thread"\nworkers = 3\nredis_ip = "10.0.0.5"\nredis_port = 6380\n'
    )
    settings = jobnb.settings()
    assert settings.backend == "thread"
    assert settings.workers == 3
    assert settings.redis_url == "redis://10.0.0.5:6380/0"
    assert jobnb.submit(lambda: 1).backend == "thread"


def test_the_seeds_process_name_is_an_alias(tmp_path):
    (tmp_path / "jobnb.toml").write_text('[worker]\ntype = "process"\n')
    assert jobnb.settings().backend == "subprocess"


def test_environment_beats_the_file_and_configure_beats_both(tmp_path, monkeypatch):
    (tmp_path / "jobnb.toml").write_text('[worker]\ntype = "thread"\nworkers = 3\n')
    monkeypatch.setenv("JOBNB_BACKEND", "subprocess")
    assert jobnb.settings().backend == "subprocess"
    assert jobnb.settings().workers == 3  # the file still gives what the environment does not
    jobnb.configure("thread", workers=1)
    assert (jobnb.settings().backend, jobnb.settings().workers) == ("thread", 1)


def test_a_changed_file_is_read_again(tmp_path):
    assert jobnb.settings().backend == "huey"
    (tmp_path / "jobnb.toml").write_text('[worker]\ntype = "thread"\n')
    assert jobnb.settings().backend == "thread"


def test_an_unknown_backend_lists_the_known_ones(tmp_path, monkeypatch):
    with pytest.raises(jobnb.ConfigError) as info:
        jobnb.configure("celery")
    assert str(info.value) == (
        "unknown backend 'celery'; the known backends are: thread, subprocess (or process), huey, "
        "rq (or redis)"
    )
    assert jobnb.settings().backend == "huey"  # a refused configure changes nothing
    monkeypatch.setenv("JOBNB_BACKEND", "nope")
    with pytest.raises(jobnb.ConfigError, match="unknown backend 'nope'"):
        jobnb.submit(print)


def test_bad_files_and_values_are_explained(tmp_path):
    config = tmp_path / "jobnb.toml"
    config.write_text('[worker]\ntype = "thread"\nthreads = 4\n')
    with pytest.raises(jobnb.ConfigError, match=r"unknown key\(s\) threads in \[worker\]"):
        jobnb.settings()
    config.write_text("[worker\n")
    with pytest.raises(jobnb.ConfigError, match="cannot read .*jobnb.toml"):
        jobnb.settings()
    config.unlink()
    with pytest.raises(jobnb.ConfigError, match="workers must be at least 1"):
        jobnb.configure(workers=0)
    with pytest.raises(jobnb.ConfigError, match="workers must be a whole number"):
        jobnb.configure(workers="many")
    with pytest.raises(jobnb.ConfigError, match="unknown setting"):
        jobnb.configure(colour="blue")
    with pytest.raises(jobnb.ConfigError, match="result_ttl must be a number of seconds"):
        jobnb.configure(result_ttl="a day")
    with pytest.raises(jobnb.ConfigError, match="result_ttl must be positive"):
        jobnb.configure(result_ttl=0)
    assert isinstance(jobnb.ConfigError("x"), ValueError)


def test_a_job_keeps_its_backend_after_configure_switches(tmp_path):
    jobnb.configure("thread")
    first = jobnb.submit(lambda: "on thread")
    jobnb.configure("subprocess")
    second = jobnb.submit(lambda: "on subprocess")
    assert first.result(timeout=30) == "on thread"
    assert second.result(timeout=30) == "on subprocess"
    assert {j.backend for j in jobnb.jobs()} == {"thread", "subprocess"}
    assert jobnb.get(first.id).backend == "thread"


def test_a_setting_the_backend_does_not_take_keeps_its_pool_and_its_jobs(tmp_path):
    jobnb.configure("thread", workers=1)
    started, release = threading.Event(), threading.Event()

    def hold():
        started.set()
        release.wait(30)
        return "held"

    first = jobnb.submit(hold)
    assert started.wait(30)
    jobnb.configure(redis_url="redis://127.0.0.1:1/0", home=str(tmp_path / "elsewhere"))
    second = jobnb.submit(lambda: "second")
    time.sleep(0.5)
    # one pool of one thread, still busy with the first job: the second waits its turn
    assert second.status is jobnb.JobStatus.QUEUED
    assert first.status is jobnb.JobStatus.RUNNING
    release.set()
    assert (first.result(timeout=30), second.result(timeout=30)) == ("held", "second")
    jobnb.configure(workers=2)  # a setting it takes: a new backend, the old jobs kept
    assert jobnb.submit(lambda: "third").result(timeout=30) == "third"
    assert len(jobnb.jobs()) == 3
