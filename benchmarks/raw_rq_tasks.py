"""Raw RQ, for benchmarks/run.py: the tasks its SimpleWorkers import (from this folder)."""


def noop(*_args):
    return 0


def nbytes(array):
    return array.nbytes
