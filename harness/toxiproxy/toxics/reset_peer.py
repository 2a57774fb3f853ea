"""reset_peer: reset the connection (TCP RST) after ``timeout`` ms (0 = at once).

Data flows until then; the reset reaches both peers (``SO_LINGER`` 0), so a client sees
``ECONNRESET`` ("connection reset by peer").
"""

from __future__ import annotations

from harness.toxiproxy.toxics.base import Stub, Toxic, toxic


@toxic("reset_peer")
class ResetPeer(Toxic):
    timeout: int = 0

    def start(self, stub: Stub) -> None:
        stub.call_later(self.timeout / 1000.0, stub.reset)
