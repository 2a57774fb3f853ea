"""A seeded, bounded load engine that acts like the app's users and records what they saw.

The plan (which request is sent when, for which user, with which random draw) is computed up
front from the seed, so two runs of a scenario send the same requests at the same offsets; only
the app's answers differ. Users are pinned to a fixed set of worker threads (a user's requests
are sequential, like a real client holding one session), the number of requests is fixed by
``rps * duration``, every request has a timeout, and nothing is sent after the load's deadline.

What each request *is* belongs to a subclass (``harness.drill.traffic.TrafficGenerator``: traffic
described as data); this module owns pacing, the HTTP client, records and coordinated omission.
"""

from __future__ import annotations

import abc
import dataclasses
import http.client
import ipaddress
import json
import socket
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from harness.drill.records import RequestRecord, WriteAudit
from harness.errors import ConfigError, HarnessError
from harness.loopback import is_loopback
from harness.scenario.model import LoadProfile

class LoadError(HarnessError):
    """The load generator could not prepare the app (e.g. creating the drill's users failed)."""


@dataclass(frozen=True)
class Response:
    status: int
    body: dict[str, Any]
    latency: float
    error: str | None = None
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case
    resent: bool = False  # sent twice: the first try may have been applied before its connection dropped


# What a keep-alive connection the server already closed looks like on the next request.
_STALE_CONNECTION = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class HttpClient:
    """One keep-alive HTTP connection to the app, reopened after any error. Not thread-safe."""

    def __init__(self, url: str, timeout: float, clock: Callable[[], float] = time.monotonic) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ConfigError(f"app URL must look like http://127.0.0.1:8080, got {url!r}")
        if _is_address(parts.hostname) and not is_loopback(parts.hostname):
            raise ConfigError(f"refusing to send load to non-loopback address {parts.hostname!r}")
        self.host, self.port = parts.hostname, parts.port or 80
        self.timeout = timeout
        self.clock = clock
        self._conn: http.client.HTTPConnection | None = None

    def send(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Response:
        """One request. A reused keep-alive connection the server closed before answering is
        retried once on a new connection, as browsers and urllib3 do; every request of the drill
        is safe to repeat (logins carry an Idempotency-Key)."""
        started = self.clock()
        payload = None if body is None else json.dumps(body).encode()
        all_headers = {"Content-Type": "application/json", **(headers or {})} if payload else dict(headers or {})
        resent = False
        for attempt in (1, 2):
            reused = self._conn is not None
            try:
                if self._conn is None:
                    self._conn = _LoopbackOnlyConnection(self.host, self.port, timeout=self.timeout)
                self._conn.request(method, path, body=payload, headers=all_headers)
                reply = self._conn.getresponse()
                raw = reply.read()
                if reply.getheader("Connection", "").lower() == "close":
                    self.close()
                break
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                if attempt == 1 and reused and isinstance(exc, _STALE_CONNECTION):
                    resent = True
                    continue
                return Response(0, {}, self.clock() - started, f"{type(exc).__name__}: {exc}".strip(": "), resent=resent)
        try:
            parsed = json.loads(raw) if raw else {}
        except ValueError:
            parsed = {}
        return Response(reply.status, parsed if isinstance(parsed, dict) else {}, self.clock() - started,
                        resent=resent, headers={k.lower(): v for k, v in reply.getheaders()})

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class NonLoopbackTarget(OSError):
    """A name resolved to an address outside 127.0.0.0/8 / ::1: no load is sent there."""


class _LoopbackOnlyConnection(http.client.HTTPConnection):
    """Resolves the app's name on every new connection (so DNS faults and health changes are
    seen, and the next address is tried when one refuses, as ``socket.create_connection`` does),
    and refuses any answer that is not a loopback address."""

    def connect(self) -> None:
        infos = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)
        outside = sorted({info[4][0] for info in infos if not is_loopback(info[4][0])})
        if outside:
            raise NonLoopbackTarget(f"{self.host} resolved to non-loopback {', '.join(outside)}; load not sent")
        last: OSError | None = None
        for family, kind, proto, _, address in infos:
            sock = socket.socket(family, kind, proto)
            sock.settimeout(self.timeout)
            try:
                sock.connect(address)
            except OSError as exc:
                sock.close()
                last = exc
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock = sock
            return
        raise last or OSError(f"{self.host} resolved to no address")


@dataclass(frozen=True)
class Planned:
    seq: int
    at: float  # wall seconds after the load starts
    user: int
    draw: float  # seeded uniform draw that picks the operation


def plan(profile: LoadProfile, wall_duration: float, seed: int) -> list[Planned]:
    """Every request of the run, evenly paced at ``rps``; same seed, same plan."""
    rng = random.Random(f"load:{seed}")
    count = max(1, int(profile.rps * wall_duration))
    return [Planned(i, i / profile.rps, rng.randrange(profile.users), rng.random()) for i in range(count)]


class LoadGenerator(abc.ABC):
    """Runs the plan on worker threads; subclasses say what each planned request is (``_do``)."""

    def __init__(self, url: str, profile: LoadProfile, wall_duration: float, seed: int, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        HttpClient(url, profile.request_timeout)  # validate the URL now, before any thread starts
        self.url = url
        self.profile = profile
        self.wall_duration = wall_duration
        self.seed = seed
        self.clock = clock
        self.plan = plan(profile, wall_duration, seed)
        self._records: list[RequestRecord] = []
        self._records_lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.started_at: float | None = None
        self.skipped = 0

    # -- what a request is (subclasses) ----------------------------------------------------
    @abc.abstractmethod
    def prepare(self) -> None:
        """Before the load starts (e.g. create the drill's accounts); ``LoadError`` if the app can't."""

    @abc.abstractmethod
    def _do(self, client: "HttpClient", item: Planned) -> RequestRecord:
        """Send planned request ``item`` and record what its user saw."""

    @abc.abstractmethod
    def _gave_up(self, item: Planned, late: float) -> RequestRecord:
        """A request its user could not even send in time, because the app held the user's
        previous one: a failure at its planned time. Counting it (instead of quietly sending it
        late) keeps a hanging app from looking healthy (coordinated omission)."""

    @abc.abstractmethod
    def audit(self) -> tuple[WriteAudit, list[RequestRecord]]:
        """After the run: check acknowledged writes; the audit and its read-back records."""

    # -- running ------------------------------------------------------------------------------
    def start(self, started_at: float | None = None) -> None:
        self.started_at = self.clock() if started_at is None else started_at
        per_worker: list[list[Planned]] = [[] for _ in range(self.profile.workers)]
        for item in self.plan:
            per_worker[item.user % self.profile.workers].append(item)
        for i, items in enumerate(per_worker):
            thread = threading.Thread(target=self._work, args=(items,), name=f"drill-load-{i}")
            self._threads.append(thread)
            thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self) -> None:
        """Wait for the workers; each is bounded by its deadline and one request timeout."""
        for thread in self._threads:
            thread.join()
        self._threads.clear()

    @property
    def deadline(self) -> float:
        return self.wall_duration + self.profile.request_timeout

    def _work(self, items: list[Planned]) -> None:
        client = HttpClient(self.url, self.profile.request_timeout, self.clock)
        free_at = 0.0  # when this worker finished its previous request (seconds since the start)
        try:
            for item in items:
                delay = self.started_at + item.at - self.clock()
                if delay > 0 and self._stop.wait(delay):
                    break
                if self._stop.is_set():
                    break
                if self.clock() - self.started_at > self.deadline:
                    with self._records_lock:
                        self.skipped += 1
                    continue
                late = self.clock() - self.started_at - item.at
                if late >= self.profile.request_timeout:
                    self._record(self._gave_up(item, late))
                    continue
                rec = self._do(client, item)
                # Sent later than the worker was free and the plan asked: the harness's own lag.
                self._record(dataclasses.replace(rec, send_lag=round(max(0.0, rec.t - max(item.at, free_at)), 6)))
                free_at = self.clock() - self.started_at
        finally:
            client.close()

    def _record(self, rec: RequestRecord) -> None:
        with self._records_lock:
            self._records.append(rec)

    def records(self) -> list[RequestRecord]:
        with self._records_lock:
            return sorted(self._records, key=lambda r: (r.t, r.seq))

    def records_since(self, t: float) -> list[RequestRecord]:
        with self._records_lock:
            return [r for r in self._records if r.t >= t]
