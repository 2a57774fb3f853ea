"""The sample app's own test stage without the full harness (pytest-httpserver style objects).

A pytest plugin (tests/conftest.py ``pytest_plugins``): the ``pool`` and ``regions`` fixtures (two
local moto regions per test module) need no import.

* ``MotoServer`` — moto in server mode on one loopback address (threaded, quiet), stoppable and
  restartable on the same port, so a test can take a "region" away and bring it back.
* ``ResponseLoss`` — WSGI middleware in front of moto that lets a chosen operation *apply* and then
  answers 500, the way a request that timed out after the write landed looks to the client.
* ``AppClient`` — a keep-alive JSON client for the app's HTTP API.
* ``copy_items`` — stands in for global-table replication between two regions' clients.
* ``LocalRegions`` — one ``MotoServer`` per region with the app's tables, for fixtures.

The harness's own regions (``harness.dynamodb``: fronts, endpoint nodes, DNS, real replication)
could serve these tests too; they predate it and test the app's client side directly against moto.
"""

from __future__ import annotations

import http.client
import json
import threading
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import WSGIRequestHandler, make_server

from harness.loopback import LoopbackPool, bind_socket
from sample_app.config import RetrySettings, Timeouts
from sample_app.store import make_client
from sample_app.tables import TABLE_SPECS, create_tables

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _QuietHandler(WSGIRequestHandler):
    def log(self, type: str, message: str, *args: Any) -> None:
        pass


class Serialized:
    """Runs one request at a time through ``app``. moto's backends are not thread-safe (a failed
    transaction restores a deep copy of its tables, undoing writes that committed meanwhile), while
    DynamoDB is linearizable per item; serializing makes the fake honest about that."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with self._lock:
            answer = self.app(environ, start_response)
            try:
                return [b"".join(answer)]
            finally:
                getattr(answer, "close", lambda: None)()


class ResponseLoss:
    """Lets the next ``times`` calls of ``target`` (e.g. ``"TransactWriteItems"``) reach moto and
    apply, then replaces their answer with a 500 InternalServerError."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self._armed: dict[str, int] = {}
        self._lock = threading.Lock()
        self.lost: list[str] = []

    def arm(self, target: str, times: int = 1) -> None:
        with self._lock:
            self._armed[target] = times

    def _take(self, environ: dict[str, Any]) -> str | None:
        target = environ.get("HTTP_X_AMZ_TARGET", "").rpartition(".")[2]
        with self._lock:
            if self._armed.get(target, 0) > 0:
                self._armed[target] -= 1
                self.lost.append(target)
                return target
        return None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        target = self._take(environ)
        if target is None:
            return self.app(environ, start_response)
        answer = self.app(environ, lambda *a, **k: None)  # apply the call, then discard its answer
        try:
            b"".join(answer)
        finally:
            getattr(answer, "close", lambda: None)()
        payload = json.dumps(
            {"__type": "com.amazonaws.dynamodb.v20120810#InternalServerError", "message": f"{target} response lost"}
        ).encode()
        start_response(
            "500 Internal Server Error",
            [("Content-Type", "application/x-amz-json-1.0"), ("Content-Length", str(len(payload)))],
        )
        return [payload]


class MotoServer:
    """moto's DynamoDB (and every other backend) on ``host:port``; backends are process-global, so
    two servers share data and regions stay apart by the SigV4 region of each request."""

    def __init__(self, host: str, port: int = 0) -> None:
        self.host = host
        self.port = port
        self.faults = ResponseLoss(Serialized(DomainDispatcherApplication(create_backend_app)))
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> MotoServer:
        sock = bind_socket(self.host, self.port, what="moto server")
        sock.listen(64)
        try:
            self._server = make_server(
                self.host, 0, self.faults, threaded=True, request_handler=_QuietHandler, fd=sock.fileno()
            )
        finally:
            sock.close()  # werkzeug duplicated the descriptor
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    def reset(self) -> None:
        """Empty every moto backend (all regions) through moto's own reset API."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=5):
            pass


def copy_items(source: Any, target: Any, tables: Iterable[dict[str, Any]] = TABLE_SPECS) -> int:
    """Copy every item of ``tables`` from one region's client to another's (a replication step)."""
    copied = 0
    for spec in tables:
        for page in source.get_paginator("scan").paginate(TableName=spec["TableName"]):
            for item in page["Items"]:
                target.put_item(TableName=spec["TableName"], Item=item)
                copied += 1
    return copied


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: Any

    @property
    def region(self) -> str:
        return self.headers.get("x-served-by-region", "")


class AppClient:
    """One keep-alive HTTP/1.1 connection to the app; ``request`` returns a decoded ``Reply``."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        host_port = url.split("://", 1)[1]
        host, _, port = host_port.rpartition(":")
        self.connection = http.client.HTTPConnection(host.strip("[]"), int(port), timeout=timeout)

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Reply:
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        self.connection.request(method, path, body=data, headers=all_headers)
        response = self.connection.getresponse()
        raw = response.read()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, json.loads(raw) if raw else None)

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> AppClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LocalRegions:
    """Two (or more) moto servers on their own loopback addresses, one per region, plus an address
    nothing listens on for "unreachable endpoint" tests. ``take_down``/``bring_back`` stop and
    restart a region's server on the same address and port."""

    def __init__(self, pool: LoopbackPool, regions: tuple[str, ...] = ("us-east-1", "us-west-2")) -> None:
        self.servers = {region: MotoServer(pool.take(f"moto-{region}")) for region in regions}
        self.unbound_host = pool.take("unbound")
        self._clients: dict[str, Any] = {}

    def start(self) -> LocalRegions:
        for server in self.servers.values():
            server.start()
        return self

    def stop(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()
        for server in self.servers.values():
            server.stop()

    @property
    def endpoints(self) -> dict[str, str]:
        return {region: server.url for region, server in self.servers.items()}

    def unreachable_url(self) -> str:
        return f"http://{self.unbound_host}:{next(iter(self.servers.values())).port}"

    def client(self, region: str) -> Any:
        if region not in self._clients:
            self._clients[region] = make_client(
                region, self.servers[region].url, RetrySettings("standard", 2), Timeouts(1.0, 5.0)
            )
        return self._clients[region]

    def reset(self, *, tables_in: Iterable[str] | None = None) -> None:
        """Empty moto, then create the app's tables in ``tables_in`` (default: every region)."""
        next(iter(self.servers.values())).reset()
        for region in self.servers if tables_in is None else tables_in:
            create_tables(self.client(region))

    def take_down(self, region: str) -> None:
        self.servers[region].stop()

    def bring_back(self, region: str) -> None:
        self.servers[region].start()

    def replicate(self, source: str, target: str) -> int:
        return copy_items(self.client(source), self.client(target))


@pytest.fixture(scope="module")
def pool() -> LoopbackPool:
    return LoopbackPool()


@pytest.fixture(scope="module")
def regions(pool: LoopbackPool) -> Iterator[LocalRegions]:
    local = LocalRegions(pool).start()
    yield local
    local.stop()
