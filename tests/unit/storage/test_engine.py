"""The store on a real data directory: durability, recovery, batches, tables."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from pravega_server.storage import errors
from pravega_server.storage.engine import Engine
from pravega_server.storage.ops import (
    NO_VERSION,
    NOT_EXISTS,
    CreateSegment,
    DeleteSegment,
    MergeSegments,
    PutMeta,
    SealSegment,
    SegmentKind,
    TableRemove,
    TableUpdate,
    TruncateSegment,
)
from pravega_server.storage.wal import format as fmt

W1 = 0x0123456789ABCDEF0011223344556677


def run(coro):
    return asyncio.run(coro)


async def append(engine: Engine, name: str, writer: int, event: int, data: bytes, expected=None) -> tuple[int, int]:
    fut = asyncio.get_running_loop().create_future()
    result = engine.append(engine.get(name), writer, event, data, lambda: fut.set_result(None), expected)
    await fut
    return result


@pytest.mark.parametrize("in_memory", [False, True])
def test_append_read_and_writer_bookkeeping(tmp_path: Path, in_memory: bool) -> None:
    async def main():
        engine = await Engine.open(None if in_memory else tmp_path)
        await engine.execute([CreateSegment("s/t/0.#epoch.0")])
        assert await append(engine, "s/t/0.#epoch.0", W1, 1, b"hello") == (-(2**63), 5)
        assert await append(engine, "s/t/0.#epoch.0", W1, 3, b" world") == (1, 11)
        seg = engine.get("s/t/0.#epoch.0")
        assert engine.read(seg, 0, 100) == b"hello world"
        assert engine.read(seg, 3, 4) == b"lo w"
        assert seg.writers[W1] == 3
        engine.close()

    run(main())


def test_state_survives_restart(tmp_path: Path) -> None:
    async def first():
        engine = await Engine.open(tmp_path)
        await engine.execute([CreateSegment("a"), CreateSegment("b"), PutMeta("k", b"v")])
        for i in range(100):
            await append(engine, "a", W1, i + 1, b"x%03d" % i)
        await engine.execute([CreateSegment("t", SegmentKind.TABLE)])
        await engine.execute([TableUpdate("t", ((b"k1", NOT_EXISTS, b"v1"), (b"k2", NOT_EXISTS, b"v2")))])
        await engine.execute([TruncateSegment("a", 8), SealSegment("b")])
        engine.close()

    async def second():
        engine = await Engine.open(tmp_path)
        seg = engine.get("a")
        assert (seg.length, seg.durable_length, seg.start_offset) == (400, 400, 8)
        assert engine.read(seg, 8, 8) == b"x002x003"
        assert seg.writers[W1] == 100
        assert engine.get("b").durable_sealed
        assert engine.meta_get("k") == b"v"
        assert engine.get("t").table.entries[b"k2"] == (1, b"v2")
        # The log continues where it stopped.
        await append(engine, "a", W1, 101, b"more")
        engine.close()
        engine = await Engine.open(tmp_path)
        assert engine.read(engine.get("a"), 396, 8) == b"x099more"
        engine.close()

    run(first())
    run(second())


def test_torn_tail_is_cut(tmp_path: Path) -> None:
    async def write():
        engine = await Engine.open(tmp_path, preallocate=False)
        await engine.execute([CreateSegment("a")])
        await append(engine, "a", W1, 1, b"acked")
        await append(engine, "a", W1, 2, b"torn!")
        engine.close()

    run(write())
    wal = tmp_path / "wal"
    (path,) = list(wal.iterdir())
    size = path.stat().st_size
    with open(path, "r+b") as fh:  # cut the last record in half
        fh.truncate(size - 3)

    async def check():
        engine = await Engine.open(tmp_path)
        seg = engine.get("a")
        assert engine.read(seg, 0, 100) == b"acked"
        assert seg.writers[W1] == 1
        await append(engine, "a", W1, 2, b"again")
        assert engine.read(seg, 0, 100) == b"ackedagain"
        engine.close()

    run(check())


def test_corrupt_checksum_in_tail_record(tmp_path: Path) -> None:
    async def write():
        engine = await Engine.open(tmp_path, preallocate=False)
        await engine.execute([CreateSegment("a")])
        await append(engine, "a", W1, 1, b"one")
        await append(engine, "a", W1, 2, b"two")
        engine.close()

    run(write())
    (path,) = list((tmp_path / "wal").iterdir())
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))

    async def check():
        engine = await Engine.open(tmp_path)
        assert engine.read(engine.get("a"), 0, 100) == b"one"
        engine.close()

    run(check())


def test_preallocated_log_ends_at_zeros_and_cuts_a_torn_record(tmp_path: Path) -> None:
    ends = {}

    async def write():
        engine = await Engine.open(tmp_path)
        await engine.execute([CreateSegment("a")])
        await append(engine, "a", W1, 1, b"first")
        ends["before"] = engine.log.current_file[1]
        await append(engine, "a", W1, 2, b"second")
        ends["after"] = engine.log.current_file[1]
        engine.close()

    run(write())
    (path,) = list((tmp_path / "wal").iterdir())
    assert path.stat().st_size >= fmt.PREALLOCATE_AHEAD  # zeros beyond the records

    async def reopen(expected: bytes):
        engine = await Engine.open(tmp_path)
        seg = engine.get("a")
        assert engine.read(seg, 0, 100) == expected
        engine.close()

    run(reopen(b"firstsecond"))  # zeros after the last record are the end, not damage
    with open(path, "r+b") as fh:  # tear the last record: garbage inside its payload
        fh.seek(ends["before"] + fmt.HEADER_SIZE + 10)
        fh.write(b"\xff\xff\xff")
    run(reopen(b"first"))

    async def continue_writing():
        engine = await Engine.open(tmp_path)
        await append(engine, "a", W1, 2, b"again")
        engine.close()
        engine = await Engine.open(tmp_path)
        assert engine.read(engine.get("a"), 0, 100) == b"firstagain"
        engine.close()

    run(continue_writing())


def test_log_rolls_over_files(tmp_path: Path) -> None:
    async def main():
        engine = await Engine.open(tmp_path, file_size=1000)
        await engine.execute([CreateSegment("a")])
        for i in range(50):
            await append(engine, "a", W1, i + 1, bytes([65 + i % 26]) * 100)
        engine.close()
        assert len(os.listdir(tmp_path / "wal")) > 3
        engine = await Engine.open(tmp_path, file_size=1000)
        seg = engine.get("a")
        assert seg.length == 5000
        assert engine.read(seg, 0, 5000) == b"".join(bytes([65 + i % 26]) * 100 for i in range(50))
        engine.close()

    run(main())


def test_batch_is_all_or_nothing(tmp_path: Path) -> None:
    async def main():
        engine = await Engine.open(tmp_path)
        await engine.execute([CreateSegment("a")])
        with pytest.raises(errors.SegmentExists):
            await engine.execute([CreateSegment("b"), CreateSegment("a")])
        assert not engine.exists("b")
        with pytest.raises(errors.NoSuchSegment):
            await engine.execute([SealSegment("a"), SealSegment("zzz")])
        assert not engine.get("a").sealed
        engine.close()

    run(main())


def test_conditional_append_and_seal(tmp_path: Path) -> None:
    async def main():
        engine = await Engine.open(tmp_path)
        await engine.execute([CreateSegment("a")])
        await append(engine, "a", W1, 1, b"abc", expected=0)
        with pytest.raises(errors.BadOffset):
            await append(engine, "a", W1, 2, b"def", expected=0)
        await engine.execute([SealSegment("a")])
        with pytest.raises(errors.SegmentSealed):
            await append(engine, "a", W1, 2, b"def")
        assert engine.get("a").durable_sealed
        engine.close()

    run(main())


def test_merge_moves_data_without_copy(tmp_path: Path) -> None:
    async def main():
        engine = await Engine.open(tmp_path)
        await engine.execute([CreateSegment("p"), CreateSegment("p#transaction.1")])
        await append(engine, "p", W1, 1, b"parent-")
        await append(engine, "p#transaction.1", W1, 1, b"txn-data")
        (length,) = await engine.execute([MergeSegments("p", "p#transaction.1")])
        assert length == 15
        assert not engine.exists("p#transaction.1")
        assert engine.read(engine.get("p"), 0, 100) == b"parent-txn-data"
        engine.close()
        engine = await Engine.open(tmp_path)
        assert engine.read(engine.get("p"), 0, 100) == b"parent-txn-data"
        engine.close()

    run(main())


def test_table_conditions_use_pre_batch_state(tmp_path: Path) -> None:
    async def main():
        engine = await Engine.open(tmp_path)
        await engine.execute([CreateSegment("t", SegmentKind.TABLE)])
        # The same key twice with "must not exist": both checked before the batch.
        (versions,) = await engine.execute([TableUpdate("t", ((b"m", NOT_EXISTS, b"1"), (b"m", NOT_EXISTS, b"2")))])
        assert versions == [0, 1]
        table = engine.get("t").table
        assert table.entries[b"m"] == (1, b"2")
        with pytest.raises(errors.TableKeyBadVersion):
            await engine.execute([TableUpdate("t", ((b"m", NOT_EXISTS, b"3"),))])
        with pytest.raises(errors.TableKeyBadVersion):
            await engine.execute([TableUpdate("t", ((b"m", 0, b"3"),))])
        with pytest.raises(errors.TableKeyDoesNotExist):
            await engine.execute([TableUpdate("t", ((b"x", 5, b"3"),))])
        # One failing condition applies nothing.
        with pytest.raises(errors.TableKeyBadVersion):
            await engine.execute([TableUpdate("t", ((b"new", NOT_EXISTS, b"n"), (b"m", 0, b"3")))])
        assert b"new" not in table.entries
        (versions,) = await engine.execute([TableUpdate("t", ((b"m", 1, b"3"), (b"y", NO_VERSION, b"y")))])
        assert versions == [2, 3]
        await engine.execute([TableRemove("t", ((b"y", 3),))])
        assert b"y" not in table.entries
        with pytest.raises(errors.TableNotEmpty):
            await engine.execute([DeleteSegment("t", must_be_empty=True)])
        engine.close()

    run(main())


def test_table_delta_pages_in_write_order() -> None:
    async def main():
        engine = await Engine.open(None)
        await engine.execute([CreateSegment("t", SegmentKind.TABLE)])
        await engine.execute([TableUpdate("t", tuple((b"k%d" % i, NO_VERSION, b"v%d" % i) for i in range(25)))])
        await engine.execute([TableUpdate("t", ((b"k3", NO_VERSION, b"again"),))])
        await engine.execute([TableRemove("t", ((b"k4", NO_VERSION),))])
        table = engine.get("t").table
        seen, pos = [], 0
        while True:
            page, pos = table.delta(pos, 10)
            if not page:
                break
            seen.extend(page)
        keys = [k for k, _, _ in seen]
        assert len(keys) == 24 and b"k4" not in keys and keys[-1] == b"k3"
        assert seen[-1] == (b"k3", 25, b"again")
        assert pos == table.next_position == 27

    run(main())
