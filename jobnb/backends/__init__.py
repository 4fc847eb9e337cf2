"""The backends, by name. Each is imported only when first used, so ``import jobnb``
does not pull in redis, rq or huey; what a backend is built from (its options class,
backends/options.py) is known without importing it."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, NamedTuple

from ..exceptions import ConfigError
from .options import BackendOptions, HueyOptions, RqOptions, SubprocessOptions, ThreadOptions

if TYPE_CHECKING:
    from .base import Backend


class Known(NamedTuple):
    """A backend: its class (``"module:class"``, imported when first used) and the
    options it is built from."""

    location: str
    options: type[BackendOptions]


BACKENDS = {
    "thread": Known("jobnb.backends.thread:ThreadBackend", ThreadOptions),
    "subprocess": Known("jobnb.backends.subprocess_pool:SubprocessBackend", SubprocessOptions),
    "huey": Known("jobnb.backends.huey_queue:HueyBackend", HueyOptions),
    "rq": Known("jobnb.backends.rq_queue:RqBackend", RqOptions),
}
#: other names users know them by (the seed's worker types)
ALIASES = {"process": "subprocess", "redis": "rq"}


def known_names() -> str:
    names = []
    for name in BACKENDS:
        aliases = [a for a, target in ALIASES.items() if target == name]
        names.append(f"{name} (or {', '.join(aliases)})" if aliases else name)
    return ", ".join(names)


def canonical_name(name: str) -> str:
    """The backend's own name for ``name`` or an alias; ConfigError for an unknown one."""
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    if key not in BACKENDS:
        raise ConfigError(f"unknown backend {name!r}; the known backends are: {known_names()}")
    return key


def options_class(name: str) -> type[BackendOptions]:
    """What backend ``name`` is built from."""
    return BACKENDS[canonical_name(name)].options


def backend_class(name: str) -> type[Backend]:
    """The class of backend ``name`` (importing its module: huey's and rq's are heavy)."""
    module_name, class_name = BACKENDS[canonical_name(name)].location.split(":")
    return getattr(importlib.import_module(module_name), class_name)


def create_backend(name: str, options: BackendOptions) -> Backend:
    """A new backend ``name`` built from ``options`` (of its :func:`options_class`)."""
    return backend_class(name)(options)
