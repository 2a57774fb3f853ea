"""A CLI child process whose output lines a test waits on (``chaos-harness up``, ``run``).

A pytest plugin (tests/conftest.py): ``remote`` is a clean ``RemoteHarness`` on the test module's
own ``up`` fixture (the URL of a control API that module started).
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.control import RemoteHarness

START_TIMEOUT = 60.0
CLI = str(Path(sys.executable).parent / "chaos-harness")


class Process:
    """A child process whose stdout lines are collected by a thread, waited on with a timeout."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None, *, stdin: int | None = None) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self.proc = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     env={**os.environ, **(env or {})})
        self._reader = threading.Thread(target=self._read, name="test-process-reader")
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_line(self, pattern: str, timeout: float = START_TIMEOUT) -> re.Match[str]:
        """The first output line matching ``pattern``; fails with the output so far otherwise."""
        while True:
            try:
                line = self._queue.get(timeout=timeout)
            except queue.Empty:
                pytest.fail(f"no line matching {pattern!r} within {timeout} s; output: {self.lines}")
            if line is None:
                pytest.fail(f"process exited ({self.proc.wait()}) before printing {pattern!r}; output: {self.lines}")
            self.lines.append(line)
            match = re.search(pattern, line)
            if match:
                return match

    def stop(self) -> int:
        """SIGTERM (the CLI's clean shutdown, as when a CI runner cancels), then SIGKILL if it does not
        exit in time. Not SIGINT: a suite started in the background by a shell without job control
        inherits SIGINT as ignored, and Python then leaves it ignored in the CLI too.

        Fails (instead of hanging) when the output stays open after the process exited: then a
        process it started outlived it, which is a leak.
        """
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(START_TIMEOUT)
        if self._reader.is_alive():
            pytest.fail(f"{self.proc.args[:2]} exited ({self.proc.returncode}) but a process it started still holds "
                        f"its output open; output: {self.lines}")
        return self.proc.returncode


@contextlib.contextmanager
def harness_up(*args: str) -> Iterator[str]:
    """``chaos-harness up ARGS`` with a control API on a free port: its URL; stopped (exit 130) after."""
    proc = Process([CLI, "up", *args, "--control", "127.0.0.1:0"])
    try:
        url = proc.wait_line(r"^control\s+(http://\S+)").group(1)
        proc.wait_line(r"harness is up")
        yield url
    finally:
        assert proc.stop() == 130, proc.lines  # interrupted: faults cleared, servers stopped


@pytest.fixture
def remote(up: str) -> Iterator[RemoteHarness]:
    """A ``RemoteHarness`` on the module's ``up``: reset before the test, its faults cleared after."""
    harness = RemoteHarness(up)
    harness.reset()
    yield harness
    harness.chaos.clear_all()
    harness.close()
