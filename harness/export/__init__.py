"""Exports of a scenario for other engines: ``chaos-harness export kubernetes SCENARIO``.

``kubernetes`` writes the harness as cluster objects plus the CoreDNS block that sends the managed
names to it; ``chaosmesh`` turns the scenario's timeline into a Chaos Mesh ``Workflow``. Faults a
cluster cannot rehearse are reported as ``Skipped`` with the reason, never dropped silently.
"""

#: The image ``export kubernetes`` names unless told otherwise (the Dockerfile builds it). It lives here so
#: the CLI can show it in ``--help`` without importing the exporters.
DEFAULT_IMAGE = "chaos-harness:local"
