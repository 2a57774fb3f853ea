"""Driving a running harness from another process: the HTTP control API and its client."""

from harness.control.client import ControlUnavailableError, RemoteHarness
from harness.control.server import ControlApi, ControlServer

__all__ = ["ControlApi", "ControlServer", "ControlUnavailableError", "RemoteHarness"]
