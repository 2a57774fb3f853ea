"""Traffic described as data: weighted HTTP requests any app understands, or a Python entry point.

Built on ``LoadGenerator``'s engine, so the same guarantees hold: the plan (which user sends what
when, and every random draw) is fixed by the seed; users are pinned to workers and send in order;
a request its user could not send in time because the app held the previous one counts as a
failure at its planned time (no coordinated omission); the live line reads the same records.

Per user: the last successful response body of each request (for ``{{NAME.path}}`` templates). A
request needing a value the user has not seen yet sends the request that provides it instead. A
write (``writes.requests``) the app answered ambiguously (no answer, or a 5xx) is replayed with
the same ``{{id}}`` as the user's next request, as a careful client would; acknowledged keys go
to the ``WriteLedger``.
"""

from __future__ import annotations

import hashlib
import importlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from harness.drill.load import HttpClient, LoadError, LoadGenerator, Planned, Response
from harness.drill.records import RequestRecord, WriteAudit
from harness.drill.templates import MissingValue, lookup, render
from harness.drill.writes import TableReader, WriteLedger, check_writes
from harness.errors import ConfigError
from harness.scenario.appspec import RequestSpec, TrafficSpec, WritesSpec
from harness.scenario.model import LoadProfile

MAX_DEPENDENCY_DEPTH = 8


@dataclass
class _Rendered:
    spec: RequestSpec
    path: str
    headers: dict[str, str]
    body: Any
    write_id: str


@dataclass
class _TrafficUser:
    index: int
    responses: dict[str, Any] = field(default_factory=dict)
    key: str | None = None  # the last key this user wrote (what a delete removes)
    replay: _Rendered | None = None


@dataclass(frozen=True)
class TrafficCall:
    """What a Python traffic function gets for one planned request (``traffic.python``)."""

    seq: int
    user: int
    id: str
    send: Callable[..., Response]
    acknowledge: Callable[[str], None]


def unique_id(seed: int, seq: int) -> str:
    """A seeded id, unique within a run and unlikely to collide across runs with other seeds."""
    return hashlib.sha256(f"{seed}:{seq}".encode()).hexdigest()[:16]


def load_entry_point(entry: str) -> Callable[[TrafficCall], Any]:
    module_name, _, function = entry.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"traffic entry point {entry!r}: cannot import {module_name!r} ({exc})") from None
    fn = getattr(module, function, None)
    if not callable(fn):
        raise ConfigError(f"traffic entry point {entry!r}: {module_name} has no function {function!r}")
    return fn


class TrafficGenerator(LoadGenerator):
    """Sends ``traffic`` to the app at ``url``; ``audit()`` checks ``writes`` (if any)."""

    def __init__(self, url: str, profile: LoadProfile, wall_duration: float, seed: int, traffic: TrafficSpec,
                 writes: WritesSpec | None = None, *, region_header: str | None = None,
                 tables: TableReader | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(url, replace(profile, users=traffic.users), wall_duration, seed, clock=clock)
        self.traffic = traffic
        self.writes = writes
        self.region_header = region_header.lower() if region_header else None
        self.tables = tables
        self.entry = load_entry_point(traffic.python) if traffic.python else None
        self._entry_name = (traffic.python or "").rpartition(":")[2]  # the op name of its records
        self.ledger = WriteLedger()
        self.state = [_TrafficUser(i) for i in range(traffic.users)]
        weights = [max(0.0, r.weight) for r in traffic.requests]
        total = sum(weights) or 1.0
        edges, acc = [], 0.0
        for spec, weight in zip(traffic.requests, weights):
            acc += weight / total
            edges.append((acc, spec))
        self._edges = edges

    def prepare(self) -> None:
        """Send each user's ``traffic.prepare`` requests (e.g. create its account); fail loudly if the app can't."""
        if not self.traffic.prepare:
            return
        client = HttpClient(self.url, self.profile.request_timeout, self.clock)
        try:
            for user in self.state:
                names = {"seed": self.seed, "user": user.index, "id": unique_id(self.seed, -1 - user.index)}
                for spec in self.traffic.prepare:
                    body = render(spec.json, names, {})
                    reply = client.send(spec.method, str(render(spec.path, names, {})), body,
                                        {k: str(v) for k, v in render(dict(spec.headers), names, {}).items()})
                    if reply.status not in spec.ok:
                        detail = reply.error or f"HTTP {reply.status} {reply.body.get('error', '')}".strip()
                        raise LoadError(f"the app at {self.url} did not answer prepare request {spec.name!r} "
                                        f"for user {user.index}: {detail}")
        finally:
            client.close()

    # -- choosing and rendering -----------------------------------------------------------------
    def _pick(self, draw: float) -> RequestSpec:
        return next((spec for edge, spec in self._edges if draw < edge), self._edges[-1][1])

    def _render(self, user: _TrafficUser, item: Planned) -> _Rendered:
        if user.replay is not None:
            return user.replay
        by_name = {r.name: r for r in self.traffic.requests}
        spec = self._pick(item.draw)
        names = {"id": unique_id(self.seed, item.seq), "seq": item.seq, "user": user.index, "seed": self.seed}
        for _ in range(MAX_DEPENDENCY_DEPTH):
            try:
                return _Rendered(spec, str(render(spec.path, names, user.responses)),
                                 {k: str(v) for k, v in render(dict(spec.headers), names, user.responses).items()},
                                 render(spec.json, names, user.responses), str(names["id"]))
            except MissingValue as missing:
                spec = by_name[missing.request]  # send what provides the value first
        raise ConfigError(f"request {spec.name!r}: its templates depend on each other in a circle")

    # -- one request ---------------------------------------------------------------------------
    def _do(self, client: HttpClient, item: Planned) -> RequestRecord:
        user = self.state[item.user]
        sent = self.clock() - self.started_at
        if self.entry is not None:
            return self._call_entry(client, item, user, sent)
        rendered = self._render(user, item)
        spec = rendered.spec
        reply = client.send(spec.method, rendered.path, rendered.body, rendered.headers)
        ok = reply.status in spec.ok
        key = None
        if ok:
            user.responses[spec.name] = reply.body
        ambiguous = reply.status == 0 or reply.status >= 500
        if self.writes is not None and spec.name in self.writes.requests:
            user.replay = rendered if ambiguous else None
            if ok:
                key, ok, reply = self._acknowledge(user, rendered, reply)
        # A delete sent again after its connection dropped may have been applied the first time: its
        # "not found" then says "already deleted" (by us), not "never there".
        ambiguous = ambiguous or (reply.resent and not ok)
        if self.writes is not None and spec.name in self.writes.deletes and user.key is not None and (ok or ambiguous):
            key = user.key
            self.ledger.deleted(user.key, certain=ok)
            user.key = None
            for name in self.writes.requests:  # the next request needing it writes again
                user.responses.pop(name, None)
        return self._make_record(item, sent, spec.name, user, reply, ok, key, rendered.write_id)

    def _acknowledge(self, user: _TrafficUser, rendered: _Rendered, reply: Response) -> tuple[str | None, bool, Response]:
        assert self.writes is not None
        try:
            key = str(lookup(reply.body, self.writes.key))
        except KeyError:
            error = f"write acknowledged without a key at {self.writes.key!r} in its response"
            return None, False, replace(reply, error=error)
        self.ledger.acknowledged(rendered.write_id, key)
        user.key = key
        return key, True, reply

    def _call_entry(self, client: HttpClient, item: Planned, user: _TrafficUser, sent: float) -> RequestRecord:
        assert self.entry is not None
        keys: list[str] = []
        write_id = unique_id(self.seed, item.seq)

        def acknowledge(key: str) -> None:
            keys.append(key)
            self.ledger.acknowledged(write_id, key)

        replies: list[Response] = []

        def send(method: str, path: str, json: Any = None, headers: Mapping[str, str] | None = None) -> Response:
            replies.append(client.send(method, path, json, dict(headers or {})))
            return replies[-1]

        started = self.clock()
        try:
            result = self.entry(TrafficCall(item.seq, user.index, write_id, send, acknowledge))
        except Exception as exc:  # the user's function failed: a failed request, not a crashed drill
            reply = Response(0, {}, self.clock() - started, f"traffic function raised {type(exc).__name__}: {exc}")
            return self._make_record(item, sent, self._entry_name, user, reply, False, None, write_id)
        reply = replies[-1] if replies else Response(0, {}, self.clock() - started, "the traffic function sent nothing")
        ok = bool(result) if isinstance(result, bool) else (reply.status != 0 and reply.status < 400)
        reply = replace(reply, latency=self.clock() - started)
        return self._make_record(item, sent, self._entry_name, user, reply, ok, keys[-1] if keys else None, write_id)

    def _make_record(self, item: Planned, sent: float, name: str, user: _TrafficUser, reply: Response, ok: bool,
                key: str | None, write_id: str | None) -> RequestRecord:
        error = reply.error or (None if ok else f"HTTP {reply.status} {reply.body.get('error', '')}".strip())
        region = reply.headers.get(self.region_header) if self.region_header else None
        return RequestRecord(seq=item.seq, t=round(sent, 6), op=name, user=f"user-{user.index}", status=reply.status,
                             latency=round(reply.latency, 6), ok=ok, region=region if region not in ("", "none") else None,
                             session=key, key=write_id, error=error)

    def _gave_up(self, item: Planned, late: float) -> RequestRecord:
        """What the user would have sent, counted failed at its planned time (no coordinated omission)."""
        user = self.state[item.user]
        name = self._entry_name if self.entry is not None else self._render(user, item).spec.name
        return RequestRecord(seq=item.seq, t=round(item.at, 6), op=name, user=f"user-{user.index}", status=0,
                             latency=round(late, 6), ok=False,
                             error=f"not sent: the user waited {late:.2f}s on an earlier request")

    # -- end of run ----------------------------------------------------------------------------
    def audit(self) -> tuple[WriteAudit, list[RequestRecord]]:
        """Check every acknowledged, not deleted key (``writes.verify``); the read-backs as records."""
        if self.writes is None:
            return WriteAudit(ran=False, note="the scenario has no 'writes' section"), []
        records: list[RequestRecord] = []
        client = HttpClient(self.url, self.profile.request_timeout, self.clock)

        def read(method: str, path: str) -> tuple[int, str | None]:
            sent = self.clock() - self.started_at
            reply = client.send(method, path)
            ok = self.writes is not None and self.writes.request is not None and reply.status in self.writes.request.found
            records.append(RequestRecord(seq=-1 - len(records), t=round(sent, 6), op="verify", user="audit",
                                         status=reply.status, latency=round(reply.latency, 6), ok=ok,
                                         session=path, error=reply.error))
            return reply.status, reply.error

        try:
            return check_writes(self.ledger, self.writes, read, self.tables), records
        finally:
            client.close()
