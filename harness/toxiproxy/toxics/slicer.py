"""slicer: cut data into pieces of ``average_size`` +/- ``size_variation`` bytes, ``delay`` us apart."""

from __future__ import annotations

from harness.toxiproxy.toxics.base import Chunk, Emit, Stub, Toxic, toxic


@toxic("slicer")
class Slicer(Toxic):
    average_size: int = 0
    size_variation: int = 0
    delay: int = 0

    def _piece_size(self, stub: Stub) -> int:
        variation = min(self.size_variation, max(self.average_size - 1, 0))
        return max(self.average_size + stub.rng.randint(-variation, variation), 1)

    async def pipe(self, chunk: Chunk, stub: Stub, emit: Emit) -> None:
        if self.average_size <= 0:
            await emit(chunk)
            return
        data, offset = chunk.data, 0
        while offset < len(data):
            if offset and self.delay:
                await stub.sleep_until(stub.now() + self.delay / 1_000_000)
            size = self._piece_size(stub)
            await emit(Chunk(data[offset : offset + size], chunk.due))
            offset += size
