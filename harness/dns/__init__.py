"""The harness's authoritative DNS: records (``Topology``), server (``DnsServer``), query log."""

from harness.dns.context import FaultChain, QueryContext
from harness.dns.querylog import QueryLog, QueryLogEntry
from harness.dns.server import DnsServer
from harness.dns.zone import RecordSet, Topology

__all__ = ["DnsServer", "FaultChain", "QueryContext", "QueryLog", "QueryLogEntry", "RecordSet", "Topology"]
