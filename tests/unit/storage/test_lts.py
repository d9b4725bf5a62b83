"""Both chunk stores behind the same interface, the engine on the s3 one (a local S3
server process), and tier 2 failing: appends go on into the log up to its bound."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest
from test_engine_tiering import FAST, SEG, W1, append, wait_until, write_events

from pravega_server.storage import errors
from pravega_server.storage.engine import Engine
from pravega_server.storage.lts import ChunkNotFound, ChunkStore, FileChunkStore, open_chunk_store
from pravega_server.storage.ops import CreateSegment, DeleteSegment, SealSegment
from pravega_server.storage.tiering import TieringConfig


async def exercise(store: ChunkStore) -> None:
    await store.write("a-1", 0, b"hello world")
    await store.write("a-2", 0, os.urandom(3000))
    assert await store.read("a-1", 6, 5) == b"world"
    assert await store.list() == ["a-1", "a-2"]
    assert await store.list("a-2") == ["a-2"]
    assert await store.usage() > 0
    await store.delete("a-1")
    await store.delete("a-1")  # deleting twice is fine
    assert await store.list() == ["a-2"]
    with pytest.raises(ChunkNotFound):
        await store.read("a-1", 0, 5)


def test_file_store(tmp_path: Path) -> None:
    store = FileChunkStore(tmp_path)
    asyncio.run(exercise(store))
    with pytest.raises(ValueError):
        asyncio.run(store.write("../escape", 0, b"x"))
    store.close()


def test_s3_store(local_s3) -> None:
    store = open_chunk_store(local_s3.url, endpoint=local_s3.endpoint)
    asyncio.run(exercise(store))
    assert [key for key, _ in local_s3.objects()] == [f"{local_s3.prefix}/a-2"]


def test_bad_urls_are_refused() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        open_chunk_store("ftp://somewhere")
    with pytest.raises(ValueError, match="bucket"):
        open_chunk_store("s3:///prefix")


def test_engine_on_s3_tiers_reads_restarts_and_deletes(tmp_path: Path, local_s3) -> None:
    async def opened() -> Engine:
        store = open_chunk_store(local_s3.url, endpoint=local_s3.endpoint)
        return await Engine.open(tmp_path, chunks=store, tiering=FAST, file_size=64 * 1024, preallocate=False)

    async def read_all(engine: Engine) -> bytes:
        seg = engine.get(SEG)
        out = b""
        while len(out) < seg.durable_length:
            data = engine.read(seg, len(out), 1 << 20)
            if data is None:  # remote: the awaitable path (the segment store does the same)
                data = await engine.read_async(seg, len(out), 1 << 20)
            assert data
            out += data
        return out

    async def main() -> None:
        engine = await opened()
        await engine.execute([CreateSegment(SEG)])
        expected = await write_events(engine, SEG, 30)
        seg = engine.get(SEG)
        await wait_until(lambda: seg.log_bytes() == 0, "all data in S3")
        assert len(local_s3.objects()) == len(seg.chunks()) > 1
        assert engine.read(seg, 0, 100) is None  # not cached yet
        assert await read_all(engine) == expected
        assert engine.read_cache is not None and engine.read_cache.misses >= 1
        engine.close()
        engine = await opened()
        assert await read_all(engine) == expected
        await engine.execute([SealSegment(SEG), DeleteSegment(SEG)])
        await wait_until(lambda: local_s3.objects() == [], "the objects deleted")
        engine.close()

    asyncio.run(main())


def test_tier2_down_appends_go_to_the_log_until_its_bound(tmp_path: Path) -> None:
    lts = tmp_path / "lts"
    config = TieringConfig(chunk_size=4096, flush_age=0.0, checkpoint_interval=0.05, poll=0.02, max_log_size=256 * 1024)

    async def main() -> None:
        engine = await Engine.open(
            tmp_path, chunks=FileChunkStore(lts), tiering=config, file_size=64 * 1024, preallocate=False
        )
        await engine.execute([CreateSegment(SEG)])
        shutil.rmtree(lts)
        lts.write_bytes(b"")  # tier 2 is now unusable: every chunk write fails
        event = 0
        with pytest.raises(errors.StorageUnavailable):
            for event in range(1, 10_000):
                await append(engine, SEG, W1, event, b"x" * 1000)
                await asyncio.sleep(0)  # let the tiering task see the log grow
        # The bound is 256 KiB of log, measured as the tiering task sees it (record headers,
        # the engine's own records, data still being tiered): about 250-320 appends of 1000 B.
        assert engine.log_full and 200 <= event < 1000
        assert engine.get(SEG).durable_length == (event - 1) * 1000  # nothing acknowledged is lost
        lts.unlink()
        lts.mkdir()  # tier 2 is back: retried with backoff, the log drains
        seg = engine.get(SEG)
        await wait_until(lambda: seg.log_bytes() == 0 and not engine.log_full, "tier 2 caught up")
        await append(engine, SEG, W1, event, b"y" * 1000)
        engine.close()

    asyncio.run(main())
