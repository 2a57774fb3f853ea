"""How patient the stub resolver is, in resolv.conf's own terms.

glibc reads ``options timeout:N attempts:N`` from ``/etc/resolv.conf`` and then from the
``RES_OPTIONS`` environment variable (which wins), with defaults 5 s and 2 attempts, capped at 30 s
and 5 attempts. ``ResolverOptions.from_host()`` reads both the same way, so a test process waits
exactly as long as the same program would under real glibc on this machine: a ``dns.timeout``
fault costs ``timeout x attempts`` (10 s by default), not a shortened test-only figure. The
in-process hook and the sandbox's generated resolv.conf share this one object so Python code and
sandboxed programs wait and retry the same way.

``rotate`` is not modelled: the harness is the only nameserver, so there is nothing to rotate.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import ConfigError

# glibc's resolv/resolv.h: RES_TIMEOUT 5, RES_DFLRETRY 2, RES_MAXRETRANS 30, RES_MAXRETRY 5.
DEFAULT_TIMEOUT = 5.0
DEFAULT_ATTEMPTS = 2
MAX_TIMEOUT = 30.0
MAX_ATTEMPTS = 5
RESOLV_CONF = Path("/etc/resolv.conf")


def _atoi(text: str) -> int:
    """C's ``atoi``, which glibc uses for option values: leading digits, anything else is 0."""
    match = re.match(r"\s*([+-]?\d+)", text)
    return int(match.group(1)) if match else 0


@dataclass(frozen=True)
class ResolverOptions:
    """Per-attempt ``timeout`` (seconds) and number of ``attempts`` per query, as in resolv.conf.

    ``source`` says where the values came from (shown in reports); it is not part of equality.
    """

    timeout: float = DEFAULT_TIMEOUT
    attempts: int = DEFAULT_ATTEMPTS
    source: str = field(default="explicit", compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.timeout, bool) or not isinstance(self.timeout, (int, float)) \
                or not math.isfinite(self.timeout) or not 0 < self.timeout <= MAX_TIMEOUT:
            raise ConfigError(f"resolver timeout must be > 0 and <= {MAX_TIMEOUT:g} s, got {self.timeout!r}")
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int) \
                or not 1 <= self.attempts <= MAX_ATTEMPTS:
            raise ConfigError(f"resolver attempts must be a whole number from 1 to {MAX_ATTEMPTS}, got {self.attempts!r}")

    @staticmethod
    def _apply(words: str, values: dict[str, int]) -> None:
        """glibc's ``res_setoptions``: ``timeout:``/``attempts:`` read with atoi, capped above."""
        for word in words.split():
            if word.startswith("timeout:"):
                values["timeout"] = min(_atoi(word[8:]), int(MAX_TIMEOUT))
            elif word.startswith("attempts:"):
                values["attempts"] = min(_atoi(word[9:]), MAX_ATTEMPTS)

    @classmethod
    def _build(cls, values: dict[str, int], source: str) -> "ResolverOptions":
        # send_dg waits at least 1 s whatever retrans says; fewer than one attempt is not modelled.
        return cls(timeout=float(max(values["timeout"], 1)), attempts=max(values["attempts"], 1), source=source)

    @staticmethod
    def _file_values(text: str) -> dict[str, int]:
        values = {"timeout": int(DEFAULT_TIMEOUT), "attempts": DEFAULT_ATTEMPTS}
        for line in text.splitlines():
            if line[:1] in ("#", ";") or not re.match(r"options[ \t]", line):
                continue
            ResolverOptions._apply(line[len("options"):].split("#", 1)[0], values)
        return values

    @classmethod
    def from_resolv_conf(cls, text: str, *, source: str = "resolv.conf") -> "ResolverOptions":
        """Read ``options timeout:N attempts:N`` the way glibc does (last value wins, capped)."""
        return cls._build(cls._file_values(text), source)

    @classmethod
    def from_host(cls, resolv_conf: str | os.PathLike[str] = RESOLV_CONF,
                  environ: Mapping[str, str] | None = None) -> "ResolverOptions":
        """What glibc on this machine would use: the resolv.conf file, then ``$RES_OPTIONS``.

        A missing or unreadable file means glibc's defaults (5 s x 2), as for glibc itself.
        """
        environ = os.environ if environ is None else environ
        try:
            text = Path(resolv_conf).read_text(errors="replace")
        except OSError:
            text = ""
        values = cls._file_values(text)
        sources = [str(resolv_conf) if re.search(r"^options[ \t].*\b(timeout|attempts):", text, re.M)
                   else "glibc defaults"]
        res_options = environ.get("RES_OPTIONS")
        if res_options and re.search(r"\b(timeout|attempts):", res_options):
            cls._apply(res_options, values)
            sources.append("RES_OPTIONS")
        return cls._build(values, "host: " + " + ".join(sources))

    def describe(self) -> str:
        """``timeout 5 s x 2 attempts (host: glibc defaults)``: for report headers and logs."""
        return f"timeout {self.timeout:g} s x {self.attempts} attempt{'s' if self.attempts != 1 else ''} ({self.source})"

    def to_dict(self) -> dict[str, object]:
        return {"timeout": self.timeout, "attempts": self.attempts, "source": self.source}

    def resolv_conf_options(self) -> str:
        """The ``options`` line for a generated resolv.conf (glibc takes whole seconds, at least 1)."""
        return f"options timeout:{max(1, math.ceil(self.timeout))} attempts:{self.attempts}"
