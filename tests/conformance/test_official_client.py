"""The official Python client (`pravega==0.3.8`, Rust inside) against a real server process.

Covers the whole public API of spec §4.1: scopes and streams, event writers (routing keys,
async writes, in-flight windows, events over 8 MiB), transactions, reader groups (head, tail,
stream cuts, several streams, several readers, offline readers, deletion) and byte streams.

Reading is driven by :func:`read_events`, which polls readers' ``get_segment_slice_async`` (the
client returns an empty slice after about one second without data) until a condition holds,
with a hard time bound, and records for every event the reader, the slice (one slice = data of
one segment) and the offset reported by the client.
"""

from __future__ import annotations

import asyncio
import struct
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import pytest

pravega_client = pytest.importorskip("pravega_client")

#: Upper bound for any "read until all N events are seen" loop.
READ_TIMEOUT = 45.0
EVENT_HEADER = 8  # type:i32 = 0, length:i32 (spec §2.5)


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def unique(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:10]


def names(listing: Iterable[str]) -> set[str]:
    """Stream/scope names from a listing (tolerates ``scope/stream`` formatting)."""
    return {item.rsplit("/", 1)[-1] for item in listing}


def new_stream(manager, scope: str, segments: int = 1, prefix: str = "st") -> str:
    name = unique(prefix)
    assert manager.create_stream(scope, name, segments) is True, f"create_stream({scope}/{name}, {segments})"
    return name


@dataclass(frozen=True)
class ReadEvent:
    reader: int  # index of the reader (in the list passed to read_events) that returned it
    slice_no: int  # sequence number of the slice it came in; a slice holds data of one segment
    offset: int  # EventData.offset(): position of the event header in its segment
    data: bytes


def read_events(
    readers: Sequence,
    until: Callable[[list[ReadEvent]], bool],
    *,
    timeout: float = READ_TIMEOUT,
    linger: float = 0.0,
    what: str = "events",
) -> list[ReadEvent]:
    """Read with all ``readers`` concurrently until ``until(events)`` holds, then ``linger`` more seconds.

    Every slice is released back to its reader.  Fails with a descriptive message when the
    condition does not hold within ``timeout`` seconds.
    """
    return asyncio.run(_read_events(list(readers), until, timeout, linger, what))


async def _read_events(readers, until, timeout, linger, what) -> list[ReadEvent]:
    loop = asyncio.get_running_loop()
    events: list[ReadEvent] = []
    slice_counter = iter(range(1 << 62))
    stop = asyncio.Event()

    async def drive(index: int, reader) -> None:
        while not stop.is_set():
            piece = await reader.get_segment_slice_async()
            number = next(slice_counter)
            batch = [ReadEvent(index, number, ev.offset(), bytes(ev.data())) for ev in piece]
            reader.release_segment(piece)
            events.extend(batch)

    tasks = [asyncio.ensure_future(drive(i, r)) for i, r in enumerate(readers)]
    started = loop.time()
    satisfied_at: float | None = None
    timed_out = False
    try:
        while True:
            failed = [t for t in tasks if t.done()]
            if failed:
                failed[0].result()  # re-raise the reader's exception
                raise AssertionError("a reader loop ended unexpectedly")
            now = loop.time()
            if satisfied_at is None and until(events):
                satisfied_at = now
            if satisfied_at is not None and now - satisfied_at >= linger:
                break
            if now - started > timeout:
                timed_out = True
                break
            await asyncio.sleep(0.02)
    finally:
        stop.set()
        # Each pending acquire returns within about a second; keep what it brings.
        results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 30)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    if timed_out:
        raise AssertionError(
            f"timed out after {timeout:.0f} s waiting for {what}: read {len(events)} events so far; "
            f"first ones: {[e.data[:40] for e in events[:5]]}"
        )
    return events


def read_exactly(
    readers: Sequence, expected: Iterable[bytes], *, linger: float = 1.0, what: str = ""
) -> list[ReadEvent]:
    """Read until every expected payload was seen; assert that nothing else and nothing twice was read."""
    wanted = Counter(expected)
    total = sum(wanted.values())

    def done(events: list[ReadEvent]) -> bool:
        return len(events) >= total and not (wanted - Counter(e.data for e in events))

    events = read_events(readers, done, linger=linger, what=what or f"{total} events")
    got = Counter(e.data for e in events)
    missing = wanted - got
    extra = got - wanted
    assert not missing, f"missing {sum(missing.values())} events, e.g. {list(missing)[:5]}"
    assert not extra, f"unexpected/duplicate events: {sum(extra.values())}, e.g. {list(extra.items())[:5]}"
    return events


# MurmurHash3 x64-128 (seed 1741865571 over UTF-16LE code units): the client's routing-key hash (§1.6).
_M64 = (1 << 64) - 1


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & _M64


def _fmix(k: int) -> int:
    k ^= k >> 33
    k = (k * 0xFF51AFD7ED558CCD) & _M64
    k ^= k >> 33
    k = (k * 0xC4CEB9FE1A85EC53) & _M64
    return k ^ (k >> 33)


def _murmur3_x64_128_h1(data: bytes, seed: int) -> int:
    c1, c2 = 0x87C37B91114253D5, 0x4CF5AD432745937F
    h1 = h2 = seed
    nblocks = len(data) // 16
    for i in range(nblocks):
        k1 = int.from_bytes(data[16 * i : 16 * i + 8], "little")
        k2 = int.from_bytes(data[16 * i + 8 : 16 * i + 16], "little")
        h1 ^= (_rotl((k1 * c1) & _M64, 31) * c2) & _M64
        h1 = (_rotl(h1, 27) + h2) & _M64
        h1 = (h1 * 5 + 0x52DCE729) & _M64
        h2 ^= (_rotl((k2 * c2) & _M64, 33) * c1) & _M64
        h2 = (_rotl(h2, 31) + h1) & _M64
        h2 = (h2 * 5 + 0x38495AB5) & _M64
    tail = data[16 * nblocks :]
    if len(tail) > 8:
        h2 ^= (_rotl((int.from_bytes(tail[8:], "little") * c2) & _M64, 33) * c1) & _M64
    if tail:
        h1 ^= (_rotl((int.from_bytes(tail[:8], "little") * c1) & _M64, 31) * c2) & _M64
    h1 ^= len(data)
    h2 ^= len(data)
    h1 = (h1 + h2) & _M64
    h2 = (h2 + h1) & _M64
    h1, h2 = _fmix(h1), _fmix(h2)
    return (h1 + h2) & _M64


def routing_key_hash(key: str) -> float:
    """The position in [0, 1) the client assigns to a routing key."""
    h1 = _murmur3_x64_128_h1(key.encode("utf-16-le"), 1741865571)
    return struct.unpack(">d", struct.pack(">Q", 0x3FF0000000000000 | (h1 >> 12)))[0] - 1.0


def test_routing_hash_matches_client_test_vector() -> None:
    assert routing_key_hash("hello") == pytest.approx(0.658716230571337, abs=1e-15)


def check_segment_layout(events: list[ReadEvent], key_of: Callable[[bytes], str], segments: int) -> None:
    """Per slice: one segment, contiguous offsets; per routing key: one segment.

    Events of one slice come from one segment, so the keys in a slice must all hash into the same
    key range (the server creates ``segments`` equal ranges), and, per range, the offsets of all
    events must tile the segment from 0 with no gap or overlap (8-byte header + data each).
    """
    by_slice: dict[int, list[ReadEvent]] = defaultdict(list)
    for ev in events:
        by_slice[ev.slice_no].append(ev)
    by_bucket: dict[int, list[ReadEvent]] = defaultdict(list)
    for number, group in by_slice.items():
        buckets = {int(routing_key_hash(key_of(ev.data)) * segments) for ev in group}
        assert len(buckets) == 1, f"slice {number} mixes events of key ranges {sorted(buckets)}"
        for a, b in zip(group, group[1:]):
            assert b.offset == a.offset + EVENT_HEADER + len(a.data), (
                f"non-contiguous offsets inside one slice: {a.offset}+{EVENT_HEADER + len(a.data)} != {b.offset}"
            )
        by_bucket[buckets.pop()].extend(group)
    for bucket, group in by_bucket.items():
        group.sort(key=lambda e: e.offset)
        position = 0
        for ev in group:
            assert ev.offset == position, f"key range {bucket}: event at offset {ev.offset}, expected {position}"
            position += EVENT_HEADER + len(ev.data)


# ---------------------------------------------------------------------------------------------
# Scopes and streams
# ---------------------------------------------------------------------------------------------


def test_scope_lifecycle(manager) -> None:
    scope = unique("sc")
    assert manager.create_scope(scope) is True
    assert manager.create_scope(scope) is False, "creating an existing scope returns False"
    assert scope in names(manager.list_scope())

    stream = "only"
    assert manager.create_stream(scope, stream, 1) is True
    assert manager.create_stream(scope, stream, 1) is False, "creating an existing stream returns False"
    assert names(manager.list_stream(scope)) == {stream}

    with pytest.raises(ValueError):
        manager.delete_scope(scope)  # SCOPE_NOT_EMPTY
    assert scope in names(manager.list_scope())

    assert manager.seal_stream(scope, stream) is True
    assert manager.delete_stream(scope, stream) is True
    assert names(manager.list_stream(scope)) == set()
    assert manager.delete_scope(scope) is True
    assert scope not in names(manager.list_scope())
    assert manager.delete_scope(scope) is False, "deleting a missing scope returns False"


def test_list_streams_pages_through_many(manager) -> None:
    scope = unique("many")
    assert manager.create_scope(scope)
    created = {f"s{i:03d}" for i in range(45)}
    for name in created:
        assert manager.create_stream(scope, name, 1)
    assert names(manager.list_stream(scope)) == created
    assert manager.list_stream(unique("nosuchscope")) == []


def test_stream_policies_tags_and_update(manager, scope) -> None:
    Scaling, Retention = pravega_client.StreamScalingPolicy, pravega_client.StreamRetentionPolicy

    fixed = unique("fixed")
    assert (
        manager.create_stream_with_policy(
            scope, fixed, Scaling.fixed_scaling_policy(3), Retention.by_size(10 * 1024 * 1024), ["a", "b"]
        )
        is True
    )
    assert sorted(manager.get_stream_tags(scope, fixed)) == ["a", "b"]

    by_data = unique("bydata")
    assert (
        manager.create_stream_with_policy(
            scope, by_data, Scaling.auto_scaling_policy_by_data_rate(1024, 2, 2), Retention.by_time(3_600_000), ["x"]
        )
        is True
    )
    assert manager.get_stream_tags(scope, by_data) == ["x"]

    by_events = unique("byevents")
    assert (
        manager.create_stream_with_policy(
            scope, by_events, Scaling.auto_scaling_policy_by_event_rate(1000, 3, 2), Retention.none()
        )
        is True
    )
    assert manager.get_stream_tags(scope, by_events) in (None, [])

    default = unique("default")
    assert manager.create_stream_with_policy(scope, default) is True
    assert manager.create_stream_with_policy(scope, default) is False

    assert (
        manager.update_stream_with_policy(
            scope, fixed, Scaling.fixed_scaling_policy(3), Retention.by_size(20 * 1024 * 1024), ["c"]
        )
        is True
    )
    assert manager.get_stream_tags(scope, fixed) == ["c"]
    assert (
        manager.update_stream_with_policy(
            scope,
            by_events,
            Scaling.auto_scaling_policy_by_event_rate(2000, 2, 2),
            Retention.by_time(60_000),
            ["t1", "t2", "t3"],
        )
        is True
    )
    assert sorted(manager.get_stream_tags(scope, by_events)) == ["t1", "t2", "t3"]

    assert {fixed, by_data, by_events, default} <= names(manager.list_stream(scope))

    # Every created stream has the number of segments it was created with (ids 0..n-1 of epoch 0,
    # as listed by a head reader group's stream cut) and is writable and readable.
    for stream, segments in ((fixed, 3), (by_data, 2), (by_events, 2), (default, 1)):
        group = manager.create_reader_group(unique("rg"), scope, stream)
        cut = group.get_streamcut().get_segment_offset_map()
        assert cut == {i: 0 for i in range(segments)}, f"{stream}: head stream cut {cut}"
        writer = manager.create_writer(scope, stream)
        expected = [f"{stream}:{i}".encode() for i in range(4 * segments)]
        for i, data in enumerate(expected):
            writer.write_event_bytes(data, f"key{i}")
        writer.flush()
        read_exactly([group.create_reader("r")], expected, linger=0)

    with pytest.raises(ValueError):
        manager.get_stream_tags(scope, unique("missing"))


def test_seal_and_delete_stream(manager, scope) -> None:
    stream = new_stream(manager, scope, 2)
    writer = manager.create_writer(scope, stream)
    before = [f"before-{i}".encode() for i in range(20)]
    for i, data in enumerate(before):
        writer.write_event_bytes(data, f"k{i}")
    writer.flush()

    # Java semantics: an unsealed stream cannot be deleted (STREAM_NOT_SEALED surfaces as an error).
    try:
        deleted = manager.delete_stream(scope, stream)
    except ValueError:
        deleted = False
    assert deleted is False, "delete_stream of an unsealed stream must fail"
    assert stream in names(manager.list_stream(scope))

    assert manager.seal_stream(scope, stream) is True

    async def write_after_seal() -> None:
        await writer.write_event_async("after-seal", "k0")

    with pytest.raises(Exception):  # noqa: B017 (the official client raises untyped errors)
        asyncio.run(asyncio.wait_for(write_after_seal(), 60))

    # A reader still reads everything written before the seal.
    group = manager.create_reader_group(unique("rg"), scope, stream)
    read_exactly([group.create_reader("r")], before)

    assert manager.delete_stream(scope, stream) is True
    assert stream not in names(manager.list_stream(scope))
    assert manager.delete_stream(scope, stream) is False, "deleting a missing stream returns False"


# ---------------------------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------------------------


def test_write_event_and_bytes_single_segment(manager, scope) -> None:
    stream = new_stream(manager, scope, 1)
    writer = manager.create_writer(scope, stream)
    expected = []
    for i in range(50):
        text = f"text-{i}-" + "é" * (i % 7)  # non-ASCII: str events are UTF-8 encoded
        writer.write_event(text)
        expected.append(text.encode())
        raw = bytes([i % 256]) * (i * 13) + b"\x00\xff"
        writer.write_event_bytes(raw)
        expected.append(raw)
    # (No empty event: the official reader stalls on a zero-length event, a client quirk.)
    writer.flush()

    group = manager.create_reader_group(unique("rg"), scope, stream)
    events = read_exactly([group.create_reader("r")], expected)
    # One segment, one writer: the order of the read is the order of the writes, offsets tile it.
    ordered = sorted(events, key=lambda e: e.offset)
    assert [e.data for e in ordered] == expected
    position = 0
    for ev in ordered:
        assert ev.offset == position
        position += EVENT_HEADER + len(ev.data)


def test_routing_keys_over_four_segments(manager, scope) -> None:
    stream = new_stream(manager, scope, 4)
    writer = manager.create_writer(scope, stream, 64)
    keys = [f"key-{k}" for k in range(24)]
    # Sanity: the keys spread over all four equal key ranges.
    assert {int(routing_key_hash(k) * 4) for k in keys} == {0, 1, 2, 3}
    expected = []
    for seq in range(25):
        for key in keys:
            data = f"{key}|{seq:04d}|".encode() + b"p" * (seq % 5)
            writer.write_event_bytes(data, key)
            expected.append(data)
    writer.flush()

    group = manager.create_reader_group(unique("rg"), scope, stream)
    assert group.get_streamcut().get_segment_offset_map() == {0: 0, 1: 0, 2: 0, 3: 0}
    events = read_exactly([group.create_reader("r")], expected)

    def key_of(data: bytes) -> str:
        return data.split(b"|")[0].decode()

    # Per routing key, order is preserved.
    per_key: dict[str, list[int]] = defaultdict(list)
    for ev in events:
        per_key[key_of(ev.data)].append(int(ev.data.split(b"|")[1]))
    for key, seqs in per_key.items():
        assert seqs == sorted(seqs), f"order of key {key} not preserved: {seqs}"
    check_segment_layout(events, key_of, 4)


def test_write_event_async_awaited(manager, scope) -> None:
    stream = new_stream(manager, scope, 2)
    writer = manager.create_writer(scope, stream)
    expected = [f"async-{i}".encode() for i in range(300)]

    async def main() -> None:
        # One at a time, then many concurrently.
        for i in range(20):
            assert await writer.write_event_async(expected[i].decode(), f"k{i % 3}") is None
        futures = [writer.write_event_async(e.decode(), f"k{i % 3}") for i, e in enumerate(expected[20:])]
        results = await asyncio.wait_for(asyncio.gather(*futures), 60)
        assert results == [None] * len(futures)

    asyncio.run(main())
    group = manager.create_reader_group(unique("rg"), scope, stream)
    events = read_exactly([group.create_reader("r")], expected)
    # The 20 awaited one by one keep their order (concurrently issued ones may be reordered by
    # the client, which takes its writer lock in spawned tasks).
    sequential = [int(e.data.split(b"-")[1]) for e in events if int(e.data.split(b"-")[1]) < 20]
    for key in range(3):
        seq = [s for s in sequential if s % 3 == key]
        assert seq == sorted(seq), f"order of key k{key}: {seq}"


def test_max_inflight_events_and_flush(manager, scope) -> None:
    stream = new_stream(manager, scope, 1)
    writer = manager.create_writer(scope, stream, 1000)
    expected = [f"inflight-{i:05d}".encode() + b"x" * (i % 100) for i in range(3000)]
    started = time.monotonic()
    for data in expected:
        writer.write_event_bytes(data, "same-key")
    writer.flush()
    elapsed = time.monotonic() - started
    group = manager.create_reader_group(unique("rg"), scope, stream)
    events = read_exactly([group.create_reader("r")], expected)
    assert [e.data for e in sorted(events, key=lambda e: e.offset)] == expected
    print(f"3000 events with max_inflight_events=1000 in {elapsed:.2f} s")


def test_event_larger_than_8_mib(manager, scope) -> None:
    """Events over 8 MiB go through CreateTransientSegment + ConditionalBlockEnd + MergeSegments."""
    stream = new_stream(manager, scope, 1)
    writer = manager.create_writer(scope, stream)
    big = bytes(range(256)) * ((8 * 1024 * 1024 + 4096) // 256) + b"tail"
    assert len(big) > 8 * 1024 * 1024
    writer.write_event_bytes(b"small-before")
    writer.flush()
    writer.write_event_bytes(big)
    writer.flush()
    writer.write_event_bytes(b"small-after")
    writer.flush()

    # Exact bytes of the segment, read back through a byte stream on the same 1-segment stream:
    # every event is its 8-byte header and its data, in order, with nothing in between.
    layout = b"".join(struct.pack(">ii", 0, len(e)) + e for e in (b"small-before", big, b"small-after"))
    byte_stream = manager.create_byte_stream(scope, stream)
    assert byte_stream.current_tail_offset() == len(layout)
    assert byte_stream.seek(0, 0) == 0
    raw = bytearray()
    buf = bytearray(1 << 20)
    while len(raw) < len(layout):
        n = byte_stream.readinto(buf)
        assert n > 0
        raw += buf[:n]
    assert bytes(raw) == layout

    group = manager.create_reader_group(unique("rg"), scope, stream)
    events = read_exactly([group.create_reader("r")], [b"small-before", big, b"small-after"])
    assert [e.offset for e in sorted(events, key=lambda e: e.offset)] == [0, 20, 20 + 8 + len(big)]


# ---------------------------------------------------------------------------------------------
# Transactions
# ---------------------------------------------------------------------------------------------


def test_transactions_commit_and_abort(manager, scope) -> None:
    stream = new_stream(manager, scope, 2)
    writer = manager.create_writer(scope, stream)
    txn_writer = manager.create_transaction_writer(scope, stream, 7)
    group = manager.create_reader_group(unique("rg"), scope, stream)
    reader = group.create_reader("r")

    txn = txn_writer.begin_txn()
    assert txn.is_open() is True
    txn_id = txn.get_txn_id()
    assert isinstance(txn_id, int) and txn_id > 0
    committed = [f"txn-commit-{i}".encode() for i in range(30)]
    for i, data in enumerate(committed):
        txn.write_event_bytes(data, f"k{i % 4}")
    txn.write_event("txn-commit-str", "k0")
    committed.append(b"txn-commit-str")

    # get_txn finds the open transaction; the returned handle is closed for writes.
    found = txn_writer.get_txn(txn_id)
    assert found.get_txn_id() == txn_id
    assert found.is_open() is True
    with pytest.raises(pravega_client.TxnFailedException):
        found.write_event("via-get-txn")

    # Not visible before commit: events written after the transaction's events are read, the
    # transaction's are not.
    outside = [f"plain-{i}".encode() for i in range(10)]
    for i, data in enumerate(outside):
        writer.write_event_bytes(data, f"k{i % 4}")
    writer.flush()
    read_exactly([reader], outside, linger=1.5, what="non-transactional events")

    txn.commit()
    assert txn.is_open() is False
    with pytest.raises(pravega_client.TxnFailedException):
        txn.write_event("after-commit")
    read_exactly([reader], committed, linger=0.5, what="committed transaction events")

    # Abort: never visible.
    aborted_txn = txn_writer.begin_txn()
    assert aborted_txn.get_txn_id() != txn_id
    for i in range(20):
        aborted_txn.write_event(f"txn-abort-{i}", f"k{i % 4}")
    assert aborted_txn.is_open() is True
    aborted_txn.abort()
    assert aborted_txn.is_open() is False
    with pytest.raises(pravega_client.TxnFailedException):
        aborted_txn.commit()
    marker = [f"marker-{i}".encode() for i in range(8)]
    for i, data in enumerate(marker):
        writer.write_event_bytes(data, f"k{i % 4}")
    writer.flush()
    read_exactly([reader], marker, linger=1.5, what="events after the aborted transaction")

    # A transaction with no events commits cleanly; and a new reader sees exactly plain + committed + marker.
    empty = txn_writer.begin_txn()
    empty.commit()
    assert empty.is_open() is False
    fresh = manager.create_reader_group(unique("rg"), scope, stream)
    read_exactly([fresh.create_reader("r")], outside + committed + marker)


def test_transaction_events_are_contiguous(manager, scope) -> None:
    """A committed transaction's events appear contiguously in the segment, in write order."""
    stream = new_stream(manager, scope, 1)
    writer = manager.create_writer(scope, stream)
    txn_writer = manager.create_transaction_writer(scope, stream, 99)
    txn = txn_writer.begin_txn()
    for i in range(10):
        txn.write_event(f"t{i}")
    for i in range(5):
        writer.write_event(f"p{i}")
    writer.flush()
    txn.commit()
    writer.write_event("last")
    writer.flush()
    group = manager.create_reader_group(unique("rg"), scope, stream)
    events = read_exactly(
        [group.create_reader("r")],
        [f"t{i}".encode() for i in range(10)] + [f"p{i}".encode() for i in range(5)] + [b"last"],
    )
    order = [e.data.decode() for e in sorted(events, key=lambda e: e.offset)]
    assert order == [f"p{i}" for i in range(5)] + [f"t{i}" for i in range(10)] + ["last"]


# ---------------------------------------------------------------------------------------------
# Reader groups
# ---------------------------------------------------------------------------------------------


def test_reader_group_from_tail_reads_only_later_events(manager, scope) -> None:
    stream = new_stream(manager, scope, 2)
    writer = manager.create_writer(scope, stream)
    old = [f"old-{i}".encode() for i in range(40)]
    for i, data in enumerate(old):
        writer.write_event_bytes(data, f"k{i % 5}")
    writer.flush()

    group = manager.create_reader_group(unique("rg"), scope, stream, True)
    reader = group.create_reader("r")
    new = [f"new-{i}".encode() for i in range(40)]
    for i, data in enumerate(new):
        writer.write_event_bytes(data, f"k{i % 5}")
    writer.flush()
    events = read_exactly([reader], new)
    assert not any(e.data.startswith(b"old-") for e in events)


def test_reader_group_from_stream_cut(manager, scope) -> None:
    stream = new_stream(manager, scope, 1)
    writer = manager.create_writer(scope, stream)
    first = [f"first-{i}".encode() for i in range(25)]
    for data in first:
        writer.write_event_bytes(data)
    writer.flush()
    first_len = sum(EVENT_HEADER + len(d) for d in first)

    group = manager.create_reader_group(unique("rg"), scope, stream)
    cut0 = group.get_streamcut().get_segment_offset_map()
    assert list(cut0.values()) == [0], f"a head reader group's cut is at offset 0: {cut0}"
    reader = group.create_reader("r1")
    read_exactly([reader], first)
    # reader_offline hands the segment back at the reader's position, so the cut is exact.
    reader.reader_offline()
    cut = group.get_streamcut()
    offsets = cut.get_segment_offset_map()
    assert list(offsets.values()) == [first_len], f"stream cut after reading {first_len} bytes: {offsets}"
    assert all(isinstance(k, int) for k in offsets)

    second = [f"second-{i}".encode() for i in range(25)]
    for data in second:
        writer.write_event_bytes(data)
    writer.flush()

    from_cut = manager.create_reader_group(unique("rg"), scope, stream, False, cut)
    events = read_exactly([from_cut.create_reader("r")], second)
    assert min(e.offset for e in events) == first_len

    # The original group continues from its position with a new reader.
    read_exactly([group.create_reader("r2")], second)


def test_reader_group_over_two_streams(manager, scope) -> None:
    s1 = new_stream(manager, scope, 1)
    s2 = new_stream(manager, scope, 3)
    expected = []
    for stream in (s1, s2):
        writer = manager.create_writer(scope, stream)
        for i in range(30):
            data = f"{stream}-{i}".encode()
            writer.write_event_bytes(data, f"k{i}")
            expected.append(data)
        writer.flush()
    config = pravega_client.StreamReaderGroupConfig(False, scope, s1, s2)
    group = manager.create_reader_group_with_config(unique("rg"), scope, config)
    read_exactly([group.create_reader("r")], expected)

    # read_from_tail over both streams: only later events.
    tail_config = pravega_client.StreamReaderGroupConfig(True, scope, s1, s2)
    tail_group = manager.create_reader_group_with_config(unique("rg"), scope, tail_config)
    reader = tail_group.create_reader("r")
    later = []
    for stream in (s1, s2):
        writer = manager.create_writer(scope, stream)
        for i in range(10):
            data = f"later-{stream}-{i}".encode()
            writer.write_event_bytes(data, f"k{i}")
            later.append(data)
        writer.flush()
    read_exactly([reader], later)

    with pytest.raises(ValueError):
        pravega_client.StreamReaderGroupConfig(False, scope)


def test_two_readers_share_a_four_segment_stream(manager, scope) -> None:
    stream = new_stream(manager, scope, 4)
    writer = manager.create_writer(scope, stream, 100)
    keys = [f"rk{k}" for k in range(16)]

    def write_batch(seqs: range) -> list[bytes]:
        batch = []
        for seq in seqs:
            for key in keys:
                data = f"{key}/{seq}".encode()
                writer.write_event_bytes(data, key)
                batch.append(data)
        writer.flush()
        return batch

    expected = write_batch(range(0, 20))
    group = manager.create_reader_group(unique("rg"), scope, stream)
    # The client's reader-group protocol: the first reader acquires every unassigned segment when
    # it is created; a reader gives segments back (one per release) and picks up unassigned ones
    # at most every 10 s.  So: wait out that interval, let reader-a release one slice (which hands
    # that segment back, since reader-a holds more than its share of 2), write more, then read
    # with both readers: reader-b picks up the handed-back segment and reads its new events.
    readers = [group.create_reader("reader-a"), group.create_reader("reader-b")]
    time.sleep(10.5)
    first = read_events(readers[:1], lambda evs: len(evs) > 0, what="a first slice")
    expected += write_batch(range(20, 40))
    wanted = Counter(expected) - Counter(e.data for e in first)
    rest = read_events(
        readers,
        lambda evs: not (wanted - Counter(e.data for e in evs)),
        linger=1.5,
        what="the remaining events",
    )
    events = first + [ReadEvent(e.reader, e.slice_no + 1_000_000, e.offset, e.data) for e in rest]
    got = Counter(e.data for e in events)
    assert got == Counter(expected), (
        f"missing {list(Counter(expected) - got)[:5]}, extra {list(got - Counter(expected))[:5]}"
    )

    by_reader = Counter(e.reader for e in events)
    assert set(by_reader) == {0, 1}, f"both readers must get a share of the segments: {dict(by_reader)}"
    # Per routing key, segment order (offsets) is write order.
    per_key: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for ev in events:
        key, seq = ev.data.decode().split("/")
        per_key[key].append((ev.offset, int(seq)))
    for key, pairs in per_key.items():
        seqs = [s for _, s in sorted(pairs)]
        assert seqs == sorted(seqs), f"key {key} out of order: {seqs}"
    check_segment_layout(events, lambda d: d.decode().split("/")[0], 4)


def test_segment_slice_and_release(manager, scope) -> None:
    """get_segment_slice_async + release_segment: a slice iterates EventData with data() and offset()."""
    stream = new_stream(manager, scope, 1)
    writer = manager.create_writer(scope, stream)
    for i in range(5):
        writer.write_event(f"slice-{i}")
    writer.flush()
    group = manager.create_reader_group(unique("rg"), scope, stream)
    reader = group.create_reader("r")

    async def main() -> list[tuple[int, bytes]]:
        seen: list[tuple[int, bytes]] = []
        deadline = time.monotonic() + READ_TIMEOUT
        while len(seen) < 5:
            assert time.monotonic() < deadline, f"only {seen} read"
            piece = await reader.get_segment_slice_async()
            for event in piece:
                seen.append((event.offset(), event.data()))
            reader.release_segment(piece)
        return seen

    seen = asyncio.run(main())
    assert [d for _, d in seen] == [f"slice-{i}".encode() for i in range(5)]
    assert [o for o, _ in seen] == [i * (EVENT_HEADER + 7) for i in range(5)]


def test_reader_offline_and_group_reader_offline(manager, scope) -> None:
    stream = new_stream(manager, scope, 2)
    writer = manager.create_writer(scope, stream)
    group = manager.create_reader_group(unique("rg"), scope, stream)

    def write(tag: str, n: int) -> list[bytes]:
        out = [f"{tag}-{i}".encode() for i in range(n)]
        for i, data in enumerate(out):
            writer.write_event_bytes(data, f"k{i % 6}")
        writer.flush()
        return out

    batch1 = write("b1", 30)
    r1 = group.create_reader("r1")
    read_exactly([r1], batch1)
    r1.reader_offline()  # segments go back to the group at r1's positions

    async def acquire_offline() -> None:
        await asyncio.wait_for(r1.get_segment_slice_async(), 30)

    with pytest.raises(OSError):
        asyncio.run(acquire_offline())

    batch2 = write("b2", 30)
    r2 = group.create_reader("r2")
    read_exactly([r2], batch2)  # continues exactly where r1 stopped: nothing of batch1 again

    # The group can declare a reader dead; its segments become available to other readers.
    group.reader_offline("r2")
    group.reader_offline("r2")  # already offline: not an error
    batch3 = write("b3", 30)
    r3 = group.create_reader("r3")
    wanted = Counter(batch3)
    events = read_events([r3], lambda evs: not (wanted - Counter(e.data for e in evs)), linger=1.0)
    got = Counter(e.data for e in events)
    assert not (wanted - got)
    # r2's position may only have been written back partially: replays of batch2 are allowed, nothing else.
    extra = got - wanted
    assert all(d.startswith(b"b2-") for d in extra), f"unexpected events {list(extra)[:5]}"
    assert all(n == 1 for d, n in got.items() if d.startswith(b"b3-"))


def test_delete_reader_group(manager, scope) -> None:
    stream = new_stream(manager, scope, 1)
    writer = manager.create_writer(scope, stream)
    data = [f"d{i}".encode() for i in range(10)]
    for d in data:
        writer.write_event_bytes(d)
    writer.flush()

    name = unique("rg")
    group = manager.create_reader_group(name, scope, stream)
    reader = group.create_reader("r")
    read_exactly([reader], data)
    reader.reader_offline()

    # Re-creating an existing group keeps its state: a new reader resumes after the data.
    again = manager.create_reader_group(name, scope, stream)
    more = [b"more-0", b"more-1"]
    for d in more:
        writer.write_event_bytes(d)
    writer.flush()
    r2 = again.create_reader("r2")
    read_exactly([r2], more)
    r2.reader_offline()

    manager.delete_reader_group(name, scope)
    # After deletion the name is free: a new group with it starts from the head again.
    fresh = manager.create_reader_group(name, scope, stream)
    read_exactly([fresh.create_reader("r3")], data + more)


# ---------------------------------------------------------------------------------------------
# Byte streams
# ---------------------------------------------------------------------------------------------


def read_fully(byte_stream, n: int) -> bytes:
    out = bytearray()
    deadline = time.monotonic() + READ_TIMEOUT
    while len(out) < n:
        assert time.monotonic() < deadline, f"byte stream read {len(out)} of {n} bytes"
        buf = bytearray(min(n - len(out), 1 << 20))
        got = byte_stream.readinto(buf)
        out += buf[:got]
    return bytes(out)


def test_byte_stream(manager, scope) -> None:
    stream = new_stream(manager, scope, 1)
    bs = manager.create_byte_stream(scope, stream)
    assert bs.seekable() is True
    assert bs.tell() == 0
    assert bs.current_head_offset() == 0
    assert bs.current_tail_offset() == 0

    chunks = [b"hello ", b"byte ", b"stream", bytes(range(256)) * 40]
    total = b"".join(chunks)
    for chunk in chunks:
        assert bs.write(chunk) == len(chunk)
    bs.flush()
    assert bs.current_tail_offset() == len(total)

    assert read_fully(bs, 6) == b"hello "
    assert bs.tell() == 6
    assert bs.seek(5, 1) == 11  # whence 1: relative to the current position
    assert read_fully(bs, 6) == b"stream"
    assert bs.seek(0, 0) == 0
    assert read_fully(bs, len(total)) == total
    assert bs.seek(-256, 2) == len(total) - 256  # whence 2: relative to the tail
    assert read_fully(bs, 256) == bytes(range(256))
    assert bs.tell() == len(total)
    assert bs.seek(3) == 3  # whence defaults to 0
    assert read_fully(bs, 3) == b"lo "

    big = bytes((i * 7) % 251 for i in range(3 * 1024 * 1024))
    assert bs.write(big) == len(big)
    bs.flush()
    assert bs.current_tail_offset() == len(total) + len(big)
    bs.seek(len(total), 0)
    assert read_fully(bs, len(big)) == big

    # Truncation moves the head; data below it can no longer be read.
    bs.truncate(11)
    assert bs.current_head_offset() == 11
    assert bs.current_tail_offset() == len(total) + len(big)
    bs.seek(11, 0)
    assert read_fully(bs, 6) == b"stream"
    with pytest.raises((OSError, ValueError)):
        bs.seek(0, 0)
        read_fully(bs, 4)

    # A second handle on the same stream sees the same head/tail and data.
    other = manager.create_byte_stream(scope, stream)
    assert other.current_head_offset() == 11
    assert other.current_tail_offset() == len(total) + len(big)
    other.seek(11, 0)
    assert read_fully(other, 6) == b"stream"
