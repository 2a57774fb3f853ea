"""Errors the harness reports to people.

Every error a user can cause (bad scenario, unknown fault, busy port, missing tool) is a
``HarnessError`` whose ``str()`` is one line naming the problem, so the CLI, the pytest plugin and
CI logs can show it as-is instead of a traceback.
"""

from __future__ import annotations

import reprlib


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
    """A fault was given an unknown or invalid option.

    ``option`` names the offending option when one is to blame (None: the options as a whole, or
    the harness they were checked against), so a scenario loader can point at that option's line.
    """

    def __init__(self, message: str, *, option: str | None = None) -> None:
        super().__init__(message)
        self.option = option


class AddressInUseError(HarnessError):
    """A server could not bind because the address/port is taken."""


class ComponentMissingError(HarnessError):
    """A fault needs a harness component (DNS, proxies, DynamoDB, health checker) that is not running."""


class NamespaceUnavailableError(HarnessError):
    """Linux user/network/mount namespaces cannot be created on this machine."""


class TimeoutExpired(HarnessError):
    """A wait on a real condition (server ready, state reached) ran out of time."""


def shown(value: object, limit: int = 60) -> str:
    """A value as an error message shows it: ``repr`` cut to ``limit`` characters.

    Bounded before it is built: nested containers stop a few levels and items in (``reprlib``),
    and a huge integer is described by size, since its ``repr`` alone can exceed Python's digit
    limit. User input can be a 5,000-digit number or an expanded YAML alias bomb.
    """
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        return f"a {value.bit_length()}-bit integer"
    text = _REPR.repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother, _REPR.maxlong = 3, 60, 60, 60
