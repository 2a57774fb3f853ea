"""The scenario's timeline as a Chaos Mesh ``Workflow`` (``chaos-mesh.org/v1alpha1``).

Shape: the entry is a ``Serial`` of a ``Parallel`` timeline and a final task that clears every
harness fault. Each planned step is a branch of the ``Parallel``: a ``Suspend`` until its start,
then either

- a ``NetworkChaos`` template whose ``deadline`` is the fault's length (Chaos Mesh removes it then;
  workflows forbid a ``duration`` inside the chaos), on the pods picked by the app selector, towards
  the DynamoDB endpoint names; or
- a ``Task`` running ``chaos-harness inject`` in the harness image against the harness Service, with
  the fault's ``duration`` so the harness clears it itself even if the workflow is deleted early,
  followed by a ``Suspend`` for that length so the workflow lasts as long as the scenario.

Only fields and enums of Chaos Mesh's published CRDs are written (tests check them against the CRD).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from harness.export.plan import NETWORK_ACTIONS, Planned, Skipped, as_list

API_VERSION = "chaos-mesh.org/v1alpha1"
#: Bandwidth queue sizes (bytes) for network.bandwidth; Chaos Mesh requires both, Toxiproxy has none.
BANDWIDTH_LIMIT, BANDWIDTH_BUFFER = 20971520, 10000
SKIPPED_ANNOTATION = "chaos-harness/skipped"
NOTES_ANNOTATION = "chaos-harness/differences"


def go_duration(seconds: float) -> str:
    """A Go ``time.Duration`` string (what ``deadline`` takes): ``2h37m``, ``4s``, ``1500ms``."""
    ms = round(seconds * 1000)
    if ms % 1000:
        return f"{ms}ms"
    hours, rest = divmod(ms // 1000, 3600)
    minutes, secs = divmod(rest, 60)
    return "".join(f"{n}{unit}" for n, unit in ((hours, "h"), (minutes, "m"), (secs, "s")) if n) or "0s"


def _option_args(options: Mapping[str, Any]) -> list[str]:
    """``key=<JSON>`` words for ``chaos-harness inject`` (JSON is YAML, so types survive exactly)."""
    return [f"{key}={json.dumps(value)}" for key, value in options.items()]


class WorkflowBuilder:
    """Builds one Workflow; ``templates`` fill in as steps are added."""

    def __init__(self, *, name: str, namespace: str, image: str, app_selector: Mapping[str, str],
                 harness_env: list[dict[str, Any]], task_labels: Mapping[str, str]) -> None:
        self.name, self.namespace, self.image = name, namespace, image
        self.app_selector = dict(app_selector)
        self.harness_env = harness_env
        self.task_labels = dict(task_labels)
        self.templates: list[dict[str, Any]] = []

    def build(self, planned: list[Planned], skipped: list[Skipped], scenario_name: str) -> dict[str, Any]:
        branches = [self._branch(i, p) for i, p in enumerate(planned)]
        self._task("clear-all-faults", ["chaos-harness", "clear"])
        timeline = [{"name": "timeline", "templateType": "Parallel", "children": branches}] if branches else []
        entry = {"name": "scenario", "templateType": "Serial",
                 "children": [t["name"] for t in timeline] + ["clear-all-faults"]}
        notes = [f"step-{i} {p.step.name}: {p.note}" for i, p in enumerate(planned) if p.note]
        annotations = {"chaos-harness/scenario": scenario_name,
                       SKIPPED_ANNOTATION: json.dumps([vars(s) for s in skipped]),
                       NOTES_ANNOTATION: json.dumps(notes)}
        return {
            "apiVersion": API_VERSION,
            "kind": "Workflow",
            "metadata": {"name": self.name, "namespace": self.namespace, "annotations": annotations},
            "spec": {"entry": "scenario", "templates": [entry, *timeline, *self.templates]},
        }

    # -- one branch per planned step --------------------------------------------------------------
    def _branch(self, index: int, planned: Planned) -> str:
        prefix = f"step-{index}"
        children = []
        if planned.start > 0:
            children.append(self._suspend(f"{prefix}-wait", planned.start))
        if planned.engine == "network":
            children.append(self._network(f"{prefix}-{planned.step.name.replace('.', '-').replace('_', '-')}", planned))
        else:
            length = round(planned.length, 3)
            options = {**planned.step.options, "duration": int(length) if length.is_integer() else length}
            words = ["chaos-harness", "inject", planned.step.name, *_option_args(options)]
            children.append(self._task(f"{prefix}-inject", words))
            children.append(self._suspend(f"{prefix}-hold", planned.length))
        self.templates.append({"name": prefix, "templateType": "Serial", "children": children})
        return prefix

    def _suspend(self, name: str, seconds: float) -> str:
        self.templates.append({"name": name, "templateType": "Suspend", "deadline": go_duration(seconds)})
        return name

    def _task(self, name: str, command: list[str]) -> str:
        container = {"name": "harness", "image": self.image, "command": command, "env": self.harness_env}
        task: dict[str, Any] = {"container": container}
        if self.task_labels:
            task["labels"] = self.task_labels
        self.templates.append({"name": name, "templateType": "Task", "task": task})
        return name

    def _network(self, name: str, planned: Planned) -> str:
        options = planned.step.options
        action = NETWORK_ACTIONS[planned.step.name][0]
        regions = as_list(options.get("region", "us-east-1"))
        spec: dict[str, Any] = {
            "action": action,
            "mode": "all",
            "selector": {"namespaces": [self.namespace], "labelSelectors": self.app_selector},
            "direction": "to",
            "externalTargets": [f"dynamodb.{region}.amazonaws.com" for region in regions],
        }
        if action == "delay":
            spec["delay"] = {"latency": f"{int(options.get('latency', 1000))}ms",
                             "jitter": f"{int(options.get('jitter', 0))}ms"}
        elif action == "bandwidth":  # Toxiproxy's rate is KB/s; Chaos Mesh's "kbps" is kilobytes per second
            spec["bandwidth"] = {"rate": f"{int(options.get('rate', 1))}kbps", "limit": BANDWIDTH_LIMIT,
                                 "buffer": BANDWIDTH_BUFFER}
        elif action == "loss":
            spec["loss"] = {"loss": "100"}
        template = {"name": name, "templateType": "NetworkChaos", "deadline": go_duration(planned.length),
                    "networkChaos": spec}
        self.templates.append(template)
        return name
