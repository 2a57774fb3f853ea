"""A small in-process environment for testing drills without the full harness.

``DrillEnvDouble`` meets ``DrillEnvironment``: a real ``Chaos`` injecting real registered faults
(``dns.*``) into a DNS component double, replication controls that record calls, and
``SessionAppDouble``, a real HTTP server speaking the sample app's session API in memory whose
behaviour while a DNS fault is active is chosen by the test: fail over to the other region
(resilient), answer 503 (naive), or acknowledge logins it never stores (lost writes).
Used by the runner and CLI tests. ``FaultListDouble`` is only what ``Chaos`` calls on a component's
fault list (add, remove, clear, active); the components' real chain is not needed here.
"""

from __future__ import annotations

import json
import socket
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from harness.chaos import Chaos

Behaviour = Literal["failover", "fail", "lose_writes"]


class FaultListDouble(list):
    """A component's fault chain cut down to what ``dns.*`` faults call (add, remove) and what the
    app double reads (active); list operations are atomic, so no lock is needed."""

    add = list.append

    @property
    def active(self) -> list[Any]:
        return list(self)


class DnsDouble:
    def __init__(self) -> None:
        self.faults = FaultListDouble()


class ReplicationDouble:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.paused = False

    def pause(self) -> None:
        self.calls.append("pause")
        self.paused = True

    def resume(self) -> None:
        self.calls.append("resume")
        self.paused = False

    def wait_caught_up(self, timeout: float) -> None:
        self.calls.append("wait_caught_up")


class DynamoDouble:
    def __init__(self) -> None:
        self.replication = ReplicationDouble()


class SessionAppDouble:
    """The sample app's HTTP API (users, sessions) in memory, "down" while ``is_down()`` holds."""

    def __init__(self, is_down: Any, behaviour: Behaviour = "failover") -> None:
        self.is_down = is_down
        self.behaviour = behaviour
        self.users: set[str] = set()
        self.sessions: dict[str, str] = {}
        self.lock = threading.Lock()
        self.requests = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def metrics(self) -> dict[str, Any]:
        with self.lock:
            return {"requests": {"total": self.requests}}

    def start(self) -> "SessionAppDouble":
        app = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()  # headers and body go out in two writes: no Nagle delay between them
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self) -> None:
                self._reply(*app.handle("POST", self.path, self._body(), self.headers.get("Idempotency-Key")))

            def do_GET(self) -> None:
                self._reply(*app.handle("GET", self.path, None, None))

            def do_DELETE(self) -> None:
                self._reply(*app.handle("DELETE", self.path, None, None))

            def _body(self) -> Any:
                length = int(self.headers.get("Content-Length", 0))
                return json.loads(self.rfile.read(length)) if length else None

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                if isinstance(body.get("region"), str):
                    self.send_header("X-Served-By-Region", body["region"])
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="session-app-double")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = None

    def handle(self, method: str, path: str, body: Any, key: str | None) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.requests += 1
            down = bool(self.is_down())
            if down and self.behaviour == "fail":
                return 503, {"error": "unavailable", "region": None, "source": "app"}
            region = "us-west-2" if down and self.behaviour == "failover" else "us-east-1"
            served = {"region": region, "source": "dynamodb"}
            if method == "POST" and path == "/users":
                if body["username"] in self.users:
                    return 409, {"error": "conflict"}
                self.users.add(body["username"])
                return 201, {"user": {"username": body["username"]}, **served}
            if method == "POST" and path == "/sessions":
                session = uuid.uuid5(uuid.NAMESPACE_URL, f"{body['username']}/{key}").hex
                if not (down and self.behaviour == "lose_writes"):  # acknowledged, never stored
                    self.sessions[session] = body["username"]
                return 201, {"session": {"session_id": session, "username": body["username"]}, **served}
            session = path.rsplit("/", 1)[-1]
            if session not in self.sessions:
                return 404, {"error": "not_found", **served}
            if method == "DELETE":
                del self.sessions[session]
                return 200, {"deleted": session, **served}
            return 200, {"session": {"session_id": session}, **served}


class DrillEnvDouble:
    """Chaos + DNS double + replication double + the session app; a context manager."""

    def __init__(self, behaviour: Behaviour = "failover", *, seed: int = 0) -> None:
        self.dns = DnsDouble()
        self.proxies = None
        self.health = None
        self.dynamodb = DynamoDouble()
        self.chaos = Chaos(self, seed=seed)
        self.app = SessionAppDouble(lambda: self.dns.faults.active, behaviour)

    def __enter__(self) -> "DrillEnvDouble":
        self.app.start()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.chaos.clear_all()
        finally:
            self.app.stop()

    def describe(self) -> dict[str, str]:
        return {"app": self.app.url}
