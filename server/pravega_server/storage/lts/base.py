"""The chunk store interface every tier-2 backend implements."""

from __future__ import annotations

from typing import Protocol


class ChunkNotFound(FileNotFoundError):
    pass


class ChunkStore(Protocol):
    """Immutable chunks named by flat strings.

    A chunk is written once, whole (``write`` at offset 0 creates it; backends that can
    append also accept ``offset`` = current length), read by ranges and deleted whole.
    A write that returned is durable. Every method may raise ``OSError`` when the store
    is unreachable; callers retry.
    """

    #: Human-readable location, for log lines.
    location: str
    #: True if :meth:`read_sync` is cheap enough for the event loop (a local disk).
    local: bool

    async def write(self, name: str, offset: int, data: bytes | memoryview) -> None: ...

    async def read(self, name: str, offset: int, length: int) -> bytes: ...

    async def delete(self, name: str) -> None: ...

    async def list(self, prefix: str = "") -> list[str]: ...

    async def usage(self) -> int:
        """Bytes held by the store (for operators' log lines)."""
        ...

    def read_sync(self, name: str, offset: int, length: int) -> bytes | None:
        """Read without blocking the loop for long, or None if only :meth:`read` can."""
        ...

    def close(self) -> None: ...
