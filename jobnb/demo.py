"""``jobnb demo``: the README's quick start, run headless on the configured backend.

It shows what a notebook user sees, in text: a job that prints and reports progress,
a map over several inputs, and a failing job whose traceback is kept.
"""

from __future__ import annotations

import time

from . import api
from .exceptions import JobnbError
from .worker.reporting import progress


def slow_square(x: int, steps: int = 5) -> int:
    """A stand-in for a long computation: prints and reports progress as it goes."""
    for step in range(steps):
        time.sleep(0.1)
        progress(step + 1, steps, f"step {step + 1} of {steps}")
    print(f"the square of {x} is {x * x}")
    return x * x


def divide(a: float, b: float) -> float:
    return a / b


def main(echo=print) -> int:
    settings = api.settings()
    echo(f"jobnb demo on the {settings.backend!r} backend ({settings.workers} workers)\n")

    job = api.options(name="square-7").submit(slow_square, 7)
    echo(f"submitted: {job!r}  (the prompt is back at once)")
    while not job.done():
        rec = job.record()
        message = rec.progress.message or rec.status.value
        echo(f"  {rec.status.value:<8} {message}")
        time.sleep(0.2)
    echo(f"result: {job.result()}   logs: {job.logs().strip()!r}\n")

    jobs = api.map(slow_square, range(1, 5))
    echo(f"map: {len(jobs)} jobs -> {[j.result(timeout=60) for j in jobs]}\n")

    failing = api.options(name="divide-by-zero").submit(divide, 1, 0)
    failing.wait(60)
    echo(f"a failing job: {failing!r}")
    echo("its traceback is kept in job.error:")
    echo("  " + failing.error.strip().replace("\n", "\n  "))
    try:
        failing.result()
    except ZeroDivisionError as exc:
        echo(f"job.result() re-raises it: {type(exc).__name__}: {exc}\n")

    frame = api.jobs_df()
    echo(frame[["id", "name", "status", "duration", "worker"]].to_string(index=False))
    if settings.backend == "huey":
        echo(
            f"\nthe jobs ran on a jobnb worker serving {settings.home}/; it exits after 10 "
            "idle minutes (now: jobnb worker --stop)"
        )
    ok = job.result() == 49 and failing.status.value == "failed"
    echo("\ndemo finished: everything worked" if ok else "\ndemo FAILED")
    return 0 if ok else 1


if __name__ == "__main__":  # pragma: no cover
    try:
        raise SystemExit(main())
    except JobnbError as exc:
        raise SystemExit(f"jobnb demo: {exc}") from None
