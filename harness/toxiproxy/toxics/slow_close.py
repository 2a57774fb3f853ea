"""slow_close: hold the end of the stream back for ``delay`` ms before passing it on."""

from __future__ import annotations

import dataclasses

from harness.toxiproxy.toxics import register
from harness.toxiproxy.toxics.base import Stub, Toxic


@register
@dataclasses.dataclass
class SlowClose(Toxic):
    type = "slow_close"
    delay: int = 0

    async def on_eof(self, stub: Stub) -> None:
        await stub.sleep_until(stub.now() + self.delay / 1000.0)
