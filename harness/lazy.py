"""Package names that load their module on first use (PEP 562), so importing a package is cheap.

``harness.control`` and ``harness.dynamodb`` export names whose modules pull in the HTTP server,
moto or Flask; a caller that needs one small helper should not pay for all of them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> tuple[Callable[[str], Any], list[str]]:
    """``(__getattr__, __all__)`` for ``package``: each name in ``exports`` comes from its module."""

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(exports[name]), name)

    return __getattr__, sorted(exports)
