"""Traffic as Python (``traffic.python: kv_traffic:write_then_read``): one write and its read-back."""

from __future__ import annotations

from harness.drill.traffic import TrafficCall


def write_then_read(call: TrafficCall) -> bool:
    created = call.send("POST", "/items", {"value": call.seq}, {"Idempotency-Key": call.id})
    if created.status != 201:
        return False
    call.acknowledge(created.body["id"])
    return call.send("GET", f"/items/{created.body['id']}").status == 200
