"""Durability: whatever the server acknowledged survives an immediate SIGKILL.

Small and deterministic: acknowledge, SIGKILL at once (no shutdown, no final sync), restart on the
same data directory and ports, and read it back with the official client.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter

import pytest

pravega_client = pytest.importorskip("pravega_client")

READ_TIMEOUT = 45.0


def read_payloads(reader, expected: list[bytes], linger: float = 1.0) -> list[bytes]:
    """Read until every expected payload was seen (bounded), then ``linger`` seconds more."""
    wanted = Counter(expected)

    async def main() -> list[bytes]:
        got: list[bytes] = []
        started = time.monotonic()
        satisfied = None
        while True:
            now = time.monotonic()
            if satisfied is None and not (wanted - Counter(got)):
                satisfied = now
            if satisfied is not None and now - satisfied >= linger:
                return got
            if now - started > READ_TIMEOUT:
                missing = wanted - Counter(got)
                raise AssertionError(f"timed out: {sum(missing.values())} events missing, e.g. {list(missing)[:5]}")
            piece = await reader.get_segment_slice_async()
            got.extend(bytes(ev.data()) for ev in piece)
            reader.release_segment(piece)

    return asyncio.run(main())


def crash_and_restart(server) -> None:
    server.kill()
    assert not server.alive()
    server.start()


_keep_alive: list = []


def fresh_reader(uri: str, scope: str, stream: str):
    """A reader of a new reader group on a new StreamManager (both kept referenced: dropping the
    manager shuts down the client's runtime under the reader)."""
    manager = pravega_client.StreamManager(uri)
    group = manager.create_reader_group("rg" + uuid.uuid4().hex[:8], scope, stream)
    _keep_alive.append((manager, group))
    return group.create_reader("r")


def test_acked_events_survive_sigkill(fresh_server) -> None:
    server = fresh_server
    manager = pravega_client.StreamManager(server.controller_uri)
    scope = "dur" + uuid.uuid4().hex[:6]
    assert manager.create_scope(scope)
    assert manager.create_stream(scope, "s1", 1)
    assert manager.create_stream(scope, "s4", 4)

    # 1. One event acknowledged through an awaited write_event_async, then SIGKILL at once.
    writer = manager.create_writer(scope, "s1")

    async def write_one() -> None:
        await writer.write_event_async("acked-async", "k")

    asyncio.run(write_one())
    crash_and_restart(server)
    got = read_payloads(fresh_reader(server.controller_uri, scope, "s1"), [b"acked-async"])
    assert got == [b"acked-async"]

    # 2. A burst acknowledged by flush() over four segments, then SIGKILL at once.
    burst_writer = manager.create_writer(scope, "s4", 256)
    burst = [f"burst-{i}".encode() + bytes([i % 251]) * (i % 300) for i in range(2000)]
    for i, data in enumerate(burst):
        burst_writer.write_event_bytes(data, f"key-{i % 17}")
    burst_writer.flush()
    crash_and_restart(server)
    got = read_payloads(fresh_reader(server.controller_uri, scope, "s4"), burst)
    assert Counter(got) == Counter(burst), "lost or duplicated events after SIGKILL"

    # 3. The writer of step 1 survives the crash: its next events go through exactly once.
    async def write_more() -> None:
        for i in range(10):
            await asyncio.wait_for(writer.write_event_async(f"after-{i}", "k"), 60)

    asyncio.run(write_more())
    crash_and_restart(server)
    expected = [b"acked-async"] + [f"after-{i}".encode() for i in range(10)]
    got = read_payloads(fresh_reader(server.controller_uri, scope, "s1"), expected)
    assert got == expected


def test_metadata_survives_sigkill(fresh_server) -> None:
    """Scopes, streams, tags, seals, committed transactions and reader-group positions are durable."""
    server = fresh_server
    uri = server.controller_uri
    manager = pravega_client.StreamManager(uri)
    scope = "meta" + uuid.uuid4().hex[:6]
    assert manager.create_scope(scope)
    assert manager.create_stream_with_policy(
        scope,
        "tagged",
        pravega_client.StreamScalingPolicy.fixed_scaling_policy(2),
        pravega_client.StreamRetentionPolicy.none(),
        ["t1", "t2"],
    )
    assert manager.create_stream(scope, "sealed", 1)
    writer = manager.create_writer(scope, "sealed")
    writer.write_event("before-seal")
    writer.flush()
    assert manager.seal_stream(scope, "sealed")

    assert manager.create_stream(scope, "txn", 2)
    txn_writer = manager.create_transaction_writer(scope, "txn", 5)
    txn = txn_writer.begin_txn()
    for i in range(20):
        txn.write_event(f"txn-{i}", f"k{i % 3}")
    txn.commit()
    open_txn = txn_writer.begin_txn()
    open_txn.write_event("never-committed")
    crash_and_restart(server)

    manager = pravega_client.StreamManager(uri)
    assert scope in manager.list_scope()
    assert {"tagged", "sealed", "txn"} <= set(s.rsplit("/", 1)[-1] for s in manager.list_stream(scope))
    assert sorted(manager.get_stream_tags(scope, "tagged")) == ["t1", "t2"]
    assert read_payloads(fresh_reader(uri, scope, "sealed"), [b"before-seal"]) == [b"before-seal"]

    # The committed transaction is there; the open one is not visible.
    got = read_payloads(fresh_reader(uri, scope, "txn"), [f"txn-{i}".encode() for i in range(20)], linger=1.5)
    assert sorted(got) == sorted(f"txn-{i}".encode() for i in range(20))

    # Reader-group state is durable: after a reader hands its position back, a crash does not lose it.
    assert manager.create_stream(scope, "rg", 1)
    writer = manager.create_writer(scope, "rg")
    for i in range(10):
        writer.write_event(f"first-{i}")
    writer.flush()
    group_name = "rg" + uuid.uuid4().hex[:6]
    group = manager.create_reader_group(group_name, scope, "rg")
    reader = group.create_reader("r1")
    read_payloads(reader, [f"first-{i}".encode() for i in range(10)], linger=0)
    reader.reader_offline()
    crash_and_restart(server)
    manager = pravega_client.StreamManager(uri)
    writer = manager.create_writer(scope, "rg")
    for i in range(5):
        writer.write_event(f"second-{i}")
    writer.flush()
    group = manager.create_reader_group(group_name, scope, "rg")  # exists: keeps its state
    got = read_payloads(group.create_reader("r2"), [f"second-{i}".encode() for i in range(5)], linger=1.5)
    assert got == [f"second-{i}".encode() for i in range(5)]

    # Still sealed after the crash: delete_stream only succeeds for a sealed stream.  (Writing to
    # it is not tried: the client hangs instead of failing when SetupAppend gets SegmentIsSealed.)
    assert manager.delete_stream(scope, "sealed") is True
    assert "sealed" not in set(s.rsplit("/", 1)[-1] for s in manager.list_stream(scope))
