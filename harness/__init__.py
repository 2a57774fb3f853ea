"""chaos-harness: rehearse DNS, network, service and health-check failures against a mocked DynamoDB."""

from harness.errors import HarnessError

__all__ = ["HarnessError"]
