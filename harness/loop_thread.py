"""One background asyncio event loop that hosts the harness's servers.

The DNS server, the embedded Toxiproxy and the health checker are asyncio code; running them on a
single loop thread keeps the thread count fixed (no thread per connection) and lets synchronous
callers (pytest fixtures, the CLI, boto3-based tests) drive them with ``run()``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from harness.errors import TimeoutExpired

T = TypeVar("T")


class LoopThread:
    """An asyncio loop running in a named, non-daemon thread, stopped by ``close()``."""

    def __init__(self, name: str = "chaos-harness-loop") -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("LoopThread is not started")
        return self._loop

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> "LoopThread":
        if self.running:
            return self
        self._ready.clear()
        self._thread = threading.Thread(target=self._main, name=self._name)
        self._thread.start()
        self._ready.wait()
        return self

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        loop.call_soon(self._ready.set)
        try:
            loop.run_forever()
        finally:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def in_loop_thread(self) -> bool:
        return self._thread is threading.current_thread()

    def run(self, coro: Awaitable[T], timeout: float | None = 30.0) -> T:
        """Run a coroutine on the loop from another thread and return its result."""
        if self.in_loop_thread():
            raise RuntimeError("LoopThread.run() called from the loop thread itself")
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)  # type: ignore[arg-type]
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutExpired(f"harness loop did not finish {coro!r} within {timeout} s") from None

    def call(self, fn: Callable[..., T], *args: Any, timeout: float | None = 30.0) -> T:
        """Call a plain function on the loop thread (to touch loop-owned state safely)."""
        if self.in_loop_thread():
            return fn(*args)

        async def _call() -> T:
            return fn(*args)

        return self.run(_call(), timeout)

    def close(self, timeout: float = 10.0) -> None:
        if not self.running:
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        assert self._thread is not None
        self._thread.join(timeout)
        self._thread = None
        self._loop = None

    def __enter__(self) -> "LoopThread":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
