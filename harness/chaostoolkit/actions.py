"""Chaos Toolkit actions: change a running harness (inject or clear faults by their registered name).

A method step injects ``dns.empty_answer`` with its options; a rollback clears it by name, since
a rollback cannot know the id the method got back. Options are exactly the fault's options in
Python, YAML scenarios and the CLI (``chaos-harness inject``); ``duration`` makes the harness clear
the fault itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.chaostoolkit import connect

__all__ = ["clear_all_faults", "clear_fault", "inject_fault"]


def inject_fault(fault: str, options: Mapping[str, Any] | None = None,
                 configuration: Mapping[str, Any] | None = None, secrets: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Inject ``fault`` (e.g. ``dns.empty_answer``) with ``options``; returns its id, name and options."""
    with connect(configuration) as remote:
        handle = remote.chaos.inject(fault, dict(options or {}))
        return {"id": handle.id, "fault": handle.name, "options": handle.options}


def clear_fault(fault: str | None = None, fault_id: int | None = None,
                configuration: Mapping[str, Any] | None = None, secrets: Mapping[str, Any] | None = None) -> list[int]:
    """Clear the active faults named ``fault`` (or the one with ``fault_id``); returns the ids cleared.

    Clearing a fault that is no longer active is not an error: a rollback after a self-clearing
    fault (``duration``) must succeed.
    """
    with connect(configuration) as remote:
        if fault_id is not None:
            remote.chaos.clear(int(fault_id))
            return [int(fault_id)]
        ids = [f.id for f in remote.chaos.active if fault is None or f.name == fault]
        for fid in ids:
            remote.chaos.clear(fid)
        return ids


def clear_all_faults(configuration: Mapping[str, Any] | None = None,
                     secrets: Mapping[str, Any] | None = None) -> None:
    """Clear every active fault, whoever injected it."""
    with connect(configuration) as remote:
        remote.chaos.clear_all()
