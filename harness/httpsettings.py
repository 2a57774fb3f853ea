"""How one of the harness's HTTP servers answers: its name, error body, limits and hooks.

Apart from ``harness.httpserver`` (which starts servers) and ``harness.aioweb`` (the aiohttp parts,
imported only when a server starts), so that each of them can name it without importing the other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Settings:
    """What one server is called (log lines, errors) and how it answers: its error body, limits, hooks.

    ``error_body(status, message)`` is the JSON of every error the server answers (refusals, bad
    HTTP, bugs); ``guard`` applies ``harness.httpguard`` (403 for requests a browser sends);
    ``middlewares()`` adds aiohttp middlewares inside the guard (e.g. the control API's token);
    ``on_cleanup`` runs on the loop once every connection is closed.
    """

    what: str
    error_body: Callable[[int, str], dict[str, Any]]
    guard: bool = True
    middlewares: Callable[[], Sequence[Any]] = tuple
    client_max_size: int = 1 << 20  # bytes of a request body
    max_connections: int | None = None  # open at once; one more is answered 503 and closed
    keepalive_timeout: float = 75.0  # seconds an idle connection (or one yet to send a request) stays open
    shutdown_timeout: float = 5.0  # seconds stop() lets a request in progress finish before cancelling it
    on_cleanup: Callable[[], None] | None = None
