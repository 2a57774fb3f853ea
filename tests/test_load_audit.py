"""The end-of-run write audit reports lost writes only when a write is really gone.

Found by issue 10: a logout applied by the app whose response was lost (the replica's connection
dropped, as ``health.flap`` with ``target_down`` does) is sent again by the load generator's
keep-alive retry, and the second try answers 404. Counting that session as still live made the
audit report "1 of 98 acknowledged sessions not found at the end": a lost write that was a logout.
"""

from __future__ import annotations

import threading
import uuid
from http.server import ThreadingHTTPServer

import pytest

from apps.json_handler import JsonHandler
from harness.drill.traffic import TrafficGenerator
from harness.loopback import LoopbackPool
from harness.scenario.model import LoadProfile
from harness.scenario.session_traffic import session_traffic


class DroppingLogoutApp(ThreadingHTTPServer):
    """A session service that applies each logout and, the first time, drops the connection
    before answering; ``lose`` makes it forget one acknowledged session (a real lost write)."""

    daemon_threads = True

    def __init__(self, host: str, *, lose: bool = False) -> None:
        super().__init__((host, 0), _Handler)
        self.sessions: dict[str, bool] = {}  # id -> live
        self.lock = threading.Lock()
        self.lose = lose
        self.dropped = 0


class _Handler(JsonHandler):
    server: DroppingLogoutApp

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/users":
            return self.reply(201, {})
        session = uuid.uuid4().hex
        with self.server.lock:
            self.server.sessions[session] = not (self.server.lose and not self.server.sessions)
        self.reply(201, {"session": {"session_id": session}})

    def do_GET(self) -> None:
        with self.server.lock:
            live = self.server.sessions.get(self.path.rsplit("/", 1)[-1], False)
        self.reply(200 if live else 404, {"session": {}} if live else {"error": "not_found"})

    def do_DELETE(self) -> None:
        session = self.path.rsplit("/", 1)[-1]
        with self.server.lock:
            live = self.server.sessions.get(session, False)
            self.server.sessions[session] = False
            first = live and self.server.dropped < 5
            self.server.dropped += first
        if first:  # applied, but the replica went away before its answer
            self.close_connection = True
            return
        self.reply(200 if live else 404, {"deleted": session} if live else {"error": "not_found"})


@pytest.mark.parametrize("lose, lost", [(False, 0), (True, 1)], ids=["logouts-retried", "one-write-lost"])
def test_a_retried_logout_is_no_lost_write_but_a_vanished_session_is(lose: bool, lost: int) -> None:
    app = DroppingLogoutApp(LoopbackPool().take("app"), lose=lose)
    thread = threading.Thread(target=app.serve_forever, args=(0.05,))
    thread.start()
    try:
        host, port = app.server_address[:2]
        profile = LoadProfile(rps=200, duration=0.5, users=4, workers=2, request_timeout=2.0,
                              mix={"login": 1.0, "validate": 1.0, "logout": 2.0})
        traffic, writes = session_traffic(profile.mix, profile.users)  # the sample app's traffic, as data
        load = TrafficGenerator(f"http://{host}:{port}", profile, 0.5, 3, traffic, writes)
        load.prepare()
        load.start()
        load.join()
        audit, _ = load.audit()
    finally:
        app.shutdown()
        thread.join()
        app.server_close()
    assert app.dropped > 0, "no logout lost its answer: the test did not test anything"
    assert len(audit.lost) == lost
