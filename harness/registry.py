"""Classes found by name, as Toxiproxy finds its toxics: the faults and the embedded proxy's toxics.

One name per class, fixed when its module is imported; registering a second class under a taken
name is a programming error and fails at import, not when a user asks for the name.
"""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Classes by name; ``what`` names the kind of name in errors (``"fault name"``, ``"toxic type"``)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._classes: dict[str, type[T]] = {}

    def add(self, name: str, cls: type[T]) -> type[T]:
        if self._classes.get(name, cls) is not cls:
            raise TypeError(f"{self.what} {name!r} registered twice")
        self._classes[name] = cls
        return cls

    def get(self, name: object) -> type[T] | None:
        """The class registered as ``name``; None for an unknown name (or a name that is no string)."""
        return self._classes.get(name) if isinstance(name, str) else None

    def names(self) -> list[str]:
        return sorted(self._classes)
