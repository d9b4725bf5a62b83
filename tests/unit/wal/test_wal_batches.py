"""The writer's batches: the records of one loop pass reach the file in one write, in LSN order."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pravega_server.storage.wal import format as fmt
from pravega_server.storage.wal import writer as wal_writer
from pravega_server.storage.wal.reader import Record, list_files, scan
from pravega_server.storage.wal.writer import WalWriter


def _records(directory: Path) -> list[bytes]:
    found: list[Record] = []
    scan(directory, found.append)
    return [bytes(r.payload) for r in found if r.rtype == fmt.RecordType.APPEND]


def test_records_of_one_pass_reach_the_file_when_the_loop_runs(tmp_path: Path) -> None:
    async def body() -> None:
        loop = asyncio.get_running_loop()
        writer = WalWriter(tmp_path, 0, tail_base=None, loop=loop)
        first = [b"a%03d" % i * 20 for i in range(5)]
        for p in first:
            writer.write(fmt.RecordType.APPEND, [p])
        assert _records(tmp_path) == []  # still in the batch: the file holds zeros there
        await asyncio.sleep(0)  # one pass of the loop writes the batch
        assert _records(tmp_path) == first
        second = b"b" * 100
        writer.write(fmt.RecordType.APPEND, [second])
        writer.flush()  # or at once, on request
        assert _records(tmp_path) == [*first, second]
        writer.close()

    asyncio.run(body())


def test_a_batch_is_written_when_it_reaches_its_limit_and_across_files(tmp_path: Path) -> None:
    async def body() -> list[bytes]:
        loop = asyncio.get_running_loop()
        writer = WalWriter(tmp_path, 0, tail_base=None, loop=loop, file_size=64 * 1024)
        payloads = [b"%06d" % i * 10 for i in range(3 * wal_writer.BATCH_BUFFERS)]
        for p in payloads:  # no await: one pass, several batches and several files
            writer.write(fmt.RecordType.APPEND, [p])
        assert len(_records(tmp_path)) >= wal_writer.BATCH_BUFFERS // 2
        done = loop.create_future()
        writer.barrier(lambda: done.set_result(None))
        await asyncio.wait_for(done, 60)
        assert writer.durable_lsn == writer.lsn
        writer.close()
        return payloads

    payloads = asyncio.run(body())
    assert len(list_files(tmp_path)) > 1
    assert _records(tmp_path) == payloads
