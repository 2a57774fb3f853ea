"""``@pytest.mark.chaos("family.fault", **options)``: faults that wrap one test's body.

Markers are read and validated at setup, before any server starts, so a typo in a fault name or
option fails the test with the registry's one-line message instead of a traceback. Several
markers stack; they are injected outermost first (module, class, then the function's own from
the top decorator down) and cleared in reverse when the test body ends, pass or fail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from harness.errors import HarnessError

MARKER = "chaos"
MARKER_HELP = ('chaos(fault, **options): run the test body with the registered fault injected, e.g. '
               'chaos("dns.empty_answer", qname="dynamodb.us-east-1.amazonaws.com"); several stack')


class MarkerError(HarnessError):
    """A ``chaos`` marker is not written as ``chaos("family.fault", option=value, ...)``."""


@dataclass(frozen=True)
class MarkedFault:
    name: str
    options: dict[str, Any]


def marked_faults(item: pytest.Item) -> list[MarkedFault]:
    """The item's chaos markers as validated faults, outermost first; raises a one-line ``HarnessError``."""
    marks = list(item.iter_markers(MARKER))
    if not marks:
        return []  # most tests: no need to load the fault registry
    from faults import create_fault

    found = []
    for mark in reversed(marks):
        if len(mark.args) != 1 or not isinstance(mark.args[0], str):
            raise MarkerError(
                f"@pytest.mark.chaos takes one fault name and its options as keywords, got args {mark.args!r}; "
                'e.g. @pytest.mark.chaos("dns.empty_answer", qname="dynamodb.us-east-1.amazonaws.com")'
            )
        try:  # validate name and options now, before anything starts
            create_fault(mark.args[0], mark.kwargs)
        except HarnessError as exc:
            raise MarkerError(f"@pytest.mark.chaos({mark.args[0]!r}): {exc}") from None
        found.append(MarkedFault(mark.args[0], dict(mark.kwargs)))
    return found
