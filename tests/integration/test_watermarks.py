"""Watermarks end to end: writers note times, the controller writes ``_MARK<stream>``,
a reader's time window brackets the events it returns."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable
from typing import Any, TypeVar

from pravega.aio import Client
from pravega.client.watermarks import TimeWindow, Watermark, WatermarkFollower
from pravega.model import ScalingPolicy, StreamConfiguration

T = TypeVar("T")


def run(coro: Awaitable[T], timeout: float = 120.0) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


async def _wait_for_watermark(client: Client, scope: str, stream: str, check: Any, timeout: float = 60.0) -> list:
    follower = WatermarkFollower(client.ctx, scope, stream)
    deadline = time.monotonic() + timeout
    while True:
        marks = await follower.refresh()
        if marks and check(marks[-1]):
            return marks
        if time.monotonic() > deadline:
            raise AssertionError(f"no watermark as expected within {timeout} s; have {marks[-3:]}")
        await asyncio.sleep(0.1)


def test_time_window_brackets_the_events_a_reader_returns(server: Any) -> None:
    async def body() -> None:
        scope = f"wm{uuid.uuid4().hex[:8]}"
        async with Client(server.controller_uri) as client:
            await client.create_scope(scope)
            config = StreamConfiguration(ScalingPolicy.fixed(3), timestamp_aggregation_timeout_ms=30_000)
            await client.create_stream(scope, "in", config=config)
            writers: list[Any] = [await client.create_writer(scope, "in", writer_id=f"w{i}") for i in range(2)]
            # Each writer writes events of times t, t+1, ... then notes the time of its
            # next event; times grow by batch, the two writers a little apart.
            expected = []
            for batch in range(8):
                for n, writer in enumerate(writers):
                    base = 1_000 * (batch + 1) + 100 * n
                    for i in range(20):
                        t = base + i
                        await writer.write(json.dumps({"t": t, "w": n}).encode(), f"key{i % 5}")
                        expected.append(t)
                    await writer.note_time(base + 20)
                # Let the controller aggregate this round before the next batch.
                lowest = 1_000 * (batch + 1) + 20
                await _wait_for_watermark(client, scope, "in", lambda w, lo=lowest: w.lower >= lo)

            group = await client.create_reader_group("g", scope, [f"{scope}/in"])
            reader: Any = await group.create_reader("r1")
            seen: list[int] = []
            lowers: set[int | None] = set()
            uppers: set[int | None] = set()
            while len(seen) < len(expected):
                before = await reader.time_window(scope, "in")
                event = await reader.read_next_event(timeout=5.0)
                if event is None or event.is_checkpoint:
                    continue
                t = json.loads(event.event)["t"]
                after = await reader.time_window(scope, "in")
                # Events read next are at or after the lower bound; events read so far are
                # at or before the upper bound.
                assert before.lower is None or before.lower <= t, (before, t)
                assert after.upper is None or t <= after.upper, (after, t)
                lowers.add(before.lower)
                uppers.add(after.upper)
                seen.append(t)
            assert sorted(seen) == sorted(expected)
            # The windows moved with the reader (not just None).
            assert len({x for x in lowers if x is not None}) >= 4
            assert len({x for x in uppers if x is not None}) >= 4

    run(body())


def test_a_writer_that_stops_noting_times_drops_out(server: Any) -> None:
    async def body() -> None:
        scope = f"wm{uuid.uuid4().hex[:8]}"
        async with Client(server.controller_uri) as client:
            await client.create_scope(scope)
            await client.create_stream(scope, "tat", config=StreamConfiguration(timestamp_aggregation_timeout_ms=1_500))
            fast: Any = await client.create_writer(scope, "tat", writer_id="fast")
            slow: Any = await client.create_writer(scope, "tat", writer_id="slow")
            await fast.write(b"x", "a")
            await slow.write(b"y", "b")
            await slow.note_time(500)
            await fast.note_time(1_000)
            marks = await _wait_for_watermark(client, scope, "tat", lambda w: w.lower == 500)
            assert marks[-1].upper == 1_000
            # Only fast goes on noting times: once slow timed out, its 500 no longer holds
            # the watermark back.
            deadline = time.monotonic() + 60
            t = 1_000
            while True:
                t += 100
                await fast.note_time(t)
                marks = await WatermarkFollower(client.ctx, scope, "tat").refresh()
                if marks[-1].lower > 1_000:
                    break
                assert time.monotonic() < deadline, marks[-3:]
                await asyncio.sleep(0.2)
            last: Watermark = marks[-1]
            assert last.lower == last.upper  # fast alone
            assert [w.lower for w in marks] == sorted(w.lower for w in marks)  # never back

    run(body())


def test_deleting_a_stream_deletes_its_watermark_stream(server: Any) -> None:
    async def body() -> None:
        scope = f"wm{uuid.uuid4().hex[:8]}"
        async with Client(server.controller_uri) as client:
            await client.create_scope(scope)
            await client.create_stream(scope, "in")
            writer: Any = await client.create_writer(scope, "in")
            await writer.write(b"x")
            await writer.note_time(1_000)
            await _wait_for_watermark(client, scope, "in", lambda w: w.lower == 1_000)
            await writer.close()
            await client.seal_stream(scope, "in")
            assert await client.delete_stream(scope, "in")
            # Nothing is left in the scope: not even the internal _MARKin stream.
            assert await client.delete_scope(scope)

    run(body())


def test_the_sync_reader_has_the_time_window_too(server: Any) -> None:
    import pravega

    scope = f"wm{uuid.uuid4().hex[:8]}"
    with pravega.Client(server.controller_uri) as client:
        client.create_scope(scope)
        client.create_stream(scope, "in")
        writer: Any = client.create_writer(scope, "in")
        writer.write(b"early", "k")
        writer.note_time(5_000)
        writer.write(b"late", "k")
        writer.flush()

        async def until_noted() -> None:
            async with Client(server.controller_uri) as aio:
                await _wait_for_watermark(aio, scope, "in", lambda w: w.lower == 5_000)

        run(until_noted())
        reader = client.create_reader_group("g", scope, [f"{scope}/in"]).create_reader("r")
        windows: list[tuple[Any, TimeWindow]] = []
        while len(windows) < 2:
            read = reader.read_next_event(timeout=5.0)
            if read is not None and not read.is_checkpoint:
                windows.append((read.event, reader.time_window(scope, "in")))
        # After "early" the reader stands at the note: later events are at or after 5000,
        # what it read is at or before 5000. After "late" it is past the only watermark.
        assert windows == [(b"early", TimeWindow(5_000, 5_000)), (b"late", TimeWindow(5_000, None))]


def test_watermarks_survive_a_crash_and_go_on_after_it(fresh_server: Any) -> None:
    scope = f"wm{uuid.uuid4().hex[:8]}"

    async def before() -> list[Watermark]:
        async with Client(fresh_server.controller_uri) as client:
            await client.create_scope(scope)
            await client.create_stream(scope, "in")
            writer: Any = await client.create_writer(scope, "in", writer_id="w")
            await writer.write(b"x")
            await writer.note_time(1_000)
            return await _wait_for_watermark(client, scope, "in", lambda w: w.lower == 1_000)

    async def after() -> list[Watermark]:
        async with Client(fresh_server.controller_uri) as client:
            writer: Any = await client.create_writer(scope, "in", writer_id="w")
            await writer.write(b"y")
            await writer.note_time(2_000)
            return await _wait_for_watermark(client, scope, "in", lambda w: w.lower == 2_000)

    written = run(before())
    fresh_server.kill()  # SIGKILL: the acknowledged watermark records must survive
    fresh_server.start()
    marks = run(after())
    assert marks[: len(written)] == written
    assert [w.lower for w in marks] == sorted(w.lower for w in marks)


def test_a_transaction_commit_with_a_time_notes_the_writers_time(server: Any) -> None:
    """As in Pravega: committing with a timestamp notes the writer's time at the committed
    position, so transactional writers produce watermarks without ``note_time``."""

    async def body() -> None:
        scope = f"wt{uuid.uuid4().hex[:8]}"
        async with Client(server.controller_uri) as client:
            await client.create_scope(scope)
            await client.create_stream(scope, "in", 2)
            writer: Any = await client.create_transactional_writer(scope, "in", writer_id="txw")
            for t in (5_000, 9_000):
                txn = await writer.begin()
                for i in range(10):
                    await txn.write(b"e%d" % i, f"k{i}")
                await txn.commit(timestamp=t)
                marks = await _wait_for_watermark(client, scope, "in", lambda w, t=t: w.lower == t)
                newest = marks[-1]
                assert newest.upper == t
                info = await client.stream_info(scope, "in")
                # The mark's cut is where the committed data ends in every segment.
                assert newest.cut == dict(info.tail.positions)
            txn = await writer.begin()
            await txn.write(b"late", "k")
            await txn.commit()  # no time: nothing noted
            await asyncio.sleep(1.0)
            assert (await WatermarkFollower(client.ctx, scope, "in").refresh())[-1].lower == 9_000
            await writer.close()

    run(body())
