"""Signatures of the bytes jobnb stores or sends and later unpickles (payloads, outcomes,
queue messages): loading a pickle runs code, so whoever can write where jobnb reads (a
Redis server, a home folder) could run code in the workers and in the kernels. Every
such blob is signed with an HMAC-SHA256 under a secret key (backends/secret_key.py says
where it comes from) and verified before anything unpickles it.

A signed blob is ``MAGIC + mac + data``. The mac covers a *context* too, which says
what the bytes are for (``payload:<job id>``, ``outcome:<job id>``, ``huey-message``):
a blob signed for one job cannot be swapped into another, so a job never gets another
job's payload and a kernel never another job's result.

Not signed (nobody else writes there): the thread backend's objects (in the kernel's
memory) and the pipes between a process and the children it started.
"""

from __future__ import annotations

import hashlib
import hmac

from ..exceptions import SignatureMismatch

#: the first bytes of a signed blob: "jobnb signed, version 1"
MAGIC = b"JNS1"
#: bytes of the mac (SHA-256)
MAC_SIZE = hashlib.sha256().digest_size
#: a key shorter than this is refused: it could be guessed
MIN_KEY_BYTES = 16

_HINT = "(was the key changed, or did someone else write to this server?)"


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
        mac.update(data)  # no copy of the data, however big
        return mac.digest()

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
        if bytes(view[: len(MAGIC)]) != MAGIC or len(view) < head:
            raise SignatureMismatch(
                f"signature mismatch: {what} is not signed (written by someone else, or "
                "by a jobnb before signing: submit the job again) " + _HINT
            )
        data = view[head:]
        if not hmac.compare_digest(bytes(view[len(MAGIC) : head]), self._mac(data, context)):
            raise SignatureMismatch(f"signature mismatch: {what} has a wrong signature {_HINT}")
        return data
