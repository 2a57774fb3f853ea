"""Run the sample app as its own process: ``python -m sample_app`` (configured by environment).

``python -m sample_app --help`` lists every variable. With ``CHAOS_DNS_SERVER`` set, names in
``CHAOS_DNS_ZONES`` resolve through the harness DNS server, so DNS faults reach this process the
way they reach a real service. SIGTERM or SIGINT stops it cleanly.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Iterator

from harness.errors import ConfigError, HarnessError
from sample_app.config import ENVIRONMENT, AppConfig
from sample_app.server import AppServer


@contextlib.contextmanager
def _resolution(config: AppConfig) -> Iterator[None]:
    if config.dns_server is None:
        yield
        return
    try:
        from harness.resolver import use_harness_dns
    except ImportError as exc:
        raise ConfigError(f"CHAOS_DNS_SERVER is set but harness.resolver cannot be imported ({exc})") from None
    with use_harness_dns(config.dns_server, config.dns_zones):
        yield


def _usage() -> str:
    width = max(len(name) for name in ENVIRONMENT)
    lines = [f"  {name.ljust(width)}  {text}" for name, text in ENVIRONMENT.items()]
    return "usage: python -m sample_app   (configured by environment variables)\n\n" + "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args:
        print(_usage(), file=sys.stdout if args[0] in ("-h", "--help") else sys.stderr)
        return 0 if args[0] in ("-h", "--help") else 2
    logging.basicConfig(level=logging.WARNING, format="sample_app: %(message)s")
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    try:
        config = AppConfig.from_env()
        with _resolution(config), AppServer(config) as server:
            print(
                f"sample_app listening on {server.url} mode={config.mode} regions={','.join(config.regions)}",
                flush=True,
            )
            stopping.wait()
    except HarnessError as exc:
        print(f"sample_app: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
