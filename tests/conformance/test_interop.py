"""Our client and the official client (pravega_client, Rust inside) on the same streams.

Events written by either are read by the other; for the same routing key both pick
the same segment; a transaction written with ours is invisible to the official reader
until it commits.
"""

from __future__ import annotations

from collections import defaultdict

import pytest
from test_official_client import new_stream, read_events, read_exactly, unique

import pravega
from pravega import naming


@pytest.fixture(scope="module")
def ours(server):
    with pravega.Client(server.controller_uri) as client:
        yield client


def segment_events(ours: pravega.Client, scope: str, stream: str) -> dict[int, list[bytes]]:
    """Every event of a stream, per segment id, read with our batch client."""
    batch = ours.batch_client()
    out: dict[int, list[bytes]] = defaultdict(list)
    for piece in batch.list_segments(scope, stream):
        out[piece.segment_id].extend(batch.read_segment(piece))
    return out


def test_same_routing_key_same_segment_and_cross_reads(manager, scope, ours) -> None:
    stream = new_stream(manager, scope, 4)
    keys = [f"key-{i}" for i in range(24)]
    official_events = [f"official:{k}:{n}".encode() for n in range(5) for k in keys]
    our_events = [f"ours:{k}:{n}".encode() for n in range(5) for k in keys]

    writer = manager.create_writer(scope, stream)
    for event in official_events:
        writer.write_event_bytes(event, routing_key=event.decode().split(":")[1])
    writer.flush()
    with ours.create_writer(scope, stream) as mine:
        futures = [mine.write(e, routing_key=e.decode().split(":")[1]) for e in our_events]
        for f in futures:
            f.result(30)

    # Both clients put each key into one and the same segment, in write order.
    where: dict[str, set[int]] = defaultdict(set)
    order: dict[tuple[str, str], list[int]] = defaultdict(list)
    for segment_id, events in segment_events(ours, scope, stream).items():
        for event in events:
            origin, key, n = event.decode().split(":")
            where[key].add(segment_id)
            order[(origin, key)].append(int(n))
    assert len(where) == len(keys)
    assert all(len(s) == 1 for s in where.values()), {k: s for k, s in where.items() if len(s) > 1}
    assert len({next(iter(s)) for s in where.values()}) > 1, "keys should spread over the segments"
    assert all(v == sorted(v) == list(range(5)) for v in order.values())

    # The official reader reads what both wrote, exactly once.
    group = manager.create_reader_group(unique("rg"), scope, stream)
    read_exactly([group.create_reader("r")], official_events + our_events)

    # Our reader group reads what both wrote, exactly once, each key from one segment.
    our_group = ours.create_reader_group(unique("ours"), scope, [stream])
    reader = our_group.create_reader("r", pravega.BytesSerializer())
    got: list[bytes] = []
    segments_of: dict[str, set[str]] = defaultdict(set)
    while len(got) < len(official_events) + len(our_events):
        read = reader.read_next_event(timeout=10.0)
        assert read is not None, f"our reader stalled after {len(got)} events"
        if read.is_checkpoint:
            continue
        got.append(read.event)
        segments_of[read.event.decode().split(":")[1]].add(read.segment)
    reader.close()
    assert sorted(got) == sorted(official_events + our_events)
    assert all(len(s) == 1 for s in segments_of.values())
    for key, (segment_id,) in ((k, tuple(s)) for k, s in where.items()):
        assert segments_of[key] == {naming.qualified_segment_name(scope, stream, segment_id)}


def test_our_transaction_is_invisible_to_the_official_reader_until_commit(manager, scope, ours) -> None:
    stream = new_stream(manager, scope, 2)
    group = manager.create_reader_group(unique("rg"), scope, stream)
    official_reader = group.create_reader("r")

    txn = ours.create_transactional_writer(scope, stream).begin()
    events = [f"txn-{i}".encode() for i in range(50)]
    for i, event in enumerate(events):
        txn.write(event, routing_key=f"k{i % 5}")
    txn.flush()  # durable in the transaction's segments, not in the stream
    try:  # read for 3 s: anything seen is a failure, a timeout the expected outcome
        seen = read_events([official_reader], lambda got: len(got) > 0, timeout=3.0, what="no events")
    except AssertionError:
        seen = []
    assert seen == [], f"the official reader saw uncommitted events: {seen[:5]}"

    txn.commit()
    read_exactly([official_reader], events)
