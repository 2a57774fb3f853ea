"""``chaos-harness export kubernetes``: what a cluster team applies.

- core objects validate against the Kubernetes API schemas (``kubernetes-validate``, strict);
- the Chaos Mesh Workflow uses only field names and enums of Chaos Mesh's published CRD
  (``tests/data/chaos_mesh_workflow_fields.json``, extracted from ``chaos-mesh.org_workflows.yaml``)
  and follows the rules its admission webhook enforces;
- the timeline, the skipped faults and bad input are what a user sees;
- the Deployment's command, run locally on loopback, serves DNS that ``dig`` gets answers from for
  every name the CoreDNS block forwards, and the workflow's task commands inject and clear faults.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from harness.cli import main
from harness.loopback import LoopbackPool
from harness.scenario.loader import builtin_scenarios
from conftest import require_tool
from test_control_api import BIN, Process

DATA = json.loads((Path(__file__).parent / "data" / "chaos_mesh_workflow_fields.json").read_text())
SCHEMA: dict[str, dict[str, Any]] = DATA["schema"]
KUBERNETES_VERSION = "1.35.0"
DNS_1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
GO_DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$")
EAST, WEST = "dynamodb.us-east-1.amazonaws.com", "dynamodb.us-west-2.amazonaws.com"

NETWORK_SCENARIO = """
title: network and DNS faults for the cluster export
load: {duration: 10m}
steady_state: [{success_rate: {min: 99%}}]
method:
  - {fault: network.latency, at: 1m, for: 2m, options: {region: [us-east-1, us-west-2], latency: 250, jitter: 20}}
  - {fault: network.bandwidth, at: 1m, for: 1m, options: {rate: 64}}
  - {fault: network.reset, at: 2m, for: 30s}
  - {fault: network.slow_close, at: 3m, for: 1m}
  - {fault: network.latency, at: 4m, for: 1m, options: {node: [0]}}
  - {fault: dns.servfail, at: 5m, options: {qname: "*.amazonaws.com"}}
  - {fault: dns.nxdomain, at: 5m, for: 1m, options: {qname: sts.amazonaws.com}}
  - {fault: health.flap, at: 6m, for: 1m, options: {group: dynamodb.us-west-2.amazonaws.com, target: 1, period: 4}}
"""


def export(tmp_path: Path, scenario: str, *extra: str) -> dict[str, Any]:
    out = tmp_path / "out"
    assert main(["export", "kubernetes", scenario, "--app-selector", "app=web,tier=api", "--namespace", "shop",
                 "--output", str(out), *extra]) == 0
    core = list(yaml.safe_load_all((out / "harness.yaml").read_text()))
    workflow = yaml.safe_load((out / "workflow.yaml").read_text())
    return {"core": core, "workflow": workflow, "workflow_text": (out / "workflow.yaml").read_text(),
            "corefile": (out / "coredns.server").read_text()}


def kinds(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["kind"]: o for o in objects}


def templates(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in workflow["spec"]["templates"]}


# -- the Chaos Mesh allow-list -------------------------------------------------------------------------

def crd_violations(value: Any, path: str = "") -> list[str]:
    """Every field or value of ``value`` (at CRD ``path``) the published CRD schema does not allow."""
    rule = SCHEMA.get(path)
    if rule is None:
        return [f"{path or '<root>'}: not in the CRD (or outside the subtrees the exporter may write)"]
    problems = []
    if "enum" in rule and value not in rule["enum"]:
        problems.append(f"{path}: {value!r} is not one of {rule['enum']}")
    if "pattern" in rule and not re.search(rule["pattern"], str(value)):
        problems.append(f"{path}: {value!r} does not match {rule['pattern']}")
    kind = rule.get("type")
    if path == "metadata":  # ObjectMeta: the API server's own schema (keys checked in webhook_violations)
        return problems
    if isinstance(value, dict):
        if kind != "object":
            problems.append(f"{path}: an object where the CRD has {kind}")
        problems += [f"{path}: missing required {k!r}" for k in rule.get("required", []) if k not in value]
        for key, child in value.items():
            if "properties" in rule:
                if key not in rule["properties"]:
                    problems.append(f"{path}: unknown field {key!r}")
                else:
                    problems += crd_violations(child, f"{path}.{key}" if path else key)
            elif rule.get("map_of") != "string" or not isinstance(child, str):
                problems.append(f"{path}.{key}: the CRD has no fields here")
    elif isinstance(value, list):
        if kind != "array":
            problems.append(f"{path}: a list where the CRD has {kind}")
        for item in value:
            problems += crd_violations(item, path + "[]")
    elif kind == "string" and not isinstance(value, str):
        problems.append(f"{path}: {value!r} is not a string")
    elif kind == "integer" and not (isinstance(value, int) and not isinstance(value, bool)):
        problems.append(f"{path}: {value!r} is not an integer")
    return problems


def webhook_violations(workflow: dict[str, Any]) -> list[str]:
    """The rules Chaos Mesh's workflow admission webhook checks beyond the schema."""
    problems = []
    names = [t["name"] for t in workflow["spec"]["templates"]]
    if len(set(names)) != len(names):
        problems.append("template names are not unique")
    if workflow["spec"]["entry"] not in names:
        problems.append("entry names no template")
    if not DNS_1123.match(workflow["metadata"]["name"]) or set(workflow["metadata"]) - {"name", "namespace", "labels", "annotations"}:
        problems.append(f"bad metadata {workflow['metadata']}")
    for t in workflow["spec"]["templates"]:
        kind = t["templateType"]
        if kind not in DATA["template_types"]:
            problems.append(f"{t['name']}: templateType {kind!r} unknown")
        if not DNS_1123.match(t["name"]):
            problems.append(f"{t['name']}: not a DNS-1123 name")
        if kind == "Suspend" and not GO_DURATION.match(t.get("deadline", "")):
            problems.append(f"{t['name']}: Suspend needs a deadline")
        if kind in ("Serial", "Parallel"):
            problems += [f"{t['name']}: child {c!r} missing" for c in t.get("children", []) if c not in names]
        if kind == "NetworkChaos":
            if "duration" in t["networkChaos"]:
                problems.append(f"{t['name']}: duration inside a workflow's chaos (use deadline)")
            if not GO_DURATION.match(t.get("deadline", "")):
                problems.append(f"{t['name']}: chaos without a deadline would run forever")
        allowed = {"name", "templateType", "deadline", "children", "task", "networkChaos"}
        problems += [f"{t['name']}: field {k!r} not used by the exporter" for k in set(t) - allowed]
    return problems


def test_the_allow_list_rejects_what_chaos_mesh_would():
    bad = {"apiVersion": "chaos-mesh.org/v1alpha1", "kind": "Workflow", "metadata": {"name": "x"},
           "spec": {"entry": "a", "templates": [{"name": "a", "templateType": "NetworkChaos", "deadline": "1m",
                                                 "networkChaos": {"action": "reset", "mode": "all", "selector": {},
                                                                  "delay": {"latencyy": "1ms"}}}]}}
    problems = crd_violations(bad)
    assert any("'reset' is not one of" in p for p in problems)
    assert any("unknown field 'latencyy'" in p for p in problems)
    assert any("missing required 'latency'" in p for p in problems)


@pytest.mark.parametrize("name", sorted(builtin_scenarios()))
def test_every_builtin_scenario_exports_valid_objects(tmp_path, name):
    result = export(tmp_path, name)
    for obj in result["core"]:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    assert set(kinds(result["core"])) == {"Secret", "Deployment", "Service", "NetworkPolicy"}
    assert crd_violations(result["workflow"]) == []
    assert webhook_violations(result["workflow"]) == []
    # Every step is either in the workflow or listed as skipped with its reason.
    skipped = json.loads(result["workflow"]["metadata"]["annotations"]["chaos-harness/skipped"])
    branches = [n for n in templates(result["workflow"]) if re.fullmatch(r"step-\d+", n)]
    from harness.scenario import load_scenario

    scenario = load_scenario(name)
    assert len(branches) + sum(s["where"].startswith("method") for s in skipped) == len(scenario.method)
    assert all(s["reason"] and f"# skipped {s['where']} {s['what']}: {s['reason']}" in result["workflow_text"] for s in skipped)


def test_the_2025_replay_follows_the_outage_timeline_at_real_time(tmp_path, capsys):
    result = export(tmp_path, "us-east-1-2025-10-20")
    t = templates(result["workflow"])
    assert t["step-0"]["children"] == ["step-0-wait", "step-0-inject", "step-0-hold"]
    assert t["step-0-wait"]["deadline"] == "18m"  # 23:30 -> 23:48
    assert t["step-0-hold"]["deadline"] == "2h37m"  # 23:48 -> 02:25
    command = t["step-0-inject"]["task"]["container"]["command"]
    assert command == ["chaos-harness", "inject", "dns.empty_answer", f'qname="{EAST}"', "duration=9420"]
    assert t["scenario"]["children"] == ["timeline", "clear-all-faults"]
    assert t["clear-all-faults"]["task"]["container"]["command"] == ["chaos-harness", "clear"]
    err = capsys.readouterr().err
    from harness.scenario import load_scenario

    lines = {step.name: step.where.rsplit(":", 1)[1] for step in load_scenario("us-east-1-2025-10-20").method}
    assert (f"skipped method[1] (us-east-1-2025-10-20.yaml:{lines['dynamodb.throttle']}) dynamodb.throttle: "
            "acts on the harness's mocked DynamoDB") in err
    assert (f"skipped method[2] (us-east-1-2025-10-20.yaml:{lines['health.flap']}) health.flap: "
            "targets the harness's sample app") in err


def test_time_scale_compresses_the_timeline(tmp_path):
    t = templates(export(tmp_path, "us-east-1-2025-10-20", "--time-scale", "1800")["workflow"])
    assert t["step-0-wait"]["deadline"] == "600ms" and t["step-0-hold"]["deadline"] == "5233ms"  # 9420 s / 1800
    assert t["step-0-inject"]["task"]["container"]["command"][-1] == "duration=5.233"


def test_network_faults_become_network_chaos_and_the_rest_is_skipped_with_reasons(tmp_path, capsys):
    path = tmp_path / "net.yaml"
    path.write_text(NETWORK_SCENARIO)
    result = export(tmp_path, str(path))
    workflow = result["workflow"]
    assert crd_violations(workflow) == [] and webhook_violations(workflow) == []
    t = templates(workflow)
    latency = t["step-0-network-latency"]
    assert latency["deadline"] == "2m"
    assert latency["networkChaos"] == {
        "action": "delay", "mode": "all", "selector": {"namespaces": ["shop"], "labelSelectors": {"app": "web", "tier": "api"}},
        "direction": "to", "externalTargets": [EAST, WEST], "delay": {"latency": "250ms", "jitter": "20ms"}}
    assert t["step-1-network-bandwidth"]["networkChaos"]["bandwidth"]["rate"] == "64kbps"
    assert t["step-2-network-reset"]["networkChaos"]["action"] == "partition"
    differences = json.loads(workflow["metadata"]["annotations"]["chaos-harness/differences"])
    assert any("cannot send TCP resets" in d for d in differences)
    # dns.servfail without 'for' lasts until the end of the load: 10m - 5m.
    assert t["step-3-inject"]["task"]["container"]["command"][-1] == "duration=300"
    flap = t["step-4-inject"]["task"]["container"]["command"]
    assert flap[:3] == ["chaos-harness", "inject", "health.flap"] and f'group="{WEST}"' in flap
    err = capsys.readouterr().err
    assert "method[3] (net.yaml:9) network.slow_close: Chaos Mesh's NetworkChaos has no equivalent" in err
    assert "method[4] (net.yaml:10) network.latency: picks single endpoint nodes" in err
    assert "method[6] (net.yaml:12) dns.nxdomain: matches none of the names the cluster forwards" in err
    # A file scenario travels in a ConfigMap the Deployment mounts.
    core = kinds(result["core"])
    kubernetes_validate.validate(core["ConfigMap"], KUBERNETES_VERSION, strict=True)
    assert core["ConfigMap"]["data"]["scenario.yaml"] == NETWORK_SCENARIO
    assert core["Deployment"]["spec"]["template"]["spec"]["containers"][0]["command"][2] == "/etc/chaos-harness/scenario.yaml"


def test_the_token_comes_from_the_secret_and_only_dns_and_control_are_published(tmp_path):
    core = kinds(export(tmp_path, "dns-empty-answer")["core"])
    secret = core["Secret"]
    ref = {"secretKeyRef": {"name": secret["metadata"]["name"], "key": "token"}}
    container = core["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "CHAOS_HARNESS_TOKEN", "valueFrom": ref} in container["env"]
    assert len(secret["stringData"]["token"]) >= 32
    workflow_env = templates(export(tmp_path, "dns-empty-answer")["workflow"])["step-0-inject"]["task"]["container"]["env"]
    assert {"name": "CHAOS_HARNESS_TOKEN", "valueFrom": ref} in workflow_env
    assert {p["containerPort"] for p in container["ports"]} == {1053, 8470}  # DynamoDB nodes stay on loopback
    assert {(p["port"], p["protocol"]) for p in core["Service"]["spec"]["ports"]} == {(53, "UDP"), (53, "TCP"), (8470, "TCP")}
    ingress = core["NetworkPolicy"]["spec"]["ingress"]
    assert [sorted(p["port"] for p in rule["ports"]) for rule in ingress] == [[1053, 1053], [8470]]


@pytest.mark.parametrize("argv, message", [
    (["--app-selector", "=web"], "--app-selector takes label=value pairs"),
    (["--app-selector", ","], "--app-selector needs at least one label=value pair"),
    (["--app-selector", "app=web", "--time-scale", "0"], "--time-scale must be more than 0"),
    (["--app-selector", "app=web", "--namespace", "Shop_1"], "--namespace must be a Kubernetes namespace name"),
])
def test_bad_flags_exit_2_with_one_line(argv, message, capsys):
    assert main(["export", "kubernetes", "dns-empty-answer", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_stdout_is_one_yaml_stream_with_the_corefile_as_comments(capsys):
    assert main(["export", "kubernetes", "dns-empty-answer", "--app-selector", "app=web"]) == 0
    out = capsys.readouterr().out
    docs = [d for d in yaml.safe_load_all(out) if d]
    assert [d["kind"] for d in docs] == ["Secret", "Deployment", "Service", "NetworkPolicy", "Workflow"]
    assert f"# {EAST}:53 {WEST}:53 {{" in out and "#     forward . HARNESS_DNS_IP:53" in out


# -- the exported configuration, applied to a local run -------------------------------------------------

def dig(address: str, port: int, name: str) -> tuple[str, list[str]]:
    out = subprocess.run([require_tool("dig"), f"@{address}", "-p", str(port), "+tries=1", "+time=2", name, "A"],
                         capture_output=True, text=True, timeout=10).stdout
    return re.search(r"status: (\w+)", out).group(1), re.findall(r"^\S+\s+\d+\s+IN\s+A\s+(\S+)$", out, re.M)


@pytest.mark.needs_tool("dig")
def test_the_deployments_command_run_locally_answers_dig_for_every_forwarded_name(tmp_path):
    result = export(tmp_path, "dns-empty-answer")
    core, t = kinds(result["core"]), templates(result["workflow"])
    command = core["Deployment"]["spec"]["template"]["spec"]["containers"][0]["command"]
    address = LoopbackPool().take("export-dns")  # the pod network, on loopback
    local = [address if word == "0.0.0.0" else word.replace("0.0.0.0:", f"{address}:") for word in command]
    # --bind and --control were the only pod-network addresses; every port stays as exported.
    assert sum(address in word for word in local) == 2 and not any("0.0.0.0" in word for word in local)
    block = re.search(r"^(.*) \{\n    errors\n    forward \. HARNESS_DNS_IP:53\n\}$", result["corefile"], re.M)
    forwarded = [zone.rsplit(":", 1)[0] for zone in block.group(1).split()]
    assert forwarded == [EAST, WEST]
    dns_port = int(command[command.index("--dns-port") + 1])
    # As in the image: chaos-harness on PATH, the token from the Secret in the environment.
    token = {"CHAOS_HARNESS_TOKEN": "local-run-token", "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = Process(local, env=token)
    try:
        control = proc.wait_line(r"^control\s+(http://\S+)").group(1)
        proc.wait_line(r"harness is up")
        for name in forwarded:
            status, answers = dig(address, dns_port, name)
            assert status == "NOERROR" and len(answers) == 3, (name, status, answers)
        # The workflow's task commands, run against the same process, inject and clear the fault.
        env = {**os.environ, **token, "CHAOS_HARNESS_URL": control}
        inject = t["step-0-inject"]["task"]["container"]["command"]
        done = subprocess.run(inject, capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode == 0 and "injected #1 dns.empty_answer" in done.stdout, done.stderr
        assert dig(address, dns_port, EAST) == ("NOERROR", [])
        assert dig(address, dns_port, WEST)[0] == "NOERROR" and len(dig(address, dns_port, WEST)[1]) == 3
        clear = t["clear-all-faults"]["task"]["container"]["command"]
        assert subprocess.run(clear, capture_output=True, text=True, env=env, timeout=60).returncode == 0
        assert len(dig(address, dns_port, EAST)[1]) == 3
    finally:
        assert proc.stop() == 130, proc.lines
