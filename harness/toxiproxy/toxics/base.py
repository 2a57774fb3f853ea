"""The one interface every toxic implements.

A toxic is a small dataclass whose fields are its Toxiproxy attributes (integers, as in the Go
server). The link core drives it through three hooks and knows nothing about any particular toxic:
``start`` when the toxic begins to apply to a link (timers such as ``timeout``), ``pipe`` for each
chunk of data (delay it, split it, drop it, count it), ``on_eof`` before an end-of-stream is passed
on (``slow_close``). Per-link state lives on the ``Stub`` so one toxic object serves many links.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar, Protocol, TypeVar

from harness.errors import HarnessError
from harness.registry import Registry


# Largest attribute value: Go's int64, as real Toxiproxy parses them. Whatever fits is a usable
# delay or count (2**63 ms is millions of years; asyncio sleeps that long without overflowing).
MAX_ATTRIBUTE = 2**63 - 1


class InvalidToxicError(HarnessError):
    """A toxic type, stream or attribute the server cannot accept (HTTP 400)."""


def _attribute(toxic: str, name: str, value: Any) -> int:
    """One attribute as an int, or ``InvalidToxicError`` naming it (NaN, infinities, huge numbers too)."""
    where = f"toxic {toxic}: attribute {name}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidToxicError(f"{where} must be an integer, got {type(value).__name__}")
    if isinstance(value, float) and not value.is_integer():  # also NaN and the infinities (1e400 in JSON)
        raise InvalidToxicError(f"{where} must be a finite integer, got {value!r}")
    if value < 0:
        raise InvalidToxicError(f"{where} must be >= 0, got {value:.0f}")
    if value > MAX_ATTRIBUTE:
        raise InvalidToxicError(f"{where} must be at most {MAX_ATTRIBUTE}, got a number of {len(str(int(value)))} digits")
    return int(value)


@dataclasses.dataclass
class Chunk:
    """Bytes read from one side, with the loop time they may be delivered (latency adds to it)."""

    data: bytes
    due: float


Emit = Callable[[Chunk], Awaitable[None]]


class Stub(Protocol):
    """What a toxic sees of the link it acts on."""

    rng: random.Random
    state: dict[str, Any]

    def now(self) -> float: ...

    async def sleep_until(self, when: float) -> None: ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> None: ...

    def close(self) -> None: ...

    def reset(self) -> None: ...


@dataclasses.dataclass
class Toxic:
    """Base of every toxic; subclasses add integer attribute fields and override hooks."""

    type: ClassVar[str]

    @classmethod
    def from_attributes(cls, attributes: Mapping[str, Any] | None) -> "Toxic":
        """Build from the API's ``attributes`` map; unknown keys are ignored, as Toxiproxy does."""
        if attributes is None:
            attributes = {}
        if not isinstance(attributes, Mapping):
            raise InvalidToxicError(f"toxic {cls.type}: attributes must be a JSON object")
        values: dict[str, int] = {}
        for field in dataclasses.fields(cls):
            if field.name not in attributes:
                continue
            values[field.name] = _attribute(cls.type, field.name, attributes[field.name])
        return cls(**values)

    def updated(self, attributes: Mapping[str, Any] | None) -> "Toxic":
        """A copy with some attributes changed (toxic update keeps the unchanged ones)."""
        if attributes is not None and not isinstance(attributes, Mapping):
            raise InvalidToxicError(f"toxic {self.type}: attributes must be a JSON object")
        merged = self.attributes()
        merged.update(attributes or {})
        return self.from_attributes(merged)

    def attributes(self) -> dict[str, int]:
        return dataclasses.asdict(self)

    def start(self, stub: Stub) -> None:
        """Called once when the toxic starts applying to a link."""

    async def pipe(self, chunk: Chunk, stub: Stub, emit: Emit) -> None:
        """Pass ``chunk`` on (possibly changed, split, delayed or not at all)."""
        await emit(chunk)

    async def on_eof(self, stub: Stub) -> None:
        """Called before the link passes end-of-stream on."""


T = TypeVar("T", bound=type[Toxic])
_REGISTRY: Registry[Toxic] = Registry("toxic type")


def toxic(type_name: str) -> Callable[[T], T]:
    """Class decorator, like Toxiproxy's ``toxics.Register``: ``cls`` becomes a dataclass (its
    fields are the toxic's attributes) available to ``create_toxic`` as ``type_name``."""

    def decorate(cls: T) -> T:
        cls.type = type_name
        _REGISTRY.add(type_name, dataclasses.dataclass(cls))
        return cls

    return decorate


def toxic_types() -> list[str]:
    return _REGISTRY.names()


def create_toxic(type_name: Any, attributes: Mapping[str, Any] | None) -> Toxic:
    """A toxic of the named type, or ``InvalidToxicError`` (HTTP 400) naming the problem."""
    cls = _REGISTRY.get(type_name)
    if cls is None:
        raise InvalidToxicError(f"invalid toxic type: {type_name!r} (known: {', '.join(toxic_types())})")
    return cls.from_attributes(attributes)
