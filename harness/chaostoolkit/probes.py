"""Chaos Toolkit probes: read a running harness without changing it (except the DNS query log).

``resolve`` and ``name_resolves`` send a real query to the harness DNS, so they see exactly what a
client sees under the active faults, and that query is counted in the log like any other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.chaostoolkit import connect

__all__ = ["active_faults", "count_active_faults", "dns_query_counts", "name_resolves", "replication_lag", "resolve"]


def active_faults(configuration: Mapping[str, Any] | None = None,
                  secrets: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every active fault as ``{"id", "fault", "options"}``."""
    with connect(configuration) as remote:
        return [{"id": f["id"], "fault": f["fault"], "options": f["options"]} for f in remote.state()["faults"]]


def count_active_faults(fault: str | None = None, configuration: Mapping[str, Any] | None = None,
                        secrets: Mapping[str, Any] | None = None) -> int:
    """How many faults (named ``fault``, or any) are active; a steady state usually wants 0."""
    return sum(1 for f in active_faults(configuration) if fault is None or f["fault"] == fault)


def resolve(name: str, qtype: str = "A", configuration: Mapping[str, Any] | None = None,
            secrets: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``{"name", "qtype", "rcode", "answers"}`` from the harness DNS now (``rcode`` TIMEOUT: dropped)."""
    with connect(configuration) as remote:
        return remote.resolve(name, qtype)


def name_resolves(name: str, qtype: str = "A", configuration: Mapping[str, Any] | None = None,
                  secrets: Mapping[str, Any] | None = None) -> bool:
    """True when the harness DNS answers ``name`` with at least one address (NOERROR)."""
    answer = resolve(name, qtype, configuration)
    return answer["rcode"] == "NOERROR" and bool(answer["answers"])


def dns_query_counts(name: str | None = None, qtype: str | None = None, configuration: Mapping[str, Any] | None = None,
                     secrets: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``{"total", "window", "rcodes"}``: exact query total, and answers by rcode over the retained log."""
    with connect(configuration) as remote:
        return remote.dns_counts(name, qtype)


def replication_lag(configuration: Mapping[str, Any] | None = None,
                    secrets: Mapping[str, Any] | None = None) -> float:
    """Seconds the oldest not-yet-replicated write has waited (0 when replication has caught up)."""
    with connect(configuration) as remote:
        return float(remote.replication_state()["backlog_age"])
