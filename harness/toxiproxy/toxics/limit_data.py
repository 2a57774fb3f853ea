"""limit_data: pass ``bytes`` bytes in this direction, then close the connection."""

from __future__ import annotations

from harness.toxiproxy.toxics.base import Chunk, Emit, Stub, Toxic, toxic


@toxic("limit_data")
class LimitData(Toxic):
    bytes: int = 0

    def start(self, stub: Stub) -> None:
        stub.state["passed"] = 0
        if self.bytes == 0:
            stub.close()

    async def pipe(self, chunk: Chunk, stub: Stub, emit: Emit) -> None:
        allowed = self.bytes - stub.state["passed"]
        if allowed > 0:
            piece = chunk.data[:allowed]
            stub.state["passed"] += len(piece)
            await emit(Chunk(piece, chunk.due))
        if stub.state["passed"] >= self.bytes:
            stub.close()
