"""The backends, by name. Each is imported only when first used, so ``import jobnb``
does not pull in redis, rq or huey."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ..exceptions import ConfigError

if TYPE_CHECKING:
    from .base import Backend

#: backend name -> "module:class"
BACKENDS = {
    "thread": "jobnb.backends.thread:ThreadBackend",
    "subprocess": "jobnb.backends.subprocess_pool:SubprocessBackend",
    "huey": "jobnb.backends.huey_queue:HueyBackend",
    "rq": "jobnb.backends.rq_queue:RqBackend",
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


def create_backend(name: str, **options: Any) -> Backend:
    module_name, class_name = BACKENDS[canonical_name(name)].split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(**options)
