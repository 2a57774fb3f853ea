"""Toxics registered by their Toxiproxy type name (like Toxiproxy's toxics/ folder).

Each module defines one ``@toxic("type")`` class; the proxy core only ever calls
``create_toxic(type, attributes)`` and the hooks of ``Toxic``. The registry lives in ``base``, so
the toxic modules import only ``base`` and this package imports them (no import cycle).
"""

from __future__ import annotations

# Import the toxic modules so they register themselves.
from harness.toxiproxy.toxics import (  # noqa: F401
    bandwidth,
    latency,
    limit_data,
    reset_peer,
    slicer,
    slow_close,
    timeout,
)
from harness.toxiproxy.toxics.base import (
    Chunk,
    Emit,
    InvalidToxicError,
    Stub,
    Toxic,
    create_toxic,
    toxic,
    toxic_types,
)

__all__ = ["Chunk", "Emit", "InvalidToxicError", "Stub", "Toxic", "create_toxic", "toxic", "toxic_types"]
