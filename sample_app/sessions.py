"""The sign-in session service: users, logins, validation, logout.

This is the logic a user sees; the resilience pieces it is assembled from each live in their own
module (``store`` for DynamoDB settings, ``failover`` for breakers and routing, ``cache`` for static
stability). ``SessionService.from_config`` is the only place that chooses between the resilient and
the naive assembly.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import botocore.exceptions

from sample_app.cache import NoCache, SessionCache, StaticStabilityCache
from sample_app.config import AppConfig
from sample_app.errors import (
    BadCredentials,
    BadRequest,
    Conflict,
    DatabaseError,
    NotFound,
    SessionExpired,
    Unavailable,
)
from sample_app.failover import (
    CircuitBreaker,
    ConsecutiveFailures,
    FailureRate,
    NoBreaker,
    NoRegionAvailable,
    RegionalRouter,
    Served,
    default_classifier,
)
from sample_app.metrics import Metrics
from sample_app.passwords import decoy_hash, hash_password, verify_password
from sample_app.store import REVOKED, RegionStore, Session, SessionWrite, User, make_client

R = TypeVar("R")

USERNAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
SESSION_ID = re.compile(r"[0-9a-f]{32}")
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")  # printable ASCII, no spaces
MIN_PASSWORD, MAX_PASSWORD = 8, 1024


@dataclass(frozen=True)
class Result:
    """What the HTTP layer sends: status, JSON body, who served it, extra headers."""

    status: int
    body: dict[str, Any]
    region: str | None
    source: str  # "dynamodb", "cache" or "app" (answered without a database)
    headers: dict[str, str] = field(default_factory=dict)


class SessionService:
    def __init__(
        self,
        router: RegionalRouter[RegionStore],
        cache: SessionCache,
        *,
        session_ttl: float,
        idempotency_ttl: float,
        pbkdf2_iterations: int,
        secret: bytes,
        mode: str = "resilient",
        clock: Callable[[], float] = time.time,
        close: Callable[[], None] = lambda: None,
    ) -> None:
        self.router = router
        self.cache = cache
        self.session_ttl = session_ttl
        self.idempotency_ttl = idempotency_ttl
        self.pbkdf2_iterations = pbkdf2_iterations
        self.secret = secret
        self.mode = mode
        self.clock = clock
        self._close = close
        # Verifying against a decoy as costly as a real hash when the user does not exist keeps
        # timing from telling attackers which usernames are registered.
        self._decoy_hash = decoy_hash(pbkdf2_iterations)

    @classmethod
    def from_config(
        cls,
        config: AppConfig,
        metrics: Metrics,
        *,
        clock: Callable[[], float] = time.time,
        breaker_clock: Callable[[], float] = time.monotonic,
    ) -> SessionService:
        stores = [
            RegionStore(
                region,
                make_client(region, config.endpoints[region], config.retry, config.timeouts),
                on_retries=metrics.count_retries,
            )
            for region in config.regions
        ]
        if config.mode == "naive":
            breakers = [NoBreaker(store.name) for store in stores]
        else:
            settings = config.breaker
            breakers = [
                CircuitBreaker(
                    store.name,
                    trip=ConsecutiveFailures(settings.consecutive_failures)
                    | FailureRate(settings.failure_rate, window=settings.window, min_calls=settings.min_calls),
                    cooldown=settings.cooldown,
                    clock=breaker_clock,
                    on_change=metrics.breaker_changed,
                )
                for store in stores
            ]
        for breaker in breakers:
            metrics.track_breaker(breaker.name, breaker.state)
        router = RegionalRouter(list(zip(stores, breakers)), default_classifier(), on_failover=metrics.count_failover)
        cache: SessionCache = StaticStabilityCache(config.cache_ttl, clock=clock) if config.cache_ttl > 0 else NoCache()
        secret = config.session_secret.encode() if config.session_secret else os.urandom(32)

        def close() -> None:
            for store in stores:
                store.client.close()

        return cls(
            router,
            cache,
            session_ttl=config.session_ttl,
            idempotency_ttl=config.idempotency_ttl,
            pbkdf2_iterations=config.pbkdf2_iterations,
            secret=secret,
            mode=config.mode,
            clock=clock,
            close=close,
        )

    def close(self) -> None:
        """Close every region's HTTP connection pool (the clients open new connections if used again)."""
        self._close()

    def reset(self, metrics: Metrics) -> None:
        """Back to a fresh start without new clients: breakers closed, cache empty, pools closed.

        ``metrics`` (just emptied) is told each breaker's state again, as ``from_config`` does.
        Creating the clients again would cost far more than everything else a reset does.
        """
        for breaker in self.router.breakers().values():
            breaker.reset()
            metrics.track_breaker(breaker.name, breaker.state)
        self.cache.clear()
        self.close()

    # ------------------------------------------------------------------ API operations

    def create_user(self, body: Any) -> Result:
        username, password = _credentials(body)
        user = User(username, hash_password(password, self.pbkdf2_iterations), self.clock())
        served = self._call(lambda store: store.put_user(user))
        if not served.value:
            raise Conflict(f"user {username!r} already exists", region=served.region)
        return self._result(201, {"user": {"username": username, "created_at": user.created_at}}, served)

    def login(self, body: Any, idempotency_key: str | None) -> Result:
        """Create a session; a repeated Idempotency-Key returns the original session instead.

        Without a key the service makes one per request, so botocore's retries and a failover to the
        other region within this request still cannot create two sessions.
        """
        username, password = _credentials(body)
        key = _idempotency_key(idempotency_key)
        lookup = self._call(lambda store: store.get_user(username))
        user = lookup.value
        stored_hash = user.password_hash if user is not None else self._decoy_hash
        if not verify_password(password, stored_hash) or user is None:
            raise BadCredentials("unknown username or wrong password", region=lookup.region)
        now = self.clock()
        write = SessionWrite(
            session=Session(self._session_id(username, key), username, now, now + self.session_ttl),
            idempotency_key=f"{username}#{key}",
            idempotency_expires_at=now + self.idempotency_ttl,
            now=now,
        )
        served = self._call(lambda store: store.create_session(write))
        session, replayed = served.value
        self.cache.remember(session)
        result = self._result(201, {"session": session.as_json(), "replayed": replayed}, served)
        result.headers["Idempotency-Key"] = key
        if replayed:
            result.headers["Idempotent-Replayed"] = "true"
        return result

    def validate(self, session_id: str) -> Result:
        """Check a session; when no region answers, a recently seen session is served stale."""
        _check_session_id(session_id)
        try:
            served = self._call(lambda store: store.get_session(session_id))
        except Unavailable:
            cached = self.cache.recall(session_id)
            if cached is None:
                raise
            return Result(200, _with_source({"session": cached.as_json()}, None, "cache"), None, "cache")
        session = served.value
        if session is None:
            found = self._read_elsewhere(session_id, served.region)
            if found is not None:
                region, session = found
                if session is REVOKED:
                    raise NotFound(f"session {session_id} not found", region=region)
                self.cache.remember(session)
                body = _with_source({"session": session.as_json(), "replication_lag": True}, region, "dynamodb",
                                    region != self.router.regions[0][1].name)
                return Result(200, body, region, "dynamodb")
        if session is None and served.region != self.router.regions[0][1].name:
            # Failed over: this replica may not have received the session yet (global tables
            # replicate asynchronously). A session this app saw recently is served stale.
            cached = self.cache.recall(session_id)
            if cached is not None:
                body = _with_source({"session": cached.as_json(), "replication_lag": True}, served.region, "cache", True)
                return Result(200, body, served.region, "cache")
        if session is None or session is REVOKED:
            self.cache.forget(session_id)
            raise NotFound(f"session {session_id} not found", region=served.region)
        if session.expires_at <= self.clock():
            self.cache.forget(session_id)
            raise SessionExpired(f"session {session_id} expired", region=served.region)
        self.cache.remember(session)
        return self._result(200, {"session": session.as_json()}, served)

    def _read_elsewhere(self, session_id: str, missed_in: str) -> tuple[str, Any] | None:
        """A session one region does not have (yet) may be in another: after failing back, the
        sessions written in the failover region reach the primary only when replication catches
        up. Reads the other admitted regions; a region that cannot answer is skipped."""
        for store, name in self.router.others(missed_in):
            try:
                session = store.get_session(session_id)
            except Exception:  # noqa: BLE001 - a second opinion that fails changes nothing
                continue
            if session is not None:
                return name, session
        return None

    def logout(self, session_id: str) -> Result:
        _check_session_id(session_id)
        known = self.cache.recall(session_id)  # seen here; the serving replica may lag behind
        self.cache.forget(session_id)  # before the write: a logged-out session must not come back stale
        served = self._call(lambda store: store.revoke_session(session_id, self.clock(), known=known is not None))
        if served.value is None and known is None:
            raise NotFound(f"session {session_id} not found", region=served.region)
        return self._result(200, {"deleted": session_id}, served)

    def health(self) -> Result:
        breakers = {name: breaker.state for name, breaker in self.router.breakers().items()}
        body = {"status": "ok", "mode": self.mode, "breakers": breakers, "region": self.router.preferred(),
                "source": "app", "stale": False}
        return Result(200, body, self.router.preferred(), "app")

    # ------------------------------------------------------------------ helpers

    def _call(self, operation: Callable[[RegionStore], R]) -> Served[R]:
        try:
            return self.router.call(operation)
        except NoRegionAvailable as exc:
            raise Unavailable(f"no region can serve the request ({exc})") from None
        except botocore.exceptions.ClientError as exc:
            error = exc.response.get("Error", {})
            raise DatabaseError(f"DynamoDB error {error.get('Code', '?')}: {error.get('Message', '')}") from None

    def _session_id(self, username: str, key: str) -> str:
        """Derived from user and idempotency key, so every region computes the same id for a retried
        login: even a write applied in both regions before replication is one session."""
        return hmac.new(self.secret, f"{username}\n{key}".encode(), hashlib.sha256).hexdigest()[:32]

    @staticmethod
    def _result(status: int, body: dict[str, Any], served: Served[Any]) -> Result:
        return Result(status, _with_source(body, served.region, "dynamodb", served.failed_over), served.region, "dynamodb")


def _with_source(body: dict[str, Any], region: str | None, source: str, failed_over: bool = False) -> dict[str, Any]:
    return {**body, "region": region, "source": source, "stale": source == "cache", "failed_over": failed_over}


def _credentials(body: Any) -> tuple[str, str]:
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object with username and password")
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not USERNAME.fullmatch(username):
        raise BadRequest("username must be 1-64 characters of letters, digits, '_', '.', '@' or '-'")
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise BadRequest(f"password must be a string of {MIN_PASSWORD}-{MAX_PASSWORD} characters")
    return username, password


def _idempotency_key(value: str | None) -> str:
    if value is None:
        return uuid.uuid4().hex
    if not IDEMPOTENCY_KEY.fullmatch(value):
        raise BadRequest("Idempotency-Key must be 1-255 printable ASCII characters without spaces")
    return value


def _check_session_id(session_id: str) -> None:
    if not SESSION_ID.fullmatch(session_id):
        raise BadRequest("session id must be 32 lowercase hex characters")
