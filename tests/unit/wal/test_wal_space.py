"""The WAL's space interfaces used by tiering: scanning from a checkpoint LSN, deleting old files."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pravega_server.storage.wal import format as fmt
from pravega_server.storage.wal.reader import CorruptLogError, Record, list_files, scan
from pravega_server.storage.wal.writer import WalWriter


async def _write_log(directory: Path, payloads: list[bytes], file_size: int) -> list[int]:
    """Write one record per payload (rolling files at ``file_size``); returns their end LSNs."""
    writer = WalWriter(directory, 0, tail_base=None, loop=asyncio.get_running_loop(), file_size=file_size)
    ends = []
    for payload in payloads:
        ends.append(writer.write(fmt.RecordType.APPEND, [payload])[2])
    done = asyncio.get_running_loop().create_future()
    writer.barrier(lambda: done.set_result(None))
    await done
    writer.close()
    return ends


def _payloads(n: int) -> list[bytes]:
    return [f"record-{i:04d}".encode() * 10 for i in range(n)]


def test_scan_from_lsn_skips_covered_records_and_tolerates_deleted_files(tmp_path: Path) -> None:
    payloads = _payloads(50)
    ends = asyncio.run(_write_log(tmp_path, payloads, file_size=1000))
    bases = list_files(tmp_path)
    assert len(bases) > 3
    # The checkpoint covers everything before the third file; delete the first two.
    checkpoint = bases[2]
    for base in bases[:2]:
        (tmp_path / fmt.file_name(base)).unlink()
    seen: list[bytes] = []
    result = scan(tmp_path, lambda r: seen.append(bytes(r.payload)), from_lsn=checkpoint)
    expected = [p for p, end in zip(payloads, ends) if end > checkpoint]
    assert seen == expected
    assert result.next_lsn == ends[-1]


def test_scan_from_lsn_in_the_middle_of_a_file(tmp_path: Path) -> None:
    payloads = _payloads(20)
    ends = asyncio.run(_write_log(tmp_path, payloads, file_size=1 << 20))
    records: list[Record] = []
    scan(tmp_path, records.append, from_lsn=ends[9])
    assert [bytes(r.payload) for r in records] == payloads[10:]


def test_scan_refuses_a_missing_file_above_from_lsn(tmp_path: Path) -> None:
    asyncio.run(_write_log(tmp_path, _payloads(50), file_size=1000))
    bases = list_files(tmp_path)
    (tmp_path / fmt.file_name(bases[2])).unlink()
    with pytest.raises(CorruptLogError, match=fmt.file_name(bases[3])):
        scan(tmp_path, lambda r: None, from_lsn=bases[1])
    # The first files missing with no checkpoint covering them: refused too.
    (tmp_path / fmt.file_name(bases[0])).unlink()
    with pytest.raises(CorruptLogError, match="missing"):
        scan(tmp_path, lambda r: None)


def test_delete_files_before_frees_closed_files_only(tmp_path: Path) -> None:
    async def body() -> None:
        loop = asyncio.get_running_loop()
        writer = WalWriter(tmp_path, 0, tail_base=None, loop=loop, file_size=1000)
        ends = [writer.write(fmt.RecordType.APPEND, [p])[2] for p in _payloads(50)]
        usage = writer.disk_usage()
        bases = list_files(tmp_path)
        assert usage == sum((tmp_path / fmt.file_name(b)).stat().st_size for b in bases)
        # Nothing before the second file's base can be deleted but the first file.
        assert writer.delete_files_before(bases[1] - 1) == 0
        freed = writer.delete_files_before(bases[1])
        assert freed > 0
        assert list_files(tmp_path) == bases[1:]
        assert writer.disk_usage() == usage - freed
        # Everything: the tail file stays.
        writer.delete_files_before(ends[-1] + 10_000)
        assert list_files(tmp_path) == bases[-1:]
        writer.close()

    asyncio.run(body())
