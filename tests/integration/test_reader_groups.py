"""Reader groups of the asyncio client against a real server process.

Every event is read exactly once (by one reader of the group), each routing key's
events come back in order, also across scaling; checkpoints, resets, start and end
stream cuts, readers in other processes taking over from readers that went offline.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Awaitable
from pathlib import Path
from typing import TypeVar

import pytest

import pravega
from pravega.aio import (
    Checkpoint,
    CheckpointTimeoutError,
    Client,
    EventReader,
    ReaderGroupConfig,
    ReaderNotInGroupError,
)
from pravega.model import StreamCut
from pravega.serializers import StringSerializer

T = TypeVar("T")
STR = StringSerializer()
REFRESH = 0.2  # group_refresh_time of the test groups: fast rebalancing and write-backs


def run(coro: Awaitable[T], timeout: float = 60.0) -> T:
    async def bounded() -> T:
        try:
            return await asyncio.wait_for(coro, timeout)
        except TimeoutError:
            raise AssertionError(f"test body did not finish within {timeout}s") from None

    return asyncio.run(bounded())


def unique(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:8]


def event_text(key: str, seq: int) -> str:
    return f"{key}:{seq}"


def parse(text: str) -> tuple[str, int]:
    key, seq = text.rsplit(":", 1)
    return key, int(seq)


async def setup_stream(client: Client, segments: int = 3) -> tuple[str, str]:
    scope, stream = unique("sc"), unique("st")
    await client.create_scope(scope)
    await client.create_stream(scope, stream, segments)
    return scope, stream


async def write_events(
    client: Client, scope: str, stream: str, texts: list[str], pause_every: int = 0, pause: float = 0.0
) -> None:
    writer = await client.create_writer(scope, stream, STR)
    for i, text in enumerate(texts):
        await writer.write(text, routing_key=parse(text)[0])
        if pause_every and i % pause_every == pause_every - 1:
            await writer.flush()
            await asyncio.sleep(pause)
    await writer.flush()


def keyed(start: int, count: int, keys: int = 10) -> list[str]:
    """``count`` events over ``keys`` keys; each key's sequence numbers increase."""
    return [event_text(f"k{i % keys}", i) for i in range(start, start + count)]


class Log:
    """Events as returned, in one global order (one event loop, so order is real time)."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, str]] = []  # (reader id, event)
        self.checkpoints: list[tuple[str, str, int]] = []  # (reader id, name, index in entries)

    def events(self, reader: str | None = None) -> list[str]:
        return [e for r, e in self.entries if reader is None or r == reader]


async def drain(
    readers: list[EventReader[str]],
    log: Log,
    expected: int,
    timeout: float = 30.0,
    linger: float = 0.5,
    pace: float = 0.0,
    stop: asyncio.Event | None = None,
) -> None:
    """Read with all readers until ``log`` holds ``expected`` events (fail after
    ``timeout``), then ``linger`` seconds more to catch duplicates."""
    done = asyncio.Event()

    async def loop(reader: EventReader[str]) -> None:
        while not done.is_set():
            ev = await reader.read_next_event(0.1)
            if ev is None:
                continue
            if ev.is_checkpoint:
                log.checkpoints.append((reader.reader_id, ev.checkpoint_name, len(log.entries)))
                continue
            log.entries.append((reader.reader_id, ev.event))
            if pace:
                await asyncio.sleep(pace)

    tasks = [asyncio.ensure_future(loop(r)) for r in readers]
    try:
        deadline = time.monotonic() + timeout
        while len(log.entries) < expected and (stop is None or not stop.is_set()):
            for t in tasks:
                if t.done():
                    t.result()  # raise the reader's error
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s: read {len(log.entries)} of {expected} events")
            await asyncio.sleep(0.01)
        await asyncio.sleep(linger)
    finally:
        done.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    for t in tasks:
        t.result()


def assert_exactly_once(got: list[str], expected: list[str]) -> None:
    dupes = [e for e, n in Counter(got).items() if n > 1]
    missing = set(expected) - set(got)
    extra = set(got) - set(expected)
    assert not dupes, f"{len(dupes)} events read twice, e.g. {dupes[:5]}"
    assert not missing, f"{len(missing)} events never read, e.g. {sorted(missing)[:5]}"
    assert not extra, f"{len(extra)} unexpected events, e.g. {sorted(extra)[:5]}"


def assert_key_order(got: list[str]) -> None:
    last: dict[str, int] = {}
    for text in got:
        key, seq = parse(text)
        assert seq > last.get(key, -1), f"key {key}: {seq} came after {last[key]}"
        last[key] = seq


# -- one process ---------------------------------------------------------------------------


def test_single_reader_reads_everything_once_in_key_order(server) -> None:
    async def body() -> None:
        async with Client(server.controller_uri) as client:
            scope, stream = await setup_stream(client, 3)
            texts = keyed(0, 600, keys=12)
            await write_events(client, scope, stream, texts)
            group = await client.create_reader_group("g", scope, [stream], group_refresh_time=REFRESH)
            reader = await group.create_reader("r1", STR)
            log = Log()
            await drain([reader], log, len(texts))
            assert_exactly_once(log.events(), texts)
            assert_key_order(log.events())
            assert len(reader.get_position()) == 3
            started = time.monotonic()
            assert await reader.read_next_event(0.3) is None
            assert time.monotonic() - started < 2.0
            await reader.close()
            assert await group.online_readers() == []
            assert await group.unread_bytes() == 0

    run(body())


def test_batches_and_single_events_mix_and_resume_exactly(server) -> None:
    async def body() -> None:
        async with Client(server.controller_uri) as client:
            scope, stream = await setup_stream(client, 2)
            texts = keyed(0, 3000, keys=8)
            await write_events(client, scope, stream, texts)
            group = await client.create_reader_group("g", scope, [stream], group_refresh_time=REFRESH)
            reader = await group.create_reader("r1", STR)
            got: list[str] = []
            use_batch = True
            while len(got) < len(texts):
                if use_batch:
                    batch = await reader.read_batch(timeout=5.0, max_events=250)
                    assert batch is not None, f"stalled after {len(got)} events"
                    if batch.__class__.__name__ == "EventBatch":
                        assert len(batch.events) <= 250 and len(batch.offsets) == len(batch.events)
                        assert batch.position == (batch.segment, reader.get_position()[batch.segment])
                        got.extend(batch.events)
                else:
                    read = await reader.read_next_event(timeout=5.0)
                    assert read is not None
                    if not read.is_checkpoint:
                        got.append(read.event)
                use_batch = not use_batch
                if len(got) >= 1500 and len(got) < 1500 + 250:
                    # Hand the segments back mid-way; a new reader resumes exactly there.
                    await reader.close()
                    reader = await group.create_reader("r2", STR)
            assert_exactly_once(got, texts)
            assert_key_order(got)
            await reader.close()

    run(body())


def test_start_from_head_tail_and_stream_cut(server) -> None:
    async def body() -> None:
        async with Client(server.controller_uri) as client:
            scope, stream = await setup_stream(client, 3)
            first, second = keyed(0, 120), keyed(1000, 80)
            await write_events(client, scope, stream, first)
            cut = (await client.stream_info(scope, stream)).tail
            tail_group = await client.create_reader_group("tail", scope, [stream], from_tail=True)
            await write_events(client, scope, stream, second)

            head_group = await client.create_reader_group("head", scope, [stream])
            cut_group = await client.create_reader_group(
                "cut", scope, ReaderGroupConfig([f"{scope}/{stream}"], start_cuts=[cut])
            )
            for group, expected in ((head_group, first + second), (tail_group, second), (cut_group, second)):
                reader = await group.create_reader("r", STR)
                log = Log()
                await drain([reader], log, len(expected), linger=0.3)
                assert_exactly_once(log.events(), expected)
                await reader.close()

    run(body())


def test_two_readers_in_one_process_share_segments(server) -> None:
    async def body() -> None:
        async with Client(server.controller_uri) as client:
            scope, stream = await setup_stream(client, 3)
            texts = keyed(0, 900, keys=15)
            group = await client.create_reader_group("g", scope, [stream], group_refresh_time=REFRESH)
            readers = [await group.create_reader(f"r{i}", STR) for i in range(2)]
            assert await group.online_readers() == ["r0", "r1"]
            log = Log()
            writing = asyncio.ensure_future(write_events(client, scope, stream, texts, pause_every=100, pause=0.05))
            await drain(readers, log, len(texts))
            await writing
            assert_exactly_once(log.events(), texts)
            for r in ("r0", "r1"):
                assert log.events(r), f"reader {r} read nothing: the segments were not shared"
                assert_key_order(log.events(r))
            owned = [set(r.get_position()) for r in readers]
            assert not owned[0] & owned[1] and len(owned[0] | owned[1]) == 3, owned
            for r in readers:
                await r.close()

    run(body())


def test_scale_up_during_reading_keeps_key_order(server) -> None:
    async def body() -> None:
        async with Client(server.controller_uri) as client:
            scope, stream = await setup_stream(client, 1)
            group = await client.create_reader_group("g", scope, [stream], group_refresh_time=REFRESH)
            reader = await group.create_reader("r1", STR)
            log = Log()
            before, after = keyed(0, 300, keys=20), keyed(300, 300, keys=20)
            reading = asyncio.ensure_future(drain([reader], log, 600, timeout=40))
            await write_events(client, scope, stream, before, pause_every=50, pause=0.02)
            [segment] = await client.ctx.controller.get_current_segments(scope, stream)
            new = await client.scale_stream(scope, stream, [segment.segment_id], [(0.0, 0.5), (0.5, 1.0)])
            assert len(new) == 2
            await write_events(client, scope, stream, after, pause_every=50, pause=0.02)
            await reading
            assert_exactly_once(log.events(), before + after)
            assert_key_order(log.events())
            assert len(reader.get_position()) == 2  # reading the successors now
            await reader.close()

    run(body())


def test_merge_with_two_readers_keeps_key_order(server) -> None:
    async def body() -> None:
        async with Client(server.controller_uri) as client:
            scope, stream = await setup_stream(client, 2)
            group = await client.create_reader_group("g", scope, [stream], group_refresh_time=REFRESH)
            readers = [await group.create_reader(f"r{i}", STR) for i in range(2)]
            log = Log()
            before, after = keyed(0, 300, keys=20), keyed(300, 300, keys=20)
            reading = asyncio.ensure_future(drain(readers, log, 600, timeout=40))
            await write_events(client, scope, stream, before, pause_every=50, pause=0.02)
            current = await client.ctx.controller.get_current_segments(scope, stream)
            await client.scale_stream(scope, stream, [r.segment_id for r in current], [(0.0, 1.0)])
            await write_events(client, scope, stream, after, pause_every=50, pause=0.02)
            await reading
            assert_exactly_once(log.events(), before + after)
            # One event loop: the global return order is real time. The merged segment is
            # read only after both predecessors were read to their ends.
            assert_key_order(log.events())
            owners = [len(r.get_position()) for r in readers]
            assert sorted(owners) == [0, 1], owners
            for r in readers:
                await r.close()

    run(body())


# -- checkpoints, cuts, positions -------------------------------------------------------------


def test_checkpoint_then_reset_replays_exactly_from_it(server) -> None:
    async def body() -> None:
        async with Client(server.controller_uri) as client:
            scope, stream = await setup_stream(client, 3)
            texts = keyed(0, 400, keys=16)
            await write_events(client, scope, stream, texts)
            group = await client.create_reader_group("g", scope, [stream], group_refresh_time=REFRESH)
            readers = [await group.create_reader(f"r{i}", STR) for i in range(2)]
            log = Log()

            async def checkpoint_midway() -> Checkpoint:
                while len(log.entries) < 120:
                    await asyncio.sleep(0.005)
                return await group.initiate_checkpoint("cp1", timeout=10)

            cp_task = asyncio.ensure_future(checkpoint_midway())
            await drain(readers, log, len(texts), pace=0.002)
            checkpoint = await cp_task
            assert_exactly_once(log.events(), texts)
            assert sorted(r for r, name, _ in log.checkpoints) == ["r0", "r1"]
            assert all(name == "cp1" for _, name, _ in log.checkpoints)
            assert set(checkpoint.positions) == {f"{scope}/{stream}"}
            assert isinstance(checkpoint.positions[f"{scope}/{stream}"], StreamCut)
            # Every event a reader returned after its checkpoint event is after the checkpoint.
            after: list[str] = []
            for reader_id, _, index in log.checkpoints:
                after += [e for r, e in log.entries[index:] if r == reader_id]
            assert 0 < len(after) < len(texts), len(after)

            await group.reset(checkpoint)
            replay = Log()
            await drain(readers, replay, len(after), linger=0.8)
            assert_exactly_once(replay.events(), after)
            for r in readers:
                await r.close()

    run(body())


def test_checkpoint_timeout_and_reader_offline_during_checkpoint(server) -> None:
    async def body() -> None:
        async with Client(server.controller_uri) as client:
            scope, stream = await setup_stream(client, 3)
            texts = keyed(0, 300)
            await write_events(client, scope, stream, texts)
            group = await client.create_reader_group("g", scope, [stream], group_refresh_time=REFRESH)
            a, b = await group.create_reader("a", STR), await group.create_reader("b", STR)
            log = Log()
            await drain([a, b], log, 100, linger=0.0)
            assert log.events("a") and log.events("b")

            # Nobody reads: the checkpoint times out and is aborted.
            with pytest.raises(CheckpointTimeoutError):
                await group.initiate_checkpoint("late", timeout=0.5)
            assert await group.latest_checkpoint() is None

            # An initiator that goes away: the readers abort its checkpoint after its deadline
            # (a pending checkpoint stops rebalancing, so it must not stay forever).
            gone = asyncio.ensure_future(group.initiate_checkpoint("orphan", timeout=0.3))
            await asyncio.sleep(0.1)
            gone.cancel()
            deadline = time.monotonic() + 10
            while (await group._read_state()).pending():  # "b" does not read: only an abort ends it
                assert time.monotonic() < deadline, "the orphaned checkpoint was never aborted"
                ev = await a.read_next_event(0.1)
                if ev is not None and not ev.is_checkpoint:
                    log.entries.append(("a", ev.event))
            assert await group.latest_checkpoint() is None

            # Only "a" reads; "b" goes offline while the checkpoint waits for it.
            task = asyncio.ensure_future(group.initiate_checkpoint("cp", timeout=10))
            deadline = time.monotonic() + 10
            while True:
                assert time.monotonic() < deadline, "reader a never saw the checkpoint"
                ev = await a.read_next_event(0.2)
                if ev is not None and ev.is_checkpoint:
                    assert ev.checkpoint_name == "cp" and ev.event is None
                    break
                if ev is not None:
                    log.entries.append(("a", ev.event))
            a_before = set(log.events("a"))
            await asyncio.sleep(0.3)
            assert not task.done(), "the checkpoint must wait for b"
            assert await group.reader_offline("b")
            checkpoint = await asyncio.wait_for(task, 10)
            assert (await group.latest_checkpoint()).name == "cp"
            assert sum(len(cut.positions) for cut in checkpoint.positions.values()) == 3

            await group.reset(checkpoint)
            replay = Log()
            unread = [t for t in texts if t not in set(log.events())]
            await drain([a], replay, len(unread), linger=0.5)
            got = replay.events()
            assert len(got) == len(set(got)), "an event was replayed twice"
            assert not set(got) & a_before, "events a read before the checkpoint were replayed"
            assert set(unread) <= set(got), "events nobody read were not replayed"
            await a.close()
            await b.close()

    run(body())


def test_automatic_checkpoints(server) -> None:
    async def body() -> None:
        async with Client(server.controller_uri) as client:
            scope, stream = await setup_stream(client, 2)
            group = await client.create_reader_group(
                "g", scope, [stream], group_refresh_time=REFRESH, automatic_checkpoint_interval=0.3
            )
            reader = await group.create_reader("r", STR)
            names = []
            deadline = time.monotonic() + 10
            while len(names) < 2:
                assert time.monotonic() < deadline, f"automatic checkpoints seen: {names}"
                ev = await reader.read_next_event(0.2)
                if ev is not None and ev.is_checkpoint:
                    names.append(ev.checkpoint_name)
            assert all(n.startswith("auto-") for n in names) and len(set(names)) == 2
            latest = await group.latest_checkpoint()
            assert latest is not None and latest.name.startswith("auto-")
            await reader.close()

    run(body())


def test_truncated_data_is_skipped_and_reported(server) -> None:
    async def body() -> None:
        async with Client(server.controller_uri) as client:
            scope, stream = await setup_stream(client, 1)
            first, second = keyed(0, 50), keyed(50, 50)
            group = await client.create_reader_group("g", scope, [stream], group_refresh_time=REFRESH)
            await write_events(client, scope, stream, first)
            cut = (await client.stream_info(scope, stream)).tail
            await write_events(client, scope, stream, second)
            assert await client.truncate_stream(cut)
            reader = await group.create_reader("r", STR)  # positioned at the old head
            log = Log()
            await drain([reader], log, len(second), linger=0.3)
            assert_exactly_once(log.events(), second)
            [(segment, old, new)] = reader.truncations
            assert old == 0 and new == list(cut.positions.values())[0]
            await reader.close()

    run(body())


def test_end_cut_stops_exactly_there(server) -> None:
    async def body() -> None:
        async with Client(server.controller_uri) as client:
            scope, stream = await setup_stream(client, 3)
            first, second = keyed(0, 150), keyed(1000, 60)
            await write_events(client, scope, stream, first)
            end = (await client.stream_info(scope, stream)).tail
            await write_events(client, scope, stream, second)
            group = await client.create_reader_group("g", scope, [stream], end_cuts=end, group_refresh_time=REFRESH)
            readers = [await group.create_reader(f"r{i}", STR) for i in range(2)]
            log = Log()
            await drain(readers, log, len(first), linger=0.5)
            assert_exactly_once(log.events(), first)
            for r in readers:
                started = time.monotonic()
                assert await r.read_next_event(5.0) is None
                assert time.monotonic() - started < 1.0, "a finished group should answer at once"
                assert r.finished
            assert await group.get_streamcut() == {}
            for r in readers:
                await r.close()

    run(body())


def test_streamcut_round_trip_and_unread_bytes(server) -> None:
    async def body() -> None:
        async with Client(server.controller_uri) as client:
            scope, stream = await setup_stream(client, 3)
            texts = keyed(0, 200)
            await write_events(client, scope, stream, texts)
            total = sum(8 + len(t.encode()) for t in texts)
            group = await client.create_reader_group("g", scope, [stream], group_refresh_time=REFRESH)
            assert await group.unread_bytes() == total
            reader = await group.create_reader("r1", STR)
            got: list[str] = []
            while len(got) < 80:
                ev = await reader.read_next_event(5.0)
                assert ev is not None, f"no event after {len(got)}"
                got.append(ev.event)
            # Positions are written back (at least) every group_refresh_time, by read_next_event.
            await asyncio.sleep(REFRESH * 1.5)
            ev = await reader.read_next_event(5.0)  # writes back "after the 80th" first
            assert ev is not None
            assert await group.unread_bytes() == total - sum(8 + len(t.encode()) for t in got)
            got.append(ev.event)
            await reader.close()  # writes the exact positions back
            read_bytes = sum(8 + len(t.encode()) for t in got)
            assert await group.unread_bytes() == total - read_bytes

            cuts = await group.get_streamcut()
            cut = cuts[f"{scope}/{stream}"]
            assert StreamCut.from_text(cut.to_text()) == cut
            assert StreamCut.from_text(str(cut)) == cut
            rest = await client.create_reader_group(
                "rest", scope, [stream], start_cuts=StreamCut.from_text(cut.to_text())
            )
            reader2 = await rest.create_reader("r", STR)
            log = Log()
            expected = [t for t in texts if t not in set(got)]
            await drain([reader2], log, len(expected), linger=0.3)
            assert_exactly_once(log.events(), expected)
            await reader2.close()

    run(body())


def test_reader_offline_with_given_position(server) -> None:
    async def body() -> None:
        async with Client(server.controller_uri) as client:
            scope, stream = await setup_stream(client, 3)
            texts = keyed(0, 240)
            await write_events(client, scope, stream, texts)
            group = await client.create_reader_group("g", scope, [stream], group_refresh_time=REFRESH)
            a = await group.create_reader("a", STR)
            got: list[str] = []
            position: dict[str, int] = {}
            while len(got) < 60:
                ev = await a.read_next_event(5.0)
                assert ev is not None, f"no event after {len(got)}"
                got.append(ev.event)
                if len(got) == 40:
                    position = a.get_position()
                    assert ev.position[1] == position[ev.position[0]]
            assert len(position) == 3
            # "a" is gone, as of the position after its 40th event: its last 20 are read again.
            assert await group.reader_offline("a", position)
            assert not await group.reader_offline("a")
            # "a" notices at its next state check (within 0.1 s).
            await asyncio.sleep(0.15)
            with pytest.raises(ReaderNotInGroupError):
                await a.read_next_event(1.0)
            b = await group.create_reader("b", STR)
            log = Log()
            expected = [t for t in texts if t not in set(got[:40])]
            await drain([b], log, len(expected), linger=0.3)
            assert_exactly_once(log.events(), expected)
            await a.close()
            await b.close()

    run(body())


def test_reopen_and_delete_group(server) -> None:
    async def body() -> None:
        async with Client(server.controller_uri) as client:
            scope, stream = await setup_stream(client, 2)
            group = await client.create_reader_group("g", scope, [stream], group_refresh_time=0.5)
            again = await client.reader_group("g", scope)
            assert again.config.streams == [f"{scope}/{stream}"]
            assert again.config.group_refresh_time == 0.5
            reader = await again.create_reader("r", STR)
            with pytest.raises(Exception):  # noqa: B017
                await group.create_reader("r", STR)  # already online
            await reader.close()
            assert await client.delete_reader_group("g", scope)
            assert not await client.delete_reader_group("g", scope)
            from pravega.errors import NoSuchReaderGroupError

            with pytest.raises(NoSuchReaderGroupError):
                await client.reader_group("g", scope)

    run(body())


# -- two processes ----------------------------------------------------------------------------

CHILD = r"""
import asyncio, json, sys, threading, time
from pravega.aio import Client
from pravega.serializers import StringSerializer

async def main(uri, scope, group_name, reader_id):
    loop = asyncio.get_running_loop()
    commands = asyncio.Queue()

    def stdin():
        for line in sys.stdin:
            loop.call_soon_threadsafe(commands.put_nowait, line.strip())
        loop.call_soon_threadsafe(commands.put_nowait, "stop")

    threading.Thread(target=stdin, daemon=True).start()
    async with Client(uri) as client:
        group = await client.reader_group(group_name, scope)
        reader = await group.create_reader(reader_id, StringSerializer())
        print(json.dumps({"ready": reader_id}), flush=True)
        got, target, reached, reported = [], None, None, 0.0
        while True:
            while not commands.empty():
                cmd = commands.get_nowait()
                if cmd == "stop":
                    target = -1
                elif cmd.startswith("until "):
                    target = int(cmd.split()[1])
            if target == -1:
                break
            if target is not None and len(got) >= target:
                reached = reached or time.monotonic()
                if time.monotonic() - reached > 0.5:
                    break
            ev = await reader.read_next_event(0.1)
            if ev is not None and not ev.is_checkpoint:
                got.append(ev.event)
            if time.monotonic() - reported > 0.1:
                reported = time.monotonic()
                print(json.dumps({"count": len(got)}), flush=True)
        await reader.close()
        print(json.dumps({"events": got}), flush=True)

asyncio.run(main(*sys.argv[1:5]))
"""


class Child:
    def __init__(self, uri: str, scope: str, group: str, reader_id: str) -> None:
        root = Path(pravega.__file__).resolve().parent.parent
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(root), env.get("PYTHONPATH", "")])
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, uri, scope, group, reader_id],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: queue.Queue[dict] = queue.Queue()
        self.count = 0
        self.events: list[str] | None = None
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                self.lines.put(json.loads(line))
            except ValueError:
                pass
        self.lines.put({"exit": self.proc.wait()})

    def poll(self, timeout: float = 0.0) -> dict | None:
        try:
            msg = self.lines.get(timeout=timeout)
        except queue.Empty:
            return None
        if "count" in msg:
            self.count = msg["count"]
        if "events" in msg:
            self.events = msg["events"]
        if "exit" in msg and self.events is None:
            raise AssertionError(f"reader process exited with {msg['exit']} before reporting its events")
        return msg

    def wait_for(self, key: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self.poll(0.05)
            if msg is not None and key in msg:
                return msg
        raise AssertionError(f"reader process did not report {key!r} within {timeout}s")

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def test_two_readers_in_two_processes_then_one_goes_offline(server) -> None:
    scope, stream, group = unique("sc"), unique("st"), "g2p"

    async def prepare() -> None:
        async with Client(server.controller_uri) as client:
            await client.create_scope(scope)
            await client.create_stream(scope, stream, 3)
            await client.create_reader_group(group, scope, [stream], group_refresh_time=REFRESH)

    async def write(texts: list[str], background: list[Child]) -> None:
        async with Client(server.controller_uri) as client:
            task = asyncio.ensure_future(write_events(client, scope, stream, texts, pause_every=60, pause=0.05))
            while not task.done():
                for child in background:
                    child.poll()
                await asyncio.sleep(0.02)
            await task

    run(prepare())
    a = Child(server.controller_uri, scope, group, "a")
    b = Child(server.controller_uri, scope, group, "b")
    try:
        a.wait_for("ready", 30)
        b.wait_for("ready", 30)
        first, second = keyed(0, 900, keys=15), keyed(900, 600, keys=15)
        run(write(first, [a, b]))  # both read while the writer keeps writing
        deadline = time.monotonic() + 30
        while a.count + b.count < len(first):
            assert time.monotonic() < deadline, f"read {a.count} + {b.count} of {len(first)} events"
            a.poll(0.02)
            b.poll(0.02)
        assert a.count > 0 and b.count > 0, f"segments not shared: a read {a.count}, b read {b.count}"

        a.send("stop")  # a goes offline: its segments go back at its exact positions
        a.wait_for("events", 30)
        assert a.events is not None
        run(write(second, [b]))
        b.send(f"until {len(first) + len(second) - len(a.events)}")
        b.wait_for("events", 60)
        assert b.events is not None
        assert_exactly_once(a.events + b.events, first + second)
        assert_key_order(a.events)
        assert_key_order(b.events)
        b_after = set(b.events) & set(second)
        assert len(b_after) == len(second), "b did not take over a's segments"

        async def check() -> None:
            async with Client(server.controller_uri) as client:
                rg = await client.reader_group(group, scope)
                assert await rg.online_readers() == []
                assert await rg.unread_bytes() == 0

        run(check())
    finally:
        a.kill()
        b.kill()
