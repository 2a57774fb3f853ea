"""Traffic and writes as data: templates, the scenario sections' errors, serving region from the fronts' logs."""

from __future__ import annotations

import pytest

from harness.drill.records import RequestRecord
from harness.drill.serving_region import attribute, serving_region
from harness.drill.templates import MissingValue, references, render
from harness.scenario import ScenarioError, parse_scenario

BASE = """\
title: t
load: {duration: 2s}
steady_state: [lost_writes: 0]
method: []
"""


def test_templates_fill_ids_and_earlier_responses_keeping_types() -> None:
    names = {"id": "abc", "seq": 7, "user": 2, "seed": 1}
    responses = {"create": {"order": {"id": "o-1", "lines": [{"sku": "s-9"}]}}}
    assert render({"k": "{{id}}-{{seq}}", "n": "{{seq}}", "sku": "{{create.order.lines.0.sku}}"}, names, responses) \
        == {"k": "abc-7", "n": 7, "sku": "s-9"}
    assert render("/orders/{{ create.order.id }}", names, responses) == "/orders/o-1"
    with pytest.raises(MissingValue) as missing:
        render("/orders/{{read.id}}", names, responses)
    assert missing.value.request == "read"
    assert references(["/a/{{create.id}}", {"h": "{{id}} {{other.x}}"}]) == {"create", "other"}


@pytest.mark.parametrize("section, message", [
    ("traffic:\n  requests: [{method: GET, path: \"/a/{{nope.id}}\"}]\n",
     "t.yaml:6: traffic.requests[0]: template names 'nope', which is no request here"),
    ("traffic:\n  requests: [{method: FETCH, path: /}]\n", "t.yaml:6: traffic.requests[0].method: unknown HTTP method"),
    ("traffic:\n  requests: [{method: GET, path: /}]\nwrites: {requests: [post], key: id, verify: {request: {path: /x}}}\n",
     "t.yaml:7: writes.requests: no request named 'post' in traffic"),
    ("traffic: {python: not-an-entry}\n", "t.yaml:5: traffic.python: expected module:function"),
    ("app: {command: [node, s.js]}\ntraffic:\n  requests: [{method: GET, path: /}]\n",
     "t.yaml:5: app.command: an app the harness starts needs 'port'"),
    ("app: {url: http://127.0.0.1:1, command: [x], port: 1}\ntraffic:\n  requests: [{method: GET, path: /}]\n",
     "t.yaml:5: app.url: give either 'command'"),
    ("app: {url: http://127.0.0.1:1}\n", "t.yaml:5: app: an app given by 'command' or 'url' needs a 'traffic' section"),
    ("app: {url: http://127.0.0.1:1, tables: [{TableName: t}]}\ntraffic:\n  requests: [{method: GET, path: /}]\n",
     "t.yaml:5: app.tables[0]: not a valid CreateTable request"),
])
def test_app_traffic_and_writes_errors_name_file_line_and_field(section: str, message: str) -> None:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(BASE + section, "t.yaml")
    assert str(info.value).startswith(message), str(info.value)


def record(t: float, latency: float, region: str | None = None, op: str = "read") -> RequestRecord:
    return RequestRecord(seq=0, t=t, op=op, user="u", status=200, latency=latency, ok=True, region=region)


def test_the_serving_region_is_whichever_front_answered_while_the_request_was_in_flight() -> None:
    calls = {"us-east-1": [(0.10, 200), (2.05, 500)], "us-west-2": [(2.10, 200), (2.20, 200)]}
    assert serving_region(calls, 0.0, 0.2) == "us-east-1"
    assert serving_region(calls, 2.0, 2.3) == "us-west-2"  # successful calls outvote the failed one
    assert serving_region(calls, 2.0, 2.06) == "us-east-1"  # only a failed call: still where it went
    assert serving_region(calls, 5.0, 6.0) is None
    said, unsaid, verify = attribute([record(0, 0.2, "us-west-2"), record(2.0, 0.3), record(2.0, 0.3, op="verify")], calls)
    assert (said.region, unsaid.region, verify.region) == ("us-west-2", "us-west-2", None)  # the app's header wins
