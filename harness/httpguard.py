"""Rules shared by the harness's HTTP APIs (the control API and the embedded Toxiproxy).

Both apply them as the aiohttp middleware ``middleware()`` (``harness.httpserver`` installs it).

Both listen on loopback, and any web page the developer has open can still send requests to
loopback, or reach it under its own name through DNS rebinding. A request that carries what only a
browser sends is refused with 403 before any handler runs, as real Toxiproxy does for browser user
agents: an ``Origin`` header, a ``Mozilla/...`` user agent, a write whose body is not declared JSON
(the content types a page may send without a CORS preflight), or a ``Host`` that is not the address
the server listens on. JSON bodies are read here too, so hostile nesting is a 400 in both servers.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # aiohttp is imported only when a server starts (import time of harness.environment)
    from aiohttp import web

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
WILDCARDS = frozenset({"0.0.0.0", "::"})
MAX_LOGGED = 200  # characters of an exception message in a log line

log = logging.getLogger("chaos_harness")


class Refused(Exception):
    """A request refused before (or instead of) its handler: rendered as the server's JSON error."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def middleware(listen: tuple[str, int]) -> Any:
    """The browser rules as an aiohttp middleware for a server bound to ``listen``: 403 before any handler."""
    from aiohttp import web

    @web.middleware
    async def refuse_browsers(request: "web.Request",
                              handler: Callable[["web.Request"], Awaitable["web.StreamResponse"]]) -> "web.StreamResponse":
        refused = browser_reason(request.method, request.headers.get, listen)
        if refused is not None:
            raise Refused(403, refused)
        return await handler(request)

    return refuse_browsers


def browser_reason(method: str, header: Callable[[str], str | None], listen: tuple[str, int]) -> str | None:
    """Why a request looks like it comes from a web page (one line), or ``None``.

    ``header(name)`` returns a request header (any case) or ``None``; ``listen`` is the server's
    bound (host, port). A server bound to a wildcard address was exposed on purpose and accepts
    any ``Host`` (it still requires everything else, including the control API's token).
    """
    if header("origin") is not None:
        return "requests with an Origin header (sent by web pages) are refused"
    agent = header("user-agent") or ""
    if agent.startswith("Mozilla/"):
        return "browser user agents are refused"
    content_type = header("content-type")
    if method in WRITE_METHODS and content_type is not None and _media_type(content_type) != "application/json":
        return f"Content-Type {_clip(content_type, 60)!r} refused on a write: send application/json"
    host = header("host")
    if host is not None and not host_allowed(host, listen):
        return f"Host {_clip(host, 60)!r} is not the address this server listens on"
    return None


def host_allowed(host_header: str, listen: tuple[str, int]) -> bool:
    """Whether a ``Host`` header names the listening address (or ``localhost``) and port."""
    listen_host, listen_port = listen
    if listen_host in WILDCARDS:
        return True
    host, port = _split_host(host_header.strip().lower())
    if port != listen_port:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host) == ipaddress.ip_address(listen_host)
    except ValueError:
        return False


def _split_host(text: str) -> tuple[str, int | None]:
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":")
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep:
            host, port_text = text, ""
    if not port_text:
        return host, 80
    return host, int(port_text) if port_text.isascii() and port_text.isdigit() else None


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def load_json(body: bytes, default: Any = None) -> Any:
    """A request body as JSON (``default`` when empty); ``ValueError`` with a one-line reason.

    Deep nesting (a megabyte of ``[``) ends in ``RecursionError`` inside the json module; that is
    bad input like any other, so it becomes the same ``ValueError``.
    """
    if not body:
        return default
    try:
        return json.loads(body)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise ValueError(one_line(str(exc))) from None


def log_unexpected(where: str, exc: BaseException) -> str:
    """Log an unexpected exception as one line (no traceback); return that line for the response."""
    line = one_line(f"{type(exc).__name__}: {exc}")
    log.error("%s: unexpected error: %s", where, line)
    return line


def one_line(text: str) -> str:
    """``text`` on one line, clipped to ``MAX_LOGGED`` characters (for a log line or a JSON error)."""
    return _clip(" ".join(text.split()), MAX_LOGGED)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
