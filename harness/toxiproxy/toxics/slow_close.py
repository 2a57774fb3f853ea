"""slow_close: hold the end of the stream back for ``delay`` ms before passing it on."""

from __future__ import annotations

from harness.toxiproxy.toxics.base import Stub, Toxic, toxic


@toxic("slow_close")
class SlowClose(Toxic):
    delay: int = 0

    async def on_eof(self, stub: Stub) -> None:
        await stub.sleep_until(stub.now() + self.delay / 1000.0)
