"""Configuration of the sample session service.

Two ready-made shapes show the difference the drills measure:

* ``AppConfig.resilient(...)`` — botocore ``standard`` retries with few attempts, short connect and
  read timeouts, a circuit breaker per region with failover to the secondary, and a short-lived
  static-stability cache for session validation.
* ``AppConfig.naive(...)`` — what an app gets by accepting defaults: ``legacy`` retries (10 attempts
  for DynamoDB), 60 s timeouts, one region, no cache.

``AppConfig.from_env()`` builds either from ``CHAOS_*`` environment variables (listed in
``ENVIRONMENT``) so ``python -m sample_app`` can run as its own process under a drill.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from harness.errors import ConfigError

PRIMARY_REGION = "us-east-1"
SECONDARY_REGION = "us-west-2"
RETRY_MODES = ("standard", "legacy", "adaptive")
MODES = ("resilient", "naive")


@functools.lru_cache(maxsize=1)
def _known_regions() -> frozenset[str]:
    from harness.dynamodb.clients import botocore_session

    return frozenset(botocore_session().get_available_regions("dynamodb"))


@dataclass(frozen=True)
class RetrySettings:
    """botocore retry mode and total attempts (first try included)."""

    mode: str = "standard"
    max_attempts: int = 2

    def __post_init__(self) -> None:
        if self.mode not in RETRY_MODES:
            raise ConfigError(f"unknown retry mode {self.mode!r}; expected one of {', '.join(RETRY_MODES)}")
        if self.max_attempts < 1:
            raise ConfigError(f"retry max_attempts must be >= 1, got {self.max_attempts}")


@dataclass(frozen=True)
class Timeouts:
    """Socket timeouts (seconds) per HTTP attempt; short ones let failover happen in time."""

    connect: float = 0.5
    read: float = 1.0

    def __post_init__(self) -> None:
        if self.connect <= 0 or self.read <= 0:
            raise ConfigError(f"timeouts must be positive, got connect={self.connect} read={self.read}")


@dataclass(frozen=True)
class BreakerSettings:
    """When a region's breaker opens, and for how long.

    Opens after ``consecutive_failures`` failures in a row, or when at least ``min_calls`` of the
    last ``window`` calls happened and ``failure_rate`` of them failed. Stays open ``cooldown``
    seconds, then lets one probe through (half-open).
    """

    consecutive_failures: int = 3
    failure_rate: float = 0.5
    window: int = 20
    min_calls: int = 10
    cooldown: float = 5.0

    def __post_init__(self) -> None:
        if self.consecutive_failures < 1:
            raise ConfigError(f"breaker consecutive_failures must be >= 1, got {self.consecutive_failures}")
        if not 0 < self.failure_rate <= 1:
            raise ConfigError(f"breaker failure_rate must be in (0, 1], got {self.failure_rate}")
        if self.window < 1 or not 1 <= self.min_calls <= self.window:
            raise ConfigError(f"breaker needs 1 <= min_calls <= window, got min_calls={self.min_calls} window={self.window}")
        if self.cooldown < 0:
            raise ConfigError(f"breaker cooldown must be >= 0, got {self.cooldown}")


@dataclass(frozen=True)
class AppConfig:
    """Everything the service needs; validated on construction (one-line ``ConfigError``)."""

    endpoints: Mapping[str, str]
    regions: tuple[str, ...] = (PRIMARY_REGION, SECONDARY_REGION)
    mode: str = "resilient"
    retry: RetrySettings = field(default_factory=RetrySettings)
    timeouts: Timeouts = field(default_factory=Timeouts)
    breaker: BreakerSettings = field(default_factory=BreakerSettings)
    cache_ttl: float = 30.0
    session_ttl: float = 3600.0
    idempotency_ttl: float = 86400.0
    pbkdf2_iterations: int = 200_000
    session_secret: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    allow_non_loopback: bool = False
    dns_server: tuple[str, int] | None = None
    dns_zones: tuple[str, ...] = ("amazonaws.com",)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regions", tuple(self.regions))
        object.__setattr__(self, "endpoints", dict(self.endpoints))
        if not self.regions:
            raise ConfigError("no regions configured")
        known = _known_regions()
        for region in self.regions:
            if region not in known:
                raise ConfigError(f"unknown region {region!r} (not a DynamoDB region botocore knows)")
        if len(set(self.regions)) != len(self.regions):
            raise ConfigError(f"regions listed twice: {', '.join(self.regions)}")
        for region in self.regions:
            if not self.endpoints.get(region):
                raise ConfigError(f"no endpoint URL for region {region}; set {endpoint_variable(region)}")
        for region, url in self.endpoints.items():
            if region not in self.regions:
                raise ConfigError(f"endpoint given for region {region!r}, which is not in regions {', '.join(self.regions)}")
            if not url.startswith(("http://", "https://")):
                raise ConfigError(f"endpoint URL for {region} must start with http:// or https://, got {url!r}")
        if self.mode not in MODES:
            raise ConfigError(f"unknown mode {self.mode!r}; expected one of {', '.join(MODES)}")
        if self.cache_ttl < 0 or self.session_ttl <= 0 or self.idempotency_ttl <= 0:
            raise ConfigError("cache_ttl must be >= 0 and session_ttl, idempotency_ttl > 0")
        if self.pbkdf2_iterations < 1:
            raise ConfigError(f"pbkdf2_iterations must be >= 1, got {self.pbkdf2_iterations}")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port {self.port} is out of range")

    @property
    def primary(self) -> str:
        return self.regions[0]

    @classmethod
    def resilient(cls, endpoints: Mapping[str, str], **overrides: object) -> AppConfig:
        """Failover, breakers, short timeouts, standard retries, static-stability cache."""
        return cls(endpoints=endpoints, **overrides)

    @classmethod
    def naive(cls, endpoints: Mapping[str, str], **overrides: object) -> AppConfig:
        """Defaults an unprepared app runs with: one region, legacy retries, long timeouts, no cache."""
        primary = overrides.pop("regions", (PRIMARY_REGION,))[:1]
        settings: dict[str, object] = {
            "mode": "naive",
            "regions": tuple(primary),
            "retry": RetrySettings(mode="legacy", max_attempts=10),
            "timeouts": Timeouts(connect=60.0, read=60.0),
            "cache_ttl": 0.0,
        }
        settings.update(overrides)
        endpoints = {region: url for region, url in endpoints.items() if region in settings["regions"]}
        return cls(endpoints=endpoints, **settings)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AppConfig:
        """Build from ``CHAOS_*`` variables (see ``ENVIRONMENT``); unset ones keep the mode's defaults."""
        env = os.environ if environ is None else environ
        reader = _EnvReader(env)
        mode = reader.choice("CHAOS_APP_MODE", MODES, "resilient")
        regions = reader.list("CHAOS_APP_REGIONS") or (PRIMARY_REGION, SECONDARY_REGION)
        if mode == "naive":
            regions = regions[:1]
        base = cls.naive if mode == "naive" else cls.resilient
        defaults = base({region: "http://unset" for region in regions}, regions=regions)
        endpoints = {region: reader.text(endpoint_variable(region), "") for region in regions}
        dns = reader.address("CHAOS_DNS_SERVER")
        return dataclasses.replace(
            defaults,
            endpoints=endpoints,
            retry=RetrySettings(
                mode=reader.choice("CHAOS_APP_RETRY_MODE", RETRY_MODES, defaults.retry.mode),
                max_attempts=reader.integer("CHAOS_APP_MAX_ATTEMPTS", defaults.retry.max_attempts),
            ),
            timeouts=Timeouts(
                connect=reader.number("CHAOS_APP_CONNECT_TIMEOUT", defaults.timeouts.connect),
                read=reader.number("CHAOS_APP_READ_TIMEOUT", defaults.timeouts.read),
            ),
            breaker=BreakerSettings(
                consecutive_failures=reader.integer("CHAOS_APP_BREAKER_FAILURES", defaults.breaker.consecutive_failures),
                failure_rate=reader.number("CHAOS_APP_BREAKER_FAILURE_RATE", defaults.breaker.failure_rate),
                window=reader.integer("CHAOS_APP_BREAKER_WINDOW", defaults.breaker.window),
                min_calls=reader.integer("CHAOS_APP_BREAKER_MIN_CALLS", defaults.breaker.min_calls),
                cooldown=reader.number("CHAOS_APP_BREAKER_COOLDOWN", defaults.breaker.cooldown),
            ),
            cache_ttl=reader.number("CHAOS_APP_CACHE_TTL", defaults.cache_ttl),
            session_ttl=reader.number("CHAOS_APP_SESSION_TTL", defaults.session_ttl),
            pbkdf2_iterations=reader.integer("CHAOS_APP_PBKDF2_ITERATIONS", defaults.pbkdf2_iterations),
            session_secret=reader.text("CHAOS_APP_SESSION_SECRET", "") or None,
            host=reader.text("CHAOS_APP_HOST", defaults.host),
            port=reader.integer("CHAOS_APP_PORT", defaults.port),
            allow_non_loopback=reader.flag("CHAOS_APP_ALLOW_NON_LOOPBACK"),
            dns_server=dns,
            dns_zones=reader.list("CHAOS_DNS_ZONES") or defaults.dns_zones,
        )


def endpoint_variable(region: str) -> str:
    """Environment variable holding a region's endpoint URL: us-east-1 -> CHAOS_APP_ENDPOINT_US_EAST_1."""
    return "CHAOS_APP_ENDPOINT_" + region.upper().replace("-", "_")


ENVIRONMENT: dict[str, str] = {
    "CHAOS_APP_HOST": "address to listen on (default 127.0.0.1; loopback only unless CHAOS_APP_ALLOW_NON_LOOPBACK=1)",
    "CHAOS_APP_PORT": "port to listen on (default 8080; 0 picks a free one)",
    "CHAOS_APP_ALLOW_NON_LOOPBACK": "1 to allow a non-loopback CHAOS_APP_HOST",
    "CHAOS_APP_MODE": "resilient (default) or naive; sets the defaults of everything below",
    "CHAOS_APP_REGIONS": "comma-separated regions, primary first (default us-east-1,us-west-2; naive keeps the first)",
    "CHAOS_APP_ENDPOINT_<REGION>": "endpoint URL per region, e.g. CHAOS_APP_ENDPOINT_US_EAST_1=http://dynamodb.us-east-1.amazonaws.com:4566 (required)",
    "CHAOS_APP_RETRY_MODE": "botocore retry mode: standard (resilient default), legacy (naive default) or adaptive",
    "CHAOS_APP_MAX_ATTEMPTS": "total botocore attempts per call, first try included (resilient 2, naive 10)",
    "CHAOS_APP_CONNECT_TIMEOUT": "seconds per connection attempt (resilient 0.5, naive 60)",
    "CHAOS_APP_READ_TIMEOUT": "seconds to wait for a response (resilient 1, naive 60)",
    "CHAOS_APP_BREAKER_FAILURES": "consecutive failures that open a region's breaker (default 3)",
    "CHAOS_APP_BREAKER_FAILURE_RATE": "failure share over the window that opens it (default 0.5)",
    "CHAOS_APP_BREAKER_WINDOW": "calls in the failure-rate window (default 20)",
    "CHAOS_APP_BREAKER_MIN_CALLS": "calls needed before the rate counts (default 10)",
    "CHAOS_APP_BREAKER_COOLDOWN": "seconds a breaker stays open before a half-open probe (default 5)",
    "CHAOS_APP_CACHE_TTL": "seconds a validated session may be served from the static-stability cache (resilient 30, naive 0 = off)",
    "CHAOS_APP_SESSION_TTL": "session lifetime in seconds (default 3600)",
    "CHAOS_APP_PBKDF2_ITERATIONS": "PBKDF2-SHA256 iterations for new password hashes (default 200000)",
    "CHAOS_APP_SESSION_SECRET": "HMAC key deriving session ids from idempotency keys; same value on every app instance (default: random per process)",
    "CHAOS_DNS_SERVER": "host:port of the harness DNS server; when set, names in CHAOS_DNS_ZONES resolve through it",
    "CHAOS_DNS_ZONES": "comma-separated zones resolved through CHAOS_DNS_SERVER (default amazonaws.com)",
}


class _EnvReader:
    """Typed reads of environment variables with one-line errors naming the variable."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def text(self, name: str, default: str) -> str:
        return self.env.get(name, "").strip() or default

    def list(self, name: str) -> tuple[str, ...]:
        return tuple(part.strip() for part in self.env.get(name, "").split(",") if part.strip())

    def choice(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        value = self.text(name, default)
        if value not in allowed:
            raise ConfigError(f"{name}={value!r} is not one of {', '.join(allowed)}")
        return value

    def _convert(self, name: str, default, kind, label: str):
        raw = self.env.get(name, "").strip()
        if not raw:
            return default
        try:
            return kind(raw)
        except ValueError:
            raise ConfigError(f"{name}={raw!r} is not {label}") from None

    def integer(self, name: str, default: int) -> int:
        return self._convert(name, default, int, "an integer")

    def number(self, name: str, default: float) -> float:
        return self._convert(name, default, float, "a number")

    def flag(self, name: str) -> bool:
        return self.text(name, "0").lower() in ("1", "true", "yes", "on")

    def address(self, name: str) -> tuple[str, int] | None:
        raw = self.text(name, "")
        if not raw:
            return None
        host, sep, port = raw.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ConfigError(f"{name}={raw!r} is not host:port")
        return host.strip("[]"), int(port)
