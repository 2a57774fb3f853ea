"""The harness's authoritative DNS: records (``Topology``), server (``DnsServer``), query log."""

from harness.dns.context import DnsHook, QueryContext
from harness.dns.querylog import QueryLog, QueryLogEntry
from harness.dns.server import DnsServer
from harness.dns.zone import RecordSet, Topology

__all__ = ["DnsHook", "DnsServer", "QueryContext", "QueryLog", "QueryLogEntry", "RecordSet", "Topology"]
