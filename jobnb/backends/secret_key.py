"""Where the secret key that signs a home's or a server's jobs comes from
(payload/signing.py says what it signs and why).

- A SQLite home (a folder): ``HOME/secret.key``, made on first use (owner-only, 0600),
  read by the kernels and the worker of that home alike: nothing to set.
- A Redis server (rq, or huey with a ``redis://`` home): every kernel and worker of the
  server must share one key, so it is never made on its own. In order:
  ``JOBNB_SECRET_KEY`` (the key itself), the key file of the setting ``secret_key_file``
  (``configure(secret_key_file=...)``, ``JOBNB_SECRET_KEY_FILE``, ``jobnb.toml``), or
  ``./.jobnb/secret.key`` if it exists (``jobnb key`` makes it). Without one, a kernel
  or worker refuses with a MissingSecretKey that names the server and says how to set it.

The key never appears in a message, a log, a repr or a command line.
"""

from __future__ import annotations

import os
import secrets
import stat
import time
from pathlib import Path

from .. import defaults
from ..exceptions import MissingSecretKey
from ..payload.signing import MIN_KEY_BYTES, Signer
from .private_home import private_home
from .redis_connection import redacted

#: the key file's name, in a home folder
KEY_FILE = "secret.key"
#: the key itself, for the Redis backends
ENV_KEY = "JOBNB_SECRET_KEY"
#: the path of a key file, for the Redis backends
ENV_KEY_FILE = "JOBNB_SECRET_KEY_FILE"


def create_key_file(path: str | os.PathLike) -> bool:
    """Make the key file ``path`` (a fresh random key, mode 0600 whatever the umask, never
    through a symlink) unless it exists; whether it was made. Two processes racing both
    end up reading the one that won."""
    path = Path(path)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        return False
    except OSError as exc:
        raise MissingSecretKey(
            f"cannot create the secret key file {path}: {exc.strerror}. Make its folder "
            "writable by you, or set JOBNB_SECRET_KEY_FILE to a key file elsewhere."
        ) from exc
    try:
        os.fchmod(fd, 0o600)  # the umask cannot loosen it
        # written whole in one call: a racing reader sees it empty (and retries), never half
        os.write(fd, (secrets.token_hex(32) + "\n").encode())
    finally:
        os.close(fd)
    return True


def read_key_file(path: str | os.PathLike, fix: str) -> Signer:
    """The signer of the key in ``path`` (not followed if a symlink); ``fix``: what to say
    to do when it cannot be used."""
    path = Path(path)
    key = b""
    for _ in range(50):  # a file another process has just made and not yet written
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError as exc:
            raise MissingSecretKey(
                f"cannot read the secret key file {path}: {exc.strerror}. {fix}"
            ) from exc
        try:
            _refuse_unless_private(path, os.fstat(fd), fix)
            key = os.read(fd, 4096).strip()
        finally:
            os.close(fd)
        if key:
            break
        time.sleep(0.01)
    return _signer(key, f"the key in {path}", fix)


def _refuse_unless_private(path: Path, found: os.stat_result, fix: str) -> None:
    """MissingSecretKey unless the key file is ours and nobody else can read or write it:
    a key others can read signs their jobs too, one they can write is theirs (as ssh
    refuses a private key others can read)."""
    mode = stat.S_IMODE(found.st_mode)
    if found.st_uid != os.geteuid() or mode & 0o077:
        raise MissingSecretKey(
            f"the secret key file {path} (owner uid {found.st_uid}, mode {mode:04o}) is not "
            f"yours alone: whoever can read it can run code on every worker. Make it yours "
            f"with mode 0600 (`chmod 600 {path}`), or make a new one. {fix}"
        )


def _signer(key: bytes, where: str, fix: str) -> Signer:
    if len(key) < MIN_KEY_BYTES:
        raise MissingSecretKey(
            f"{where} is too short ({len(key)} bytes; at least {MIN_KEY_BYTES} are needed: "
            f"a short key can be guessed). {fix}"
        )
    return Signer(key)


def home_signer(folder: str | os.PathLike) -> Signer:
    """The signer of a SQLite home: its ``secret.key``, made on first use (in a home
    checked first: a key made or read in someone else's folder would be theirs too)."""
    path = private_home(folder) / KEY_FILE
    create_key_file(path)
    return read_key_file(
        path, f"Delete {path} to have a new key made (jobs stored under the old one fail)."
    )


def how_to_set(server: str) -> str:
    """What to do to give the kernels and workers of ``server`` their shared key."""
    return (
        f"Every kernel and worker of {server} must share one secret key: run `jobnb key` "
        f"(it makes ./{defaults.HOME}/{KEY_FILE}), copy that file to each machine and "
        f"point {ENV_KEY_FILE} (or secret_key_file in jobnb.toml) at it, or "
        f"`export {ENV_KEY}=$(cat ./{defaults.HOME}/{KEY_FILE})` in every kernel and worker."
    )


def redis_signer(url: str | None, key_file: str | os.PathLike | None = None) -> Signer:
    """The signer of the jobs on the Redis server ``url`` (None: not known here, a plain
    ``rq worker``'s): the key of ``JOBNB_SECRET_KEY``, else of ``key_file`` (the setting;
    ``JOBNB_SECRET_KEY_FILE`` when not given), else of ``./.jobnb/secret.key`` if it
    exists; else MissingSecretKey naming the server."""
    server = f"the Redis server {redacted(url)}" if url else "this worker's Redis server"
    fix = how_to_set(server)
    key = os.environ.get(ENV_KEY)
    if key:
        return _signer(key.strip().encode(), f"the key in {ENV_KEY}", fix)
    key_file = key_file or os.environ.get(ENV_KEY_FILE)
    if key_file:
        return read_key_file(key_file, fix)
    local = Path(defaults.HOME) / KEY_FILE
    if local.exists():
        return read_key_file(local, fix)
    raise MissingSecretKey(f"no secret key to sign and verify the jobs of {server}. {fix}")


def signer_for(
    folder: str | os.PathLike, redis_url: str | None, key_file: str | os.PathLike | None = None
) -> Signer:
    """The signer of a huey home (``folder``, or the server ``redis_url``) or an rq server."""
    return redis_signer(redis_url, key_file) if redis_url else home_signer(folder)
