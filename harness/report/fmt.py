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
    """``measured 93.20% (95% CI 88.1-96.2%) vs threshold >= 95.00%`` for messages and tables."""
    kind = result["kind"]
    interval = result.get("interval")
    ci = f" (95% CI {value(kind, interval[0])}-{value(kind, interval[1])})" if interval else ""
    return (f"measured {value(kind, result['measured'])}{ci} vs threshold "
            f"{result['comparator']} {value(kind, result['threshold'])}")


#: How each verdict is printed (CLI lines, HTML cells, JUnit).
LABELS = {"pass": "PASS", "fail": "FAIL", "inconclusive": "INCONCLUSIVE", "error": "ERROR"}
