"""Tiering in the engine: data moves to tier-2 chunks, checkpoints bound recovery,
truncation and deletion free both tiers, and nothing deleted comes back."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from pravega_server.storage import checkpoint
from pravega_server.storage.engine import Engine
from pravega_server.storage.lts import FileChunkStore
from pravega_server.storage.ops import (
    CreateSegment,
    DeleteSegment,
    MergeSegments,
    PutMeta,
    SealSegment,
    SegmentKind,
    TableUpdate,
    TierSegment,
    TruncateSegment,
)
from pravega_server.storage.tiering import TieringConfig
from pravega_server.storage.wal.reader import list_files

W1 = 0x0123456789ABCDEF0011223344556677
SEG = "s/t/0.#epoch.0"
FAST = TieringConfig(chunk_size=4096, flush_age=0.0, checkpoint_interval=0.05, poll=0.02)


async def open_engine(path: Path, config: TieringConfig | None = FAST) -> Engine:
    return await Engine.open(
        path, chunks=FileChunkStore(path / "lts"), tiering=config, file_size=64 * 1024, preallocate=False
    )


async def append(engine: Engine, name: str, writer: int, event: int, data: bytes) -> None:
    fut = asyncio.get_running_loop().create_future()
    engine.append(engine.get(name), writer, event, data, lambda: fut.set_result(None))
    await fut


async def wait_until(cond: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def chunk_files(path: Path) -> list[str]:
    return sorted(os.listdir(path / "lts"))


def read_all(engine: Engine, name: str, offset: int = 0) -> bytes:
    seg = engine.get(name)
    out = b""
    while offset + len(out) < seg.durable_length:
        data = engine.read(seg, offset + len(out), 1 << 20)
        assert data, "no progress"
        out += data
    return out


def payload(i: int) -> bytes:
    return bytes([i % 251]) * 1000


async def write_events(engine: Engine, name: str, count: int, first: int = 1) -> bytes:
    expected = b""
    for i in range(first, first + count):
        await append(engine, name, W1, i, payload(i))
        expected += payload(i)
    return expected


def test_data_moves_to_chunks_and_reads_back(tmp_path: Path) -> None:
    async def main() -> None:
        engine = await open_engine(tmp_path)
        await engine.execute([CreateSegment(SEG)])
        expected = await write_events(engine, SEG, 60)
        seg = engine.get(SEG)
        await wait_until(lambda: seg.log_bytes() == 0, "all data tiered")
        assert seg.chunks() and set(seg.chunks()) <= set(chunk_files(tmp_path))
        assert read_all(engine, SEG) == expected
        assert read_all(engine, SEG, 12345) == expected[12345:]
        engine.close()

    asyncio.run(main())


def test_restart_from_checkpoint_keeps_everything_and_the_log_is_trimmed(tmp_path: Path) -> None:
    async def first() -> bytes:
        engine = await open_engine(tmp_path)
        await engine.execute([CreateSegment(SEG), CreateSegment("t", SegmentKind.TABLE), PutMeta("k", b"v")])
        await engine.execute([TableUpdate("t", ((b"key", -(2**63), b"value"),))])
        expected = await write_events(engine, SEG, 300)
        seg = engine.get(SEG)
        await wait_until(lambda: seg.log_bytes() == 0, "all data tiered")
        await wait_until(lambda: checkpoint.list_checkpoints(tmp_path) == [engine.log.lsn], "a checkpoint of the end")
        # 300 KB of appends in 64 KiB log files: all but the tail file are deleted.
        await wait_until(lambda: len(list_files(tmp_path / "wal")) <= 2, "log files deleted")
        engine.close()
        return expected

    async def second(expected: bytes) -> None:
        engine = await open_engine(tmp_path)
        assert engine.checkpoint_lsn > 0
        assert read_all(engine, SEG) == expected
        assert engine.get(SEG).writers[W1] == 300
        table = engine.get("t").table
        assert table is not None and table.entries[b"key"][1] == b"value"
        assert engine.meta_get("k") == b"v"
        expected += await write_events(engine, SEG, 5, first=301)
        engine.close()
        engine = await open_engine(tmp_path, None)
        assert read_all(engine, SEG) == expected
        engine.close()

    asyncio.run(second(asyncio.run(first())))


def test_truncation_and_deletion_free_chunks_and_stay_after_restart(tmp_path: Path) -> None:
    other = "s/t/1.#epoch.0"

    async def first() -> None:
        engine = await open_engine(tmp_path)
        await engine.execute([CreateSegment(SEG), CreateSegment(other)])
        await write_events(engine, SEG, 40)
        await write_events(engine, other, 20)
        seg = engine.get(SEG)
        await wait_until(lambda: seg.log_bytes() == 0 and engine.get(other).log_bytes() == 0, "tiered")
        before = set(seg.chunks())
        await engine.execute([TruncateSegment(SEG, 30_000)])
        kept = set(seg.chunks())
        assert kept < before
        await wait_until(lambda: not (before - kept) & set(chunk_files(tmp_path)), "truncated chunks deleted")
        await engine.execute([SealSegment(other), DeleteSegment(other)])
        await wait_until(lambda: set(chunk_files(tmp_path)) == kept, "chunks of the deleted segment deleted")
        engine.close()

    async def second() -> None:
        engine = await open_engine(tmp_path)
        seg = engine.get(SEG)
        assert seg.start_offset == 30_000
        assert not engine.exists(other)
        assert read_all(engine, SEG, 30_000) == b"".join(payload(i) for i in range(1, 41))[30_000:]
        engine.close()

    asyncio.run(first())
    asyncio.run(second())


def test_unreferenced_chunks_are_swept_at_startup(tmp_path: Path) -> None:
    async def main() -> None:
        engine = await open_engine(tmp_path)
        await engine.execute([CreateSegment(SEG)])
        await write_events(engine, SEG, 10)
        await wait_until(lambda: engine.get(SEG).log_bytes() == 0, "tiered")
        engine.close()
        (tmp_path / "lts" / "ff-0-deadbeef").write_bytes(b"left over by a crash")
        (tmp_path / "lts" / "ff-1-deadbeef.tmp").write_bytes(b"half written")
        engine = await open_engine(tmp_path)
        await wait_until(lambda: set(chunk_files(tmp_path)) == engine.get(SEG).chunks(), "stale chunks gone")
        engine.close()

    asyncio.run(main())


def test_a_tier_operation_that_no_longer_fits_is_discarded(tmp_path: Path) -> None:
    async def main() -> None:
        engine = await open_engine(tmp_path, None)
        await engine.execute([CreateSegment(SEG)])
        await write_events(engine, SEG, 3)
        seg = engine.get(SEG)
        store = engine.chunks
        assert store is not None
        await store.write("x1", 0, b"a" * 1000)
        # wrong segment id, a start inside an extent, a range beyond the data: no-ops
        assert await engine.execute([TierSegment(SEG, seg.id + 7, 0, 1000, "x1")]) == [False]
        assert await engine.execute([TierSegment(SEG, seg.id, 10, 1000, "x1")]) == [False]
        assert await engine.execute([TierSegment(SEG, seg.id, 0, 5000, "x1")]) == [False]
        assert await engine.execute([TierSegment(SEG, seg.id, 0, 1000, "x1")]) == [True]
        assert read_all(engine, SEG)[:1000] == b"a" * 1000  # now served from the chunk
        engine.close()

    asyncio.run(main())


def test_merged_transaction_data_moves_with_its_chunks(tmp_path: Path) -> None:
    txn = SEG + "#transaction.00000000000000000000000000000001"

    async def main() -> None:
        engine = await open_engine(tmp_path)
        await engine.execute([CreateSegment(SEG), CreateSegment(txn)])
        expected = await write_events(engine, SEG, 5)
        expected += await write_events(engine, txn, 12, first=100)
        await wait_until(lambda: engine.get(txn).log_bytes() == 0, "transaction tiered")
        txn_chunks = engine.get(txn).chunks()
        await engine.execute([SealSegment(txn), MergeSegments(SEG, txn)])
        assert txn_chunks <= engine.get(SEG).chunks()
        assert read_all(engine, SEG) == expected
        await asyncio.sleep(0.2)  # a few tiering rounds: the merged chunks must survive them
        assert txn_chunks <= set(chunk_files(tmp_path))
        await engine.execute([SealSegment(SEG), DeleteSegment(SEG)])
        await wait_until(lambda: chunk_files(tmp_path) == [], "all chunks deleted")
        engine.close()

    asyncio.run(main())


def test_a_damaged_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    async def main() -> None:
        engine = await open_engine(tmp_path)
        await engine.execute([CreateSegment(SEG)])
        await write_events(engine, SEG, 3)
        await wait_until(lambda: bool(checkpoint.list_checkpoints(tmp_path)), "a checkpoint")
        engine.close()
        path = tmp_path / checkpoint.file_name(checkpoint.list_checkpoints(tmp_path)[-1])
        data = bytearray(path.read_bytes())
        data[20] ^= 0xFF
        path.write_bytes(bytes(data))
        with pytest.raises(checkpoint.CorruptCheckpointError, match="checksum"):
            await open_engine(tmp_path)

    asyncio.run(main())


def test_an_append_larger_than_a_chunk_is_split_over_chunks(tmp_path: Path) -> None:
    async def main() -> None:
        engine = await open_engine(tmp_path)
        await engine.execute([CreateSegment(SEG)])
        big = os.urandom(4096 * 5 + 123)
        await append(engine, SEG, W1, 1, big)
        seg = engine.get(SEG)
        await wait_until(lambda: seg.log_bytes() == 0, "tiered")
        assert len(seg.chunks()) == 6
        assert read_all(engine, SEG) == big
        assert read_all(engine, SEG, 5000) == big[5000:]
        engine.close()
        engine = await open_engine(tmp_path)
        assert read_all(engine, SEG) == big
        engine.close()

    asyncio.run(main())
