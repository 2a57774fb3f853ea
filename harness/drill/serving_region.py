"""Which region served each request, from the harness's own view of DynamoDB traffic.

Every DynamoDB front logs the calls it answered (``harness.dynamodb.request_log``). A request to the
app that caused DynamoDB calls between being sent and being answered was served by the region whose
fronts answered those calls (the one with the most successful calls; failed calls only when none
succeeded). No cooperation from the app is needed. With several requests in flight at once the
attribution is by time overlap, so a region change can blur over one request's duration; an app
response header naming the region (``app.region_header``) is more precise and wins when present.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace

from harness.drill.records import RequestRecord

# region -> [(time relative to the load start, HTTP status)], sorted by time.
Calls = Mapping[str, Sequence[tuple[float, int]]]


def dynamodb_calls(env: object, t0: float) -> Calls:
    """The DynamoDB calls each region's fronts answered, on the drill's timeline (``t0`` = load start)."""
    dynamodb = getattr(env, "dynamodb", None)
    regions = getattr(dynamodb, "regions", None)
    if regions is not None:  # the embedded harness: read its logs directly
        return {r.name: sorted((e.at - t0, e.status) for e in r.requests.entries()) for r in regions}
    fetch = getattr(env, "dynamodb_calls", None)
    return fetch(t0) if fetch is not None else {}


def serving_region(calls: Calls, start: float, end: float) -> str | None:
    """The region whose fronts answered this window's DynamoDB calls (successful ones first)."""
    ok: Counter[str] = Counter()
    any_call: Counter[str] = Counter()
    for region, entries in calls.items():
        lo = bisect.bisect_left(entries, (start, -1))
        hi = bisect.bisect_right(entries, (end, 10_000))
        for _, status in entries[lo:hi]:
            any_call[region] += 1
            ok[region] += status < 400
    best = ok if sum(ok.values()) else any_call
    return best.most_common(1)[0][0] if best else None


def attribute(records: Sequence[RequestRecord], calls: Calls) -> list[RequestRecord]:
    """``records`` with ``region`` filled in where the app did not say (verify reads excluded)."""
    if not calls:
        return list(records)
    out = []
    for rec in records:
        if rec.region is None and rec.op != "verify":
            rec = replace(rec, region=serving_region(calls, rec.t, rec.done))
        out.append(rec)
    return out
