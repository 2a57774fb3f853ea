"""Health checks that feed DNS (NLB target groups / Route 53 health checks), see ``checker``."""

from harness.health.checker import (
    DNS_PUBLISHED,
    FAIL_OPEN_ENTERED,
    FAIL_OPEN_LEFT,
    TARGET_HEALTHY,
    TARGET_UNHEALTHY,
    VELOCITY_CAP_APPLIED,
    VELOCITY_CAP_RELEASED,
    Group,
    HealthChecker,
    HealthCheckerFailed,
    HealthEvent,
    Probe,
)
from harness.health.policy import ProbeResult, min_published
from harness.health.targets import HttpCheck, TcpCheck, Target

__all__ = [
    "DNS_PUBLISHED", "FAIL_OPEN_ENTERED", "FAIL_OPEN_LEFT", "TARGET_HEALTHY", "TARGET_UNHEALTHY",
    "VELOCITY_CAP_APPLIED", "VELOCITY_CAP_RELEASED", "Group", "HealthChecker", "HealthCheckerFailed",
    "HealthEvent", "HttpCheck", "Probe", "ProbeResult", "TcpCheck", "Target",
    "min_published",
]
