"""The harness's view of Toxiproxy: a real server if one answers, else the embedded one.

Network faults are injected through Toxiproxy's HTTP API with the toxiproxy-python client, so the
same code drives a real Toxiproxy in CI and the embedded server elsewhere. That client keeps the
server address on a class (``toxiproxy.api.APIConsumer.host/.port``); ``ProxyLayer`` sets it under
one process-wide lock for each call, so several servers can be driven from one process. Failures
come back as one-line ``HarnessError`` subclasses naming the proxy or toxic.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from typing import Any
from urllib.parse import urlsplit

import requests
from toxiproxy.api import APIConsumer
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists

from harness.errors import AddressInUseError, ConfigError, HarnessError
from harness.loop_thread import LoopThread
from harness.toxiproxy.server import EmbeddedToxiproxy

DEFAULT_URL = "http://127.0.0.1:8474"
_CLIENT_LOCK = threading.RLock()  # guards APIConsumer.host/.port, which the client keeps on its class
_NO_PROXY = {"http": None, "https": None}  # never send API calls through an HTTP proxy from the environment
_API_TIMEOUT = 10.0


class ProxyError(HarnessError):
    """A Toxiproxy API call failed."""


class ProxyExistsError(ProxyError):
    """A proxy (or toxic) of that name already exists (HTTP 409)."""


class ProxyNotFoundError(ProxyError):
    """No proxy or toxic of that name (HTTP 404)."""


class ToxicError(ProxyError):
    """The server rejected a toxic or request body (HTTP 400)."""


class ToxiproxyUnavailableError(ProxyError):
    """No Toxiproxy server answers at the given URL."""


class ProxyAddressInUseError(AddressInUseError, ProxyError):
    """A proxy's listen address is taken."""


@dataclasses.dataclass(frozen=True)
class ProxyInfo:
    """A proxy as the server reports it."""

    name: str
    listen: str
    upstream: str
    enabled: bool
    toxics: tuple[dict[str, Any], ...] = ()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ProxyInfo":
        return cls(data["name"], data["listen"], data["upstream"], bool(data["enabled"]), tuple(data.get("toxics") or ()))

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url if "//" in url else f"http://{url}")
    if not parts.hostname or not parts.port:
        raise ConfigError(f"Toxiproxy URL {url!r} must name a host and a port, e.g. {DEFAULT_URL}")
    return parts.hostname, parts.port


def _message(content: Any) -> str:
    """The server's error text (Toxiproxy answers ``{"error": ..., "status": ...}``)."""
    text = content.decode("utf-8", "replace") if isinstance(content, bytes) else str(content)
    try:
        return str(json.loads(text).get("error", text))
    except (ValueError, AttributeError):
        return text.strip()


def answers(url: str, timeout: float = 1.0) -> bool:
    """Whether a Toxiproxy server answers ``GET /version`` at ``url``."""
    host, port = _host_port(url)
    with _CLIENT_LOCK:
        APIConsumer.host, APIConsumer.port = host, port
        try:
            response = APIConsumer.get("/version", timeout=timeout, proxies=_NO_PROXY)
        except (requests.RequestException, ProxyExists, NotFound, InvalidToxic):
            return False
    return response.status_code == 200 and bool(response.content.strip())


class ProxyLayer:
    """Creates proxies and toxics on one Toxiproxy server (real or embedded)."""

    def __init__(self, url: str, *, seed: int = 0, embedded: EmbeddedToxiproxy | None = None) -> None:
        self.url = url
        self.seed = seed
        self._host, self._port = _host_port(url)
        self._server = embedded
        self._embedded = embedded is not None
        self._created: list[str] = []

    @classmethod
    def connect(cls, url: str | None = None, *, seed: int = 0, loop: LoopThread | None = None) -> "ProxyLayer":
        """Use the Toxiproxy at ``url`` / ``$TOXIPROXY_URL`` / the default port, else start the embedded one.

        An explicit ``url`` must answer; the environment or default address is only a preference.
        """
        if url is not None:
            if not answers(url):
                raise ToxiproxyUnavailableError(f"no Toxiproxy server answers GET /version at {url}")
            return cls(url, seed=seed)
        candidate = os.environ.get("TOXIPROXY_URL") or DEFAULT_URL
        if answers(candidate):
            return cls(candidate, seed=seed)
        server = EmbeddedToxiproxy(seed=seed, loop=loop).start()
        return cls(server.url, seed=seed, embedded=server)

    def wait_upstreams_closed(self, upstreams: list[tuple[str, int]], timeout: float = 5.0) -> None:
        """Wait until every proxied connection whose upstream socket is one of ``upstreams`` (the
        local address the proxy connected from) has passed the close on to its client.

        Only the embedded server can tell; a real Toxiproxy has no API for its connections, so
        with one this returns at once and a client may still see its connection for a moment."""
        if self._server is not None and upstreams:
            self._server.wait_upstreams_closed(set(upstreams), timeout)

    @property
    def embedded(self) -> bool:
        """True when this layer started the in-process server (no real Toxiproxy answered)."""
        return self._embedded

    # -- the one place the client is called ------------------------------------------------------

    def _call(self, method: str, path: str, body: Any = None, *, what: str) -> Any:
        with _CLIENT_LOCK:
            APIConsumer.host, APIConsumer.port = self._host, self._port
            send = {"get": APIConsumer.get, "post": APIConsumer.post, "delete": APIConsumer.delete}[method]
            kwargs: dict[str, Any] = {"timeout": _API_TIMEOUT, "proxies": _NO_PROXY}
            if body is not None:
                kwargs["json"] = body
            try:
                response = send(path, **kwargs)
            except ProxyExists as exc:
                raise ProxyExistsError(f"{what}: {_message(exc.args[0])}") from None
            except NotFound as exc:
                raise ProxyNotFoundError(f"{what}: {_message(exc.args[0])}") from None
            except InvalidToxic as exc:
                raise ToxicError(f"{what}: {_message(exc.args[0])}") from None
            except requests.RequestException as exc:
                raise ToxiproxyUnavailableError(f"{what}: Toxiproxy at {self.url} did not answer ({exc})") from None
        if response.status_code >= 400:
            message = _message(response.content)
            if "address already in use" in message:
                raise ProxyAddressInUseError(f"{what}: {message}")
            raise ProxyError(f"{what}: Toxiproxy answered {response.status_code}: {message}")
        return response.json() if response.content.strip() else None

    # -- proxies ---------------------------------------------------------------------------------

    def create(self, name: str, listen: str, upstream: str) -> ProxyInfo:
        """Create a proxy listening on ``listen`` (``host:0`` picks a port) that forwards to ``upstream``."""
        data = self._call("post", "/proxies", {"name": name, "listen": listen, "upstream": upstream, "enabled": True},
                          what=f"create proxy {name}")
        self._created.append(name)
        return ProxyInfo.from_json(data)

    def populate(self, proxies: list[dict[str, Any]]) -> list[ProxyInfo]:
        """Create or replace several proxies at once (Toxiproxy's ``/populate``)."""
        data = self._call("post", "/populate", proxies, what="populate proxies")
        infos = [ProxyInfo.from_json(item) for item in data["proxies"]]
        self._created.extend(info.name for info in infos if info.name not in self._created)
        return infos

    def get(self, name: str) -> ProxyInfo:
        return ProxyInfo.from_json(self._call("get", f"/proxies/{name}", what=f"get proxy {name}"))

    def proxies(self) -> dict[str, ProxyInfo]:
        data = self._call("get", "/proxies", what="list proxies")
        return {name: ProxyInfo.from_json(item) for name, item in data.items()}

    def destroy(self, name: str) -> None:
        self._call("delete", f"/proxies/{name}", what=f"delete proxy {name}")
        if name in self._created:
            self._created.remove(name)

    def disable(self, proxy: str) -> ProxyInfo:
        """Take the proxy down: its connections drop and its port refuses new ones."""
        return self._set_enabled(proxy, False)

    def enable(self, proxy: str) -> ProxyInfo:
        """Listen again on the same address."""
        return self._set_enabled(proxy, True)

    def _set_enabled(self, proxy: str, enabled: bool) -> ProxyInfo:
        verb = "enable" if enabled else "disable"
        return ProxyInfo.from_json(self._call("post", f"/proxies/{proxy}", {"enabled": enabled}, what=f"{verb} proxy {proxy}"))

    # -- toxics ----------------------------------------------------------------------------------

    def add_toxic(self, proxy: str, type: str, attributes: dict[str, Any] | None = None, stream: str = "downstream",
                  toxicity: float = 1.0, name: str | None = None) -> str:
        """Add a toxic; returns its name (Toxiproxy's default is ``<type>_<stream>``)."""
        body = {"name": name or f"{type}_{stream}", "type": type, "stream": stream, "toxicity": toxicity,
                "attributes": attributes or {}}
        data = self._call("post", f"/proxies/{proxy}/toxics", body, what=f"add {type} toxic to proxy {proxy}")
        return str(data["name"])

    def update_toxic(self, proxy: str, name: str, attributes: dict[str, Any] | None = None,
                     toxicity: float | None = None) -> dict[str, Any]:
        """Change a toxic's attributes and/or toxicity; returns the toxic as the server reports it."""
        body: dict[str, Any] = {"attributes": attributes or {}}
        if toxicity is not None:
            body["toxicity"] = toxicity
        return self._call("post", f"/proxies/{proxy}/toxics/{name}", body, what=f"update toxic {name} on proxy {proxy}")

    def toxics(self, proxy: str) -> list[dict[str, Any]]:
        return self._call("get", f"/proxies/{proxy}/toxics", what=f"list toxics of proxy {proxy}")

    def remove_toxic(self, proxy: str, name: str) -> None:
        self._call("delete", f"/proxies/{proxy}/toxics/{name}", what=f"remove toxic {name} from proxy {proxy}")

    # -- whole-server operations -----------------------------------------------------------------

    def reset(self) -> None:
        """Re-enable proxies and remove toxics.

        On the embedded server this is what ``POST /reset`` does, called in process (an HTTP round
        trip through ``requests`` was nine tenths of a harness reset). A real server may be shared
        (CI service, several xdist workers), so there only the proxies this layer created are reset.
        """
        if self._server is not None:
            self._server.reset()
            return
        for name in list(self._created):
            self.enable(name)
            for toxic in self.toxics(name):
                self.remove_toxic(name, toxic["name"])

    def destroy_all(self) -> None:
        """Delete every proxy on the embedded server, or the ones this layer created on a real one."""
        names = list(self.proxies()) if self.embedded else list(self._created)
        for name in names:
            self.destroy(name)

    def close(self) -> None:
        """Stop the embedded server, or delete this layer's proxies from the real one."""
        if self._server is not None:
            self._server.stop()
            self._server = None
            self._created.clear()
            return
        for name in list(self._created):
            try:
                self.destroy(name)
            except ProxyNotFoundError:
                self._created.remove(name)

    def __enter__(self) -> "ProxyLayer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
