"""How patient the stub resolver is, in resolv.conf's own terms.

glibc reads ``options timeout:N attempts:N`` from ``/etc/resolv.conf`` (defaults 5 s and 2, capped
at 30 s and 5 attempts); the in-process hook and the sandbox's generated resolv.conf share this one
object so Python code and sandboxed programs wait and retry the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from harness.errors import ConfigError

# glibc's resolv/resolv.h: RES_MAXRETRANS 30, RES_MAXRETRY 5.
MAX_TIMEOUT = 30.0
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class ResolverOptions:
    """Per-attempt ``timeout`` (seconds) and number of ``attempts`` per query, as in resolv.conf."""

    timeout: float = 5.0
    attempts: int = 2

    def __post_init__(self) -> None:
        if isinstance(self.timeout, bool) or not isinstance(self.timeout, (int, float)) \
                or not math.isfinite(self.timeout) or not 0 < self.timeout <= MAX_TIMEOUT:
            raise ConfigError(f"resolver timeout must be > 0 and <= {MAX_TIMEOUT:g} s, got {self.timeout!r}")
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int) \
                or not 1 <= self.attempts <= MAX_ATTEMPTS:
            raise ConfigError(f"resolver attempts must be a whole number from 1 to {MAX_ATTEMPTS}, got {self.attempts!r}")

    @classmethod
    def from_resolv_conf(cls, text: str) -> "ResolverOptions":
        """Read ``options timeout:N attempts:N`` the way glibc does (last value wins, clamped)."""
        timeout, attempts = 5.0, 2
        for line in text.splitlines():
            words = line.split("#", 1)[0].split(";", 1)[0].split()
            if not words or words[0] != "options":
                continue
            for word in words[1:]:
                key, _, value = word.partition(":")
                if key in ("timeout", "attempts"):
                    try:
                        number = int(value)
                    except ValueError:
                        raise ConfigError(f"resolv.conf option {word!r} needs a whole number") from None
                    if key == "timeout":
                        timeout = float(min(max(number, 1), int(MAX_TIMEOUT)))
                    else:
                        attempts = min(max(number, 1), MAX_ATTEMPTS)
        return cls(timeout=timeout, attempts=attempts)

    def resolv_conf_options(self) -> str:
        """The ``options`` line for a generated resolv.conf (glibc takes whole seconds, at least 1)."""
        return f"options timeout:{max(1, math.ceil(self.timeout))} attempts:{self.attempts}"
