"""Auto-scaling against a real server process, on a time scale of seconds.

The server runs with rate windows of 0.5/1/2/4 s (Pravega: 2/5/10/20 min), cooldown and
mute of 1.5 s and a check every 0.2 s, so splits and merges happen within seconds.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
import uuid
from collections import defaultdict

import pytest

import pravega
from pravega import ScalingPolicy
from pravega.aio import Client as AsyncClient
from pravega.testing import ServerProcess

pravega_client = pytest.importorskip("pravega_client")

COOLDOWN = 1.5
FAST = [
    "--autoscale-windows",
    "0.5,1,2,4",
    "--autoscale-cooldown",
    str(COOLDOWN),
    "--autoscale-mute",
    str(COOLDOWN),
    "--autoscale-interval",
    "0.2",
]


@pytest.fixture(scope="module")
def fast_server():
    with ServerProcess(extra_args=FAST) as server:
        yield server


def partitions_key_space(ranges: list[tuple[float, float]]) -> bool:
    ranges = sorted(ranges)
    return ranges[0][0] == 0.0 and ranges[-1][1] == 1.0 and all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))


def current_ranges(client: pravega.Client, scope: str, stream: str) -> list[tuple[float, float]]:
    events = client.scaling_events(scope, stream)
    live: dict[int, tuple[float, float]] = {}
    for e in events:
        for s in e.sealed:
            live.pop(s.segment_id, None)
        for s in e.created:
            live[s.segment_id] = (s.min_key, s.max_key)
    return list(live.values())


async def write_for(
    uri: str, scope: str, stream: str, rate: float, seconds: float, size: int = 10, first: int = 0
) -> list[str]:
    """Write ``rate`` events/s for ``seconds`` with 8 routing keys, numbering events from
    ``first``; returns the payloads written."""
    written = []
    async with AsyncClient(uri) as client:
        writer = await client.create_writer(scope, stream, pravega.StringSerializer())
        start = time.monotonic()
        i = 0
        while time.monotonic() - start < seconds:
            key = f"k{i % 8}"
            payload = f"{key}:{first + i}:".ljust(size, "x")
            await writer.write(payload, routing_key=key)
            written.append(payload)
            i += 1
            await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
        await writer.flush()
        await writer.close()
    return written


def wait_for(predicate, timeout: float, what: str, poll: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(poll)


def test_event_rate_stream_splits_then_merges_back(fast_server: ServerProcess) -> None:
    uri = fast_server.controller_uri
    with pravega.Client(uri) as client:
        client.create_scope("as")
        client.create_stream("as", "ev", ScalingPolicy.by_event_rate(20, 2, 1))
        asyncio.run(write_for(uri, "as", "ev", rate=100, seconds=4))
        events = client.scaling_events("as", "ev")
        assert len(events) > 1, "a stream written at 5x its target must split"
        assert all(partitions_key_space([(s.min_key, s.max_key) for s in e.created]) for e in events[:1])
        peak = current_ranges(client, "as", "ev")
        assert len(peak) > 1 and partitions_key_space(peak)
        split = events[1]
        assert len(split.sealed) == 1 and len(split.created) == 2  # scale_factor 2
        assert split.created[0].max_key == split.created[1].min_key
        # Quiet now: it merges back to min_num_segments.
        wait_for(lambda: len(current_ranges(client, "as", "ev")) == 1, 60, "the merge back to one segment")
        events = client.scaling_events("as", "ev")
        assert partitions_key_space(current_ranges(client, "as", "ev"))
        assert any(len(e.sealed) == 2 and len(e.created) == 1 for e in events)  # a merge
        gaps = [b.timestamp_ms - a.timestamp_ms for a, b in zip(events[1:], events[2:])]
        assert all(gap >= COOLDOWN * 1000 - 50 for gap in gaps), f"cooldown broken: {gaps}"
        # The stream's segments as the controller serves them agree with the history.
        info = client.stream_info("as", "ev")
        assert len(info.tail.positions) == 1


def test_data_rate_stream_splits_and_respects_min_segments(fast_server: ServerProcess) -> None:
    uri = fast_server.controller_uri
    with pravega.Client(uri) as client:
        client.create_scope("asd")
        client.create_stream("asd", "bytes", ScalingPolicy.by_data_rate(4, 2, 2))  # 4 KiB/s per segment
        asyncio.run(write_for(uri, "asd", "bytes", rate=40, seconds=4, size=1024))  # 40 KiB/s
        assert len(client.scaling_events("asd", "bytes")) > 1
        assert len(current_ranges(client, "asd", "bytes")) > 2
        wait_for(lambda: len(current_ranges(client, "asd", "bytes")) == 2, 60, "the merge back to two segments")
        time.sleep(COOLDOWN * 2)
        assert len(current_ranges(client, "asd", "bytes")) == 2  # never below min_num_segments


def test_fixed_stream_never_scales(fast_server: ServerProcess) -> None:
    uri = fast_server.controller_uri
    with pravega.Client(uri) as client:
        client.create_scope("asf")
        client.create_stream("asf", "fixed", 2)
        asyncio.run(write_for(uri, "asf", "fixed", rate=300, seconds=3))
        assert len(client.scaling_events("asf", "fixed")) == 1


def test_update_stream_switches_policies(fast_server: ServerProcess) -> None:
    uri = fast_server.controller_uri
    with pravega.Client(uri) as client:
        client.create_scope("asu")
        client.create_stream("asu", "s", 1)
        client.update_stream("asu", "s", scaling=ScalingPolicy.fixed(3))  # a higher minimum: a split now
        assert len(current_ranges(client, "asu", "s")) == 3
        client.update_stream("asu", "s", scaling=ScalingPolicy.by_event_rate(10, 2, 3))
        asyncio.run(write_for(uri, "asu", "s", rate=150, seconds=3))
        assert len(current_ranges(client, "asu", "s")) > 3  # rate-based now


def read_ours(uri: str, scope: str, stream: str, expected: int, timeout: float = 60) -> list[str]:
    with pravega.Client(uri) as client:
        group = client.create_reader_group("rg" + uuid.uuid4().hex[:6], scope, [stream])
        reader = group.create_reader("r", pravega.StringSerializer())
        got: list[str] = []
        deadline = time.monotonic() + timeout
        while len(got) < expected and time.monotonic() < deadline:
            read = reader.read_next_event(timeout=1.0)
            if read is not None and not read.is_checkpoint:
                got.append(read.event)
        # Nothing more may come.
        extra = reader.read_next_event(timeout=1.0)
        while extra is not None and extra.is_checkpoint:
            extra = reader.read_next_event(timeout=1.0)
        assert extra is None, f"unexpected extra event {extra.event!r}"
        reader.close()
        return got


def read_official(uri: str, scope: str, stream: str, expected: int, timeout: float = 60) -> list[str]:
    manager = pravega_client.StreamManager(uri)
    group = manager.create_reader_group("og" + uuid.uuid4().hex[:6], scope, stream)
    reader = group.create_reader("r")

    async def main() -> list[str]:
        got: list[str] = []
        deadline = time.monotonic() + timeout
        while len(got) < expected and time.monotonic() < deadline:
            piece = await reader.get_segment_slice_async()
            got.extend(bytes(ev.data()).decode() for ev in piece)
            reader.release_segment(piece)
        return got

    try:
        return asyncio.run(main())
    finally:
        reader.reader_offline()
        del group, manager


def assert_exactly_once_in_key_order(got: list[str], written: list[str]) -> None:
    assert sorted(got) == sorted(written), f"{len(got)} read, {len(written)} written"
    last: dict[str, int] = defaultdict(lambda: -1)
    for payload in got:
        key, seq = payload.split(":")[:2]
        assert int(seq) > last[key], f"key {key} out of order at {payload}"
        last[key] = int(seq)


def test_writers_readers_and_transactions_follow_scales(fast_server: ServerProcess) -> None:
    """Both writers keep writing while the stream splits and merges; every event is read
    once and in key order by both readers; a transaction open across a scale commits."""
    uri = fast_server.controller_uri
    with pravega.Client(uri) as client:
        client.create_scope("asw")
        client.create_stream("asw", "s", ScalingPolicy.by_event_rate(15, 2, 1))
        txn = client.create_transactional_writer("asw", "s", pravega.StringSerializer()).begin()
        txn.write("t0:0", routing_key="t0")

        official_written: list[str] = []
        errors: list[BaseException] = []

        def official_writer() -> None:
            try:
                manager = pravega_client.StreamManager(uri)
                writer = manager.create_writer("asw", "s")
                rnd = random.Random(7)
                for i in range(300):
                    key = f"o{rnd.randrange(4)}"
                    payload = f"{key}:{i}"
                    writer.write_event(payload, routing_key=key)
                    official_written.append(payload)
                    time.sleep(0.01)
                writer.flush()
                del writer, manager
            except BaseException as exc:  # reported below
                errors.append(exc)

        thread = threading.Thread(target=official_writer)
        thread.start()
        ours = asyncio.run(write_for(uri, "asw", "s", rate=80, seconds=4))
        thread.join(120)
        assert not errors, errors
        assert len(client.scaling_events("asw", "s")) > 1, "the stream must have scaled during the writes"
        txn.write("t0:1", routing_key="t0")
        txn.commit()
        written = ours + official_written + ["t0:0", "t0:1"]
        assert_exactly_once_in_key_order(read_ours(uri, "asw", "s", len(written)), written)
        assert_exactly_once_in_key_order(read_official(uri, "asw", "s", len(written)), written)


@pytest.mark.slow
def test_sigkill_during_scaling_leaves_a_consistent_stream(tmp_path) -> None:
    server = ServerProcess(tmp_path / "data", extra_args=FAST).start()
    try:
        uri = server.controller_uri
        with pravega.Client(uri) as client:
            client.create_scope("ask")
            client.create_stream("ask", "s", ScalingPolicy.by_event_rate(15, 3, 1))
        written: list[str] = []
        rnd = random.Random(3)
        for _round in range(4):
            done = threading.Event()
            result: list[list[str]] = []

            def writer(
                result: list[list[str]] = result, done: threading.Event = done, first: int = len(written)
            ) -> None:
                try:
                    result.append(asyncio.run(write_for(uri, "ask", "s", rate=100, seconds=1.5, first=first)))
                finally:
                    done.set()

            t = threading.Thread(target=writer)
            t.start()
            t.join(60)
            assert done.is_set()
            written += result[0]
            time.sleep(rnd.uniform(0.0, 1.5))  # scales keep happening: kill at a random moment
            server.kill()
            server.start()
            with pravega.Client(uri) as client:
                ranges = current_ranges(client, "ask", "s")
                assert partitions_key_space(ranges), ranges
                info = client.stream_info("ask", "s")
                assert len(info.tail.positions) == len(ranges)
        assert_exactly_once_in_key_order(read_ours(uri, "ask", "s", len(written)), written)
    finally:
        server.close()
