"""Errors the harness reports to people.

Every error a user can cause (bad scenario, unknown fault, busy port, missing tool) is a
``HarnessError`` whose ``str()`` is one line naming the problem, so the CLI, the pytest plugin and
CI logs can show it as-is instead of a traceback.
"""

from __future__ import annotations


class HarnessError(Exception):
    """Base class: a problem the user can fix, described in one line."""

    def __str__(self) -> str:
        text = super().__str__()
        return " ".join(text.split())  # always one line, whatever the message was built from


class ConfigError(HarnessError):
    """A configuration value (region, table, address, option) is wrong."""


class UnknownFaultError(HarnessError):
    """A fault name that no fault module registered."""


class FaultOptionError(HarnessError):
    """A fault was given an unknown or invalid option."""


class AddressInUseError(HarnessError):
    """A server could not bind because the address/port is taken."""


class ComponentMissingError(HarnessError):
    """A fault needs a harness component (DNS, proxies, DynamoDB, health checker) that is not running."""


class NamespaceUnavailableError(HarnessError):
    """Linux user/network/mount namespaces cannot be created on this machine."""


class TimeoutExpired(HarnessError):
    """A wait on a real condition (server ready, state reached) ran out of time."""
