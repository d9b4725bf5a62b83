"""Events over 8 MiB: our writer and reader, and the official client, on the same streams.

The official client (up to its limit of 16 MiB - 5 bytes) writes an event over 8 MiB through a transient segment merged into
the target; ours does the same, so a 20 MiB event written by either is read by the other
in one piece, in order with the small events around it. Sizes around the 8 MiB append
limit take the normal path up to exactly 8 MiB and the large path above it.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Awaitable
from typing import TypeVar

import pytest

from pravega.aio import Client, EventReader, EventWriter, TransactionalWriter
from pravega.client.segment_writer import MAX_EVENT_SIZE

pravega_client = pytest.importorskip("pravega_client")

T = TypeVar("T")
MIB = 1024 * 1024


def run(coro: Awaitable[T], timeout: float = 180.0) -> T:
    async def bounded() -> T:
        try:
            return await asyncio.wait_for(coro, timeout)
        except TimeoutError:
            raise AssertionError(f"test body did not finish within {timeout}s") from None

    return asyncio.run(bounded())


def unique(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:8]


def blob(size: int, seed: str) -> bytes:
    """``size`` bytes that differ per position and per seed (a shifted chunk would show)."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest() * 64
        counter += 1
    return bytes(out[:size])


@pytest.fixture(scope="module")
def manager(server):
    """The official client's manager (kept for the module: its runtime serves the writers)."""
    return pravega_client.StreamManager(server.controller_uri)


@pytest.fixture(scope="module")
def scope(manager) -> str:
    name = unique("large")
    assert manager.create_scope(name) is True
    return name


def new_stream(manager, scope: str, segments: int = 1) -> str:
    name = unique("st")
    assert manager.create_stream(scope, name, segments) is True
    return name


async def read_with_ours(uri: str, scope: str, stream: str, count: int) -> list[tuple[bytes, int]]:
    """``count`` events (payload, offset) read by one reader of a new group of ours."""
    async with Client(uri) as client:
        group = await client.create_reader_group(unique("rg"), scope, [f"{scope}/{stream}"])
        out: list[tuple[bytes, int]] = []
        reader: EventReader[bytes] = await group.create_reader("r")
        async with reader:
            for _ in range(400):
                if len(out) >= count:
                    break
                read = await reader.read_next_event(timeout=1.0)
                if read is not None and not read.is_checkpoint:
                    out.append((read.data, read.event_offset))
            extra = await reader.read_next_event(timeout=1.0)
            assert extra is None, "nothing beyond the expected events"
        return out


def read_with_official(manager, scope: str, stream: str, count: int) -> list[tuple[bytes, int]]:
    group = manager.create_reader_group(unique("rg"), scope, stream)
    reader = group.create_reader("r")

    async def drive() -> list[tuple[bytes, int]]:
        out: list[tuple[bytes, int]] = []
        while len(out) < count:
            piece = await reader.get_segment_slice_async()
            out.extend((bytes(ev.data()), ev.offset()) for ev in piece)
            reader.release_segment(piece)
        return out

    try:
        return run(drive(), 120.0)
    finally:
        reader.reader_offline()


def layout_offsets(events: list[bytes]) -> list[int]:
    offsets, at = [], 0
    for e in events:
        offsets.append(at)
        at += 8 + len(e)
    return offsets


#: The largest event the official client 0.3.8 writes: its wire encoder refuses an event
#: command over MAX_WIRECOMMAND_SIZE (16 MiB - 1), i.e. a payload over 16 MiB - 5 bytes.
OFFICIAL_MAX_EVENT = 0xFFFFFF - 4


def test_official_writes_its_largest_event_ours_reads(server, manager, scope) -> None:
    stream = new_stream(manager, scope)
    events = [b"before", blob(OFFICIAL_MAX_EVENT, "official"), b"after", blob(12 * MIB, "12"), b"end"]
    writer = manager.create_writer(scope, stream)
    with pytest.raises(ValueError, match="SizeLimit"):
        writer.write_event_bytes(blob(20 * MIB, "too big"), "k")  # the official client's own limit
    for e in events:
        writer.write_event_bytes(e, "k")
    writer.flush()

    got = run(read_with_ours(server.controller_uri, scope, stream, len(events)))
    assert [len(d) for d, _ in got] == [len(e) for e in events]
    assert [d for d, _ in got] == events
    assert [o for _, o in got] == layout_offsets(events)


def test_ours_writes_20_mib_official_reads(server, manager, scope) -> None:
    stream = new_stream(manager, scope)
    events = [b"before", blob(20 * MIB, "ours"), b"after", blob(9 * MIB, "second"), b"last"]

    async def write() -> None:
        async with Client(server.controller_uri) as client:
            writer: EventWriter[bytes] = await client.create_writer(scope, stream)
            futures = [await writer.write(e, "k") for e in events]
            await writer.flush()
            await asyncio.gather(*futures)
            await writer.close()

    run(write())
    got = read_with_official(manager, scope, stream, len(events))
    assert [len(d) for d, _ in got] == [len(e) for e in events]
    assert [d for d, _ in got] == events
    assert [o for _, o in got] == layout_offsets(events)
    # ...and our reader sees the same.
    ours = run(read_with_ours(server.controller_uri, scope, stream, len(events)))
    assert [d for d, _ in ours] == events


def test_sizes_around_the_8_mib_boundary(server, manager, scope) -> None:
    stream = new_stream(manager, scope, 2)
    sizes = [MAX_EVENT_SIZE - 1, MAX_EVENT_SIZE, MAX_EVENT_SIZE + 1, MAX_EVENT_SIZE + 8, 2 * MAX_EVENT_SIZE + 3]
    events = [blob(n, f"b{n}") for n in sizes]
    small = [f"small-{i}".encode() for i in range(len(events))]

    async def write() -> None:
        async with Client(server.controller_uri) as client:
            writer: EventWriter[bytes] = await client.create_writer(scope, stream)
            futures = []
            for s, e in zip(small, events):  # interleaved, one key: the order must hold
                futures.append(await writer.write(s, "one-key"))
                futures.append(await writer.write(e, "one-key"))
            await writer.flush()
            await asyncio.gather(*futures)
            await writer.close()

    run(write())
    expected = [x for pair in zip(small, events) for x in pair]
    ours = run(read_with_ours(server.controller_uri, scope, stream, len(expected)))
    assert [len(d) for d, _ in ours] == [len(e) for e in expected]
    assert [d for d, _ in ours] == expected
    assert [o for _, o in ours] == layout_offsets(expected)
    official = read_with_official(manager, scope, stream, len(expected))
    assert sorted(official, key=lambda x: x[1]) == sorted(ours, key=lambda x: x[1])


def test_large_event_after_a_scale_goes_to_the_successor(server, manager, scope) -> None:
    stream = new_stream(manager, scope)
    big = blob(10 * MIB, "scaled")

    async def body() -> None:
        async with Client(server.controller_uri) as client:
            writer: EventWriter[bytes] = await client.create_writer(scope, stream)
            await (await writer.write(b"first", "k"))
            # The writer still routes to segment 0, which the scale seals.
            await client.scale_stream(scope, stream, [0], [(0.0, 0.5), (0.5, 1.0)])
            await (await writer.write(big, "k"))
            await (await writer.write(b"last", "k"))
            await writer.close()
            segments = {r.segment_id for r in await client.ctx.controller.get_current_segments(scope, stream)}
            assert len(segments) == 2 and 0 not in segments

    run(body())
    got = run(read_with_ours(server.controller_uri, scope, stream, 3))
    assert [d for d, _ in got] == [b"first", big, b"last"]


def test_large_events_in_transactions_both_ways(server, manager, scope) -> None:
    """The official client writes a transaction's large events through a transient segment
    merged into the transaction segment; ours does the same. Committed, they are read
    whole by the other client; aborted, they never appear."""
    stream = new_stream(manager, scope)
    official_events = [b"o-before", blob(OFFICIAL_MAX_EVENT, "txn-official"), b"o-after"]
    txn_writer = manager.create_transaction_writer(scope, stream, 11)  # kept: it runs the pinger
    txn = txn_writer.begin_txn()
    for e in official_events:
        txn.write_event_bytes(e, "k")
    txn.commit()
    our_events = [b"ours-before", blob(20 * MIB, "txn-ours"), b"ours-middle", blob(9 * MIB, "txn-9"), b"ours-end"]

    async def body() -> None:
        async with Client(server.controller_uri) as client:
            writer: TransactionalWriter[bytes] = await client.create_transactional_writer(scope, stream)
            aborted = await writer.begin()
            await aborted.write(blob(10 * MIB, "aborted"), "k")
            await aborted.flush()
            await aborted.abort()
            committed = await writer.begin()
            for e in our_events:
                await committed.write(e, "k")
            await committed.commit()

    run(body())
    expected = official_events + our_events
    got = read_with_official(manager, scope, stream, len(expected))
    assert [len(d) for d, _ in got] == [len(e) for e in expected]
    assert [d for d, _ in got] == expected
    ours = run(read_with_ours(server.controller_uri, scope, stream, len(expected)))
    assert [d for d, _ in ours] == expected
    assert [o for _, o in ours] == layout_offsets(expected)


def test_large_events_survive_a_server_crash_exactly_once(fresh_server) -> None:
    """The server is SIGKILLed and restarted while a writer sends large and small events of
    one key: every event comes back once, in order (a large write interrupted before its
    merge starts over; one interrupted after it finds its transient segment gone)."""
    server = fresh_server
    manager = pravega_client.StreamManager(server.controller_uri)
    scope = unique("crash")
    assert manager.create_scope(scope) is True
    stream = new_stream(manager, scope)
    events: list[bytes] = []
    for i in range(8):
        events.append(f"small-{i}".encode())
        events.append(blob(9 * MIB + i, f"crash-{i}"))

    async def body() -> None:
        async with Client(server.controller_uri) as client:
            writer: EventWriter[bytes] = await client.create_writer(scope, stream)
            futures = [await writer.write(e, "k") for e in events[:4]]
            await asyncio.gather(*futures)  # some acknowledged before the crash
            rest = asyncio.ensure_future(write_rest(writer))
            await asyncio.sleep(0.3)  # the writer is in the middle of the next large events
            server.kill()
            server.start()
            await asyncio.wait_for(rest, 150)
            await writer.close()

    async def write_rest(writer: EventWriter[bytes]) -> None:
        futures = [await writer.write(e, "k") for e in events[4:]]
        await writer.flush()
        await asyncio.gather(*futures)

    run(body(), 240.0)
    got = run(read_with_ours(server.controller_uri, scope, stream, len(events)))
    assert [len(d) for d, _ in got] == [len(e) for e in events]
    assert [d for d, _ in got] == events
