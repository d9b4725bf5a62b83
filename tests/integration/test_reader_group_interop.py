"""Reader groups shared by our readers and readers of the official client (``pravega_client``).

Both clients keep a group's state in the same table (``<scope>/<group>_kvtable``) in the
same layout, so a group created by either is joined by readers of both: they share the
segments, each event is read by exactly one of them, a reader that goes offline hands
its segments to the others, and after a scale the successors are read once their
predecessors are done. Our checkpoints work in a group the official client created.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Awaitable
from typing import Any, TypeVar

import pytest

from pravega import errors, naming
from pravega.aio import Client, EventReader, ReaderGroup
from pravega.client.segment_reader import SegmentClient

pravega_client = pytest.importorskip("pravega_client")

T = TypeVar("T")
REFRESH = 0.2


def run(coro: Awaitable[T], timeout: float = 150.0) -> T:
    async def bounded() -> T:
        try:
            return await asyncio.wait_for(coro, timeout)
        except TimeoutError:
            raise AssertionError(f"test body did not finish within {timeout}s") from None

    return asyncio.run(bounded())


def unique(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def manager(server) -> Any:
    """The official client's manager (kept for the module: its runtime serves the readers)."""
    return pravega_client.StreamManager(server.controller_uri)


@pytest.fixture(scope="module")
def scope(manager) -> str:
    name = unique("rgi")
    assert manager.create_scope(name) is True
    return name


def write_events(manager, scope: str, stream: str, events: list[bytes]) -> None:
    writer = manager.create_writer(scope, stream)
    for e in events:
        writer.write_event_bytes(e, e.split(b":")[0].decode())
    writer.flush()


class Reads:
    """Events read by each side; the group must read each written event once."""

    def __init__(self) -> None:
        self.ours: list[bytes] = []
        self.official: list[bytes] = []
        self.stop = asyncio.Event()

    def all(self) -> Counter[bytes]:
        return Counter(self.ours) + Counter(self.official)

    def has(self, expected: list[bytes]) -> bool:
        return not (Counter(expected) - self.all())


async def drive_ours(reader: EventReader[bytes], reads: Reads) -> None:
    while not reads.stop.is_set():
        read = await reader.read_next_event(timeout=0.2)
        if read is not None and not read.is_checkpoint:
            reads.ours.append(read.data)


async def drive_official(reader: Any, reads: Reads) -> None:
    while not reads.stop.is_set():
        piece = await reader.get_segment_slice_async()
        reads.official.extend(bytes(ev.data()) for ev in piece)
        reader.release_segment(piece)


async def until(condition: Any, what: str, timeout: float = 90.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def share(
    ours: EventReader[bytes], official: Any, expected: list[bytes], *, both_read: bool = True, linger: float = 2.0
) -> Reads:
    """Read with both readers until every expected event came, then ``linger`` seconds
    more (a duplicate would show); asserts each event was read once by the group."""
    reads = Reads()
    tasks = [asyncio.ensure_future(drive_ours(ours, reads)), asyncio.ensure_future(drive_official(official, reads))]
    try:
        await until(lambda: reads.has(expected) or any(t.done() for t in tasks), f"{len(expected)} events")
        for t in tasks:
            if t.done():
                t.result()
        await asyncio.sleep(linger)
    finally:
        reads.stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 30)
    got = reads.all()
    assert got == Counter(expected), (
        f"missing {sum((Counter(expected) - got).values())}, extra {sum((got - Counter(expected)).values())}"
    )
    if both_read:
        assert reads.ours and reads.official, (len(reads.ours), len(reads.official))
    return reads


def keyed_events(n: int, keys: int = 16, tag: str = "e") -> list[bytes]:
    return [f"k{i % keys}:{tag}{i}".encode() for i in range(n)]


def test_group_created_by_ours_is_shared_with_an_official_reader(server, manager, scope) -> None:
    stream = unique("st")
    assert manager.create_stream(scope, stream, 4) is True
    events = keyed_events(800)
    write_events(manager, scope, stream, events)
    name = unique("rg")

    async def body() -> None:
        async with Client(server.controller_uri) as client:
            group = await client.create_reader_group(name, scope, [stream], group_refresh_time=REFRESH)
            ours: EventReader[bytes] = await group.create_reader("ours-1")
            official_group = manager.create_reader_group(name, scope, stream)  # opens the existing group
            official = official_group.create_reader("official-1")
            assert sorted(await group.online_readers()) == ["official-1", "ours-1"]
            await share(ours, official, events)
            official.reader_offline()
            await ours.close()
            assert await group.online_readers() == []
            # Both wrote their positions back when leaving: the group stands at the tail.
            tail = (await client.stream_info(scope, stream)).tail
            assert (await group.get_streamcut())[f"{scope}/{stream}"].positions == tail.positions
            assert await group.unread_bytes() == 0

    run(body())


def test_group_created_by_the_official_client_is_joined_by_ours(server, manager, scope) -> None:
    stream = unique("st")
    assert manager.create_stream(scope, stream, 4) is True
    events = keyed_events(600)
    write_events(manager, scope, stream, events)
    name = unique("rg")
    official_group = manager.create_reader_group(name, scope, stream)
    official = official_group.create_reader("official-1")

    async def body() -> None:
        async with Client(server.controller_uri) as client:
            group: ReaderGroup = await client.reader_group(name, scope)
            assert group.config.streams == [f"{scope}/{stream}"]
            ours: EventReader[bytes] = await group.create_reader("ours-1")
            # The official reader joined first and may hold every segment; it gives the
            # surplus back to the group on its own (no checkpoint involved), and ours
            # takes it: keep writing until ours reads too.
            writer: Any = await client.create_writer(scope, stream)
            reads = Reads()
            tasks = [
                asyncio.ensure_future(drive_ours(ours, reads)),
                asyncio.ensure_future(drive_official(official, reads)),
            ]
            written = list(events)
            try:
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 90.0
                batch = 0
                while not (reads.ours and reads.has(written)):
                    assert loop.time() < deadline, f"ours read nothing in 90 s ({len(reads.official)} official)"
                    assert not any(t.done() for t in tasks), [t.result() for t in tasks if t.done()]
                    more = keyed_events(40, tag=f"more{batch}-")
                    for e in more:
                        await writer.write(e, e.split(b":")[0].decode())
                    await writer.flush()
                    written += more
                    batch += 1
                    await asyncio.sleep(0.5)
                await asyncio.sleep(2.0)
            finally:
                reads.stop.set()
                await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 30)
                await writer.close()
            assert reads.all() == Counter(written)
            assert reads.official
            official.reader_offline()
            await ours.close()

    run(body())


def test_reader_offline_hands_segments_over_between_clients(server, manager, scope) -> None:
    stream = unique("st")
    assert manager.create_stream(scope, stream, 4) is True
    first = keyed_events(400, tag="a")
    write_events(manager, scope, stream, first)
    name = unique("rg")

    async def body() -> None:
        async with Client(server.controller_uri) as client:
            group = await client.create_reader_group(name, scope, [stream], group_refresh_time=REFRESH)
            ours: EventReader[bytes] = await group.create_reader("ours-1")
            official = manager.create_reader_group(name, scope, stream).create_reader("official-1")
            await share(ours, official, first)
            # The official reader leaves: ours takes over all four segments and reads what
            # comes next alone.
            official.reader_offline()
            second = keyed_events(200, tag="b")
            write_events(manager, scope, stream, second)
            got: list[bytes] = []
            while Counter(second) - Counter(got):
                read = await ours.read_next_event(timeout=30.0)
                assert read is not None, f"ours got {len(got)} of {len(second)} after the official reader left"
                got.append(read.data)
            assert Counter(got) == Counter(second)
            assert len(ours.get_position()) == 4
            # Ours is declared offline by the group (as if it crashed): a new official
            # reader gets everything from where ours left off.
            assert await group.reader_offline("ours-1", ours.get_position()) is True
            third = keyed_events(100, tag="c")
            write_events(manager, scope, stream, third)
            newcomer = manager.create_reader_group(name, scope, stream).create_reader("official-2")
            reads = Reads()
            task = asyncio.ensure_future(drive_official(newcomer, reads))
            try:
                await until(lambda: reads.has(third) or task.done(), "the third batch")
                await asyncio.sleep(1.0)
            finally:
                reads.stop.set()
                await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 30)
            assert Counter(reads.official) == Counter(third)
            newcomer.reader_offline()

    run(body())


def test_successors_after_a_scale_are_shared(server, manager, scope) -> None:
    stream = unique("st")
    assert manager.create_stream(scope, stream, 2) is True
    before = keyed_events(300, tag="pre")
    write_events(manager, scope, stream, before)
    name = unique("rg")

    async def body() -> None:
        async with Client(server.controller_uri) as client:
            # Split both segments: 2 -> 4 (segment 0 covers [0, 0.5), segment 1 [0.5, 1)).
            await client.scale_stream(scope, stream, [0], [(0.0, 0.25), (0.25, 0.5)])
            await client.scale_stream(scope, stream, [1], [(0.5, 0.75), (0.75, 1.0)])
            after = keyed_events(300, tag="post")
            write_events(manager, scope, stream, after)
            group = await client.create_reader_group(name, scope, [stream], group_refresh_time=REFRESH)
            ours: EventReader[bytes] = await group.create_reader("ours-1")
            official = manager.create_reader_group(name, scope, stream).create_reader("official-1")
            reads = await share(ours, official, before + after, both_read=False)
            # Per key, the events before the scale come before those after it, on each side.
            for side in (reads.ours, reads.official):
                for key in {e.split(b":")[0] for e in side}:
                    tags = [e.split(b":")[1] for e in side if e.split(b":")[0] == key]
                    pre = [i for i, t in enumerate(tags) if t.startswith(b"pre")]
                    post = [i for i, t in enumerate(tags) if t.startswith(b"post")]
                    if pre and post:
                        assert max(pre) < min(post), key
            official.reader_offline()
            await ours.close()

    run(body())


def test_our_checkpoint_in_a_group_the_official_client_created(server, manager, scope) -> None:
    stream = unique("st")
    assert manager.create_stream(scope, stream, 2) is True
    events = keyed_events(100)
    write_events(manager, scope, stream, events)
    name = unique("rg")
    manager.create_reader_group(name, scope, stream)

    async def body() -> None:
        async with Client(server.controller_uri) as client:
            group: ReaderGroup = await client.reader_group(name, scope)
            reader: EventReader[bytes] = await group.create_reader("ours-1")
            got: list[bytes] = []
            while len(got) < len(events):
                read = await reader.read_next_event(timeout=30.0)
                assert read is not None
                if not read.is_checkpoint:
                    got.append(read.data)
            assert Counter(got) == Counter(events)
            checkpoint_task = asyncio.ensure_future(group.initiate_checkpoint("cp1", timeout=30.0))
            seen_checkpoint = False
            while not checkpoint_task.done():
                read = await reader.read_next_event(timeout=0.2)
                seen_checkpoint |= read is not None and read.is_checkpoint
            checkpoint = checkpoint_task.result()
            assert seen_checkpoint
            positions = checkpoint.segment_positions
            assert sum(positions.values()) == sum(8 + len(e) for e in events), positions
            # reset() takes the group back to where the official client started it.
            await group.reset()
            again: list[bytes] = []
            while len(again) < len(events):
                read = await reader.read_next_event(timeout=30.0)
                assert read is not None, f"{len(again)} events after the reset"
                if not read.is_checkpoint:
                    again.append(read.data)
            assert Counter(again) == Counter(events)
            await reader.close()

    run(body())


def test_ours_declares_a_silent_official_reader_offline(server, manager, scope) -> None:
    stream = unique("st")
    assert manager.create_stream(scope, stream, 2) is True
    events = keyed_events(200)
    write_events(manager, scope, stream, events)
    name = unique("rg")
    official = manager.create_reader_group(name, scope, stream).create_reader("official-1")

    async def body() -> None:
        # The official reader takes segments and then goes silent (as if its process hung).
        piece = await official.get_segment_slice_async()
        taken = [bytes(ev.data()) for ev in piece]
        assert taken
        official.release_segment(piece)
        async with Client(server.controller_uri) as client:
            group: ReaderGroup = await client.reader_group(name, scope)
            ours: EventReader[bytes] = await group.create_reader("ours-1")
            assert "official-1" in await group.online_readers()
            # Ours gets only the segments nobody holds; declaring the silent reader offline
            # hands its segments over at the offsets it last wrote back.
            assert await group.reader_offline("official-1") is True
            assert await group.online_readers() == ["ours-1"]
            got: list[bytes] = []
            while Counter(events) - Counter(taken) - Counter(got):
                read = await ours.read_next_event(timeout=30.0)
                assert read is not None, f"ours read {len(got)} events"
                got.append(read.data)
            # At least once: events the silent reader returned after its last write-back
            # may come again, none is lost.
            assert not Counter(events) - Counter(taken) - Counter(got)
            assert not Counter(got) - Counter(events)
            await ours.close()

    run(body())


def test_reset_of_a_group_the_official_client_started_at_the_tail(server, manager, scope) -> None:
    stream = unique("st")
    assert manager.create_stream(scope, stream, 1) is True
    write_events(manager, scope, stream, keyed_events(10, tag="old"))
    name = unique("rg")
    manager.create_reader_group(name, scope, stream, True)  # from the tail
    new = keyed_events(10, tag="new")
    write_events(manager, scope, stream, new)

    async def body() -> None:
        async with Client(server.controller_uri) as client:
            group: ReaderGroup = await client.reader_group(name, scope)
            reader: EventReader[bytes] = await group.create_reader("ours-1")
            got: list[bytes] = []
            while len(got) < len(new):
                read = await reader.read_next_event(timeout=30.0)
                assert read is not None
                got.append(read.data)
            assert got == new  # the tail at creation: none of the older events
            with pytest.raises(errors.InterfaceError, match="tail"):
                await group.reset()  # where the tail was is not recorded
            head = (await client.stream_info(scope, stream)).head
            await group.reset([head])
            again: list[bytes] = []
            while len(again) < 20:
                read = await reader.read_next_event(timeout=30.0)
                assert read is not None
                again.append(read.data)
            assert again == keyed_events(10, tag="old") + new
            await reader.close()

    run(body())


def test_a_group_in_the_earlier_format_gets_a_clear_error(server, scope) -> None:
    name = unique("rg")

    async def body() -> None:
        async with Client(server.controller_uri) as client:
            segments = SegmentClient(client.ctx)
            with pytest.raises(errors.NoSuchReaderGroupError) as plain:
                await client.reader_group(name, scope)
            assert "earlier version" not in str(plain.value)
            # The state table of the earlier versions, as they created it.
            await segments.create_table(naming.reader_group_state_segment(scope, name))
            with pytest.raises(errors.NoSuchReaderGroupError, match="earlier version"):
                await client.reader_group(name, scope)

    run(body())


def test_two_readers_of_each_client_while_events_keep_coming(server, manager, scope) -> None:
    stream = unique("st")
    assert manager.create_stream(scope, stream, 8) is True
    name = unique("rg")
    batches = [keyed_events(150, keys=32, tag=f"b{n}-") for n in range(8)]

    async def body() -> None:
        async with Client(server.controller_uri) as client:
            group = await client.create_reader_group(name, scope, [stream], group_refresh_time=REFRESH)
            ours: list[EventReader[bytes]] = [await group.create_reader(f"ours-{i}") for i in range(2)]
            officials = [
                manager.create_reader_group(name, scope, stream).create_reader(f"official-{i}") for i in range(2)
            ]
            reads = Reads()
            tasks = [asyncio.ensure_future(drive_ours(r, reads)) for r in ours]
            tasks += [asyncio.ensure_future(drive_official(r, reads)) for r in officials]
            writer: Any = await client.create_writer(scope, stream)
            written: list[bytes] = []
            try:
                for batch in batches:
                    for e in batch:
                        await writer.write(e, e.split(b":")[0].decode())
                    await writer.flush()
                    written += batch
                    await asyncio.sleep(0.3)
                await until(lambda: reads.has(written) or any(t.done() for t in tasks), "every event")
                assert not any(t.done() for t in tasks), [t.result() for t in tasks if t.done()]
                await asyncio.sleep(2.0)
            finally:
                reads.stop.set()
                await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 30)
                await writer.close()
            assert reads.all() == Counter(written)
            assert reads.ours and reads.official
            for r in officials:
                r.reader_offline()
            for r in ours:
                await r.close()

    run(body())


@pytest.mark.parametrize("first", ["ours", "official"])
def test_a_successor_registered_by_one_client_is_completed_by_the_other(server, manager, scope, first: str) -> None:
    """A merge (segments 0 and 1 -> 2): one reader finishes its predecessor first and
    records the successor in future_segments; the reader of the other client then finishes
    the other predecessor, reads that entry and makes the successor readable."""
    stream = unique("st")
    assert manager.create_stream(scope, stream, 2) is True
    before = keyed_events(200, tag="pre")
    write_events(manager, scope, stream, before)
    name = unique("rg")

    async def body() -> None:
        async with Client(server.controller_uri) as client:
            await client.scale_stream(scope, stream, [0, 1], [(0.0, 1.0)])
            after = keyed_events(100, tag="post")
            write_events(manager, scope, stream, after)
            group = await client.create_reader_group(name, scope, [stream], group_refresh_time=REFRESH)
            ours: EventReader[bytes] = await group.create_reader("ours-1")
            # The official reader takes its fair share (one of two) when it is created.
            official = manager.create_reader_group(name, scope, stream).create_reader("official-1")
            reads = Reads()
            # One alone first: it reads its segment to the end and registers the successor,
            # which waits for the other predecessor.
            drivers = [lambda: drive_ours(ours, reads), lambda: drive_official(official, reads)]
            if first == "official":
                drivers.reverse()
                # Ours takes the other segment first (and reads one event of it), or the
                # official reader would take it over once its own segment is done.
                read = await ours.read_next_event(timeout=30.0)
                assert read is not None
                reads.ours.append(read.data)
            tasks = [asyncio.ensure_future(drivers[0]())]
            try:
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 60
                while not (await group._read_state()).futures:
                    assert loop.time() < deadline, f"{first} did not register the successor"
                    assert not tasks[0].done(), tasks[0].result()
                    await asyncio.sleep(0.1)
                state = await group._read_state()
                ((successor, future),) = state.futures.items()
                assert naming.parse_segment_name(successor)[2] == (1 << 32) | 2  # segment 2 of epoch 1
                assert len(future["waiting_for"]) == 1  # the other reader's segment
                # Now the other reader finishes its segment and completes the successor.
                tasks.append(asyncio.ensure_future(drivers[1]()))
                await until(lambda: reads.has(before + after) or any(t.done() for t in tasks), "every event")
                assert not any(t.done() for t in tasks), [t.result() for t in tasks if t.done()]
                await asyncio.sleep(1.0)
            finally:
                reads.stop.set()
                await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 30)
            assert reads.all() == Counter(before + after)
            assert reads.official and reads.ours
            official.reader_offline()
            await ours.close()

    run(body())
