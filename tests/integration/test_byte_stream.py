"""Byte streams with the asyncio client against a real server process."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from pravega import errors
from pravega.aio import Client


def run(fn: Callable[[], Awaitable[Any]], timeout: float = 30.0) -> Any:
    return asyncio.run(asyncio.wait_for(fn(), timeout))


async def new_stream(client: Client, segments: int = 1) -> tuple[str, str]:
    scope = "bs" + uuid.uuid4().hex[:8]
    await client.create_scope(scope)
    await client.create_stream(scope, "file", segments)
    return scope, "file"


def test_write_read_seek(server) -> None:
    async def main() -> None:
        async with Client(server.controller_uri) as client:
            scope, stream = await new_stream(client)
            bs = await client.create_byte_stream(scope, stream)
            assert await bs.write(b"hello ") == 6
            assert await bs.write(b"world") == 5
            await bs.flush()
            assert await bs.tail_offset() == 11 and await bs.head_offset() == 0
            assert bs.tell() == 0
            assert await bs.read() == b"hello world"
            assert bs.tell() == 11
            assert await bs.read() == b""  # at the tail: no waiting with n < 0
            assert await bs.seek(6) == 6
            assert await bs.read(3) == b"wor"
            assert await bs.seek(-2, 1) == 7
            buf = bytearray(10)
            n = await bs.readinto(buf)
            assert bytes(buf[:n]) == b"orld"[:n] and n >= 1
            assert await bs.seek(-5, 2) == 6
            assert await bs.read() == b"world"
            with pytest.raises(errors.InterfaceError):
                await bs.seek(-100, 1)
            await bs.close()

    run(main)


def test_large_writes_and_blocking_read(server) -> None:
    async def main() -> None:
        async with Client(server.controller_uri) as client:
            scope, stream = await new_stream(client)
            bs = await client.create_byte_stream(scope, stream)
            blob = os.urandom(9 * 1024 * 1024 + 123)  # more than one 8 MiB append
            await bs.write(blob)
            await bs.flush()
            got = bytearray()
            while len(got) < len(blob):
                got += await bs.read(1 << 20)
            assert bytes(got) == blob

            # read(n) waits for data at the tail
            reader = await client.create_byte_stream(scope, stream)
            await reader.seek(0, 2)
            pending = asyncio.ensure_future(reader.read(100))
            await asyncio.sleep(0.2)
            assert not pending.done()
            await bs.write(b"late")
            await bs.flush()
            assert await asyncio.wait_for(pending, 10) == b"late"

    run(main)


def test_reopen_appends_at_tail_and_conflicts_fail(server) -> None:
    async def main() -> None:
        async with Client(server.controller_uri) as client:
            scope, stream = await new_stream(client)
            first = await client.create_byte_stream(scope, stream)
            await first.write(b"abc")
            await first.flush()
            await first.close()
            # A byte stream opened on a non-empty stream continues at the tail.
            second = await client.create_byte_stream(scope, stream)
            third = await client.create_byte_stream(scope, stream)
            await second.write(b"def")
            await second.flush()
            # `third` still expects the tail at 3: its write conflicts and is dropped.
            await third.write(b"XYZ")
            with pytest.raises(errors.ConditionalCheckFailedError):
                await third.flush()
            # ...then it continues at the current tail.
            await third.write(b"ghi")
            await third.flush()
            assert await second.read() == b"abcdefghi"

    run(main)


def test_truncate_and_seal(server) -> None:
    async def main() -> None:
        async with Client(server.controller_uri) as client:
            scope, stream = await new_stream(client)
            bs = await client.create_byte_stream(scope, stream)
            await bs.write(b"0123456789")
            await bs.flush()
            await bs.truncate(4)
            assert await bs.head_offset() == 4
            assert await bs.tail_offset() == 10
            with pytest.raises(errors.SegmentTruncatedError):
                await bs.read(2)
            await bs.seek(4)
            assert await bs.read() == b"456789"
            # A new byte stream starts reading at the head.
            other = await client.create_byte_stream(scope, stream)
            assert other.tell() == 4
            await bs.write(b"!")
            await bs.seal()
            assert await other.read() == b"456789!"
            assert await other.read(10) == b""  # end of a sealed stream
            with pytest.raises(errors.StreamSealedError):
                await other.write(b"no")
                await other.flush()

    run(main)


def test_needs_exactly_one_segment(server) -> None:
    async def main() -> None:
        async with Client(server.controller_uri) as client:
            scope, stream = await new_stream(client, 2)
            with pytest.raises(errors.InterfaceError):
                await client.create_byte_stream(scope, stream)

    run(main)


def test_writer_survives_a_server_restart(fresh_server) -> None:
    async def main() -> None:
        async with Client(fresh_server.controller_uri) as client:
            scope, stream = await new_stream(client)
            bs = await client.create_byte_stream(scope, stream)
            await bs.write(b"before;")
            await bs.flush()
            fresh_server.kill()
            fresh_server.start()
            await bs.write(b"after")  # the appender reconnects with the same writer id
            await bs.flush()
            assert await bs.read() == b"before;after"

    run(main, timeout=60)
