"""Fault modules. Each family registers its faults by name on import (``@fault("family.name")``).

    from faults import create_fault, fault_names
    fault = create_fault("dns.empty_answer", name="dynamodb.us-east-1.amazonaws.com")
"""

from faults.base import Environment, Fault, create_fault, fault, fault_class, fault_names

# Importing the families registers their faults.
from faults import dns, dynamodb, health, network  # noqa: E402,F401  isort:skip

__all__ = ["Environment", "Fault", "create_fault", "fault", "fault_class", "fault_names"]
