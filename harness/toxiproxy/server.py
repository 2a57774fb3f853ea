"""The embedded Toxiproxy: Toxiproxy's HTTP API and proxies, in-process, on one event loop.

Used when no Toxiproxy server is running (no binary, no Docker here), so the harness injects
network faults through the same API either way. Status codes and JSON shapes follow Toxiproxy 2.x
(``api.go``): 201 + proxy JSON on create, 409 on an existing proxy or toxic, 404 on a missing one,
400 on a bad body or toxic, 204 on delete and reset, 500 when a listen address cannot be bound.
The random seed for toxicity draws and jitter is reported by ``GET /version``.

Handlers that create, move or delete proxies run one at a time (``_changes``): creating a proxy
awaits its listener, and two requests for the same name must not both pass the name check before
either is inserted (issue 12 found orphan listeners that way).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from harness.errors import ConfigError, HarnessError
from harness.httpguard import load_json
from harness.httpserver import HttpServer, Served, Settings
from harness.loop_thread import LoopThread
from harness.loopback import require_loopback
from harness.toxiproxy.http import Request, Response
from harness.toxiproxy.proxy import Proxy, ToxicEntry
from harness.toxiproxy.toxics import InvalidToxicError

if TYPE_CHECKING:
    from aiohttp import web

API_VERSION = "2.12.0"  # the Toxiproxy API level this server speaks
MAX_BODY = 16 << 20  # bytes of a request body


class ApiError(Exception):
    """An API failure with its HTTP status, rendered as Toxiproxy's ``{"error", "status"}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _not_found(what: str) -> ApiError:
    return ApiError(404, f"{what} not found")


class ToxiproxyApi:
    """The proxy collection and the request handlers; runs on the loop thread only."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.proxies: dict[str, Proxy] = {}
        self.closed = False
        self._changes = asyncio.Lock()

    async def handle(self, request: Request) -> Response:
        try:
            route = self._route(request)
            if route is None:
                return Response(404, b"404 page not found\n", "text/plain; charset=utf-8")
            if request.method == "GET":
                return await route()
            async with self._changes:
                if self.closed:
                    raise ApiError(503, "the server is shutting down")
                return await route()
        except ApiError as exc:
            return Response.json(exc.status, {"error": str(exc), "status": exc.status})

    def _route(self, request: Request) -> Callable[[], Awaitable[Response]] | None:
        parts = [p for p in request.path.split("/") if p]
        method = request.method
        handlers: dict[str, Callable[[], Awaitable[Response]]]
        if parts == ["version"]:
            handlers = {"GET": self.version}
        elif parts == ["reset"]:
            handlers = {"POST": self.reset}
        elif parts == ["populate"]:
            handlers = {"POST": lambda: self.populate(request)}
        elif parts == ["proxies"]:
            handlers = {"GET": self.list_proxies, "POST": lambda: self.create_proxy(request)}
        elif len(parts) == 2 and parts[0] == "proxies":
            name = parts[1]
            update = lambda: self.update_proxy(name, request)  # noqa: E731
            handlers = {"GET": lambda: self.show_proxy(name), "POST": update, "PATCH": update,
                         "DELETE": lambda: self.delete_proxy(name)}
        elif len(parts) == 3 and parts[0] == "proxies" and parts[2] == "toxics":
            name = parts[1]
            handlers = {"GET": lambda: self.list_toxics(name), "POST": lambda: self.create_toxic(name, request)}
        elif len(parts) == 4 and parts[0] == "proxies" and parts[2] == "toxics":
            name, toxic = parts[1], parts[3]
            update = lambda: self.update_toxic(name, toxic, request)  # noqa: E731
            handlers = {"GET": lambda: self.show_toxic(name, toxic), "POST": update, "PATCH": update,
                         "DELETE": lambda: self.delete_toxic(name, toxic)}
        else:
            return None
        if method not in handlers:
            raise ApiError(405, f"method {method} not allowed on {request.path}")
        return handlers[method]

    # -- helpers ---------------------------------------------------------------------------------

    @staticmethod
    def _body(request: Request, kind: type) -> Any:
        try:
            body = load_json(request.body)
        except ValueError as exc:
            raise ApiError(400, f"bad request body: {exc}") from None
        if not isinstance(body, kind):
            raise ApiError(400, f"bad request body: expected a JSON {'array' if kind is list else 'object'}")
        return body

    def _proxy(self, name: str) -> Proxy:
        try:
            return self.proxies[name]
        except KeyError:
            raise _not_found("proxy") from None

    def _toxic(self, proxy: Proxy, name: str) -> ToxicEntry:
        try:
            return proxy.toxics[name]
        except KeyError:
            raise _not_found("toxic") from None

    async def _new_proxy(self, fields: dict[str, Any], enabled: bool) -> Proxy:
        for required in ("name", "upstream"):
            if not isinstance(fields.get(required), str) or not fields[required]:
                raise ApiError(400, f"missing required field: {required}")
        if fields["name"] in self.proxies:
            raise ApiError(409, "proxy already exists")
        listen = fields.get("listen") or "127.0.0.1:0"
        try:
            proxy = Proxy(fields["name"], listen, fields["upstream"], seed=self.seed)
        except ConfigError as exc:
            raise ApiError(400, f"bad request body: {exc}") from None
        await self._start(proxy, enabled)
        if self.closed:  # stopped while the listener was starting: leave nothing listening
            proxy.stop()
            raise ApiError(503, "the server is shutting down")
        self.proxies[proxy.name] = proxy
        return proxy

    @staticmethod
    async def _start(proxy: Proxy, enabled: bool) -> None:
        if not enabled:
            return
        try:
            await proxy.start()
        except HarnessError as exc:
            raise ApiError(500, str(exc)) from None

    def _remove(self, name: str) -> None:
        self.proxies.pop(name).stop()

    # -- handlers --------------------------------------------------------------------------------

    async def version(self) -> Response:
        return Response.json(200, {"version": API_VERSION, "implementation": "chaos-harness embedded", "seed": self.seed})

    async def reset(self) -> Response:
        for proxy in self.proxies.values():
            await self._start(proxy, True)
            proxy.clear_toxics()
        return Response(204)

    async def list_proxies(self) -> Response:
        return Response.json(200, {name: proxy.to_json() for name, proxy in self.proxies.items()})

    async def create_proxy(self, request: Request) -> Response:
        body = self._body(request, dict)
        proxy = await self._new_proxy(body, body.get("enabled", True) is not False)
        return Response.json(201, proxy.to_json())

    async def populate(self, request: Request) -> Response:
        """Create or replace each listed proxy; ones already matching stay untouched."""
        created: list[str] = []
        result: list[Proxy] = []
        try:
            for fields in self._body(request, list):
                if not isinstance(fields, dict):
                    raise ApiError(400, "bad request body: each proxy must be a JSON object")
                if not isinstance(fields.get("name"), str):
                    raise ApiError(400, "missing required field: name")
                existing = self.proxies.get(fields["name"])
                if existing is not None and existing.upstream == fields.get("upstream") and (
                    fields.get("listen") in (None, existing.listen)
                ):
                    result.append(existing)
                    continue
                if existing is not None:
                    self._remove(existing.name)
                proxy = await self._new_proxy(fields, fields.get("enabled", True) is not False)
                created.append(proxy.name)
                result.append(proxy)
        except ApiError:
            for name in created:
                self._remove(name)
            raise
        return Response.json(201, {"proxies": [proxy.to_json() for proxy in result]})

    async def show_proxy(self, name: str) -> Response:
        return Response.json(200, self._proxy(name).to_json())

    async def update_proxy(self, name: str, request: Request) -> Response:
        proxy = self._proxy(name)
        body = self._body(request, dict)
        listen = body.get("listen", proxy.listen)
        upstream = body.get("upstream", proxy.upstream)
        enabled = body.get("enabled", proxy.enabled) is not False
        if listen != proxy.listen or upstream != proxy.upstream:
            try:
                moved = Proxy(name, listen, upstream, seed=self.seed)
            except ConfigError as exc:
                raise ApiError(400, f"bad request body: {exc}") from None
            proxy.stop()
            for entry in proxy.toxics.values():
                entry.proxy = moved
            moved.toxics = proxy.toxics
            self.proxies[name] = proxy = moved
        if enabled:
            await self._start(proxy, True)
        else:
            proxy.stop()
        return Response.json(200, proxy.to_json())

    async def delete_proxy(self, name: str) -> Response:
        self._proxy(name)
        self._remove(name)
        return Response(204)

    async def list_toxics(self, name: str) -> Response:
        return Response.json(200, [entry.to_json() for entry in self._proxy(name).toxics.values()])

    async def create_toxic(self, name: str, request: Request) -> Response:
        proxy = self._proxy(name)
        try:
            entry = ToxicEntry.from_json(proxy, self._body(request, dict))
        except InvalidToxicError as exc:
            raise ApiError(400, str(exc)) from None
        if entry.name in proxy.toxics:
            raise ApiError(409, "toxic already exists")
        proxy.put_toxic(entry)
        return Response.json(200, entry.to_json())

    async def show_toxic(self, name: str, toxic: str) -> Response:
        return Response.json(200, self._toxic(self._proxy(name), toxic).to_json())

    async def update_toxic(self, name: str, toxic: str, request: Request) -> Response:
        proxy = self._proxy(name)
        entry = self._toxic(proxy, toxic)
        try:
            entry = entry.updated(self._body(request, dict))
        except InvalidToxicError as exc:
            raise ApiError(400, str(exc)) from None
        proxy.put_toxic(entry)
        return Response.json(200, entry.to_json())

    async def delete_toxic(self, name: str, toxic: str) -> Response:
        proxy = self._proxy(name)
        self._toxic(proxy, toxic)
        proxy.remove_toxic(toxic)
        return Response(204)

    def close(self) -> None:
        self.closed = True
        for name in list(self.proxies):
            self._remove(name)


class EmbeddedToxiproxy(Served):
    """A Toxiproxy-compatible server on ``host:port`` (ephemeral by default), on a ``LoopThread``.

    The API is served by aiohttp (``harness.httpserver``); the proxies run on the same loop.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, seed: int = 0, loop: LoopThread | None = None) -> None:
        self.host = require_loopback(host, what="embedded Toxiproxy")
        self.port = port
        self.seed = seed
        self._api = ToxiproxyApi(seed)
        settings = Settings("embedded Toxiproxy API", _error_body, client_max_size=MAX_BODY, on_cleanup=self._api.close)
        self._http = HttpServer(self._serve, settings, loop)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._http.running

    def start(self) -> "EmbeddedToxiproxy":
        self.port = self._http.start(self.host, self.port)[1]
        return self

    async def _serve(self, request: "web.Request") -> "web.Response":
        from aiohttp import web

        from harness.aioweb import read_body

        path = request.raw_path.split("?", 1)[0]
        response = await self._api.handle(Request(request.method, path, await read_body(request, MAX_BODY)))
        return web.Response(status=response.status, body=response.body,
                            headers={"Content-Type": response.content_type} if response.body else None)

    def stop(self) -> None:
        """Stop the API, every proxy and every proxied connection; close the loop if we own it."""
        self._http.stop()

    def wait_upstreams_closed(self, upstreams: set[tuple[str, int]], timeout: float) -> None:
        """Return once no connection whose upstream socket is bound to one of ``upstreams`` is
        still open towards its client: its end of stream has been written to the client (the
        half-close Toxiproxy forwards) or it is closed. ``TimeoutExpired`` after ``timeout`` s."""
        if not self._http.running:
            return
        api = self._api

        def passing_on() -> bool:
            return any(conn.upstream_address() in upstreams and not conn.closed_towards_client()
                       for proxy in api.proxies.values() for conn in proxy.connections)

        async def _wait() -> None:
            turns = 0
            while passing_on():
                turns += 1  # the closes happen on this loop: yield to it, then back off gently
                await asyncio.sleep(0 if turns < 100 else 0.001)

        self._http.loop.run(asyncio.wait_for(_wait(), timeout), timeout=timeout + 1)

    def reset(self) -> None:
        """``POST /reset`` without the HTTP round trip: every proxy enabled, every toxic removed."""
        if not self._http.running:
            raise HarnessError("the embedded Toxiproxy is not running")
        if all(proxy.enabled and not proxy.toxics for proxy in list(self._api.proxies.values())):
            return  # nothing to undo (most tests): skip the round trip to the loop thread
        self._http.loop.run(self._api.reset())


def _error_body(status: int, message: str) -> dict[str, Any]:
    return {"error": message, "status": status}
