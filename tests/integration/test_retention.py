"""Retention policies enforced by a real server process (retention cycle every 0.3 s):
by time, by size, and consumption-based (subscriber reader groups), truncating on event
boundaries so readers from the head see whole events only."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest

import pravega
import pravega.aio
from pravega import RetentionPolicy
from pravega.protocol import controller_pb2 as pb
from pravega.protocol.controller_pb2_grpc import ControllerServiceStub
from pravega.testing import ServerProcess

INTERVAL = 0.3


@pytest.fixture(scope="module")
def retention_server():
    with ServerProcess(extra_args=["--retention-interval", str(INTERVAL)]) as server:
        yield server


def stream_bytes(client: pravega.Client, scope: str, stream: str) -> int:
    """Bytes between the head and the tail (one-segment streams)."""
    info = client.stream_info(scope, stream)
    assert len(info.tail.positions) == 1
    ((sid, tail),) = info.tail.positions.items()
    return tail - info.head.positions.get(sid, 0)


def head_offset(client: pravega.Client, scope: str, stream: str) -> int:
    return sum(client.stream_info(scope, stream).head.positions.values())


def read_all(uri: str, scope: str, stream: str) -> list[str]:
    async def go() -> list[str]:
        async with pravega.aio.Client(uri) as c:
            batch = c.batch_client()
            out: list[str] = []
            for sl in await batch.list_segments(scope, stream):
                out += [e async for e in batch.read_segment(sl, pravega.StringSerializer())]
            return out

    return asyncio.run(go())


def write(client: pravega.Client, scope: str, stream: str, start: int, n: int, size: int = 100) -> None:
    writer = client.create_writer(scope, stream, pravega.StringSerializer())
    for i in range(start, start + n):
        writer.write(f"{i:08d}".ljust(size, "."))
    writer.flush()
    writer.close()


def test_by_size_keeps_the_stream_within_its_limits(retention_server: ServerProcess) -> None:
    with pravega.Client(retention_server.controller_uri) as client:
        client.create_scope("rs")
        client.create_stream("rs", "s", 1, retention=RetentionPolicy.by_size(20_000))
        for round_ in range(6):
            write(client, "rs", "s", round_ * 100, 100)  # 10.8 KB per round
            time.sleep(INTERVAL * 1.5)
        deadline = time.monotonic() + 10
        while head_offset(client, "rs", "s") == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        size = stream_bytes(client, "rs", "s")
        assert head_offset(client, "rs", "s") > 0, "nothing was truncated"
        assert 20_000 <= size <= 20_000 + 2 * 10_800, size
        events = read_all(retention_server.controller_uri, "rs", "s")
        numbers = [int(e[:8]) for e in events]
        assert numbers == list(range(numbers[0], 600)), "the head must be an event boundary, the rest intact"
        assert numbers[0] > 0


def test_by_time_drops_old_data(retention_server: ServerProcess) -> None:
    with pravega.Client(retention_server.controller_uri) as client:
        client.create_scope("rt")
        client.create_stream("rt", "s", 1, retention=RetentionPolicy.by_time(1500))
        write(client, "rt", "s", 0, 50)
        time.sleep(0.6)
        write(client, "rt", "s", 50, 50)
        assert head_offset(client, "rt", "s") == 0  # all of it is younger than 1.5 s
        deadline = time.monotonic() + 15
        while head_offset(client, "rt", "s") == 0 and time.monotonic() < deadline:
            write(client, "rt", "s", 1000, 1)
            time.sleep(0.2)
        events = read_all(retention_server.controller_uri, "rt", "s")
        assert int(events[0][:8]) >= 50 or int(events[0][:8]) == 1000, "the first batch is older than 1.5 s"


def _rg_config(scope: str, name: str, stream: str, retention_type: int) -> pb.ReaderGroupConfiguration:
    cut = pb.StreamCut(streamInfo=pb.StreamInfo(scope=scope, stream=stream), cut={})
    return pb.ReaderGroupConfiguration(
        scope=scope,
        readerGroupName=name,
        groupRefreshTimeMillis=3000,
        automaticCheckpointIntervalMillis=30000,
        maxOutstandingCheckpointRequest=3,
        retentionType=retention_type,
        generation=0,
        readerGroupId="",
        startingStreamCuts=[cut],
        endingStreamCuts=[cut],
    )


def test_consumption_based_retention_follows_the_slowest_subscriber(retention_server: ServerProcess) -> None:
    uri = retention_server.controller_uri
    channel = grpc.insecure_channel(uri.removeprefix("tcp://"))
    stub = ControllerServiceStub(channel)
    with pravega.Client(uri) as client:
        client.create_scope("rc")
        client.create_stream("rc", "s", 1, retention=RetentionPolicy.by_size(1, 200_000))
        created = stub.createReaderGroup(_rg_config("rc", "slow", "s", 1))  # MANUAL_RELEASE_AT_USER_STREAMCUT
        assert created.status == pb.CreateReaderGroupResponse.SUCCESS
        write(client, "rc", "s", 0, 200)
        time.sleep(INTERVAL * 4)
        assert head_offset(client, "rc", "s") == 0, "a subscriber without a cut holds everything"
        (sid,) = client.stream_info("rc", "s").tail.positions
        cut_at = 50 * 108  # after event 49 (100 B + 8 B header each)
        reply = stub.updateSubscriberStreamCut(
            pb.SubscriberStreamCut(
                subscriber="rc/slow",
                generation=created.config.generation,
                readerGroupId=created.config.readerGroupId,
                streamCut=pb.StreamCut(streamInfo=pb.StreamInfo(scope="rc", stream="s"), cut={sid: cut_at}),
            )
        )
        assert reply.status == pb.UpdateSubscriberStatus.SUCCESS
        deadline = time.monotonic() + 10
        while head_offset(client, "rc", "s") != cut_at and time.monotonic() < deadline:
            time.sleep(0.1)
        assert head_offset(client, "rc", "s") == cut_at, "truncated at the subscriber's cut, not further"
        assert int(read_all(uri, "rc", "s")[0][:8]) == 50
        # Past the maximum, data goes even though the subscriber did not release it.
        write(client, "rc", "s", 200, 2000)
        deadline = time.monotonic() + 10
        while stream_bytes(client, "rc", "s") > 200_000 + 2 * 108 * 2000 and time.monotonic() < deadline:
            time.sleep(0.1)
        deadline = time.monotonic() + 10
        while stream_bytes(client, "rc", "s") > 200_000 + 108 * 100 and time.monotonic() < deadline:
            write(client, "rc", "s", 5000, 1)
            time.sleep(0.2)
        assert head_offset(client, "rc", "s") > cut_at
        assert stream_bytes(client, "rc", "s") >= 200_000
    channel.close()


def test_retention_survives_a_restart(tmp_path) -> None:
    """The retention set is durable: a restart does not restart the clock."""
    server = ServerProcess(tmp_path / "d", extra_args=["--retention-interval", str(INTERVAL)]).start()
    try:
        with pravega.Client(server.controller_uri) as client:
            client.create_scope("rr")
            client.create_stream("rr", "s", 1, retention=RetentionPolicy.by_time(2000))
            write(client, "rr", "s", 0, 20)
            time.sleep(INTERVAL * 3)
        server.kill()
        server.start()
        with pravega.Client(server.controller_uri) as client:
            time.sleep(1.0)
            write(client, "rr", "s", 20, 20)
            deadline = time.monotonic() + 10
            while head_offset(client, "rr", "s") == 0 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert head_offset(client, "rr", "s") > 0, "the cut recorded before the restart was used"
    finally:
        server.close()
