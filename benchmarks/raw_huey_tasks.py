"""Raw Huey, for benchmarks/run.py: a SqliteHuey with default settings and its tasks,
or a RedisHuey when RAW_HUEY_REDIS_URL is set (defaults, or ``notify_result=True``
when RAW_HUEY_NOTIFY is "1").

The consumer runs as ``huey_consumer raw_huey_tasks.huey -w 2 -k thread`` from this
folder; the queue file comes from RAW_HUEY_DB.
"""

import os
import time

from huey import RedisHuey, SqliteHuey

if os.environ.get("RAW_HUEY_REDIS_URL"):
    huey = RedisHuey(
        "raw",
        url=os.environ["RAW_HUEY_REDIS_URL"],
        notify_result=os.environ.get("RAW_HUEY_NOTIFY") == "1",
    )
else:
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
