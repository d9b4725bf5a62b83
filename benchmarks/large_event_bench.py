"""Events over 8 MiB: write and read throughput, our client beside the official one.

    python benchmarks/large_event_bench.py [--quick]

Both writers send such an event through a transient segment merged into the target
(CreateTransientSegment, 8 MiB ConditionalBlockEnd chunks, MergeSegments). Events of
16 MiB - 5 bytes, the largest the official client writes, on a one-segment stream of a
durable server process; each client reads back what it wrote with a reader group.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import pravega_client

from _common import MB, Table
from pravega.aio import Client, EventReader, EventWriter
from pravega.testing import ServerProcess

SIZE = 0xFFFFFF - 4  # the official client's largest event


async def our_write(uri: str, scope: str, stream: str, count: int) -> float:
    payload = b"o" * SIZE
    async with Client(uri) as client:
        writer: EventWriter[bytes] = await client.create_writer(scope, stream)
        started = time.perf_counter()
        for _ in range(count):
            await writer.write(payload)
        await writer.flush()
        elapsed = time.perf_counter() - started
        await writer.close()
        return elapsed


async def our_read(uri: str, scope: str, stream: str, count: int) -> float:
    async with Client(uri) as client:
        group = await client.create_reader_group("rg" + uuid.uuid4().hex[:6], scope, [stream])
        reader: EventReader[bytes] = await group.create_reader("r")
        started = time.perf_counter()
        got = 0
        while got < count:
            read = await reader.read_next_event(timeout=30.0)
            if read is None:
                raise RuntimeError(f"our reader got {got} of {count} events")
            if not read.is_checkpoint:
                assert len(read.data) == SIZE
                got += 1
        elapsed = time.perf_counter() - started
        await reader.close()
        return elapsed


def official_write(manager: pravega_client.StreamManager, scope: str, stream: str, count: int) -> float:
    writer = manager.create_writer(scope, stream)
    payload = b"x" * SIZE
    started = time.perf_counter()
    for _ in range(count):
        writer.write_event_bytes(payload)
    writer.flush()
    return time.perf_counter() - started


def official_read(manager: pravega_client.StreamManager, scope: str, stream: str, count: int) -> float:
    group = manager.create_reader_group("rg" + uuid.uuid4().hex[:6], scope, stream)
    reader = group.create_reader("r")

    async def drive() -> float:
        started = time.perf_counter()
        got = 0
        while got < count:
            piece = await reader.get_segment_slice_async()
            for event in piece:
                assert len(event.data()) == SIZE
                got += 1
            reader.release_segment(piece)
        return time.perf_counter() - started

    try:
        return asyncio.run(drive())
    finally:
        reader.reader_offline()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="4 events instead of 16")
    args = parser.parse_args()
    count = 4 if args.quick else 16
    mb = count * SIZE / MB
    table = Table(f"events of {SIZE:,} bytes (durable server, 1 segment, {count} events)")
    with ServerProcess() as server:
        uri = server.controller_uri
        manager = pravega_client.StreamManager(uri)
        scope = "bench" + uuid.uuid4().hex[:6]
        manager.create_scope(scope)
        manager.create_stream(scope, "official", 1)
        manager.create_stream(scope, "ours", 1)
        secs = official_write(manager, scope, "official", count)
        table.add("official writer", f"{mb / secs:.1f} MB/s", note=f"{secs:.2f} s")
        secs = asyncio.run(our_write(uri, scope, "ours", count))
        table.add("our writer", f"{mb / secs:.1f} MB/s", note=f"{secs:.2f} s")
        secs = official_read(manager, scope, "official", count)
        table.add("official reader", f"{mb / secs:.1f} MB/s", note=f"{secs:.2f} s")
        secs = asyncio.run(our_read(uri, scope, "ours", count))
        table.add("our reader", f"{mb / secs:.1f} MB/s", note=f"{secs:.2f} s")
        del manager
    print(table.render())


if __name__ == "__main__":
    main()
