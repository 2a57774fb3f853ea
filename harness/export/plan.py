"""How each scenario step runs in a cluster: through the harness, as a Chaos Mesh fault, or not at all.

Chaos Mesh's DNSChaos only answers ``error`` or ``random``, so every DNS and health-check fault stays
in the harness (the cluster's CoreDNS forwards the managed names to it) and a workflow task asks the
harness to inject it. Network faults become ``NetworkChaos`` on the team's own pods. Faults acting on
the harness's mocked DynamoDB are skipped: a cluster's workloads use their own DynamoDB.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Literal

from harness.dns.zone import normalize_name
from harness.scenario.model import Scenario, Step

APP_GROUP = "app.chaos.test"

#: network faults -> (NetworkChaos action, what differs from the harness's Toxiproxy fault, or "").
NETWORK_ACTIONS: dict[str, tuple[str, str]] = {
    "network.latency": ("delay", ""),
    "network.bandwidth": ("bandwidth", ""),
    "network.partition": ("partition", "packets are dropped (clients time out) where the harness refuses connections"),
    "network.blackhole": ("loss", ""),
    "network.reset": ("partition", "Chaos Mesh cannot send TCP resets: packets are dropped, so clients time out "
                                   "instead of failing at once"),
}

_SKIP_FAMILY = {
    "dynamodb": "acts on the harness's mocked DynamoDB; cluster workloads use their own DynamoDB "
                "(Chaos Mesh has no DynamoDB error fault)",
    "network": "Chaos Mesh's NetworkChaos has no equivalent (netem delay, loss, duplicate, corrupt, partition and "
               "bandwidth only)",
}
_SKIP_ACTION = ("acts on the harness's mocked DynamoDB replication, which cluster workloads do not use")


@dataclass(frozen=True)
class Skipped:
    """A step the cluster export leaves out, and why (printed, and written into the Workflow)."""

    where: str
    what: str
    reason: str

    def line(self) -> str:
        return f"skipped {self.where} {self.what}: {self.reason}"


@dataclass(frozen=True)
class Planned:
    """A method step the workflow runs: ``harness`` (a task calling the control API) or ``network``."""

    step: Step
    engine: Literal["harness", "network"]
    start: float  # wall seconds after the workflow starts
    length: float  # wall seconds the fault lasts
    note: str = ""


def step_label(step: Step, section: str = "method") -> str:
    """``method[2] (us-east-1-2025-10-20.yaml:69)``: the step as the scenario file has it."""
    return f"{section}[{step.index}] ({Path(step.where).name})"


def plan(scenario: Scenario, time_scale: float, regions: tuple[str, ...]) -> tuple[list[Planned], list[Skipped]]:
    """The method's steps placed on the cluster timeline (scenario seconds / ``time_scale``)."""
    planned: list[Planned] = []
    skipped: list[Skipped] = []
    for step in scenario.method:
        end = step.end if step.end is not None else scenario.load.duration
        start, length = step.at / time_scale, (end - step.at) / time_scale
        reason, engine, note = _decide(step, regions)
        if reason:
            skipped.append(Skipped(step_label(step), step.name, reason))
        else:
            planned.append(Planned(step, engine, start, length, note))
    for step in scenario.rollbacks:
        if step.name != "clear_faults":  # the workflow always ends by clearing every fault
            skipped.append(Skipped(step_label(step, "rollbacks"), step.name, _SKIP_ACTION))
    return planned, skipped


def _decide(step: Step, regions: tuple[str, ...]) -> tuple[str, Literal["harness", "network"], str]:
    """(reason to skip or "", engine, note) for one method step."""
    if step.kind == "action":
        return _SKIP_ACTION, "harness", ""
    family = step.name.split(".")[0]
    if family == "dns":
        return _dns_reason(step.options, regions), "harness", ""
    if family == "health":
        return _health_reason(step.options, regions), "harness", ""
    if step.name in NETWORK_ACTIONS:
        return _network_reason(step.options), "network", NETWORK_ACTIONS[step.name][1]
    return _SKIP_FAMILY.get(family, f"no cluster equivalent for {step.name}"), "harness", ""


def endpoint_names(regions: tuple[str, ...]) -> list[str]:
    """The names the cluster's CoreDNS forwards to the harness: one DynamoDB endpoint per region."""
    return [f"dynamodb.{region}.amazonaws.com" for region in regions]


def _dns_reason(options: dict[str, Any], regions: tuple[str, ...]) -> str:
    patterns = [normalize_name(p) for p in as_list(options.get("qname", options.get("name", "*")))]
    if any(fnmatchcase(name, p) for name in endpoint_names(regions) for p in patterns):
        return ""
    return (f"matches none of the names the cluster forwards to the harness ({', '.join(endpoint_names(regions))}); "
            "other names keep resolving through the cluster's own DNS")


def as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _health_reason(options: dict[str, Any], regions: tuple[str, ...]) -> str:
    group = options.get("group")
    names = endpoint_names(regions)
    if group == APP_GROUP:
        return (f"targets the harness's sample app ({APP_GROUP}), which the cluster export does not run; "
                "your own workloads take its place")
    if group not in names:
        return f"health group {group!r} is not one the cluster harness checks ({', '.join(names)})"
    return ""


def _network_reason(options: dict[str, Any]) -> str:
    if options.get("node"):
        return "picks single endpoint nodes; in a cluster the endpoint is one name, not the harness's node addresses"
    if float(options.get("toxicity", 1.0)) < 1.0 or float(options.get("probability", 1.0)) < 1.0:
        return "affects a share of connections or nodes (toxicity/probability), which NetworkChaos cannot select"
    if options.get("stream", "downstream") != "downstream":
        return "acts on the upstream stream only; NetworkChaos shapes whole connections"
    return ""
