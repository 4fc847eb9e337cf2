"""Settings and their precedence.

``jobnb.configure(...)`` / ``%jobnb`` > environment (``JOBNB_BACKEND``, ``JOBNB_WORKERS``,
``JOBNB_REDIS_URL``, ``JOBNB_HOME``, ``JOBNB_RESULT_TTL``, ``JOBNB_LOG_BYTES_KEPT``, ...) >
``jobnb.toml`` in the working
directory > defaults. ``jobnb.toml`` takes the shape of the seed's ``[worker]`` section::

    [worker]
    type = "redis"          # thread | subprocess | huey | redis (= rq)
    redis_ip = "127.0.0.1"  # defaults are a local server
    redis_port = 6379
    redis_db = 0
"""

from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import defaults
from .backends import canonical_name, options_class
from .backends.options import BackendOptions
from .backends.records.log_bounds import checked_log_bytes_kept
from .backends.redis_connection import redacted
from .exceptions import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CONFIG_FILE = defaults.CONFIG_FILE


@dataclass(frozen=True)
class Settings:
    """Every setting, resolved. ``backend`` is always a canonical backend name."""

    backend: str = defaults.BACKEND
    workers: int = defaults.WORKERS
    redis_url: str | None = None
    #: huey's home: a folder, or a Redis URL (backends/options.py's ``huey_home``)
    home: str = defaults.HOME
    #: seconds an ended job (record, logs, result) is kept by huey and rq; None: until forgotten
    result_ttl: float | None = None
    #: the file of the secret key the Redis backends sign jobs with (backends/secret_key.py)
    secret_key_file: str | None = None
    #: bytes of each job's log huey and rq keep in their store: its head and its tail, the
    #: middle dropped (a marker says how much); a SQLite home keeps the whole log in a file
    log_bytes_kept: int = defaults.LOG_BYTES_KEPT
    #: tell of the end of every job this kernel submits (a desktop notification in the
    #: notebook's page: jobnb/notify.py); a job's own ``notify`` option wins
    notify: bool = False

    def __repr__(self) -> str:  # the password of a Redis URL never shows
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in ("redis_url", "home"):
            if shown[name] is not None:
                shown[name] = redacted(str(shown[name]))
        return "Settings(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"

    def backend_options(self, backend: str | None = None) -> BackendOptions:
        """What backend ``backend`` (default: the configured one) is built from: the
        settings it takes and no other (its identity: new options, new backend)."""
        return options_class(backend or self.backend).from_settings(self)


_ENV = {
    "JOBNB_BACKEND": "backend",
    "JOBNB_WORKERS": "workers",
    "JOBNB_REDIS_URL": "redis_url",
    "JOBNB_HOME": "home",
    "JOBNB_RESULT_TTL": "result_ttl",
    "JOBNB_SECRET_KEY_FILE": "secret_key_file",
    "JOBNB_LOG_BYTES_KEPT": "log_bytes_kept",
    "JOBNB_NOTIFY": "notify",
}
_TOML_KEYS = {
    "type",
    "workers",
    "redis_ip",
    "redis_port",
    "redis_db",
    "redis_url",
    "home",
    "result_ttl",
    "secret_key_file",
    "log_bytes_kept",
}


def from_toml(path: Path) -> dict[str, Any]:
    """The settings a ``jobnb.toml`` gives (its ``[worker]`` section)."""
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    section = data.get("worker", {})
    unknown = set(section) - _TOML_KEYS
    if unknown:
        raise ConfigError(
            f"{path}: unknown key(s) {', '.join(sorted(unknown))} in [worker]; "
            f"known keys: {', '.join(sorted(_TOML_KEYS))}"
        )
    found: dict[str, Any] = {}
    if "type" in section:
        found["backend"] = section["type"]
    for key in ("workers", "redis_url", "home", "result_ttl", "secret_key_file", "log_bytes_kept"):
        if key in section:
            found[key] = section[key]
    if "redis_url" not in found and {"redis_ip", "redis_port", "redis_db"} & set(section):
        local = urlsplit(defaults.REDIS_URL)  # what is not given is the local server's
        ip = section.get("redis_ip", local.hostname)
        port = section.get("redis_port", local.port)
        db = section.get("redis_db", local.path.strip("/"))
        found["redis_url"] = f"redis://{ip}:{port}/{db}"
    return found


def from_env(environ: dict[str, str] | None = None) -> dict[str, Any]:
    environ = os.environ if environ is None else environ
    found = {key: environ[var] for var, key in _ENV.items() if environ.get(var)}
    if "workers" in found:  # named as the user wrote it: the variable, not the setting
        found["workers"] = checked_workers(found["workers"], "JOBNB_WORKERS")
    if "log_bytes_kept" in found:
        found["log_bytes_kept"] = checked_log_bytes_kept(
            found["log_bytes_kept"], "JOBNB_LOG_BYTES_KEPT"
        )
    return found


def checked_workers(value: Any, name: str) -> int:
    """``value`` as a number of workers, else a ConfigError naming ``name`` and the value:
    with no worker, a queue backend would hold its home and run nothing."""
    try:
        workers = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a whole number, not {value!r}") from None
    if workers < 1:
        raise ConfigError(
            f"{name} must be at least 1, not {workers}: with no worker no job would ever run"
        )
    return workers


_SWITCH_WORDS = {"1": True, "true": True, "yes": True, "on": True} | {
    "0": False,
    "false": False,
    "no": False,
    "off": False,
}


def checked_switch(value: Any, name: str) -> bool:
    """``value`` as on or off (a bool, or 1/0, true/false, yes/no, on/off as text),
    else a ConfigError naming ``name`` and the value."""
    if isinstance(value, bool):
        return value
    switch = _SWITCH_WORDS.get(str(value).strip().lower())
    if switch is None:
        raise ConfigError(f"{name} must be on or off (true/false, 1/0), not {value!r}")
    return switch


def sources_key() -> tuple:
    """Changes whenever a source of settings may have: the environment, or which
    ``jobnb.toml`` the working directory holds (a relative stat: no ``getcwd``, which
    costs more than the rest of a thread-backend submit)."""
    try:
        st = os.stat(CONFIG_FILE)
        config_file = (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)
    except OSError:
        config_file = None
    return (config_file, *(os.environ.get(var) for var in _ENV))


def resolve(overrides: dict[str, Any], cwd: Path | None = None) -> Settings:
    """Merge defaults < jobnb.toml < environment < overrides, and check the result."""
    merged: dict[str, Any] = {}
    toml_path = (cwd or Path.cwd()) / CONFIG_FILE
    if toml_path.is_file():
        merged.update(from_toml(toml_path))
    merged.update(from_env())
    merged.update({k: v for k, v in overrides.items() if v is not None})
    return _checked(merged)


def _checked(values: dict[str, Any]) -> Settings:
    known = {f.name for f in fields(Settings)}
    unknown = set(values) - known
    if unknown:
        raise ConfigError(
            f"unknown setting(s) {', '.join(sorted(unknown))}; known settings: "
            f"{', '.join(sorted(known))}"
        )
    values = dict(values)
    if "backend" in values:
        values["backend"] = canonical_name(values["backend"])
    if "workers" in values:
        values["workers"] = checked_workers(values["workers"], "workers")
    if "log_bytes_kept" in values:
        values["log_bytes_kept"] = checked_log_bytes_kept(values["log_bytes_kept"])
    if "notify" in values:
        values["notify"] = checked_switch(values["notify"], "notify")
    if values.get("result_ttl") is not None:
        try:
            values["result_ttl"] = float(values["result_ttl"])
        except (TypeError, ValueError):
            raise ConfigError(
                f"result_ttl must be a number of seconds, not {values['result_ttl']!r}"
            ) from None
        if not values["result_ttl"] > 0:
            raise ConfigError(f"result_ttl must be positive, not {values['result_ttl']}")
    return dataclasses.replace(Settings(), **values)
