"""Signatures of the bytes jobnb stores or sends and later unpickles (payloads, outcomes,
queue messages): loading a pickle runs code, so whoever can write where jobnb reads (a
Redis server, a home folder) could run code in the workers and in the kernels. Every
such blob is signed with an HMAC-SHA256 under a secret key (backends/secret_key.py says
where it comes from) and verified before anything unpickles it.

A signed blob is ``MAGIC + mac + data``, or the data with its signature ``MAGIC + mac``
kept apart (a Redis store: no copy of a big blob). The mac covers a *context* too, which
says what the bytes are for (``payload:<job id>``, ``outcome:<job id>``,
``huey-message``): a blob signed for one job cannot be swapped into another, so a job
never gets another job's payload and a kernel never another job's result.

A big blob (a 50 MB argument) is hashed in chunks on every core at once (``CHUNK``: the
SHA-256 of each; the HMAC then covers their list and the length), so that signing costs
a fraction of sending it; a small one is hashed in one pass.

Not signed (nobody else writes there): the thread backend's objects (in the kernel's
memory) and the pipes between a process and the children it started.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from concurrent.futures import ThreadPoolExecutor

from ..exceptions import SignatureMismatch

#: the first bytes of a signed blob: "jobnb signed, version 1"
MAGIC = b"JNS1"
#: bytes of the mac (SHA-256)
MAC_SIZE = hashlib.sha256().digest_size
#: a key shorter than this is refused: it could be guessed
MIN_KEY_BYTES = 16

#: bytes hashed apart on a thread each, in a blob bigger than one (SHA-256 releases the GIL)
CHUNK = 4 * 2**20

_HINT = "(was the key changed, or did someone else write to this server?)"
_hashers: ThreadPoolExecutor | None = None


def _chunk_digests(view: memoryview) -> bytes:
    """The SHA-256 of each ``CHUNK`` of ``view``, one after the other, hashed on threads."""
    global _hashers
    if _hashers is None:  # made once, when a blob this big is first signed
        _hashers = ThreadPoolExecutor(os.cpu_count() or 2, thread_name_prefix="jobnb-hash")
    starts = range(0, len(view), CHUNK)
    return b"".join(_hashers.map(lambda at: hashlib.sha256(view[at : at + CHUNK]).digest(), starts))


def _forget_hashers() -> None:
    global _hashers
    _hashers = None


# a forked child (a job's own multiprocessing) inherits the pool but not its threads: work
# given to it would wait for ever, so the child makes a pool of its own
os.register_at_fork(after_in_child=_forget_hashers)


class Signer:
    """Signs and verifies blobs under ``key`` (bytes). Its repr never shows the key."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) < MIN_KEY_BYTES:
            # the key itself is never said: only its length
            raise ValueError(
                f"a secret key needs at least {MIN_KEY_BYTES} bytes "
                f"(this one has {len(key) if isinstance(key, bytes | str) else 'none'})"
            )
        self._key = key

    def __repr__(self) -> str:
        return "Signer(key=<hidden>)"

    def _mac(self, data, context: str) -> bytes:
        mac = hmac.new(self._key, digestmod=hashlib.sha256)
        label = context.encode()
        # the context's length first: "a" + "bc..." never signs as "ab" + "c..."
        mac.update(len(label).to_bytes(4, "big") + label)
        view = memoryview(data).cast("B")
        if len(view) <= CHUNK:
            mac.update(view)  # no copy of the data
        else:  # the list of the chunks' hashes, and the length they add up to
            mac.update(b"chunks" + len(view).to_bytes(8, "big") + _chunk_digests(view))
        return mac.digest()

    def signature(self, data, context: str) -> bytes:
        """The signature of ``data`` for ``context`` alone (``MAGIC + mac``): for a store
        that keeps it beside the data, sparing the copy of a big blob that ``sign`` makes."""
        return MAGIC + self._mac(data, context)

    def sign(self, data, context: str) -> bytes:
        """``data`` (bytes or a buffer) signed for ``context``: one concatenation."""
        return b"".join((MAGIC, self._mac(data, context), data))

    def verify(self, blob, context: str, what: str | None = None) -> memoryview:
        """The data of ``blob`` (a memoryview on it, not a copy) if it was signed with this
        key for ``context``; else SignatureMismatch saying ``what`` the bytes are."""
        what = what or f"the data signed for {context!r}"
        if blob is None:
            raise SignatureMismatch(f"signature mismatch: {what} is missing {_HINT}")
        view = memoryview(blob)
        head = len(MAGIC) + MAC_SIZE
        return self.verify_apart(view[:head], view[head:], context, what)

    def verify_apart(self, signature, data, context: str, what: str | None = None) -> memoryview:
        """``data`` (a memoryview on it) if ``signature`` (kept apart: ``signature``) is
        its signature for ``context`` with this key; else SignatureMismatch."""
        what = what or f"the data signed for {context!r}"
        if data is None:
            raise SignatureMismatch(f"signature mismatch: {what} is missing {_HINT}")
        signature = bytes(signature or b"")
        if len(signature) != len(MAGIC) + MAC_SIZE or not signature.startswith(MAGIC):
            raise SignatureMismatch(
                f"signature mismatch: {what} is not signed (written by someone else, or "
                "by a jobnb before signing: submit the job again) " + _HINT
            )
        data = memoryview(data)
        if not hmac.compare_digest(signature[len(MAGIC) :], self._mac(data, context)):
            raise SignatureMismatch(f"signature mismatch: {what} has a wrong signature {_HINT}")
        return data
