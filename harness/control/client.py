"""``RemoteHarness``: a running harness's control API, looking like the embedded ``Harness``.

The drill runner, the CLI and tests use it exactly where they would use ``Harness``: ``chaos``
injects and clears faults (handles are context managers like ``ActiveFault``), ``app`` gives the
sample app's URL and metrics, ``dynamodb.replication`` pauses/resumes/waits. Errors the server
reports come back as the same one-line ``HarnessError`` subclass, raised here.

Fault times are reported by the server on its monotonic clock; the client measures the offset
once when it connects, so fault records read here line up with the local ``chaos.clock`` the drill
uses for its timeline and reports.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

from harness import errors
from harness.chaos import FaultRecord
from harness.control.token import TOKEN_FILE_VARIABLE, TOKEN_VARIABLE, default_token_path, find_token
from harness.errors import ConfigError, HarnessError


class ControlUnavailableError(HarnessError):
    """Nothing answers at the control URL (the harness is not up, or the URL is wrong)."""


def _reason(exc: Exception) -> str:
    if isinstance(exc, socket.timeout):
        return "timed out"
    return (getattr(exc, "strerror", None) or str(exc) or type(exc).__name__)


def _error_class(name: str) -> type[HarnessError]:
    kind = getattr(errors, name, None)
    return kind if isinstance(kind, type) and issubclass(kind, HarnessError) else HarnessError


class ControlClient:
    """JSON over HTTP to one control API; one connection per request, like the server.

    Every request carries the API token: ``token`` if given, else the one ``find_token`` finds
    (env ``CHAOS_HARNESS_TOKEN``, the file in ``CHAOS_HARNESS_TOKEN_FILE``, or the token file of
    the harness on that port). This is the one place the token is added.
    """

    def __init__(self, url: str, *, timeout: float = 30.0, token: str | None = None) -> None:
        parts = urlsplit(url)
        try:
            port = parts.port or 80
        except ValueError:
            port = -1
        if parts.scheme != "http" or not parts.hostname or port < 0:
            raise ConfigError(f"harness control URL must look like http://HOST:PORT, got {url!r}")
        self.url = url.rstrip("/")
        self.host, self.port = parts.hostname, port
        self.base = parts.path.rstrip("/") + "/v1"
        self.timeout = timeout
        self.token = token or find_token(self.port)

    def request(self, method: str, path: str, body: Any = None, *, query: Mapping[str, Any] | None = None,
                timeout: float | None = None) -> Any:
        target = self.base + path
        params = {k: v for k, v in (query or {}).items() if v is not None}
        if params:
            target += "?" + urlencode(params)
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout or self.timeout)
        try:
            conn.request(method, target, body=data, headers=headers)
            response = conn.getresponse()
            status, raw = response.status, response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise ControlUnavailableError(f"harness control API at {self.url} did not answer {method} {path}: {_reason(exc)}") from None
        finally:
            conn.close()
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = None
        if status == 401:
            raise HarnessError(f"harness control API at {self.url} refused the token: {self._token_hint()}")
        if status >= 400:
            if isinstance(payload, dict) and "error" in payload:
                raise _error_class(str(payload.get("type")))(payload["error"])
            raise HarnessError(f"harness control API answered {status} to {method} {path}")
        return payload


    def _token_hint(self) -> str:
        if self.token is None:
            return (f"none found; set {TOKEN_VARIABLE} or {TOKEN_FILE_VARIABLE} to the token (file) "
                    f"'chaos-harness up' printed (default file {default_token_path(self.port)})")
        return f"the token in use is not this harness's; check {TOKEN_VARIABLE} / {TOKEN_FILE_VARIABLE}"


class RemoteFault:
    """Handle for a fault injected through the control API (``ActiveFault``'s interface)."""

    def __init__(self, chaos: "RemoteChaos", data: Mapping[str, Any]) -> None:
        self.chaos = chaos
        self.id: int = data["id"]
        self.name: str = data["fault"]
        self.options: dict[str, Any] = dict(data["options"])
        self._last = dict(data)

    def _refresh(self) -> Mapping[str, Any]:
        self._last = self.chaos.client.request("GET", f"/faults/{self.id}")
        return self._last

    @property
    def record(self) -> FaultRecord:
        """The fault's life on the local clock (fetched fresh: the server may have cleared it)."""
        return self.chaos.to_record(self._refresh())

    @property
    def active(self) -> bool:
        return bool(self._refresh()["active"])

    def clear(self) -> None:
        self.chaos.clear(self)

    def __enter__(self) -> "RemoteFault":
        return self

    def __exit__(self, *exc: object) -> None:
        self.clear()

    def __repr__(self) -> str:
        return f"RemoteFault(id={self.id}, name={self.name!r}, options={self.options!r})"


class RemoteChaos:
    """``harness.chaos.Chaos`` over the control API: both are a ``harness.chaos.FaultControl``."""

    clock = staticmethod(time.monotonic)

    def __init__(self, client: ControlClient, clock_offset: float) -> None:
        self.client = client
        self.clock_offset = clock_offset  # server monotonic minus local monotonic

    def inject(self, fault: str, options: Mapping[str, Any] | None = None, /, **kw: Any) -> RemoteFault:
        if not isinstance(fault, str):
            raise TypeError("a remote harness injects faults by name (fault objects live in one process)")
        merged = {**dict(options or {}), **kw}
        return RemoteFault(self, self.client.request("POST", "/faults", {"fault": fault, "options": merged}))

    def clear(self, handle: RemoteFault | int) -> None:
        """Stop one fault (handle or id); a no-op if it is already cleared (as ``Chaos.clear``)."""
        fid = handle.id if isinstance(handle, RemoteFault) else int(handle)
        self.client.request("DELETE", f"/faults/{fid}")

    def clear_all(self) -> None:
        self.client.request("DELETE", "/faults")

    @property
    def active(self) -> list[RemoteFault]:
        return [RemoteFault(self, data) for data in self.client.request("GET", "/faults")]

    @property
    def history(self) -> list[FaultRecord]:
        return [self.to_record(data) for data in self.client.request("GET", "/faults/history")]

    def to_record(self, data: Mapping[str, Any]) -> FaultRecord:
        cleared = data["cleared"]
        return FaultRecord({"fault": data["fault"], **data["options"]}, data["started"] - self.clock_offset,
                           None if cleared is None else cleared - self.clock_offset)


class RemoteReplication:
    def __init__(self, client: ControlClient) -> None:
        self.client = client

    def pause(self) -> None:
        self.client.request("POST", "/replication/pause")

    def resume(self) -> None:
        self.client.request("POST", "/replication/resume")

    def wait_caught_up(self, timeout: float) -> None:
        """Block until replication has caught up; ``TimeoutExpired`` (from the server) otherwise."""
        self.client.request("POST", "/replication/wait", query={"timeout": timeout}, timeout=timeout + self.client.timeout)


class RemoteDynamo:
    def __init__(self, client: ControlClient, endpoints: Mapping[str, str]) -> None:
        self.replication = RemoteReplication(client)
        self.endpoints = dict(endpoints)


class RemoteApp:
    """The harness's sample app: its URL (a name the harness DNS resolves) and metrics."""

    def __init__(self, client: ControlClient, url: str) -> None:
        self.client = client
        self.url = url

    def metrics(self) -> dict[str, Any]:
        return self.client.request("GET", "/app/metrics")


class RemoteHarness:
    """A harness running in another process (``chaos-harness up --control``), driven over HTTP."""

    def __init__(self, url: str, *, timeout: float = 30.0, token: str | None = None) -> None:
        self.client = ControlClient(url, timeout=timeout, token=token)
        before = time.monotonic()
        state = self.state()
        after = time.monotonic()
        self.chaos = RemoteChaos(self.client, state["clock"] - (before + after) / 2)
        dns = state["dns"]
        self.dns_address: tuple[str, int] | None = None if dns is None else (self._reachable(dns[0]), int(dns[1]))
        self.zones: tuple[str, ...] = tuple(state["zones"])
        self.dynamodb = RemoteDynamo(self.client, state["endpoints"]) if state["replication"] else None
        self.app = RemoteApp(self.client, state["app"]) if state["app"] else None
        #: TCP services a sandboxed program must reach at their own addresses (nodes, app replicas).
        self.forwards: list[tuple[str, int]] = [(self._reachable(h), int(p)) for h, p in state.get("forwards", [])]
        self._client_environment: dict[str, str] = dict(state.get("client_environment", {}))

    @property
    def url(self) -> str:
        return self.client.url

    @property
    def dns_client_address(self) -> tuple[str, int]:
        """Where a client on this machine sends DNS queries (``Harness.dns_client_address``)."""
        if self.dns_address is None:
            from harness.errors import ComponentMissingError

            raise ComponentMissingError(f"the harness at {self.url} runs no DNS server")
        return self.dns_address

    def _reachable(self, host: str) -> str:
        """A wildcard-bound DNS server is reached at the control URL's host."""
        return self.client.host if host in ("0.0.0.0", "::") else host

    def state(self) -> dict[str, Any]:
        return self.client.request("GET", "/state")

    def describe(self) -> dict[str, str]:
        return dict(self.state()["describe"])

    def reset(self) -> None:
        self.client.request("POST", "/reset")

    def client_environment(self) -> dict[str, str]:
        """The variables that point an SDK at this harness (``Harness.client_environment``)."""
        return dict(self._client_environment)

    def create_tables(self, specs: list[Mapping[str, Any]]) -> list[str]:
        """Create global tables (CreateTable-shaped specs) unless they exist; the names created."""
        return list(self.client.request("POST", "/tables", {"tables": list(specs)})["created"])

    def item_in_regions(self, table: str, key: Mapping[str, Any]) -> dict[str, Any]:
        """``{region: item or None}``: the item under a plain key in each region's table now."""
        return dict(self.client.request("POST", "/tables/item", {"table": table, "key": dict(key)}))

    def dns_log(self, name: str | None = None, qtype: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        return self.client.request("GET", "/dns/log", query={"name": name, "qtype": qtype, "limit": limit})

    def dns_counts(self, name: str | None = None, qtype: str | None = None) -> dict[str, Any]:
        """``{"total": exact count, "window": retained entries, "rcodes": {rcode: n}}`` (dropped: ``DROPPED``)."""
        return self.client.request("GET", "/dns/counts", query={"name": name, "qtype": qtype})

    def resolve(self, name: str, qtype: str = "A") -> dict[str, Any]:
        """What a client asking the harness DNS gets now: ``{"rcode": ..., "answers": [...]}``."""
        return self.client.request("GET", "/dns/resolve", query={"name": name, "qtype": qtype})

    def replication_state(self) -> dict[str, Any]:
        """``lag`` (configured), ``paused``, ``pending`` writes, ``backlog_age`` (s), ``applied``, ``failed``."""
        return self.client.request("GET", "/replication")

    def close(self) -> None:
        """Nothing is held between requests; present so callers treat it like ``Harness``."""

    def __enter__(self) -> "RemoteHarness":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RemoteHarness({self.url!r})"
