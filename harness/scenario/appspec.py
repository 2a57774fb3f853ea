"""The app under test, its traffic and its acknowledged writes, as a scenario file describes them.

Plain, validated data (built only by ``harness.scenario.app_reader``) for any app in any
language: how to start it (or where it already runs), the tables it needs, which HTTP requests
its users send, and which of those are writes the harness must find again at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ReadySpec:
    """When a started replica counts as up: an HTTP path answering 2xx/3xx, else its port accepting."""

    http: str | None = None
    timeout: float = 30.0


@dataclass(frozen=True)
class ProcessSpec:
    """How the harness starts the app inside its sandbox (one process per replica)."""

    command: tuple[str, ...]
    port: int
    cwd: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    replicas: int | None = None  # None: the scenario's setup.app_replicas
    ready: ReadySpec = ReadySpec()
    stop_grace: float = 5.0


@dataclass(frozen=True)
class RequestSpec:
    """One kind of request the drill's users send; strings may hold ``{{...}}`` templates."""

    name: str
    method: str
    path: str
    weight: float = 1.0
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None
    ok: tuple[int, ...] = (200, 201, 202, 204)


@dataclass(frozen=True)
class TrafficSpec:
    """Weighted requests (``requests``) or a Python entry point ``module:function`` (``python``);
    ``prepare`` requests are sent once per user before the load (e.g. create the user's account)."""

    requests: tuple[RequestSpec, ...] = ()
    python: str | None = None
    users: int = 20
    prepare: tuple[RequestSpec, ...] = ()


@dataclass(frozen=True)
class VerifyRequest:
    """Read a written key back through the app: ``found`` statuses prove it, ``missing`` ones lose it."""

    method: str
    path: str
    found: tuple[int, ...] = (200,)
    missing: tuple[int, ...] = (404,)


@dataclass(frozen=True)
class VerifyTable:
    """Look the written key up in every region's copy of a table (``key`` values are templates)."""

    name: str
    key: dict[str, str]


@dataclass(frozen=True)
class WritesSpec:
    """Which requests write, where the written key is in their response, and how to check it."""

    requests: tuple[str, ...]
    key: str
    deletes: tuple[str, ...] = ()
    request: VerifyRequest | None = None
    table: VerifyTable | None = None
