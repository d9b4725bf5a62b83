"""A data directory written by 0.1.0 (format-1 records) opens, keeps its data and takes new writes
in a format-2 file; both files are read after the next restart."""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path

from pravega_server.storage.engine import Engine
from pravega_server.storage.ops import APPEND_HEADER, CreateSegment, encode_batch
from pravega_server.storage.wal import format as fmt
from pravega_server.storage.wal.reader import list_files


def v1_record(rtype: int, payload: bytes) -> bytes:
    return struct.pack(">IIB", fmt.v1_checksum(rtype, payload), len(payload), rtype) + payload


def test_format_1_log_is_read_and_continued_in_format_2(tmp_path: Path) -> None:
    wal = tmp_path / "wal"
    wal.mkdir()
    create = b"".join(encode_batch([CreateSegment("scope/stream/0.#epoch.0")]))
    raw = v1_record(fmt.RecordType.BATCH, create)
    for i in range(1, 4):
        raw += v1_record(fmt.RecordType.APPEND, APPEND_HEADER.pack(0, 0, 7, i) + b"old-%d;" % i)
    (wal / fmt.file_name(0)).write_bytes(raw + bytes(1024))  # 0.1.0 preallocated zeros too

    async def first() -> None:
        engine = await Engine.open(tmp_path)
        seg = engine.get("scope/stream/0.#epoch.0")
        assert engine.read(seg, 0, 100) == b"old-1;old-2;old-3;"
        done = asyncio.get_running_loop().create_future()
        engine.append(seg, 7, 4, b"new-4;", lambda: done.set_result(None))
        await done
        engine.close()

    async def second() -> None:
        engine = await Engine.open(tmp_path)
        seg = engine.get("scope/stream/0.#epoch.0")
        assert engine.read(seg, 0, 100) == b"old-1;old-2;old-3;new-4;"
        assert seg.writers[7] == 4
        engine.close()

    asyncio.run(first())
    assert list_files(wal) == [0, len(raw)]  # the new records went to a new file
    assert (wal / fmt.file_name(len(raw))).read_bytes()[:4] == fmt.MAGIC_BYTES
    asyncio.run(second())
