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
import re
import threading
import types
import typing
from collections.abc import Callable, Hashable, Mapping
from typing import Any, ClassVar, TypeVar

from faults.environment import Environment, require
from harness.errors import FaultOptionError, UnknownFaultError, shown
from harness.registry import Registry

_REGISTRY: Registry["Fault"] = Registry("fault name")
_NAME = re.compile(r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*")

F = TypeVar("F", bound="Fault")
C = TypeVar("C")


def fault(name: str) -> Callable[[type[F]], type[F]]:
    """Class decorator making a fault class available as ``name`` in Python, YAML, the CLI and markers.

    ``name`` is ``family.fault`` (``"dns.empty_answer"``). The class is already a keyword-only
    dataclass (every ``Fault`` subclass is, see ``Fault.__init_subclass__``); its docstring's first
    line is its ``summary``, shown by ``chaos-harness list`` and in the README's fault table.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise TypeError(f"fault name {name!r} is not of the form 'family.fault' (lower case, digits, _)")

    def named(cls: type[F]) -> type[F]:
        doc = (cls.__doc__ or "").strip() if "__doc__" in cls.__dict__ else ""
        if not doc:
            raise TypeError(f"{cls.__qualname__} needs a docstring whose first line says what fault {name} does")
        _REGISTRY.add(name, cls)
        cls.name = name
        cls.summary = doc.splitlines()[0].strip().rstrip(".")
        return cls

    return named


def fault_names() -> list[str]:
    return _REGISTRY.names()


def fault_class(name: str) -> type["Fault"]:
    cls = _REGISTRY.get(name)
    if cls is None:
        close = [n for n in fault_names() if n.split(".")[-1] == name.split(".")[-1]]
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UnknownFaultError(f"unknown fault {name!r}{hint}; known faults: {', '.join(fault_names())}")
    return cls


def option(default: Any, help: str, unit: str = "") -> Any:
    """A fault option: its default, what it means and its unit (``"ms"``, ``"s"``, ...).

    The meaning and unit travel with the class, so ``chaos-harness list`` and the README's fault
    table (``faults.catalog``) are produced from the same source as the validation.
    """
    return dataclasses.field(default=default, metadata={"help": help, "unit": unit})


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


@typing.dataclass_transform(kw_only_default=True, field_specifiers=(dataclasses.field, option))
@dataclasses.dataclass(kw_only=True, eq=False)
class Fault:
    """Base of every fault: options common to all of them plus the start/stop contract.

    ``probability`` selects the affected events through ``Draws`` (seeded, keyed by what is
    affected, spread evenly), so a run repeats exactly whatever the timing; ``duration`` (seconds)
    makes the fault clear itself.

    Every subclass is made a keyword-only dataclass when it is defined (its fields are its options,
    faults compare by identity), so a fault family's base and each fault declare only their
    options; ``@fault("family.name")`` then names and registers a concrete fault.
    """

    name: ClassVar[str]
    summary: ClassVar[str]  # the first line of the fault's docstring (set by ``@fault``)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        doc = cls.__dict__.get("__doc__")
        dataclasses.dataclass(cls, kw_only=True, eq=False)
        cls.__doc__ = doc  # the class's own docstring (or none), not the signature dataclass writes

    probability: float = option(1.0, "share of occurrences affected, drawn from a generator seeded by seed", "0..1")
    seed: int = option(0, "seed of the probability draws: the same seed repeats a run exactly")
    duration: float | None = option(None, "clear the fault by itself after this long (none: until cleared)", "s")

    def __post_init__(self) -> None:
        if not (0.0 <= self.probability <= 1.0) or math.isnan(self.probability):
            raise FaultOptionError(f"{self.name}: probability must be between 0 and 1, got {self.probability!r}",
                                   option="probability")
        if self.duration is not None and not (self.duration > 0 and math.isfinite(self.duration)):
            raise FaultOptionError(f"{self.name}: duration must be a positive number of seconds, got {self.duration!r}",
                                   option="duration")
        self.rng = random.Random(f"{self.name}:{self.seed}")  # for sequential draws (e.g. flap jitter)
        self.draws = Draws(self.name, self.seed, self.probability)
        self.validate()

    # -- contract for subclasses -------------------------------------------------------------
    def validate(self) -> None:
        """Check option values; raise ``FaultOptionError`` naming the fault and the option (``option=``)."""

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

    def require(self, component: C | None, what: str) -> C:
        """A component of ``env`` (``self.require(env.dns, "the DNS server")``), or the one-line
        ``ComponentMissingError`` saying this fault needs ``what``."""
        return require(component, self.name, what)

    @classmethod
    def option_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls) if f.init]

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> "Fault":
        known = cls.option_names()
        unknown = [k for k in options if k not in known]
        if unknown:
            raise FaultOptionError(f"{cls.name}: unknown option {unknown[0]!r}; known options: {', '.join(known)}",
                                   option=unknown[0])
        hints = typing.get_type_hints(cls)
        values = {}
        for key, value in options.items():
            try:
                values[key] = _coerce(value, hints[key], f"{cls.name}: option {key!r}")
            except FaultOptionError as exc:
                exc.option = key
                raise
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
