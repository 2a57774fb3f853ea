"""bandwidth: limit a direction to ``rate`` KB/s (0 = unlimited).

Data goes out in slices worth 100 ms each, paced against a running schedule so the average rate
holds however the chunks arrive.
"""

from __future__ import annotations

from harness.toxiproxy.toxics.base import Chunk, Emit, Stub, Toxic, toxic


@toxic("bandwidth")
class Bandwidth(Toxic):
    rate: int = 0

    async def pipe(self, chunk: Chunk, stub: Stub, emit: Emit) -> None:
        if self.rate <= 0:
            await emit(chunk)
            return
        bytes_per_second = self.rate * 1000
        step = max(bytes_per_second // 10, 1)
        data = chunk.data
        for offset in range(0, len(data), step):
            piece = data[offset : offset + step]
            start = max(stub.state.get("next", 0.0), stub.now())
            stub.state["next"] = start + len(piece) / bytes_per_second
            await stub.sleep_until(stub.state["next"])
            await emit(Chunk(piece, chunk.due))
