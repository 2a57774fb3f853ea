"""A thread per connection, as ``socketserver.ThreadingMixIn`` gives, without a new thread each time.

The DynamoDB fronts serve each client connection on its own thread (a kept-alive connection holds
its thread between requests). With ``ThreadingMixIn`` every connection starts a thread and ends it,
and most of the fronts' connections are short: the health checker's TCP probe of every node, ten
rounds a second, and the clients' reconnections that ``max_connection_age`` forces. Measured on
idle ``chaos-harness up``, starting and ending those threads was about two fifths of the CPU the
DynamoDB health probes cost, work that competes for the GIL with the DNS server and, in a drill,
with the app under test.

``ReusedThreadsMixIn`` keeps the model (one thread per open connection, no limit, so a slow or
kept-alive connection never makes another wait) but hands a new connection to a thread that
finished its last one and waits for work, and starts a thread only when none is waiting. A thread
idle for ``idle_timeout`` seconds exits. ``server_close()`` wakes and joins every thread, idle or
busy, as ``ThreadingMixIn`` does with ``block_on_close``.
"""

from __future__ import annotations

import queue
import socket
import threading
from typing import Any

from harness.waiting import ChangeSignal

_Job = tuple[socket.socket, Any] | None  # None tells a waiting thread to exit


class ReusedThreadsMixIn:
    """Mix in before ``socketserver.TCPServer``: serve each connection on a reused thread."""

    #: Seconds a thread with no connection waits for the next one before it exits.
    idle_timeout: float = 5.0
    #: Name of the threads serving connections.
    connection_thread_name: str = "connection"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pool_lock = threading.Lock()
        self._handoff: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._threads = 0  # alive to serve connections
        self._waiting = 0  # of those, waiting on _handoff and not yet promised a job
        self._workers: list[threading.Thread] = []
        self._pool_closed = False
        #: Fires whenever a thread starts, ends, or starts waiting for a connection.
        self.threads_changed = ChangeSignal()

    @property
    def connection_threads(self) -> int:
        """Threads serving connections, busy or waiting for the next one."""
        return self._threads

    @property
    def waiting_threads(self) -> int:
        """Threads that finished their connection and wait for the next one."""
        return self._waiting

    def process_request(self, request: socket.socket, client_address: Any) -> None:
        with self._pool_lock:
            if self._waiting > 0:  # promise the job to one waiting thread
                self._waiting -= 1
                self._handoff.put((request, client_address))
                return
            self._workers = [t for t in self._workers if t.is_alive()]
            worker = threading.Thread(target=self._serve_connections, args=((request, client_address),),
                                      name=self.connection_thread_name)
            self._workers.append(worker)
            self._threads += 1
        worker.start()

    def _serve_connections(self, job: _Job) -> None:
        try:
            while job is not None:
                self._serve_one(*job)
                job = self._next_job()
        finally:
            with self._pool_lock:
                self._threads -= 1
            self.threads_changed.notify()

    def _serve_one(self, request: socket.socket, client_address: Any) -> None:
        """What ``ThreadingMixIn.process_request_thread`` does for one connection."""
        try:
            self.finish_request(request, client_address)  # type: ignore[attr-defined]
        except Exception:
            self.handle_error(request, client_address)  # type: ignore[attr-defined]
        finally:
            self.shutdown_request(request)  # type: ignore[attr-defined]

    def _next_job(self) -> _Job:
        """The next connection to serve, or None when this thread should end."""
        with self._pool_lock:
            if self._pool_closed:
                return None
            self._waiting += 1
        self.threads_changed.notify()
        try:
            return self._handoff.get(timeout=self.idle_timeout)
        except queue.Empty:
            with self._pool_lock:
                if self._waiting > 0:  # nobody promised this thread a job: leave
                    self._waiting -= 1
                    return None
            return self._handoff.get()  # a job was promised just as the wait ran out: it is on its way

    def server_close(self) -> None:
        super().server_close()  # type: ignore[misc]
        with self._pool_lock:
            self._pool_closed = True
            for _ in range(self._waiting):
                self._handoff.put(None)
            self._waiting = 0
            workers = list(self._workers)
        for worker in workers:
            worker.join()
