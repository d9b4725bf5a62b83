"""Large events (over 8 MiB) when connections fail or the segment is sealed midway.

The client is real (Client, EventWriter, SegmentWriter, the large-event path), so is the
controller; the segment store is the in-memory peer of ``memory_segment_store``, taught
here the large-event commands (CreateTransientSegment, ConditionalBlockEnd, MergeSegments,
GetStreamSegmentInfo). Failures are injected as a network would cause them: a connection
lost before a command arrives, or after it was carried out but before its reply.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

import pytest
from memory_segment_store import MemorySegmentStore, _ServerSide
from test_failure_paths import HOST_A, SEG0, client_and_stores

from pravega import naming
from pravega.client.segment_writer import MAX_EVENT_SIZE
from pravega.protocol import commands as c

T = TypeVar("T")
NO_EVENT = -(1 << 63)
BIG = bytes(range(256)) * ((MAX_EVENT_SIZE + 5000) // 256)  # two chunks


def run(coro: Awaitable[T]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, 60.0)

    return asyncio.run(bounded())


def handle_large(store: MemorySegmentStore, cmd: c.Command, side: _ServerSide) -> c.Command | None:
    """The large-event commands, the way the segment store answers them."""
    if isinstance(cmd, c.CreateTransientSegment):
        parent = store.segment(cmd.parent_segment)
        if parent.sealed:
            return c.SegmentIsSealed(cmd.request_id, cmd.parent_segment, "", len(parent.data))
        name = f"{cmd.parent_segment}#transient.{len(store.segments)}"
        store.segment(name)
        return c.SegmentCreated(cmd.request_id, name)
    if isinstance(cmd, c.SetupAppend) and cmd.segment not in store.segments:
        return c.NoSuchSegment(cmd.request_id, cmd.segment, "", -1)
    if isinstance(cmd, c.SetupAppend):
        side.appending_to = cmd.segment
        seg = store.segment(cmd.segment)
        return c.AppendSetup(cmd.request_id, cmd.segment, cmd.writer_id, seg.writers.get(cmd.writer_id, NO_EVENT))
    if isinstance(cmd, c.ConditionalBlockEnd):
        seg = store.segment(side.appending_to)
        if len(seg.data) != cmd.expected_offset:
            return c.ConditionalCheckFailed(cmd.writer_id, cmd.event_number, cmd.request_id)
        seg.data += cmd.data
        return c.DataAppended(cmd.writer_id, cmd.event_number, -1, cmd.request_id, len(seg.data))
    if isinstance(cmd, c.MergeSegments):
        target = store.segment(cmd.target)
        if cmd.source not in store.segments:
            return c.NoSuchSegment(cmd.request_id, cmd.source, "", -1)
        if target.sealed:
            return c.SegmentIsSealed(cmd.request_id, cmd.target, "", len(target.data))
        target.data += store.segments.pop(cmd.source).data
        return c.SegmentsMerged(cmd.request_id, cmd.target, cmd.source, len(target.data))
    if isinstance(cmd, c.GetStreamSegmentInfo):
        if cmd.segment_name not in store.segments:
            return c.NoSuchSegment(cmd.request_id, cmd.segment_name, "", -1)
        seg = store.segments[cmd.segment_name]
        return c.StreamSegmentInfo(cmd.request_id, cmd.segment_name, True, seg.sealed, False, 0, len(seg.data), 0)
    return None


def teach(store: MemorySegmentStore) -> None:
    plain = store.handle

    def handle(cmd: c.Command, side: _ServerSide) -> c.Command | None:
        if type(cmd) in (c.Hello, c.KeepAlive):
            return plain(cmd, side)
        if isinstance(cmd, c.SetupAppend) and "#transient." not in cmd.segment:
            return plain(cmd, side)
        reply = handle_large(store, cmd, side)
        return reply if reply is not None else plain(cmd, side)

    store.handle = handle


def received(store: MemorySegmentStore, kind: type) -> int:
    return sum(1 for cmd in store.received if type(cmd) is kind)


@pytest.mark.parametrize(
    ("hook", "command", "merges", "transients"),
    [
        ("lose_reply_to", c.MergeSegments, 1, 1),  # merged, the reply lost: found gone, not merged again
        ("lose_connection_on", c.MergeSegments, 2, 1),  # never arrived: merged on a new connection
        ("lose_connection_on", c.ConditionalBlockEnd, 1, 2),  # a chunk lost: a new transient segment
    ],
    ids=["merge-reply-lost", "merge-lost", "chunk-lost"],
)
def test_a_large_event_is_stored_once_whatever_connection_is_lost(
    hook: str, command: type, merges: int, transients: int
) -> None:
    async def body() -> None:
        async with client_and_stores() as (client, stores):
            teach(stores.a)
            writer = await client.create_writer("sc", "st")
            seen = 0

            def second(cmd: c.Command) -> bool:
                nonlocal seen
                seen += type(cmd) is command
                return seen == (2 if command is c.ConditionalBlockEnd else 1)

            setattr(stores.a, hook, second)
            futures = [await writer.write(e, "k") for e in (b"before", BIG, b"after")]
            await writer.flush()
            await asyncio.gather(*futures)
            assert stores.a.lost == 1
            assert stores.a.segments[SEG0].events() == [b"before", BIG, b"after"]
            assert received(stores.a, c.MergeSegments) == merges
            assert received(stores.a, c.CreateTransientSegment) == transients

    run(body())


def test_the_large_event_waits_for_the_events_before_it_and_holds_those_after() -> None:
    async def body() -> None:
        async with client_and_stores(max_block_size=64) as (client, stores):
            teach(stores.a)
            writer = await client.create_writer("sc", "st")
            events = [f"e{i}".encode() for i in range(30)] + [BIG] + [f"f{i}".encode() for i in range(30)]
            futures = [await writer.write(e, "k") for e in events]
            await writer.flush()
            await asyncio.gather(*futures)
            assert stores.a.segments[SEG0].events() == events
            # On the wire: the blocks before it, then its chunks and the merge, then the
            # blocks after it; nothing of the normal appends in between.
            shown = {c.AppendBlockEnd: "A", c.ConditionalBlockEnd: "C", c.MergeSegments: "M"}
            wire = "".join(shown[type(cmd)] for cmd in stores.a.received if type(cmd) in shown)
            before, _, after = wire.partition("CCM")
            assert before and set(before) == {"A"} and after and set(after) == {"A"}, wire

    run(body())


def test_a_large_event_for_a_sealed_segment_goes_to_the_successor() -> None:
    async def body() -> None:
        async with client_and_stores() as (client, stores):
            teach(stores.a)
            writer = await client.create_writer("sc", "st")
            await (await writer.write(b"before", "k"))
            await client.ctx.controller.scale("sc", "st", [0], [(0.0, 0.5), (0.5, 1.0)])
            stores.a.seal(SEG0)
            await (await writer.write(BIG, "k"))
            await writer.flush()
            assert stores.a.segments[SEG0].events() == [b"before"]
            successors = [naming.qualified_segment_name("sc", "st", (1 << 32) | n) for n in (1, 2)]
            moved = [e for s in successors for e in stores.a.segment(s).events()]
            assert moved == [BIG]
            assert stores.a.connected.count(HOST_A) >= 2

    run(body())
