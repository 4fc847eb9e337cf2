"""RQ's serializer for jobnb's RQ jobs: RQ pickles a job's data (its target and
arguments), its meta and its result into Redis, and unpickles them in the worker and
the kernel; whoever could write that server could make them run code. This one signs
each pickle (payload/signing.py) and verifies it before loading it: RQ never loads
what fails (it ends that RQ job failed, and jobnb's sweep queues the jobnb job again,
rq_batches).

Every ``Queue``, ``Worker`` and ``Job.fetch`` jobnb makes is given one. A plain
``rq worker`` serving jobnb's queues needs it too:
``rq worker --serializer jobnb.backends.rq_serializer.SignedPickle``, with the key in its
environment (JOBNB_SECRET_KEY or JOBNB_SECRET_KEY_FILE).
"""

from __future__ import annotations

import functools
import pickle

from ..payload.signing import Signer
from .secret_key import redis_signer

#: what RQ's signatures are for (a jobnb payload's are for its job: see records/base.py)
CONTEXT = "rq"


class SignedPickle:
    """RQ's ``serializer`` protocol (``dumps``, ``loads``) as a class, which is what RQ's
    worker wants (it names it by module and qualname): pickles signed with the
    ``signer`` of ``with_signer``, or, on this class itself, with the key of the
    environment, found at first use (a plain ``rq worker --serializer ...``)."""

    _signer: Signer | None = None

    @classmethod
    @functools.cache  # one class per signer, however often a worker's loops ask for it
    def with_signer(cls, signer: Signer) -> type[SignedPickle]:
        """The serializer signing with ``signer``."""
        return type(cls.__name__, (cls,), {"_signer": signer, "__qualname__": cls.__qualname__})

    @classmethod
    def signer(cls) -> Signer:
        if cls._signer is None:
            cls._signer = redis_signer(None)
        return cls._signer

    @classmethod
    def dumps(cls, obj) -> bytes:
        return cls.signer().sign(pickle.dumps(obj, pickle.HIGHEST_PROTOCOL), CONTEXT)

    @classmethod
    def loads(cls, data):
        return pickle.loads(cls.signer().verify(data, CONTEXT, "an RQ job's data"))
