"""Resolve harness names through the harness DNS server, failing exactly as glibc would.

``use_harness_dns`` (or ``routing`` for an existing ``HarnessResolver``) patches ``socket.getaddrinfo`` (and ``gethostbyname``/``gethostbyname_ex``) for
names under the harness's zones; ``DnsCache`` adds a client-side cache; ``ResolverOptions`` is
resolv.conf's ``options timeout:N attempts:N``, shared with the sandbox.
"""

from harness.resolver.cache import DnsCache
from harness.resolver.glibc import Resolution
from harness.resolver.hook import HarnessResolver, is_routed, routing, use_harness_dns
from harness.resolver.options import ResolverOptions

__all__ = ["DnsCache", "HarnessResolver", "is_routed", "Resolution", "ResolverOptions", "routing", "use_harness_dns"]
