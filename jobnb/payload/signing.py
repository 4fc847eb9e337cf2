"""Signatures of the bytes jobnb stores or sends and later unpickles (payloads, outcomes,
queue messages): loading a pickle runs code, so whoever can write where jobnb reads (a
Redis server, a home folder) could run code in the workers and in the kernels. Every
such blob is signed with an HMAC-SHA256 under a secret key (backends/secret_key.py says
where it comes from) and verified before anything unpickles it.

A signed blob is ``MAGIC + mac + data`` (queue messages; a SQLite home's first signing
version), or the data with its signature ``MAGIC + mac`` kept apart (the stores: no
copy of a big blob, and the signature hashed while the blob is written). The mac
covers a *context* too, which says what the bytes are for (``payload:<job id>``,
``outcome:<job id>``, ``huey-message``): a blob signed for one job cannot be swapped
into another, so a job never gets another job's payload and a kernel never another
job's result.

A big blob (a 50 MB argument) is hashed in chunks on every core at once (``CHUNK``: the
SHA-256 of each; the HMAC then covers their list and the length), so that signing costs
a fraction of sending it, or nothing when it is hashed while it is sent
(``signature_later``); a small one is hashed in one pass, from pre-keyed SHA-256 states.

Not signed (nobody else writes there): the thread backend's objects (in the kernel's
memory) and the pipes between a process and the children it started.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

from ..exceptions import SignatureMismatch
from .framing import buffers_of, spans

#: the first bytes of a signed blob: "jobnb signed, version 1"
MAGIC = b"JNS1"
#: bytes of the mac (SHA-256)
MAC_SIZE = hashlib.sha256().digest_size
#: a key shorter than this is refused: it could be guessed
MIN_KEY_BYTES = 16

#: bytes hashed apart on a thread each, in a blob bigger than one (SHA-256 releases the GIL)
CHUNK = 4 * 2**20

_SIGNATURE_SIZE = len(MAGIC) + MAC_SIZE
#: SHA-256's block size, and HMAC's pads (RFC 2104)
_BLOCK = hashlib.sha256().block_size
_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))
_HINT = "(was the key changed, or did someone else write to this server?)"
_hashers: ThreadPoolExecutor | None = None


def _sha256(parts: list[memoryview]) -> bytes:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    return digest.digest()


def _chunk_digests(pieces: list[memoryview]) -> Iterator[bytes]:
    """The SHA-256 of each ``CHUNK`` of the blob of ``pieces``, in order, as the threads
    hash them (already under way when this returns)."""
    return _pool().map(_sha256, list(spans(pieces, CHUNK)))


def _pool() -> ThreadPoolExecutor:
    global _hashers
    if _hashers is None:  # made once, when a blob this big is first signed
        _hashers = ThreadPoolExecutor(os.cpu_count() or 2, thread_name_prefix="jobnb-hash")
    return _hashers


class HashedAsRead:
    """The hashes of a big blob's chunks, started on the hashing threads as a reader
    fills its buffer (``filled``), so that verifying it costs little more than reading
    it: ``Signer.verify_apart(..., hashed=...)`` then only waits for the last ones."""

    def __init__(self, buffer) -> None:
        self.view = memoryview(buffer).cast("B")
        self.at = 0
        self._digests: list = []

    def filled(self, upto: int) -> None:
        """The buffer holds its final bytes up to ``upto``: hash every chunk now whole."""
        size = self.view.nbytes
        while self.at < upto and (self.at + CHUNK <= upto or upto == size):
            end = min(self.at + CHUNK, size)
            self._digests.append(_pool().submit(_sha256, [self.view[self.at : end]]))
            self.at = end

    def digests(self) -> list[bytes] | None:
        """The chunks' SHA-256, in order; None unless the whole buffer was hashed."""
        if self.at != self.view.nbytes:
            return None
        return [digest.result() for digest in self._digests]


def _forget_hashers() -> None:
    global _hashers
    _hashers = None


# a forked child (a job's own multiprocessing) inherits the pool but not its threads: work
# given to it would wait for ever, so the child makes a pool of its own
os.register_at_fork(after_in_child=_forget_hashers)


def _context_head(context: str) -> bytes:
    """What a mac covers before the data: the context, its length first ("a" + "bc..."
    never signs as "ab" + "c...")."""
    label = context.encode()
    return len(label).to_bytes(4, "big") + label


class Signer:
    """Signs and verifies blobs under ``key`` (bytes). Its repr never shows the key."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) < MIN_KEY_BYTES:
            # the key itself is never said: only its length
            raise ValueError(
                f"a secret key needs at least {MIN_KEY_BYTES} bytes "
                f"(this one has {len(key) if isinstance(key, bytes | str) else 'none'})"
            )
        # HMAC as RFC 2104 builds it, from two SHA-256 states with the key already in:
        # each mac starts from copies of them, which spares the keying and OpenSSL's HMAC
        # set-up (most of a small blob's cost: 7 us instead of 19 when the caches are cold)
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(key.translate(_IPAD))
        self._outer = hashlib.sha256(key.translate(_OPAD))

    def __repr__(self) -> str:
        return "Signer(key=<hidden>)"

    def _mac(self, data, context: str) -> bytes:
        return self._mac_later(data, context)()

    def _hmac(self, head: bytes, pieces: list) -> bytes:
        """HMAC-SHA256 of ``head`` and the ``pieces`` end to end, without joining them."""
        inner = self._inner.copy()
        inner.update(head)
        for piece in pieces:
            inner.update(piece)  # no copy of the data
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    def _mac_later(self, data, context: str) -> Callable[[], bytes]:
        """What gives the mac of ``data`` (a buffer, or a Framed value's pieces: the same
        mac as the blob they make) for ``context``: a big blob's chunks are hashed on the
        hashing threads from now on, while the caller does something else."""
        pieces = buffers_of(data)
        size = sum(piece.nbytes for piece in pieces)
        if size <= CHUNK:
            digest = self._hmac(_context_head(context), pieces)
            return lambda: digest
        digests = _chunk_digests(pieces)

        return lambda: self._mac_of_chunks(size, digests, context)

    def _mac_of_chunks(self, size: int, digests, context: str) -> bytes:
        """The mac of a blob bigger than a chunk: of the list of its chunks' hashes, and
        the length they add up to."""
        chunks = b"chunks" + size.to_bytes(8, "big") + b"".join(digests)
        return self._hmac(_context_head(context), [chunks])

    def signature(self, data, context: str) -> bytes:
        """The signature of ``data`` for ``context`` alone (``MAGIC + mac``): for a store
        that keeps it beside the data, sparing the copy of a big blob that ``sign`` makes."""
        return MAGIC + self._mac(data, context)

    def signature_later(self, data, context: str) -> Callable[[], bytes]:
        """As ``signature``, but what gives it: the hashing of a big ``data`` goes on
        while the caller writes it (it is then done at the cost of the slower of the two,
        not of both). ``data`` must not change until the signature is taken."""
        mac = self._mac_later(data, context)
        return lambda: MAGIC + mac()

    def sign(self, data, context: str) -> bytes:
        """``data`` (bytes or a buffer) signed for ``context``: one concatenation."""
        return b"".join((MAGIC, self._mac(data, context), data))

    def verify(self, blob, context: str, what: str | None = None) -> memoryview:
        """The data of ``blob`` (a memoryview on it, not a copy) if it was signed with this
        key for ``context``; else SignatureMismatch saying ``what`` the bytes are."""
        if blob is None:
            raise _mismatch(context, what, "is missing")
        view = memoryview(blob)
        return self.verify_apart(view[:_SIGNATURE_SIZE], view[_SIGNATURE_SIZE:], context, what)

    def verify_apart(
        self,
        signature,
        data,
        context: str,
        what: str | None = None,
        hashed: HashedAsRead | None = None,
    ) -> memoryview:
        """``data`` (a memoryview on it) if ``signature`` (kept apart: ``signature``) is
        its signature for ``context`` with this key; else SignatureMismatch. ``hashed``:
        its chunks, hashed as it was read into its buffer."""
        if data is None:
            raise _mismatch(context, what, "is missing")
        signature = bytes(signature or b"")
        if len(signature) != _SIGNATURE_SIZE or not signature.startswith(MAGIC):
            raise _mismatch(
                context,
                what,
                "is not signed (written by someone else, or by a jobnb before signing: "
                "submit the job again)",
            )
        data = memoryview(data).cast("B")
        digests = hashed.digests() if hashed is not None and data.nbytes > CHUNK else None
        if digests is not None:
            mac = self._mac_of_chunks(data.nbytes, digests, context)
        else:
            mac = self._mac(data, context)
        if not hmac.compare_digest(signature[len(MAGIC) :], mac):
            raise _mismatch(context, what, "has a wrong signature")
        return data


def _mismatch(context: str, what: str | None, found: str) -> SignatureMismatch:
    """The error for data that failed its check (``what`` it is: said from the context
    if not given; worded only then, a check that passes formats nothing)."""
    what = what or f"the data signed for {context!r}"
    return SignatureMismatch(f"signature mismatch: {what} {found} {_HINT}")
