"""A Ctrl-C during cleanup waits for the cleanup instead of cutting it short."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator

import pytest

from harness.interrupts import interrupts_deferred


@pytest.fixture
def ctrl_c() -> Iterator[None]:
    """SIGINT raising KeyboardInterrupt, as in a terminal (a suite run in the background inherits it ignored)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def test_an_interrupt_during_cleanup_is_raised_after_it(ctrl_c: None) -> None:
    done = []
    with pytest.raises(KeyboardInterrupt):
        with interrupts_deferred():
            os.kill(os.getpid(), signal.SIGINT)  # handled at the next bytecode: held, not raised
            done.append("all of the cleanup ran")
    assert done == ["all of the cleanup ran"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is back


def test_sigterm_is_held_too_and_nothing_is_raised_without_a_signal() -> None:
    previous = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        with interrupts_deferred():
            pass  # no signal: nothing raised
        with pytest.raises(KeyboardInterrupt), interrupts_deferred():
            os.kill(os.getpid(), signal.SIGTERM)  # would end the process with SIG_DFL
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_outside_the_main_thread_it_changes_no_handler(ctrl_c: None) -> None:
    seen = []

    def worker() -> None:
        with interrupts_deferred():
            seen.append(signal.getsignal(signal.SIGINT))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == [signal.default_int_handler]
