"""The pravega-native image under testcontainers: start time, ports, volumes, and both the
official client and ours writing and reading exactly once against the container."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pravega.aio import Client
from pravega.protocol import controller_pb2 as pb
from pravega.serializers import StringSerializer
from pravega.testing.container import PravegaContainer

pravega_client = pytest.importorskip("pravega_client")

ROOT = Path(__file__).resolve().parents[3]
READ_TIMEOUT = 30.0


def unique(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:10]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def report(capsys: pytest.CaptureFixture[str], text: str) -> None:
    """Print past pytest's capture, so the numbers show in the test log."""
    with capsys.disabled():
        print(f"\n  {text}")


# -- the official client: write, then read with a reader group ------------------------------


def official_write(uri: str, scope: str, stream: str, events: list[str], segments: int = 3) -> None:
    manager = pravega_client.StreamManager(uri)
    manager.create_scope(scope)
    assert manager.create_stream(scope, stream, segments) is True
    writer = manager.create_writer(scope, stream)
    for i, event in enumerate(events):
        writer.write_event(event, routing_key=f"k{i % 7}")
    writer.flush()


def official_read(uri: str, scope: str, stream: str, expected: int, readers: int = 1, linger: float = 1.5) -> list[str]:
    """Every event a new reader group returns until ``expected`` arrived (or a timeout),
    plus whatever comes in ``linger`` seconds more (duplicates would)."""
    manager = pravega_client.StreamManager(uri)
    group = manager.create_reader_group(unique("rg"), scope, stream)
    members = [group.create_reader(f"r{i}") for i in range(readers)]
    got: list[str] = []

    async def drive(reader: Any, stop: asyncio.Event) -> None:
        while not stop.is_set():
            piece = await reader.get_segment_slice_async()
            got.extend(bytes(ev.data()).decode() for ev in piece)
            reader.release_segment(piece)

    async def main() -> None:
        stop = asyncio.Event()
        tasks = [asyncio.ensure_future(drive(r, stop)) for r in members]
        deadline = time.monotonic() + READ_TIMEOUT
        while len(got) < expected and time.monotonic() < deadline:
            for t in tasks:
                if t.done():
                    t.result()
            await asyncio.sleep(0.02)
        await asyncio.sleep(linger)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)

    asyncio.run(main())
    for r in members:
        r.reader_offline()
    return got


def assert_exactly_once(got: list[str], expected: list[str]) -> None:
    have, want = Counter(got), Counter(expected)
    missing, extra = want - have, have - want
    assert not missing, f"{sum(missing.values())} events missing, e.g. {sorted(missing)[:5]}"
    assert not extra, f"{sum(extra.values())} unexpected or duplicate events, e.g. {sorted(extra)[:5]}"


# -- tests ------------------------------------------------------------------------------------


def test_start_to_ready_under_five_seconds(
    pravega_container_factory: Callable[..., PravegaContainer], capsys: pytest.CaptureFixture[str]
) -> None:
    """From start() to both ports answering (container creation included), three times."""
    timings = []
    for _ in range(3):
        container = pravega_container_factory()
        started = time.monotonic()
        container.start()
        timings.append(time.monotonic() - started)
        health = container.exec(["python", "-m", "pravega_server.healthcheck"])
        assert health.exit_code == 0, health.output
        assert b"healthy: controller=" in health.output
        container.stop()
    report(capsys, "container start-to-ready: " + ", ".join(f"{t:.2f} s" for t in timings))
    assert max(timings) < 5.0, timings


def test_non_default_ports_and_advertised_endpoint(pravega_container_factory: Callable[..., PravegaContainer]) -> None:
    ctrl, store = free_port(), free_port()
    while store == ctrl:
        store = free_port()
    container = (
        pravega_container_factory().with_controller_port(ctrl).with_segment_store_port(store).with_in_memory().start()
    )
    host = container.get_container_host_ip()
    assert container.get_controller_uri() == f"tcp://{host}:{ctrl}"
    assert container.get_segment_store_endpoint() == f"{host}:{store}"
    out = container.get_logs()[0].decode()
    assert f":{ctrl} " in out and f":{store} " in out and "in memory" in out, out

    # The segment-store address the controller hands out is the one reachable from here.
    import grpc

    from pravega.protocol.controller_pb2_grpc import ControllerServiceStub

    with grpc.insecure_channel(f"{host}:{ctrl}", options=[("grpc.enable_http_proxy", 0)]) as channel:
        node = ControllerServiceStub(channel).getURI(pb.SegmentId(), timeout=5)
    assert (node.endpoint, node.port) == (host, store)

    scope, stream = unique("ports"), "st"
    events = [f"event-{i}" for i in range(50)]
    official_write(container.get_controller_uri(), scope, stream, events)
    assert_exactly_once(official_read(container.get_controller_uri(), scope, stream, len(events)), events)


def test_data_survives_restart_with_volume(
    pravega_container_factory: Callable[..., PravegaContainer], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "pravega-data"
    container = pravega_container_factory().with_data_volume(data).start()
    uri = container.get_controller_uri()
    scope, stream = unique("vol"), "st"
    events = [f"durable-{i}" for i in range(200)]
    official_write(uri, scope, stream, events)

    container.restart()  # docker restart: the same container, ports and volume
    restart_seconds = container.startup_seconds
    assert container.get_controller_uri() == uri
    assert_exactly_once(official_read(uri, scope, stream, len(events)), events)
    container.stop()

    # A new container on the same directory (and new ports) has the same data.
    again = pravega_container_factory().with_data_volume(data).start()
    assert_exactly_once(official_read(again.get_controller_uri(), scope, stream, len(events)), events)
    report(
        capsys, f"restart-to-ready {restart_seconds:.2f} s; new container on the volume {again.startup_seconds:.2f} s"
    )

    # The server wrote as the directory's owner, so the files stay the owner's.
    owner = (data.stat().st_uid, data.stat().st_gid)
    written = [p for p in data.rglob("*") if p.is_file()]
    assert written, "the server wrote nothing into the volume"
    assert {(p.stat().st_uid, p.stat().st_gid) for p in written} == {owner}


def test_official_client_writes_and_reads_exactly_once(pravega_container: PravegaContainer) -> None:
    """The official client (pravega 0.3.8, Rust) against the session's container: two readers
    in one reader group together see every event once."""
    uri = pravega_container.get_controller_uri()
    scope, stream = unique("official"), "st"
    events = [f"official-{i}" for i in range(1000)]
    official_write(uri, scope, stream, events, segments=4)
    assert_exactly_once(official_read(uri, scope, stream, len(events), readers=2), events)


def test_our_client_transactions_read_exactly_once(pravega_container: PravegaContainer) -> None:
    """pravega's own client: two committed transactions (one committed twice) and an aborted
    one; a reader group sees exactly the committed events, once each."""
    uri = pravega_container.get_controller_uri()
    serializer = StringSerializer()

    async def body() -> list[str]:
        async with Client(uri) as client:
            scope, stream = unique("ours"), "st"
            await client.create_scope(scope)
            await client.create_stream(scope, stream, 3)
            writer = await client.create_transactional_writer(scope, stream, serializer)
            first = await writer.begin()
            for i in range(300):
                await first.write(f"first-{i}", routing_key=f"k{i % 5}")
            aborted = await writer.begin()
            for i in range(100):
                await aborted.write(f"aborted-{i}", routing_key=f"k{i % 5}")
            await first.commit()
            await first.commit()  # a repeated commit (a retry) adds nothing
            await aborted.abort()
            second = await writer.begin()
            for i in range(200):
                await second.write(f"second-{i}", routing_key=f"k{i % 5}")
            await second.commit()
            assert await first.status() == "COMMITTED" and await aborted.status() == "ABORTED"

            group = await client.create_reader_group(unique("g"), scope, [stream])
            reader = await group.create_reader("r1", serializer)
            got: list[str] = []
            deadline = time.monotonic() + READ_TIMEOUT
            while len(got) < 500 and time.monotonic() < deadline:
                ev = await reader.read_next_event(0.5)
                if ev is not None and not ev.is_checkpoint:
                    got.append(ev.event)
            extra = await reader.read_next_event(1.0)  # nothing more may come
            assert extra is None or extra.is_checkpoint, extra
            await reader.close()
            return got

    got = asyncio.run(asyncio.wait_for(body(), 90))
    assert_exactly_once(got, [f"first-{i}" for i in range(300)] + [f"second-{i}" for i in range(200)])


def test_example_with_the_fixture_passes() -> None:
    """examples/test_with_container.py (the documented way to use the fixture) passes."""
    env = dict(os.environ, PRAVEGA_TEST_CONTAINER="1")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "examples/test_with_container.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "skipped" not in proc.stdout, proc.stdout[-2000:]


@pytest.mark.parametrize(
    "script, args, verdict",
    [
        # exactly-once streaming word count (DirectRunner)
        ("beam_wordcount.py", ["--lines", "1500"], "OK"),
        # a bounded read between two stream cuts
        ("beam_batch.py", ["--orders", "2000"], "OK"),
        # PyFlink, exactly-once sink, with one injected failure of the Python map
        (
            "flink_exactly_once.py",
            ["--events", "4000", "--fail-at", "1500"],
            "each exactly once, in order per customer",
        ),
    ],
)
def test_pipelines_exactly_once_against_the_container(
    pravega_container: PravegaContainer, script: str, args: list[str], verdict: str
) -> None:
    """A Beam pipeline and a PyFlink job, run against the containerized server; each
    example checks its own output (every input exactly once, keys in order)."""
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / script),
            "--controller",
            pravega_container.get_controller_uri(),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert done.returncode == 0, f"{script} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert verdict in done.stdout, done.stdout[-2000:]
