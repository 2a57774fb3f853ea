"""timeout: stop all data; close the connection after ``timeout`` ms (0 = never, until removed)."""

from __future__ import annotations

from harness.toxiproxy.toxics.base import Chunk, Emit, Stub, Toxic, toxic


@toxic("timeout")
class Timeout(Toxic):
    timeout: int = 0

    def start(self, stub: Stub) -> None:
        if self.timeout > 0:
            stub.call_later(self.timeout / 1000.0, stub.close)

    async def pipe(self, chunk: Chunk, stub: Stub, emit: Emit) -> None:
        """Drop the data: the peer sees a silent, stalled connection."""
