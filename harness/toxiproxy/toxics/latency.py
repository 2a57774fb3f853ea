"""latency: delay every chunk by ``latency`` ms +/- ``jitter`` ms.

The delay counts from when the chunk arrived (``chunk.due``), so a stream is delayed, not
throttled, and several latency toxics add up.
"""

from __future__ import annotations

from harness.toxiproxy.toxics.base import Chunk, Emit, Stub, Toxic, toxic


@toxic("latency")
class Latency(Toxic):
    latency: int = 0
    jitter: int = 0

    async def pipe(self, chunk: Chunk, stub: Stub, emit: Emit) -> None:
        delay = self.latency
        if self.jitter:
            delay += stub.rng.randint(-self.jitter, self.jitter)
        chunk.due += max(delay, 0) / 1000.0
        await stub.sleep_until(chunk.due)
        await emit(chunk)
