"""Connecting to Redis by URL, for the backends that keep their queue there (huey with a
Redis URL, and rq): one place that checks the URL, says which server could not be
reached and how to start one, and keeps the password out of every message.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from .. import defaults
from ..exceptions import BackendUnavailable, ConfigError

DEFAULT_URL = defaults.REDIS_URL
SCHEMES = ("redis", "rediss", "unix")


def redacted(url: str) -> str:
    """``url`` with its password replaced by ``***``: what reprs, errors and the
    dashboard show."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def where(url: str) -> str:
    """The server a URL names, in words: ``host 127.0.0.1 port 6379 (db 0)``."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"socket {parts.path}"
    db = parts.path.strip("/") or "0"
    return f"host {parts.hostname or '127.0.0.1'} port {parts.port or 6379} (db {db})"


def check_url(url: str) -> str:
    """``url`` if it is a Redis URL jobnb can use, else a ConfigError saying why."""
    parts = urlsplit(str(url))
    if parts.scheme not in SCHEMES:
        raise ConfigError(
            f"{redacted(str(url))!r} is not a Redis URL: it must start with redis://, "
            "rediss:// (TLS) or unix://, e.g. redis://:password@host:6379/0"
        )
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        raise ConfigError(f"{redacted(str(url))!r}: {exc}") from None
    return str(url)


def unreachable(url: str, exc: BaseException) -> BackendUnavailable:
    """The error for a server that cannot be reached: which one, why, and how to start
    one. The reason is the client's own, with the password taken out."""
    reason = str(exc)
    password = urlsplit(url).password
    if password:
        reason = reason.replace(password, "***")
    parts = urlsplit(url)
    port = parts.port or 6379
    return BackendUnavailable(
        f"cannot reach Redis at {where(url)} ({redacted(url)}): {reason}. "
        f"Start a server there (`redis-server --port {port}`, or "
        "`apt-get install redis-server`), or point jobnb at another one with "
        "jobnb.configure(redis_url=...) or JOBNB_REDIS_URL."
    )


def connect(url: str):
    """A client for ``url`` that has answered a PING; BackendUnavailable if none does."""
    import redis  # (lazy: options.py reads this module when jobnb is imported)

    url = check_url(url)
    client = redis.Redis.from_url(url, socket_connect_timeout=5, health_check_interval=30)
    try:
        client.ping()
    except (redis.AuthenticationError, redis.AuthenticationWrongNumberOfArgsError) as exc:
        raise BackendUnavailable(  # (a subclass of ConnectionError: caught first)
            f"Redis at {where(url)} refused the password or user of {redacted(url)}: {exc}"
        ) from None
    except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
        raise unreachable(url, exc) from None
    except redis.ResponseError as exc:  # e.g. NOAUTH: the server wants a password
        raise BackendUnavailable(f"Redis at {where(url)} ({redacted(url)}): {exc}") from None
    return client
