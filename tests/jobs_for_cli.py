"""Submits the jobs tests/test_cli_jobs.py drives with the ``jobnb`` command, from a
process of its own (as a notebook's kernel would), on the backend of the environment
(JOBNB_BACKEND, JOBNB_HOME, JOBNB_REDIS_URL); prints their ids as JSON and exits."""

from __future__ import annotations

import json
import sys
import time

import jobnb

LINES = 120  # lines "train" prints, a few at a time


def train(lines: int) -> int:
    for i in range(lines):
        print(f"line {i:04d} of the training log", flush=True)
        jobnb.progress(i + 1, lines, f"line {i}")
        if i % 10 == 9:
            time.sleep(0.15)  # a log that grows while it is followed
    return lines


def broken() -> None:
    print("about to fail", flush=True)
    raise ValueError("bad input 42")


def sleeper() -> None:
    print("sleeping", flush=True)
    time.sleep(120)


if __name__ == "__main__":
    wanted = sys.argv[1:] or ["train", "broken", "sleeper"]
    makers = {"train": (train, LINES), "broken": (broken,), "sleeper": (sleeper,)}
    ids = {}
    for name in wanted:
        fn, *args = makers[name]
        ids[name] = jobnb.options(name=name).submit(fn, *args).id
    print(json.dumps(ids))
