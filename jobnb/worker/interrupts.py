"""The exceptions that stop a running job from outside (cancel, timeout)."""

from __future__ import annotations


class Interrupted(BaseException):
    """Raised inside a job to stop it. A BaseException, so ``except Exception`` in the
    job's code does not swallow it."""


class CancelInterrupt(Interrupted):
    pass


class TimeoutInterrupt(Interrupted):
    pass
