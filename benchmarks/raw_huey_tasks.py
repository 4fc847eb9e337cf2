"""Raw Huey, for benchmarks/run.py: a SqliteHuey with default settings and its tasks.

The consumer runs as ``huey_consumer raw_huey_tasks.huey -w 2 -k thread`` from this
folder; the queue file comes from RAW_HUEY_DB.
"""

import os
import time

from huey import SqliteHuey

huey = SqliteHuey(filename=os.environ.get("RAW_HUEY_DB", "raw_huey.db"))


@huey.task()
def noop(*_args):
    return 0  # not None: Huey does not store None results, and get() would wait forever


@huey.task()
def nbytes(array):
    return array.nbytes


@huey.task()
def started_at():
    return time.time()
