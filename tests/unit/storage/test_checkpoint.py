"""Checkpoint files: a full round trip of the engine's state, atomic replacement, and
a crash in the middle of writing one."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pravega_server.storage import checkpoint
from pravega_server.storage.engine import Engine
from pravega_server.storage.ops import (
    CreateSegment,
    PutMeta,
    SealSegment,
    SegmentKind,
    TableRemove,
    TableUpdate,
    TruncateSegment,
    UpdateAttribute,
)

W1 = 0x0123456789ABCDEF0011223344556677
NO_VERSION = -(2**63)


async def state(engine: Engine) -> dict:
    out = {}
    for name, seg in engine.segments.items():
        table = seg.table
        out[name] = (
            seg.id,
            seg.kind,
            seg.length,
            seg.start_offset,
            seg.sealed,
            dict(seg.writers),
            dict(seg.attributes),
            list(zip(seg.starts, seg.extents)),
            None if table is None else (dict(table.entries), list(table.positions), table.next_position),
            seg.scale_type,
            seg.target_rate,
        )
    return {"segments": out, "meta": dict(engine.meta), "next_id": engine.next_id}


def test_round_trip_of_everything(tmp_path: Path) -> None:
    async def main() -> None:
        engine = await Engine.open(tmp_path)
        await engine.execute(
            [
                CreateSegment("s/a/0.#epoch.0", SegmentKind.STREAM, 1, 100),
                CreateSegment("t", SegmentKind.TABLE),
                CreateSegment("s/b/0.#epoch.0"),
                PutMeta("stream/s/a", b"\x00\x01"),
            ]
        )
        fut = asyncio.get_running_loop().create_future()
        engine.append(engine.get("s/a/0.#epoch.0"), W1, 7, b"x" * 500, lambda: fut.set_result(None))
        await fut
        await engine.execute(
            [
                TruncateSegment("s/a/0.#epoch.0", 100),
                UpdateAttribute("s/a/0.#epoch.0", 5, 42),
                SealSegment("s/b/0.#epoch.0"),
                TableUpdate("t", ((b"k1", NO_VERSION, b"v1"), (b"k2", NO_VERSION, b"v2"), (b"k3", NO_VERSION, b"v3"))),
            ]
        )
        await engine.execute(
            [TableRemove("t", ((b"k2", NO_VERSION),)), TableUpdate("t", ((b"k1", NO_VERSION, b"v9"),))]
        )
        before = await state(engine)
        data = checkpoint.encode(engine.log.lsn, engine.next_id, list(engine.segments.values()), engine.meta)
        await engine.barrier()
        checkpoint.write(tmp_path, engine.log.lsn, data)
        engine.close()
        loaded = checkpoint.load_newest(tmp_path)
        assert loaded is not None
        engine = await Engine.open(tmp_path)
        assert engine.checkpoint_lsn == loaded.lsn > 0
        assert await state(engine) == before
        table = engine.get("t").table
        assert table is not None and table.delta(0, 10) == ([(b"k3", 2, b"v3"), (b"k1", 4, b"v9")], 5)
        engine.close()

    asyncio.run(main())


def test_only_the_newest_is_kept_and_a_half_written_one_is_ignored(tmp_path: Path) -> None:
    checkpoint.write(tmp_path, 10, checkpoint.encode(10, 1, [], {"a": b"1"}))
    checkpoint.write(tmp_path, 20, checkpoint.encode(20, 2, [], {"a": b"2"}))
    assert checkpoint.list_checkpoints(tmp_path) == [20]
    # A crash while writing the next one leaves its temporary file: ignored and removed.
    (tmp_path / (checkpoint.file_name(30) + ".tmp")).write_bytes(b"PRVCKPT1 half")
    state = checkpoint.load_newest(tmp_path)
    assert state is not None and state.lsn == 20 and state.meta == {"a": b"2"}
    assert sorted(p.name for p in tmp_path.iterdir()) == [checkpoint.file_name(20)]


def test_a_checkpoint_ahead_of_the_log_is_refused(tmp_path: Path) -> None:
    async def main() -> None:
        engine = await Engine.open(tmp_path)
        engine.close()
        checkpoint.write(tmp_path, 10**12, checkpoint.encode(10**12, 0, [], {}))
        with pytest.raises(checkpoint.CorruptCheckpointError, match="log ends"):
            await Engine.open(tmp_path)

    asyncio.run(main())
