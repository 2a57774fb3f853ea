"""The fronts' connection threads: one per open connection, reused, none left after close.

The DynamoDB fronts (and so every node and health probe) serve connections through
``harness.connection_threads.ReusedThreadsMixIn``. These tests drive a small line-echo server built
on it the way the fronts are: sequential connections share one thread, concurrent ones never wait
for each other, idle threads end, and ``server_close()`` leaves no thread behind.
"""

from __future__ import annotations

import socket
import socketserver
import threading

import pytest

from harness.connection_threads import ReusedThreadsMixIn
from harness.loopback import LoopbackPool

WAIT = 10.0


class _WhoServes(socketserver.StreamRequestHandler):
    """Answers every line with the number of the thread serving the connection (in order of first use)."""

    server: "_Server"

    def handle(self) -> None:
        for _ in self.rfile:
            self.wfile.write(f"{self.server.number(threading.current_thread())}\n".encode())


class _Server(ReusedThreadsMixIn, socketserver.TCPServer):
    connection_thread_name = "test connection"

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self._numbering = threading.Lock()
        self.seen: dict[threading.Thread, int] = {}  # kept alive, so no two threads are ever confused

    def number(self, thread: threading.Thread) -> int:
        with self._numbering:
            return self.seen.setdefault(thread, len(self.seen))


@pytest.fixture
def server():
    srv = _Server((LoopbackPool().take("connection-threads"), 0), _WhoServes)
    runner = threading.Thread(target=srv.serve_forever, args=(0.05,), name="test accept")
    runner.start()
    yield srv
    srv.shutdown()
    runner.join()
    srv.server_close()


def _connect(srv: _Server) -> tuple[socket.socket, object]:
    sock = socket.create_connection(srv.server_address, timeout=WAIT)
    return sock, sock.makefile("rwb")


def _ask(stream) -> int:
    stream.write(b"who\n")
    stream.flush()
    return int(stream.readline())


def test_sequential_connections_are_served_by_one_reused_thread(server):
    served_by = set()
    for _ in range(5):
        sock, stream = _connect(server)
        served_by.add(_ask(stream))
        stream.close()
        sock.close()
        # The thread is back waiting for work before the next connection arrives.
        server.threads_changed.wait_for(lambda: server.waiting_threads == 1, WAIT,
                                        "the connection thread to wait again")
    assert len(served_by) == 1
    assert server.connection_threads == 1


def test_a_kept_alive_connection_never_makes_another_wait(server):
    first_sock, first = _connect(server)
    first_thread = _ask(first)  # still open: its thread stays with it
    second_sock, second = _connect(server)
    assert _ask(second) != first_thread
    assert _ask(first) == first_thread  # the first connection kept its own thread
    assert server.connection_threads == 2
    for stream, sock in ((first, first_sock), (second, second_sock)):
        stream.close()
        sock.close()


def test_idle_threads_end_and_close_leaves_none(server):
    server.idle_timeout = 0.05
    sock, stream = _connect(server)
    _ask(stream)
    stream.close()
    sock.close()
    server.threads_changed.wait_for(lambda: server.connection_threads == 0, WAIT, "the idle thread to end")
    assert not [t for t in threading.enumerate() if t.name == "test connection"]

    server.idle_timeout = WAIT
    kept_sock, kept = _connect(server)  # busy at close: ends when its connection does
    _ask(kept)
    idle_sock, idle = _connect(server)
    _ask(idle)
    idle.close()
    idle_sock.close()
    server.threads_changed.wait_for(lambda: server.waiting_threads == 1, WAIT, "one thread waiting, one busy")
    server.shutdown()
    kept_sock.shutdown(socket.SHUT_RDWR)  # what the fronts' stop() does to open connections
    server.server_close()
    assert server.connection_threads == 0
    assert not [t for t in threading.enumerate() if t.name == "test connection"]
    kept.close()
    kept_sock.close()
