"""HTTP control API for a running harness, so another process (CLI, drill, CI job) can drive it.

``chaos-harness up --control HOST:PORT`` serves this next to the harness. It is JSON over HTTP/1.1
under ``/v1``, served by aiohttp on the harness's loop (``harness.httpserver``). Each route runs on a
worker thread because ``/v1/replication/wait`` blocks; the harness parts it calls (``Chaos``, the DNS
log, the replicator) are thread-safe. A connection has ``REQUEST_TIMEOUT`` to send its request (and
stays open that long idle), at most ``MAX_CONNECTIONS`` are open at once (one more gets 503), and
``stop()`` closes the open ones, so an idle client never keeps the harness from exiting.

Every request needs ``Authorization: Bearer <token>`` (``harness.control.token``; 401 otherwise)
and must not look like a browser's (``harness.httpguard``; 403). User errors come back as
``{"error": "<one line>", "type": ...}`` with the status below, so the client can re-raise the same
``HarnessError`` subclass; anything unexpected is a JSON 500 and one log line.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hmac
import itertools
import json
import re
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from harness.chaos import ActiveFault, FaultRecord
from harness.dns.client import resolve
from harness.control.token import default_token_path, new_token, remove_token, write_token
from harness.errors import (
    ComponentMissingError,
    ConfigError,
    FaultOptionError,
    HarnessError,
    TimeoutExpired,
    UnknownFaultError,
)
from harness.httpguard import Refused, load_json, log_unexpected
from harness.httpserver import HttpServer, Served, Settings
from harness.loop_thread import LoopThread
from harness.loopback import require_loopback

if TYPE_CHECKING:
    from aiohttp import web

API_PREFIX = "/v1"
MAX_WAIT = 300.0  # longest replication wait one request may ask for (seconds)
DNS_LOG_LIMIT = 1000  # most recent query-log entries returned by default
MAX_BODY = 1 << 20  # bytes; fault requests are a few hundred
REQUEST_TIMEOUT = 10.0  # seconds a connection has to send its whole request
MAX_CONNECTIONS = 32  # open at once; also the most worker threads

_STATUS: tuple[tuple[type[HarnessError], int], ...] = (
    (UnknownFaultError, 400),
    (FaultOptionError, 400),
    (ConfigError, 400),
    (ComponentMissingError, 409),
    (TimeoutExpired, 408),
)


class ApiError(HarnessError):
    """A request the API cannot serve (unknown route, bad JSON, unknown fault id)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def status_of(exc: HarnessError) -> int:
    if isinstance(exc, ApiError):
        return exc.status
    return next((code for kind, code in _STATUS if isinstance(exc, kind)), 400)


class ControlApi:
    """The routes, independent of HTTP plumbing: each takes (match, query, body) and returns (status, json)."""

    def __init__(self, harness: Any) -> None:
        self.harness = harness
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._handles: dict[int, ActiveFault] = {}
        self._record_ids: dict[int, int] = {}  # id(FaultRecord) -> fault id, for history
        self.routes: list[tuple[str, re.Pattern[str], Callable[..., tuple[int, Any]]]] = [
            (method, re.compile(f"^{API_PREFIX}{pattern}$"), fn)
            for method, pattern, fn in (
                ("GET", "/state", self.state),
                ("GET", "/faults", self.active_faults),
                ("POST", "/faults", self.inject),
                ("DELETE", "/faults", self.clear_all),
                ("GET", "/faults/history", self.history),
                ("GET", r"/faults/(\d+)", self.fault),
                ("DELETE", r"/faults/(\d+)", self.clear),
                ("POST", "/reset", self.reset),
                ("GET", "/dns/log", self.dns_log),
                ("GET", "/dns/counts", self.dns_counts),
                ("GET", "/dns/resolve", self.dns_resolve),
                ("GET", "/replication", self.replication),
                ("POST", "/replication/pause", self.pause),
                ("POST", "/replication/resume", self.resume),
                ("POST", "/replication/wait", self.wait),
                ("GET", "/app/metrics", self.app_metrics),
                ("POST", "/tables", self.create_tables),
                ("POST", "/tables/item", self.table_item),
            )
        ]

    def dispatch(self, method: str, target: str, body: bytes) -> tuple[int, Any]:
        parts = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        allowed = []
        for verb, pattern, fn in self.routes:
            match = pattern.match(parts.path)
            if match:
                if verb == method:
                    return fn(*match.groups(), query=query, body=body)
                allowed.append(verb)
        if allowed:
            raise ApiError(405, f"{method} is not allowed on {parts.path}; use {', '.join(allowed)}")
        raise ApiError(404, f"no such endpoint: {method} {parts.path}")

    # -- records --------------------------------------------------------------------------------
    def _record(self, record: FaultRecord) -> dict[str, Any]:
        fault = dict(record.fault)
        name = fault.pop("fault")
        return {"id": self._record_ids.get(id(record)), "fault": name, "options": fault,
                "started": record.started, "cleared": record.cleared, "active": record.cleared is None}

    def _handle(self, fid: str) -> ActiveFault:
        with self._lock:
            handle = self._handles.get(int(fid))
        if handle is None:
            raise ApiError(404, f"no fault with id {fid} was injected through this harness's control API")
        return handle

    # -- routes ---------------------------------------------------------------------------------
    def state(self, *, query: dict[str, str], body: bytes) -> tuple[int, Any]:
        h = self.harness
        dynamodb = getattr(h, "dynamodb", None)
        app = getattr(h, "app", None)
        return 200, {
            "describe": h.describe(),
            "faults": [self._record(a.record) for a in h.chaos.active],
            "dns": list(h.dns.address) if h.dns is not None else None,
            "zones": list(h.topology.zones),
            "endpoints": {r.name: r.endpoint_url for r in dynamodb.regions} if dynamodb is not None else {},
            "replication": dynamodb is not None,
            "app": app.url if app is not None else None,
            # What a sandbox joining this harness needs (``chaos-harness run --harness-url``); a
            # harness without a sandbox side (e.g. test doubles) offers none.
            "forwards": [list(f) for f in getattr(h, "forwards", [])],
            "client_environment": h.client_environment() if hasattr(h, "client_environment") else {},
            "tables": list(getattr(dynamodb, "tables", [])) if dynamodb is not None else [],
            "clock": h.chaos.clock(),
        }

    def active_faults(self, *, query: dict[str, str], body: bytes) -> tuple[int, Any]:
        return 200, [self._record(a.record) for a in self.harness.chaos.active]

    def inject(self, *, query: dict[str, str], body: bytes) -> tuple[int, Any]:
        request = _json_object(body)
        name, options = request.get("fault"), request.get("options", {})
        if not isinstance(name, str) or not isinstance(options, dict):
            raise ApiError(400, 'POST /v1/faults needs {"fault": "<family.name>", "options": {...}}')
        with self._lock:  # the id is assigned under the same lock as the injection: history stays in id order
            handle = self.harness.chaos.inject(name, options)
            fid = next(self._ids)
            self._handles[fid] = handle
            self._record_ids[id(handle.record)] = fid
        return 201, self._record(handle.record)

    def fault(self, fid: str, *, query: dict[str, str], body: bytes) -> tuple[int, Any]:
        return 200, self._record(self._handle(fid).record)

    def clear(self, fid: str, *, query: dict[str, str], body: bytes) -> tuple[int, Any]:
        self.harness.chaos.clear(self._handle(fid))
        return 204, None

    def clear_all(self, *, query: dict[str, str], body: bytes) -> tuple[int, Any]:
        self.harness.chaos.clear_all()
        return 204, None

    def history(self, *, query: dict[str, str], body: bytes) -> tuple[int, Any]:
        return 200, [self._record(r) for r in list(self.harness.chaos.history)]

    def reset(self, *, query: dict[str, str], body: bytes) -> tuple[int, Any]:
        self.harness.reset()
        return 204, None

    def dns_log(self, *, query: dict[str, str], body: bytes) -> tuple[int, Any]:
        dns = self._component("dns", "the DNS server")
        name, qtype = query.get("name") or None, (query.get("qtype") or "").upper() or None
        limit = _number(query, "limit", DNS_LOG_LIMIT, int)
        entries = [e for e in dns.log.entries(name) if qtype is None or e.qtype == qtype]
        return 200, [
            {"monotonic": e.monotonic, "wall": e.wall, "client": list(e.client), "transport": e.transport,
             "name": e.name, "qtype": e.qtype, "rcode": e.rcode, "answers": list(e.answers),
             "faults": list(e.faults), "dropped": e.dropped, "delay": e.delay}
            for e in entries[-limit:]
        ]

    def dns_counts(self, *, query: dict[str, str], body: bytes) -> tuple[int, Any]:
        """Exact query totals (the log counts every query), answers by rcode over the retained window."""
        log = self._component("dns", "the DNS server").log
        name, qtype = query.get("name") or None, (query.get("qtype") or "").upper() or None
        entries = [e for e in log.entries(name) if qtype is None or e.qtype == qtype]
        return 200, {"total": log.count(name, qtype), "window": len(entries),
                     "rcodes": dict(Counter("DROPPED" if e.dropped else e.rcode for e in entries))}

    def dns_resolve(self, *, query: dict[str, str], body: bytes) -> tuple[int, Any]:
        """Ask the harness's own DNS server over UDP, as any client would (faults apply; it is logged)."""
        self._component("dns", "the DNS server")
        name, qtype = query.get("name"), (query.get("qtype") or "A").upper()
        if not name:
            raise ApiError(400, "GET /v1/dns/resolve needs ?name=<domain name>")
        return 200, {"name": name, "qtype": qtype, **resolve(self.harness.dns_client_address, name, qtype)}

    def replication(self, *, query: dict[str, str], body: bytes) -> tuple[int, Any]:
        r = self._replication()
        return 200, {"lag": r.lag, "paused": r.paused, "pending": r.pending, "backlog_age": r.backlog_age,
                     "applied": r.applied, "failed": r.failed}

    def pause(self, *, query: dict[str, str], body: bytes) -> tuple[int, Any]:
        self._replication().pause()
        return 204, None

    def resume(self, *, query: dict[str, str], body: bytes) -> tuple[int, Any]:
        self._replication().resume()
        return 204, None

    def wait(self, *, query: dict[str, str], body: bytes) -> tuple[int, Any]:
        timeout = _number(query, "timeout", 10.0, float)
        if not 0 < timeout <= MAX_WAIT:
            raise ConfigError(f"replication wait timeout must be in (0, {MAX_WAIT:g}] seconds, got {timeout:g}")
        self._replication().wait_caught_up(timeout)
        return 204, None

    def app_metrics(self, *, query: dict[str, str], body: bytes) -> tuple[int, Any]:
        app = getattr(self.harness, "app", None)
        if app is None:
            raise ApiError(404, "this harness runs no sample app (started with --no-app)")
        return 200, app.metrics()

    def create_tables(self, *, query: dict[str, str], body: bytes) -> tuple[int, Any]:
        """Create global tables from CreateTable-shaped specs: ``{"tables": [{"TableName": ...}, ...]}``."""
        request = _json_object(body)
        specs = request.get("tables")
        if not isinstance(specs, list) or not all(isinstance(s, dict) for s in specs):
            raise ApiError(400, 'POST /v1/tables needs {"tables": [<CreateTable request>, ...]}')
        dynamodb = self._component("dynamodb", "the DynamoDB regions")
        created = dynamodb.create_tables(specs, exist_ok=True)
        return 201, {"created": [spec.name for spec in created]}

    def table_item(self, *, query: dict[str, str], body: bytes) -> tuple[int, Any]:
        """One item as each region's table holds it now: ``{"table", "key"}`` -> ``{region: item|null}``."""
        request = _json_object(body)
        table, key = request.get("table"), request.get("key")
        if not isinstance(table, str) or not isinstance(key, dict):
            raise ApiError(400, 'POST /v1/tables/item needs {"table": "<name>", "key": {<attribute>: <value>}}')
        from harness.dynamodb.items import item_in_regions

        return 200, item_in_regions(self._component("dynamodb", "the DynamoDB regions"), table, key)

    def _component(self, attr: str, what: str) -> Any:
        value = getattr(self.harness, attr, None)
        if value is None:
            raise ComponentMissingError(f"this harness is not running {what}")
        return value

    def _replication(self) -> Any:
        return self._component("dynamodb", "the DynamoDB regions (replication)").replication


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = load_json(body, {})
    except ValueError as exc:
        raise ApiError(400, f"request body is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ApiError(400, "request body must be a JSON object")
    return value


def _number(query: dict[str, str], key: str, default: Any, kind: type) -> Any:
    raw = query.get(key)
    if raw is None or raw == "":
        return default
    try:
        return kind(raw)
    except ValueError:
        raise ApiError(400, f"query parameter {key}={raw!r} is not a number") from None


class ControlServer(Served):
    """Serves ``ControlApi`` for ``harness`` on ``host:port`` (loopback unless explicitly allowed).

    aiohttp serves it on ``loop`` (the harness's, or a loop of its own); each request's route runs
    on a worker thread (at most ``MAX_CONNECTIONS``), since some block.
    """

    def __init__(self, harness: Any, host: str = "127.0.0.1", port: int = 0, *, allow_non_loopback: bool = False,
                 token: str | None = None, token_file: Path | None = None, loop: LoopThread | None = None) -> None:
        self.harness = harness
        self.host = require_loopback(host, allow_non_loopback=allow_non_loopback, what="control API")
        self.port = port
        self.token = token or new_token()
        self.token_file = token_file  # None: the per-port default, known once the port is bound
        self.api = ControlApi(harness)
        self._loop = loop
        self._http: HttpServer | None = None
        self._workers: concurrent.futures.ThreadPoolExecutor | None = None

    @property
    def url(self) -> str:
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    def start(self) -> "ControlServer":
        if self._http is not None:
            return self
        http = HttpServer(self._serve, Settings(
            "control API", _error_body, middlewares=lambda: [_require_token(self.token)], client_max_size=MAX_BODY,
            max_connections=MAX_CONNECTIONS, keepalive_timeout=REQUEST_TIMEOUT), self._loop)
        self._workers = concurrent.futures.ThreadPoolExecutor(MAX_CONNECTIONS, thread_name_prefix="chaos-harness-control")
        try:
            self.port = http.start(self.host, self.port)[1]
            self.token_file = self.token_file or default_token_path(self.port)
            write_token(self.token_file, self.token)
        except BaseException:
            http.stop()
            self._stop_workers()
            raise
        self._http = http
        return self

    async def _serve(self, request: "web.Request") -> "web.Response":
        from aiohttp import web

        from harness.aioweb import read_body

        body = await read_body(request, MAX_BODY, REQUEST_TIMEOUT)
        assert self._workers is not None
        status, payload = await asyncio.get_running_loop().run_in_executor(
            self._workers, self._dispatch, request.method, request.raw_path, body)
        if payload is None:
            return web.Response(status=status)
        return web.Response(status=status, body=json.dumps(payload).encode(), content_type="application/json")

    def _dispatch(self, method: str, target: str, body: bytes) -> tuple[int, Any]:
        try:
            return self.api.dispatch(method, target, body)
        except HarnessError as exc:
            return status_of(exc), {"error": str(exc), "type": type(exc).__name__}
        except Exception as exc:  # a bug must not kill the server; report it in one line
            return 500, {"error": log_unexpected("control API", exc), "type": "HarnessError"}

    def stop(self) -> None:
        """Close every connection (a request in progress gets a few seconds), then the workers."""
        http, self._http = self._http, None
        if http is None:
            return
        http.stop()
        self._stop_workers()
        if self.token_file is not None:
            remove_token(self.token_file, self.token)

    def _stop_workers(self) -> None:
        workers, self._workers = self._workers, None
        if workers is not None:
            workers.shutdown(wait=True, cancel_futures=True)


def _error_body(status: int, message: str) -> dict[str, Any]:
    return {"error": message, "type": "ApiError"}


def _require_token(token: str) -> Any:
    """An aiohttp middleware: 401 unless the request carries ``Authorization: Bearer <token>``."""
    from aiohttp import web

    expected = f"Bearer {token}".encode()

    @web.middleware
    async def require_token(request: "web.Request", handler: Any) -> "web.StreamResponse":
        if not hmac.compare_digest(request.headers.get("Authorization", "").encode(), expected):
            raise Refused(401, "missing or wrong control API token: send 'Authorization: Bearer <token>' "
                               "(the token file 'chaos-harness up' printed, or env CHAOS_HARNESS_TOKEN)")
        return await handler(request)

    return require_token
