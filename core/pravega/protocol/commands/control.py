"""Connection-level commands: the Hello handshake, keep-alives, and the storage admin commands.

In type-code order; see `pravega.protocol.commands` for the conventions."""

from typing import Annotated

from .values import ChunkInfo
from .wire import (
    BOTH,
    I32,
    I64,
    REPLY,
    REQUEST,
    Command,
    Kind,
    Utf,
    Wire,
    _command,
)


@_command(-127, BOTH)
class Hello(Command):
    high_version: I32
    low_version: I32

    @property
    def request_id(self) -> int:
        return 0


@_command(-6, REPLY)
class StorageChunksListed(Command):
    request_id: I64
    chunks: Annotated[tuple[ChunkInfo, ...], Wire(Kind.LIST, ChunkInfo)]


@_command(-5, REQUEST)
class ListStorageChunks(Command):
    segment: Utf
    delegation_token: Utf
    request_id: I64


@_command(-4, REPLY)
class StorageFlushed(Command):
    request_id: I64


@_command(-3, REQUEST)
class FlushToStorage(Command):
    container_id: I32
    delegation_token: Utf
    request_id: I64


@_command(100, BOTH)
class KeepAlive(Command):
    @property
    def request_id(self) -> int:
        return -1


__all__ = [
    "Hello",
    "StorageChunksListed",
    "ListStorageChunks",
    "StorageFlushed",
    "FlushToStorage",
    "KeepAlive",
]
