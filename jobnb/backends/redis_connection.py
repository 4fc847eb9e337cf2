"""Connecting to Redis by URL, for the backends that keep their queue there (huey with a
Redis URL, and rq): one place that checks the URL, says which server could not be
reached and how to start one, and keeps the password out of every message.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from .. import defaults
from ..exceptions import BackendUnavailable, ConfigError

DEFAULT_URL = defaults.REDIS_URL
SCHEMES = ("redis", "rediss", "unix")
_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&]*", re.IGNORECASE)


def _cut(url: str) -> tuple[str, str | None, str]:
    """``url`` cut by a plain string rule that holds for any text, a URL or not: what
    comes before the user info (``redis://``, or nothing), the user info (up to the LAST
    ``@``: a password may hold ``#``, ``/``, ``?`` or ``@`` unencoded, where urlsplit
    would cut it elsewhere and show part of it) or None, and the rest (the server)."""
    scheme_end = url.find("://")
    start = scheme_end + 3 if scheme_end >= 0 else 0
    at = url.rfind("@", start)
    if at < 0:
        return url[:start], None, url[start:]
    return url[:start], url[start:at], url[at + 1 :]


def redacted(url: str) -> str:
    """``url`` with its password replaced by ``***``, parseable or not: what reprs,
    errors, banners and the dashboard show. User info with no ``:`` is hidden whole (it
    may be a password written without its colon)."""
    head, user_info, server = _cut(str(url))
    server = _QUERY_PASSWORD.sub(r"\1***", server)  # redis-py takes ?password= too
    if user_info is None:
        return head + server
    user, colon, _password = user_info.partition(":")
    return f"{head}{user}:***@{server}" if colon else f"{head}***@{server}"


def has_password(url: str) -> bool:
    """Whether ``url`` holds a password (or user info that may be one)."""
    return bool(_passwords(url))


def _passwords(url: str) -> list[str]:
    """The password(s) ``url`` holds: in its user info, and in ``?password=``."""
    _head, user_info, server = _cut(str(url))
    user, colon, password = (user_info or "").partition(":")
    found = [password if colon else user]
    found += [m.group(0).partition("=")[2] for m in _QUERY_PASSWORD.finditer(server)]
    return [form for p in found for form in (p, unquote(p)) if form]


def hidden(text: str, url: str) -> str:
    """``text`` (a client's error, say) with ``url``'s password taken out, written as in
    the URL or decoded."""
    for password in _passwords(url):
        text = text.replace(password, "***")
    return text


def where(url: str) -> str:
    """The server a URL names, in words: ``host 127.0.0.1 port 6379 (db 0)``."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"socket {parts.path}"
    db = parts.path.strip("/") or "0"
    return f"host {parts.hostname or '127.0.0.1'} port {parts.port or 6379} (db {db})"


def check_url(url: str) -> str:
    """``url`` if it is a Redis URL jobnb can use, else a ConfigError saying why (with
    the password, or a value that may be one, not shown)."""
    text = str(url)
    head, user_info, _server = _cut(text)
    if head[:-3].lower() not in SCHEMES:
        shown = (
            repr(redacted(text)) if head else "the value given (not shown: it may be a password)"
        )
        raise ConfigError(
            f"{shown} is not a Redis URL: it must start with redis://, rediss:// (TLS) or "
            "unix://, e.g. redis://:password@host:6379/0"
        )
    if user_info is not None and any(char in user_info for char in "#/?@"):
        raise ConfigError(
            f"{redacted(text)!r}: its password (or user) holds a character a URL must "
            "percent-encode (# / ? or @): write it encoded (# is %23, / is %2F, ? is %3F, "
            "@ is %40), e.g. with urllib.parse.quote(password, safe='')"
        )
    try:
        urlsplit(text).port  # noqa: B018 - raises on a port that is not a number
    except ValueError:  # (its text quotes the port: not shown, in case it is not one)
        raise ConfigError(f"{redacted(text)!r}: its port is not a number from 0 to 65535") from None
    return text


def worker_command(url: str, backend: str, extra: str = "") -> str:
    """The command that starts a worker for ``url``, as a message suggests it: the URL
    on the command line only when it holds no password, as a command line shows in
    ``ps`` to every local user."""
    tail = f" {extra}" if extra else ""
    if not has_password(url):
        return f"`jobnb worker --backend {backend} --url {url}{tail}`"
    variable = "JOBNB_REDIS_URL" if backend == "rq" else "JOBNB_HOME"
    return (
        f"`{variable}='{redacted(url)}' jobnb worker --backend {backend}{tail}` with the "
        "real password, or `--url-file FILE` (a file only you can read, holding the URL): "
        "a password on a command line shows in `ps` to every local user"
    )


def unreachable(url: str, exc: BaseException) -> BackendUnavailable:
    """The error for a server that cannot be reached: which one, why, and how to start
    one. The reason is the client's own, with the password taken out."""
    reason = hidden(str(exc), url)
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
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=5, health_check_interval=30)
    except ValueError as exc:  # redis-py's reading of it: a db, an option it cannot take
        raise ConfigError(f"{redacted(url)!r}: {hidden(str(exc), url)}") from None
    try:
        client.ping()
    except (redis.AuthenticationError, redis.AuthenticationWrongNumberOfArgsError) as exc:
        raise BackendUnavailable(  # (a subclass of ConnectionError: caught first)
            f"Redis at {where(url)} refused the password or user of {redacted(url)}: "
            f"{hidden(str(exc), url)}"
        ) from None
    except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
        raise unreachable(url, exc) from None
    except redis.ResponseError as exc:  # e.g. NOAUTH: the server wants a password
        raise BackendUnavailable(
            f"Redis at {where(url)} ({redacted(url)}): {hidden(str(exc), url)}"
        ) from None
    return client
