"""Regional failover: which errors count, circuit breakers, and the router that uses them.

Policies are small objects composed with ``|`` (in the style of tenacity), not flags:

    classifier = ConnectionFailure() | ServerError() | Throttled()
    trip = ConsecutiveFailures(3) | FailureRate(0.5, window=20, min_calls=10)
    breaker = CircuitBreaker("us-east-1", trip=trip, cooldown=5.0, clock=fake_clock)
    router = RegionalRouter([(east, breaker), (west, CircuitBreaker(...))], classifier)

A breaker is closed (traffic flows), open (traffic skips the region for ``cooldown`` seconds) or
half-open (exactly one probe may pass; its outcome closes or re-opens the breaker). The router walks
regions in preference order, so once a half-open probe to the primary succeeds, traffic fails back.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import Generic, Protocol, TypeVar

import botocore.exceptions

T = TypeVar("T")
R = TypeVar("R")

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"

THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "TooManyRequestsException",
    }
)


# ---------------------------------------------------------------- which errors count as region failures


class FailureClassifier:
    """Decides whether an exception means "this region is not serving" (counts toward the breaker).

    Errors that prove the region answered (conditional check failed, validation, missing item) do
    not count: the region is healthy, the request was wrong.
    """

    def counts(self, exc: BaseException) -> bool:
        raise NotImplementedError

    def __or__(self, other: FailureClassifier) -> FailureClassifier:
        return AnyOf((self, other))


@dataclass(frozen=True)
class AnyOf(FailureClassifier):
    parts: tuple[FailureClassifier, ...]

    def counts(self, exc: BaseException) -> bool:
        return any(part.counts(exc) for part in self.parts)

    def __or__(self, other: FailureClassifier) -> FailureClassifier:
        return AnyOf((*self.parts, other))


class ConnectionFailure(FailureClassifier):
    """No HTTP answer: DNS failure or refused connection (EndpointConnectionError), connect or read
    timeout, connection closed mid-response."""

    def counts(self, exc: BaseException) -> bool:
        return isinstance(exc, botocore.exceptions.HTTPClientError | botocore.exceptions.ConnectionError)


def _client_error(exc: BaseException) -> tuple[str, int] | None:
    if not isinstance(exc, botocore.exceptions.ClientError):
        return None
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return error.get("Code", ""), int(status or 0)


class ServerError(FailureClassifier):
    """The service answered 5xx (InternalServerError, ServiceUnavailable) after botocore's retries."""

    def counts(self, exc: BaseException) -> bool:
        error = _client_error(exc)
        return error is not None and error[1] >= 500


class Throttled(FailureClassifier):
    """Throttling that survived botocore's retries: the region cannot take our load right now."""

    def counts(self, exc: BaseException) -> bool:
        error = _client_error(exc)
        return error is not None and error[0] in THROTTLING_CODES


def default_classifier() -> FailureClassifier:
    return ConnectionFailure() | ServerError() | Throttled()


# ---------------------------------------------------------------- when a breaker trips


class TripPolicy:
    """Watches call outcomes and says when the breaker should open."""

    def record(self, success: bool) -> None:
        raise NotImplementedError

    def should_trip(self) -> bool:
        raise NotImplementedError

    def reset(self) -> None:
        raise NotImplementedError

    def __or__(self, other: TripPolicy) -> TripPolicy:
        return TripOnAny((self, other))


class TripOnAny(TripPolicy):
    def __init__(self, parts: Sequence[TripPolicy]) -> None:
        self.parts = tuple(parts)

    def record(self, success: bool) -> None:
        for part in self.parts:
            part.record(success)

    def should_trip(self) -> bool:
        return any(part.should_trip() for part in self.parts)

    def reset(self) -> None:
        for part in self.parts:
            part.reset()

    def __or__(self, other: TripPolicy) -> TripPolicy:
        return TripOnAny((*self.parts, other))


class ConsecutiveFailures(TripPolicy):
    """Trip after ``threshold`` failures in a row (a hard outage trips fast)."""

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold
        self.run = 0

    def record(self, success: bool) -> None:
        self.run = 0 if success else self.run + 1

    def should_trip(self) -> bool:
        return self.run >= self.threshold

    def reset(self) -> None:
        self.run = 0


class FailureRate(TripPolicy):
    """Trip when ``rate`` of the last ``window`` calls failed, once ``min_calls`` were seen
    (a flapping region that fails every other call never builds a consecutive run)."""

    def __init__(self, rate: float, *, window: int, min_calls: int) -> None:
        self.rate = rate
        self.min_calls = min_calls
        self.outcomes: collections.deque[bool] = collections.deque(maxlen=window)

    def record(self, success: bool) -> None:
        self.outcomes.append(success)

    def should_trip(self) -> bool:
        calls = len(self.outcomes)
        return calls >= self.min_calls and self.outcomes.count(False) / calls >= self.rate

    def reset(self) -> None:
        self.outcomes.clear()


# ---------------------------------------------------------------- the breaker


class Breaker(Protocol):
    name: str

    @property
    def state(self) -> str: ...

    def try_acquire(self) -> bool: ...

    def record_success(self) -> None: ...

    def record_failure(self) -> None: ...

    def reset(self) -> None: ...


StateListener = Callable[[str, str, str], None]  # (breaker name, old state, new state)


@dataclass(eq=False)
class CircuitBreaker:
    """Closed -> open after the trip policy fires; open -> half-open after ``cooldown`` (by
    ``clock``, injectable so tests are deterministic); half-open admits one probe at a time, whose
    success closes the breaker and whose failure re-opens it for another cooldown."""

    name: str
    _: KW_ONLY
    trip: TripPolicy
    cooldown: float
    clock: Callable[[], float] = time.monotonic
    on_change: StateListener | None = None
    _state: str = field(default=CLOSED, init=False)
    _opened_at: float = field(default=0.0, init=False)
    _probe_out: bool = field(default=False, init=False)  # a half-open probe is in flight
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def state(self) -> str:
        """Current state; an open breaker whose cooldown elapsed reads as half-open."""
        with self._lock:
            self._advance()
            return self._state

    def try_acquire(self) -> bool:
        """May a call go to this region now? In half-open, only the first caller gets the probe."""
        with self._lock:
            self._advance()
            if self._state == CLOSED:
                return True
            if self._state == HALF_OPEN and not self._probe_out:
                self._probe_out = True
                return True
            return False

    def record_success(self) -> None:
        with self._lock:
            self._probe_out = False
            if self._state == HALF_OPEN:
                self._move(CLOSED)
            self.trip.record(True)

    def record_failure(self) -> None:
        with self._lock:
            self._probe_out = False
            if self._state == HALF_OPEN:
                self._open()
                return
            self.trip.record(False)
            if self._state == CLOSED and self.trip.should_trip():
                self._open()

    def reset(self) -> None:
        """Closed with no history, without reporting a transition (a new test, not a recovery)."""
        with self._lock:
            self._state, self._opened_at, self._probe_out = CLOSED, 0.0, False
            self.trip.reset()

    def _open(self) -> None:
        self._opened_at = self.clock()
        self._move(OPEN)

    def _advance(self) -> None:
        if self._state == OPEN and self.clock() - self._opened_at >= self.cooldown:
            self._move(HALF_OPEN)

    def _move(self, new: str) -> None:
        old, self._state = self._state, new
        if new in (CLOSED, OPEN):
            self.trip.reset()
        if self.on_change is not None and old != new:
            self.on_change(self.name, old, new)


class NoBreaker:
    """Always admits: the naive app keeps calling its one region whatever happens."""

    state = CLOSED

    def __init__(self, name: str) -> None:
        self.name = name

    def try_acquire(self) -> bool:
        return True

    def record_success(self) -> None:
        pass

    def record_failure(self) -> None:
        pass

    def reset(self) -> None:
        pass


# ---------------------------------------------------------------- the router


@dataclass(frozen=True)
class Served(Generic[R]):
    """A result and the region that produced it; ``failed_over`` when it is not the first choice."""

    value: R
    region: str
    failed_over: bool


@dataclass(frozen=True)
class RegionFailure:
    region: str
    reason: str


class NoRegionAvailable(Exception):
    """Every region was skipped (breaker open) or failed with a counted error."""

    def __init__(self, failures: Sequence[RegionFailure]) -> None:
        self.failures = tuple(failures)
        super().__init__("; ".join(f"{f.region}: {f.reason}" for f in self.failures) or "no regions")


class RegionalRouter(Generic[T]):
    """Sends each call to the first region (in preference order) whose breaker admits it.

    A counted failure is recorded on that region's breaker and the call moves on to the next region
    within the same request, so users see success while the breaker is still learning. Any other
    exception is the region's answer (conditional check failed, user exists, validation): it counts
    as a success for the breaker and goes back to the caller.
    """

    def __init__(
        self,
        regions: Sequence[tuple[T, Breaker]],
        classifier: FailureClassifier,
        *,
        on_failover: Callable[[str, str], None] | None = None,
    ) -> None:
        self.regions = tuple(regions)
        self.classifier = classifier
        self.on_failover = on_failover

    def breakers(self) -> dict[str, Breaker]:
        return {breaker.name: breaker for _, breaker in self.regions}

    def preferred(self) -> str | None:
        """The region the next call would try first (None when every breaker is open)."""
        for _, breaker in self.regions:
            if breaker.state != OPEN:
                return breaker.name
        return None

    def others(self, region: str) -> list[tuple[T, str]]:
        """The regions other than ``region`` whose breakers are not open, in preference order."""
        return [(target, breaker.name) for target, breaker in self.regions
                if breaker.name != region and breaker.state != OPEN]

    def call(self, operation: Callable[[T], R]) -> Served[R]:
        failures: list[RegionFailure] = []
        first = self.regions[0][1].name
        for target, breaker in self.regions:
            if not breaker.try_acquire():
                failures.append(RegionFailure(breaker.name, f"circuit breaker {breaker.state}"))
                continue
            try:
                value = operation(target)
            except Exception as exc:
                if self.classifier.counts(exc):
                    breaker.record_failure()
                    failures.append(RegionFailure(breaker.name, f"{type(exc).__name__}: {exc}"))
                    continue
                breaker.record_success()  # the region answered; the answer was "no"
                raise
            breaker.record_success()
            failed_over = breaker.name != first
            if failed_over and self.on_failover is not None:
                self.on_failover(first, breaker.name)
            return Served(value, breaker.name, failed_over)
        raise NoRegionAvailable(failures)
