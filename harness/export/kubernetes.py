"""``chaos-harness export kubernetes``: the harness as cluster objects, the CoreDNS block, the Workflow.

The harness runs as in docker-compose.yml (``chaos-harness up SCENARIO --no-app`` with fixed ports),
in one Deployment behind one Service. It listens on the pod network only for what the manifests
publish: DNS (Service port 53 -> container 1053) and the control API (8470); the DynamoDB endpoint
nodes stay on the pod's loopback. A NetworkPolicy admits DNS from CoreDNS and the control API from
pods of the same namespace (the workflow's tasks), and the control token comes from a Secret.
Every object carries ``PART_OF`` so one ``kubectl delete -l`` removes them all.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from harness.errors import ConfigError
from harness.export import DEFAULT_IMAGE
from harness.export.chaosmesh import WorkflowBuilder
from harness.export.plan import Skipped, endpoint_names, plan
from harness.scenario import Scenario
from harness.scenario.loader import builtin_scenarios

NAME = "chaos-harness"
PART_OF = {"app.kubernetes.io/part-of": NAME}
DNS_PORT, CONTROL_PORT, DYNAMODB_PORT = 1053, 8470, 4566
TOKEN_KEY = "token"
SCENARIO_DIR = "/etc/chaos-harness"
_LABEL = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_./]*)?[A-Za-z0-9]$")


@dataclass(frozen=True)
class ExportOptions:
    namespace: str = "default"
    app_selector: Mapping[str, str] = field(default_factory=dict)
    image: str = DEFAULT_IMAGE
    time_scale: float = 1.0


@dataclass
class Export:
    """Everything the command writes: core objects, the Workflow, the CoreDNS block and the skips."""

    core: list[dict[str, Any]]
    workflow: dict[str, Any]
    corefile: str
    skipped: list[Skipped]

    def files(self) -> dict[str, str]:
        """File name -> text, for an output directory."""
        return {"harness.yaml": _yaml_documents(self.core), "workflow.yaml": self.skipped_comment() + _yaml_documents([self.workflow]),
                "coredns.server": self.corefile}

    def skipped_comment(self) -> str:
        if not self.skipped:
            return "# Every step of the scenario runs in this workflow.\n"
        return "".join(f"# {s.line()}\n" for s in self.skipped)

    def single_stream(self) -> str:
        """One YAML stream for stdout: objects, then the CoreDNS block as comments."""
        corefile = "".join(line + "\n" if line.startswith("#") else f"# {line}\n" for line in self.corefile.splitlines())
        return _yaml_documents(self.core) + "---\n" + self.skipped_comment() + _yaml_documents([self.workflow]) + corefile


def parse_selector(text: str) -> dict[str, str]:
    """``app=web,tier=api`` -> labels; one-line ``ConfigError`` naming the bad part."""
    labels: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not _LABEL.match(key) or (value and not _LABEL.match(value)) or len(value) > 63:
            raise ConfigError(f"--app-selector takes label=value pairs separated by commas (e.g. app=web), got {part!r}")
        labels[key] = value
    if not labels:
        raise ConfigError("--app-selector needs at least one label=value pair (the pods NetworkChaos acts on)")
    return labels


def slug(text: str) -> str:
    """A DNS-1123 label from a scenario name (Kubernetes object names and label values)."""
    value = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40].strip("-")
    return value or "scenario"


def export(scenario: Scenario, options: ExportOptions) -> Export:
    if not options.time_scale > 0:
        raise ConfigError(f"--time-scale must be more than 0, got {options.time_scale:g}")
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", options.namespace) or len(options.namespace) > 63:
        raise ConfigError(f"--namespace must be a Kubernetes namespace name (lower-case, digits, '-'), got {options.namespace!r}")
    regions = tuple(scenario.setup.regions)
    planned, skipped = plan(scenario, options.time_scale, regions)
    ns, instance = options.namespace, slug(scenario.name)
    labels = {**PART_OF, "app.kubernetes.io/name": NAME, "app.kubernetes.io/instance": instance}
    task_labels = {**PART_OF, "app.kubernetes.io/component": "workflow-task"}
    builder = WorkflowBuilder(name=f"{NAME}-{instance}", namespace=ns, image=options.image,
                              app_selector=options.app_selector, harness_env=_client_env(ns), task_labels=task_labels)
    workflow = builder.build(planned, skipped, scenario.name)
    workflow["metadata"]["labels"] = dict(labels)
    builtin = scenario.name in builtin_scenarios() and scenario.path == str(builtin_scenarios()[scenario.name])
    core = [_secret(ns, labels)]
    if not builtin:
        core.append(_scenario_config_map(ns, labels, scenario))
    core += [_deployment(ns, labels, options.image, scenario, builtin), _service(ns, labels), _network_policy(ns, labels)]
    return Export(core, workflow, corefile(ns, scenario.name, regions), skipped)


# -- core objects ------------------------------------------------------------------------------------

def _meta(name: str, ns: str, labels: Mapping[str, str]) -> dict[str, Any]:
    return {"name": name, "namespace": ns, "labels": dict(labels)}


def _client_env(ns: str) -> list[dict[str, Any]]:
    """How a workflow task finds the harness and its token (the variables every client reads)."""
    return [
        {"name": "CHAOS_HARNESS_URL", "value": f"http://{NAME}.{ns}.svc:{CONTROL_PORT}"},
        {"name": "CHAOS_HARNESS_TOKEN", "valueFrom": {"secretKeyRef": {"name": f"{NAME}-token", "key": TOKEN_KEY}}},
    ]


def _secret(ns: str, labels: Mapping[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": _meta(f"{NAME}-token", ns, labels), "type": "Opaque",
            "stringData": {TOKEN_KEY: secrets.token_urlsafe(32)}}


def _scenario_config_map(ns: str, labels: Mapping[str, str], scenario: Scenario) -> dict[str, Any]:
    with open(scenario.path, encoding="utf-8") as handle:
        text = handle.read()
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(f"{NAME}-scenario", ns, labels),
            "data": {"scenario.yaml": text}}


def up_command(scenario: Scenario, builtin: bool) -> list[str]:
    """The container's command: ``up`` as in docker-compose.yml, without the sample app."""
    source = scenario.name if builtin else f"{SCENARIO_DIR}/scenario.yaml"
    return ["chaos-harness", "up", source, "--no-app", "--bind", "0.0.0.0", "--dns-port", str(DNS_PORT),
            "--dynamodb-port", str(DYNAMODB_PORT), "--control", f"0.0.0.0:{CONTROL_PORT}", "--expose-control"]


def _deployment(ns: str, labels: Mapping[str, str], image: str, scenario: Scenario, builtin: bool) -> dict[str, Any]:
    selector = {k: labels[k] for k in ("app.kubernetes.io/name", "app.kubernetes.io/instance")}
    container: dict[str, Any] = {
        "name": "harness",
        "image": image,
        "command": up_command(scenario, builtin),
        "env": [_client_env(ns)[1]],  # the control API checks requests against the same token
        "ports": [{"name": "dns-udp", "containerPort": DNS_PORT, "protocol": "UDP"},
                  {"name": "dns-tcp", "containerPort": DNS_PORT, "protocol": "TCP"},
                  {"name": "control", "containerPort": CONTROL_PORT, "protocol": "TCP"}],
        "readinessProbe": {"tcpSocket": {"port": "control"}, "periodSeconds": 2, "failureThreshold": 30},
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                            "seccompProfile": {"type": "RuntimeDefault"}},
    }
    pod: dict[str, Any] = {"containers": [container], "automountServiceAccountToken": False}
    if not builtin:
        container["volumeMounts"] = [{"name": "scenario", "mountPath": SCENARIO_DIR, "readOnly": True}]
        pod["volumes"] = [{"name": "scenario", "configMap": {"name": f"{NAME}-scenario"}}]
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta(NAME, ns, labels),
            "spec": {"replicas": 1, "selector": {"matchLabels": selector},
                     "template": {"metadata": {"labels": dict(labels)}, "spec": pod}}}


def _service(ns: str, labels: Mapping[str, str]) -> dict[str, Any]:
    selector = {k: labels[k] for k in ("app.kubernetes.io/name", "app.kubernetes.io/instance")}
    ports = [{"name": "dns-udp", "port": 53, "targetPort": "dns-udp", "protocol": "UDP"},
             {"name": "dns-tcp", "port": 53, "targetPort": "dns-tcp", "protocol": "TCP"},
             {"name": "control", "port": CONTROL_PORT, "targetPort": "control", "protocol": "TCP"}]
    return {"apiVersion": "v1", "kind": "Service", "metadata": _meta(NAME, ns, labels),
            "spec": {"type": "ClusterIP", "selector": selector, "ports": ports}}


def _network_policy(ns: str, labels: Mapping[str, str]) -> dict[str, Any]:
    """DNS from CoreDNS (kube-system, k8s-app=kube-dns); the control API from this namespace only."""
    selector = {k: labels[k] for k in ("app.kubernetes.io/name", "app.kubernetes.io/instance")}
    coredns = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
               "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": _meta(NAME, ns, labels),
            "spec": {"podSelector": {"matchLabels": selector}, "policyTypes": ["Ingress"],
                     "ingress": [
                         {"from": [coredns], "ports": [{"port": DNS_PORT, "protocol": "UDP"},
                                                       {"port": DNS_PORT, "protocol": "TCP"}]},
                         {"from": [{"podSelector": {}}], "ports": [{"port": CONTROL_PORT, "protocol": "TCP"}]},
                     ]}}


# -- CoreDNS -----------------------------------------------------------------------------------------

def corefile(ns: str, scenario_name: str, regions: tuple[str, ...]) -> str:
    """The server block to merge into the cluster's Corefile, with how to apply and undo it."""
    marker = f"chaos-harness {ns}/{scenario_name}"
    zones = " ".join(f"{name}:53" for name in endpoint_names(regions))
    return "\n".join([
        f"# CoreDNS server block for the chaos-harness scenario {scenario_name} (docs/kubernetes.md).",
        "# While it is in the Corefile, these names are answered by the harness DNS, with its faults:",
        f"#   {', '.join(endpoint_names(regions))}",
        "# Apply:",
        f"#   1. IP=$(kubectl -n {ns} get service {NAME} -o jsonpath='{{.spec.clusterIP}}')",
        "#   2. put that address in place of HARNESS_DNS_IP below (CoreDNS forwards to addresses, not names),",
        "#   3. kubectl -n kube-system edit configmap coredns   and paste the lines from BEGIN to END at the",
        "#      end of the Corefile; CoreDNS's 'reload' plugin loads it within about 30 s.",
        "# Undo: the same edit, deleting the lines from BEGIN to END (no other line of the Corefile changes).",
        "# No 'cache' plugin here on purpose: the harness decides every answer, clients keep their own caches.",
        f"# BEGIN {marker}",
        f"{zones} {{",
        "    errors",
        "    forward . HARNESS_DNS_IP:53",
        "}",
        f"# END {marker}",
        "",
    ])


class _Dumper(yaml.SafeDumper):
    """Plain YAML for kubectl readers: repeated values are written out, never as &anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _yaml_documents(objects: list[dict[str, Any]]) -> str:
    return "---\n".join(yaml.dump(o, Dumper=_Dumper, sort_keys=False, default_flow_style=False) for o in objects)
