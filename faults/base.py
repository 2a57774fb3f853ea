"""The one interface every fault implements, and the registry that names them.

A fault is a small dataclass whose fields are its options. It is created by its registered name
(``"dns.empty_answer"``, ``"network.latency"``, ...) from a plain mapping of options, which is how
Python callers, YAML scenarios, the CLI and pytest markers all build faults, so validation and
naming are identical everywhere. ``start(env)`` makes the fault take effect on the running harness,
``stop(env)`` undoes it; both are called by ``harness.chaos.Chaos``, which also enforces
``duration`` and guarantees ``stop`` runs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import random
import threading
import types
import typing
from collections.abc import Hashable, Mapping
from typing import Any, ClassVar, Protocol

from harness.errors import ComponentMissingError, FaultOptionError, UnknownFaultError, shown

_REGISTRY: dict[str, type["Fault"]] = {}


class Environment(Protocol):
    """What a running harness exposes to faults; a component is ``None`` when not running."""

    dns: Any
    proxies: Any
    dynamodb: Any
    health: Any


def register(cls: type["Fault"]) -> type["Fault"]:
    """Class decorator: make a fault available under ``cls.name`` everywhere."""
    if not getattr(cls, "name", None) or "." not in cls.name:
        raise TypeError(f"{cls.__qualname__} needs a name of the form 'family.fault'")
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise TypeError(f"fault name {cls.name!r} registered twice")
    _REGISTRY[cls.name] = cls
    return cls


def fault_names() -> list[str]:
    return sorted(_REGISTRY)


def fault_class(name: str) -> type["Fault"]:
    try:
        return _REGISTRY[name]
    except KeyError:
        close = [n for n in fault_names() if n.split(".")[-1] == name.split(".")[-1]]
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UnknownFaultError(
            f"unknown fault {name!r}{hint}; known faults: {', '.join(fault_names())}"
        ) from None


def create_fault(fault: str, options: Mapping[str, Any] | None = None, /, **kw: Any) -> "Fault":
    """Build a fault by its registered name from plain options (validated, coerced).

    Positional-only parameters leave every keyword (``name=`` included) to the fault's options.
    """
    merged = dict(options or {})
    merged.update(kw)
    return fault_class(fault).from_options(merged)


class Draws:
    """Seeded yes/no decisions that do not depend on timing or on how threads interleave.

    The rule (documented in docs/architecture.md, "Deterministic fault draws"): every decision
    belongs to a *stream* named by a stable identity of what is affected (a DNS query name and
    type, a DynamoDB operation, a health target, a proxy). Within a stream the n-th event is hit
    when ``floor(u + (n + 1) * p) > floor(u + n * p)``, where ``p`` is the probability and the
    offset ``u`` in [0, 1) is a hash of the fault name, the seed and the stream. So:

    - any ``k`` consecutive events of a stream contain ``floor(k * p)`` or ``ceil(k * p)`` hits,
      however the events of different streams interleave: a window of requests always sees the
      same share of failures, which is what keeps a verdict stable on a busy machine;
    - a stream used once (a proxy chosen at start) is hit with probability ``p``, by its hash;
    - the same seed, fault and identities give the same decisions in every run.
    """

    def __init__(self, fault: str, seed: int, probability: float) -> None:
        self.fault = fault
        self.seed = seed
        self.probability = probability
        self._counts: dict[Hashable, int] = {}
        self._lock = threading.Lock()

    def uniform(self, *identity: Hashable) -> float:
        """A number in [0, 1) fixed by the fault, the seed and ``identity``."""
        digest = hashlib.blake2b(repr((self.fault, self.seed, identity)).encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64

    def hit(self, *stream: Hashable) -> bool:
        """Whether the next event of ``stream`` is affected."""
        p = self.probability
        if p >= 1.0:
            return True
        if p <= 0.0:
            return False
        with self._lock:
            n = self._counts.get(stream, 0)
            self._counts[stream] = n + 1
        u = self.uniform(*stream)
        return math.floor(u + (n + 1) * p) > math.floor(u + n * p)


@dataclasses.dataclass(kw_only=True, eq=False)
class Fault:
    """Base of every fault: options common to all of them plus the start/stop contract.

    ``probability`` selects the affected events through ``Draws`` (seeded, keyed by what is
    affected, spread evenly), so a run repeats exactly whatever the timing; ``duration`` (seconds)
    makes the fault clear itself.
    """

    name: ClassVar[str]
    summary: ClassVar[str] = ""

    probability: float = 1.0
    seed: int = 0
    duration: float | None = None

    def __post_init__(self) -> None:
        if not (0.0 <= self.probability <= 1.0) or math.isnan(self.probability):
            raise FaultOptionError(f"{self.name}: probability must be between 0 and 1, got {self.probability!r}")
        if self.duration is not None and not (self.duration > 0 and math.isfinite(self.duration)):
            raise FaultOptionError(f"{self.name}: duration must be a positive number of seconds, got {self.duration!r}")
        self.rng = random.Random(f"{self.name}:{self.seed}")  # for sequential draws (e.g. flap jitter)
        self.draws = Draws(self.name, self.seed, self.probability)
        self.validate()

    # -- contract for subclasses -------------------------------------------------------------
    def validate(self) -> None:
        """Check option values; raise ``FaultOptionError`` naming the fault and the option."""

    def start(self, env: Environment) -> None:
        raise NotImplementedError

    def stop(self, env: Environment) -> None:
        raise NotImplementedError

    # -- shared helpers ------------------------------------------------------------------------
    def roll(self, *stream: Hashable) -> bool:
        """True when the next event of ``stream`` (a stable identity of what is affected) is hit."""
        return self.draws.hit(*stream)

    def options(self) -> dict[str, Any]:
        """The options as plain data (for reports, JSON and round-tripping)."""
        out = {}
        for f in dataclasses.fields(self):
            if f.init:
                value = getattr(self, f.name)
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    def describe(self) -> dict[str, Any]:
        return {"fault": self.name, **self.options()}

    def component(self, env: Environment, attr: str, what: str) -> Any:
        value = getattr(env, attr, None)
        if value is None:
            raise ComponentMissingError(f"fault {self.name} needs {what}, which this harness is not running")
        return value

    @classmethod
    def option_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls) if f.init]

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> "Fault":
        known = cls.option_names()
        unknown = [k for k in options if k not in known]
        if unknown:
            raise FaultOptionError(
                f"{cls.name}: unknown option {unknown[0]!r}; known options: {', '.join(known)}"
            )
        hints = typing.get_type_hints(cls)
        values = {k: _coerce(v, hints[k], f"{cls.name}: option {k!r}") for k, v in options.items()}
        try:
            return cls(**values)
        except TypeError as exc:  # a required option is missing
            raise FaultOptionError(f"{cls.name}: {exc}".replace("__init__() ", "")) from None


# Largest option value in size: Go's int64, what Toxiproxy attributes hold. NaN, the infinities
# (``1e999`` in YAML or JSON) and anything bigger are refused here, once, for every fault.
MAX_OPTION_NUMBER = 2**63 - 1


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """Coerce scenario/CLI values to the annotated type, or raise a one-line error."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except FaultOptionError as exc:
                errors.append(exc)
        raise errors[0]
    if origin is tuple:
        item = args[0] if args else Any
        if isinstance(value, (str, int, float)):
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise FaultOptionError(f"{where} must be a list, got {shown(value)}")
        return tuple(_coerce(v, item, where) for v in value)
    if origin is typing.Literal:
        if value not in args:
            raise FaultOptionError(f"{where} must be one of {', '.join(map(repr, args))}, got {shown(value)}")
        return value
    if hint is Any:
        return value
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        raise FaultOptionError(f"{where} must be true or false, got {shown(value)}")
    if hint in (int, float):
        if isinstance(value, bool):
            raise FaultOptionError(f"{where} must be a number, got {shown(value)}")
        try:
            number = hint(value)
        except (TypeError, ValueError, OverflowError):  # int(1e999) overflows, int("1e3") is no number
            raise FaultOptionError(f"{where} must be a number, got {shown(value)}") from None
        if isinstance(number, float) and not math.isfinite(number) or abs(number) > MAX_OPTION_NUMBER:
            raise FaultOptionError(f"{where} must be a finite number of at most {MAX_OPTION_NUMBER:.3g}, got {shown(value)}")
        if hint is int and isinstance(value, float) and not value.is_integer():
            raise FaultOptionError(f"{where} must be a whole number, got {shown(value)}")
        return number
    if hint is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise FaultOptionError(f"{where} must be text, got {shown(value)}")
        return str(value)
    return value
