"""Measured values and thresholds in the units people read them in (%, ms, s, writes)."""

from __future__ import annotations

from typing import Any


def value(kind: str, number: float | None) -> str:
    if number is None:
        return "n/a"
    if kind == "success_rate":
        return f"{number * 100:.2f}%"
    if kind == "p99_latency":
        return f"{number * 1000:.0f}ms"
    if kind in ("time_to_failover", "time_to_recover"):
        return f"{number:.2f}s"
    return f"{number:g}"


def verdict(result: dict[str, Any]) -> str:
    """``measured 93.20% vs threshold >= 95.00%`` for failure messages and tables."""
    kind = result["kind"]
    return (f"measured {value(kind, result['measured'])} vs threshold "
            f"{result['comparator']} {value(kind, result['threshold'])}")
