"""Our Python client beside the official one (pravega_client, Rust inside): same server, same run.

    python benchmarks/client_bench.py [--quick] [--duration S]

For 100 B and 1 KB events on a one-segment stream of a durable server process:
writer events/s and MB/s (official: write_event_bytes with 4096 events in flight, then
flush; ours: the asyncio EventWriter, one ``await write()`` per event, then flush), and
reader events/s over what each wrote (official: a reader group's segment slices; ours:
a reader group's ``read_batch`` — the counterpart of a slice — and ``read_next_event``). Prints ratios against the issue's targets.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import pravega_client

from _common import MB, Table
from pravega.aio import Client, EventBatch
from pravega.testing import ServerProcess
from write_read import read_all, write_sync_inflight


async def our_write(uri: str, scope: str, stream: str, size: int, duration: float) -> tuple[int, float]:
    async with Client(uri) as client:
        writer = await client.create_writer(scope, stream)
        payload = b"o" * size
        count = 0
        started = time.perf_counter()
        end = started + duration
        while time.perf_counter() < end:
            for _ in range(1000):
                await writer.write(payload)
            count += 1000
        await writer.flush()
        return count, time.perf_counter() - started


async def our_read(uri: str, scope: str, stream: str, expected: int, batches: bool) -> tuple[int, int, float]:
    """Read everything with a reader group: per event, or a batch at a time."""
    async with Client(uri) as client:
        group = await client.create_reader_group("ours" + uuid.uuid4().hex[:8], scope, [stream])
        reader = await group.create_reader("r")
        count = nbytes = 0
        started = time.perf_counter()
        while count < expected:
            if batches:
                batch = await reader.read_batch(timeout=5.0)
                if batch is None:
                    break
                if isinstance(batch, EventBatch):
                    count += len(batch.events)
                    nbytes += sum(map(len, batch.events))
                continue
            read = await reader.read_next_event(timeout=5.0)
            if read is None:
                break
            if read.checkpoint_name is None:
                count += 1
                nbytes += len(read.data)
        elapsed = time.perf_counter() - started
        await reader.close()
        return count, nbytes, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="about 2 s per measurement")
    parser.add_argument("--duration", type=float, default=None, help="seconds per write measurement")
    args = parser.parse_args()
    duration = args.duration or (2.0 if args.quick else 6.0)
    table = Table("our client vs the official client (durable server, 1 segment)")
    with ServerProcess() as server:
        uri = server.controller_uri
        manager = pravega_client.StreamManager(uri)
        scope = "bench" + uuid.uuid4().hex[:6]
        manager.create_scope(scope)
        for size in (100, 1000):
            official_stream, our_stream = f"official{size}", f"ours{size}"
            manager.create_stream(scope, official_stream, 1)
            manager.create_stream(scope, our_stream, 1)
            print(f"{size} B events", flush=True)

            n, secs = write_sync_inflight(manager, scope, official_stream, size, duration)
            official_w = n / secs
            table.add(f"official writer, {size} B", f"{official_w:,.0f} ev/s, {official_w * size / MB:.1f} MB/s")
            n_ours, secs = asyncio.run(our_write(uri, scope, our_stream, size, duration))
            ours_w = n_ours / secs
            target = "50%" if size == 100 else "80%"
            table.add(
                f"our writer, {size} B",
                f"{ours_w:,.0f} ev/s, {ours_w * size / MB:.1f} MB/s",
                f">= {target} of official",
                f"{ours_w / official_w:.0%} of official",
            )

            count, nbytes, secs = read_all(manager, scope, official_stream, n)
            official_r = count / secs
            table.add(
                f"official reader, {size} B",
                f"{official_r:,.0f} ev/s, {nbytes / secs / MB:.1f} MB/s",
                note=f"{count:,} events",
            )
            for batches, how in ((True, "read_batch"), (False, "read_next_event")):
                count, nbytes, secs = asyncio.run(our_read(uri, scope, our_stream, n_ours, batches))
                ours_r = count / secs
                table.add(
                    f"our reader ({how}), {size} B",
                    f"{ours_r:,.0f} ev/s, {nbytes / secs / MB:.1f} MB/s",
                    ">= official" if batches else "",
                    f"{ours_r / official_r:.0%} of official, {count:,} events",
                )
        del manager
    print()
    print(table.render())


if __name__ == "__main__":
    main()
