"""Toxics registered by their Toxiproxy type name (like Toxiproxy's toxics/ folder).

Each module defines one ``@register``ed ``Toxic`` subclass; the proxy core only ever calls
``create_toxic(type, attributes)`` and the hooks of ``Toxic``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.registry import Registry
from harness.toxiproxy.toxics.base import Chunk, Emit, InvalidToxicError, Stub, Toxic

_REGISTRY: Registry[Toxic] = Registry("toxic type")


def register(cls: type[Toxic]) -> type[Toxic]:
    """Class decorator: make a toxic available under ``cls.type``."""
    return _REGISTRY.add(cls.type, cls)


def toxic_types() -> list[str]:
    return _REGISTRY.names()


def create_toxic(type_name: Any, attributes: Mapping[str, Any] | None) -> Toxic:
    """A toxic of the named type, or ``InvalidToxicError`` (HTTP 400) naming the problem."""
    cls = _REGISTRY.get(type_name)
    if cls is None:
        raise InvalidToxicError(f"invalid toxic type: {type_name!r} (known: {', '.join(toxic_types())})")
    return cls.from_attributes(attributes)


# Import the toxic modules so they register themselves.
from harness.toxiproxy.toxics import (  # noqa: E402,F401
    bandwidth,
    latency,
    limit_data,
    reset_peer,
    slicer,
    slow_close,
    timeout,
)

__all__ = ["Chunk", "Emit", "InvalidToxicError", "Stub", "Toxic", "create_toxic", "register", "toxic_types"]
