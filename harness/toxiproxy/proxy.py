"""A proxy: a listening socket, its connections, and the toxics configured on it.

Everything here runs on the server's event loop thread. The proxy keeps the ordered list of
toxics per stream and pushes every change to its open connections (``Link.sync``); it never
looks inside a toxic.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from harness.errors import ConfigError
from harness.loopback import bind_socket, require_loopback
from harness.toxiproxy.link import Link, Side, loop_read_buffer
from harness.toxiproxy.toxics import InvalidToxicError, Toxic, create_toxic

STREAMS = ("upstream", "downstream")  # upstream = client -> server, downstream = server -> client


def split_address(address: Any, what: str) -> tuple[str, int]:
    """``"host:port"`` (or ``"[v6]:port"``) to a tuple; ``ConfigError`` naming ``what`` otherwise."""
    if not isinstance(address, str) or ":" not in address:
        raise ConfigError(f"{what} {address!r} is not host:port")
    host, _, port = address.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{what} {address!r} has no valid port")
    return host, int(port)


def join_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class ToxicEntry:
    """A toxic as configured on a proxy: name, stream, toxicity and the toxic itself."""

    def __init__(self, proxy: "Proxy", name: str, stream: str, toxicity: float, toxic: Toxic) -> None:
        self.proxy = proxy
        self.name = name
        self.stream = stream
        self.toxicity = toxicity
        self.toxic = toxic

    @classmethod
    def from_json(cls, proxy: "Proxy", body: dict[str, Any]) -> "ToxicEntry":
        toxic = create_toxic(body.get("type"), body.get("attributes"))
        stream = body.get("stream") or "downstream"
        if stream not in STREAMS:
            raise InvalidToxicError("stream was invalid, can be either upstream or downstream")
        name = body.get("name") or f"{toxic.type}_{stream}"
        if not isinstance(name, str):
            raise InvalidToxicError(f"toxic name must be a string, got {name!r}")
        return cls(proxy, name, stream, _toxicity(body.get("toxicity", 1.0)), toxic)

    def updated(self, body: dict[str, Any]) -> "ToxicEntry":
        """A new entry with the fields ``body`` changes (type, name and stream stay)."""
        toxicity = _toxicity(body["toxicity"]) if "toxicity" in body else self.toxicity
        return ToxicEntry(self.proxy, self.name, self.stream, toxicity, self.toxic.updated(body.get("attributes")))

    def draw(self, connection_index: int) -> tuple[bool, random.Random]:
        """Whether this toxic applies to a connection, and the random stream it uses there.

        Both derive from (server seed, proxy, toxic, connection number) alone, so the same seed
        gives the same pattern whatever else runs concurrently.
        """
        key = f"{self.proxy.seed}/{self.proxy.name}/{self.name}/{self.stream}/{connection_index}"
        enabled = random.Random(key).random() < self.toxicity
        return enabled, random.Random(key + "/rng")

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.toxic.type,
            "stream": self.stream,
            "toxicity": self.toxicity,
            "attributes": self.toxic.attributes(),
        }


def _toxicity(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise InvalidToxicError(f"toxicity must be a number from 0 to 1, got {value!r}")
    return float(value)


class Connection:
    """A client connection and its upstream connection, joined by two links."""

    def __init__(self, proxy: "Proxy", index: int) -> None:
        self.proxy = proxy
        self.index = index
        self.closed = False
        read_buffer = loop_read_buffer()
        self.client = Side(self, read_buffer)
        self.upstream = Side(self, read_buffer)
        self.links: dict[str, Link] = {}

    def side_made(self, side: Side) -> None:
        if side is self.client:
            side.pause("connecting")
            self.proxy.connections.add(self)
            asyncio.get_running_loop().create_task(self._connect_upstream())

    async def _connect_upstream(self) -> None:
        host, port = self.proxy.upstream_address
        loop = asyncio.get_running_loop()
        try:
            await loop.create_connection(lambda: self.upstream, host, port)
        except OSError:
            self.close()  # as Toxiproxy: an unreachable upstream closes the client connection
            return
        if self.closed:
            self.upstream.close()
            return
        self.links = {
            "upstream": Link(self, "upstream", self.client, self.upstream),
            "downstream": Link(self, "downstream", self.upstream, self.client),
        }
        self.sync()
        self.client.resume("connecting")

    def sync(self) -> None:
        for stream, link in self.links.items():
            if self.closed:
                return
            link.sync(self.proxy.toxics_for(stream))

    def link_finished(self) -> None:
        if self.links and all(link.finished for link in self.links.values()):
            self.close()

    def side_lost(self, side: Side) -> None:
        self.close()

    def _end(self) -> bool:
        if self.closed:
            return False
        self.closed = True
        for link in self.links.values():
            link.stop()
        self.proxy.connections.discard(self)
        return True

    def close(self) -> None:
        """Close both sockets (FIN), after what was already written."""
        if self._end():
            self.client.close()
            self.upstream.close()

    def reset(self) -> None:
        """Reset both sockets (RST)."""
        if self._end():
            self.client.reset()
            self.upstream.reset()


class Proxy:
    """A named proxy: listen address, upstream address, enabled flag and toxics."""

    def __init__(self, name: str, listen: str, upstream: str, *, seed: int) -> None:
        self.name = name
        self.listen = listen
        self.upstream = upstream
        self.seed = seed
        self.upstream_address = split_address(upstream, f"proxy {name}: upstream")
        self.listen_address = split_address(listen, f"proxy {name}: listen")
        require_loopback(self.listen_address[0], what=f"proxy {name}")
        self.toxics: dict[str, ToxicEntry] = {}
        self.connections: set[Connection] = set()
        self._server: asyncio.base_events.Server | None = None
        self._next_index = 0

    @property
    def enabled(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        """Listen (no-op if already listening); ``listen`` then names the real port."""
        if self._server is not None:
            return
        host, port = self.listen_address
        sock = bind_socket(host, port, what=f"proxy {self.name}")
        try:
            sock.listen(512)
            sock.setblocking(False)
            self._server = await asyncio.get_running_loop().create_server(self._accept, sock=sock)
        except BaseException:
            sock.close()
            raise
        self.listen_address = (host, sock.getsockname()[1])
        self.listen = join_address(*self.listen_address)

    def stop(self) -> None:
        """Stop listening (the port refuses connections) and drop every open connection."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for conn in list(self.connections):
            conn.close()

    def _accept(self) -> Side:
        conn = Connection(self, self._next_index)
        self._next_index += 1
        return conn.client

    def toxics_for(self, stream: str) -> list[ToxicEntry]:
        return [entry for entry in self.toxics.values() if entry.stream == stream]

    def _changed(self) -> None:
        for conn in list(self.connections):
            conn.sync()

    def put_toxic(self, entry: ToxicEntry) -> None:
        """Add a toxic, or replace the one of the same name (an update restarts it on every link)."""
        self.toxics[entry.name] = entry
        self._changed()

    def remove_toxic(self, name: str) -> None:
        del self.toxics[name]
        self._changed()

    def clear_toxics(self) -> None:
        self.toxics.clear()
        self._changed()

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "toxics": [entry.to_json() for entry in self.toxics.values()],
        }
