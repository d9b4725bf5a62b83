"""WAL reader tests in the style of leveldb's log_test.cc: build a log byte by byte, damage it
(shrink, flip, zero, fix a checksum, drop a file) and check what a scan applies, cuts or refuses."""

from __future__ import annotations

import asyncio
import struct
import time
from pathlib import Path
from typing import Any

import pytest

from pravega_server.storage.wal import format as fmt
from pravega_server.storage.wal.reader import CorruptLogError, Damage, Record, Recovery, list_files, scan
from pravega_server.storage.wal.writer import WalWriter


class LogBuilder:
    """Writes format-2 records into files, with the synced_lsn the test chooses."""

    def __init__(self, directory: Path, base: int = 0) -> None:
        self.dir = directory
        self.lsn = base
        self.base = base
        self.ends: list[int] = []
        self.starts: list[int] = []
        self.path = directory / fmt.file_name(base)
        self.path.write_bytes(b"")

    def add(self, payload: bytes, synced: int | None = None, rtype: int = fmt.RecordType.APPEND) -> int:
        """Append one record; ``synced`` defaults to 'everything before it is durable'."""
        synced = self.lsn if synced is None else synced
        head = fmt.header(self.lsn, rtype, synced, [payload])
        with open(self.path, "ab") as fh:
            fh.write(head + payload)
        self.starts.append(self.lsn)
        self.lsn += len(head) + len(payload)
        self.ends.append(self.lsn)
        return self.lsn

    def new_file(self) -> None:
        self.base = self.lsn
        self.path = self.dir / fmt.file_name(self.base)
        self.path.write_bytes(b"")

    def zeros(self, n: int) -> None:
        with open(self.path, "ab") as fh:
            fh.write(bytes(n))


def payloads(n: int) -> list[bytes]:
    return [f"event-{i:03d}|".encode() * (i % 7 + 1) for i in range(n)]


def read_all(directory: Path, **kwargs: Any) -> tuple[list[bytes], Recovery]:
    seen: list[bytes] = []
    result = scan(directory, lambda r: seen.append(bytes(r.payload)), **kwargs)
    return seen, result


def flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x40
    path.write_bytes(bytes(data))


def test_round_trip_and_preallocated_zeros_end_the_log(tmp_path: Path) -> None:
    log = LogBuilder(tmp_path)
    data = payloads(30)
    for p in data:
        log.add(p)
    log.zeros(64 * 1024)
    seen, result = read_all(tmp_path)
    assert seen == data
    assert result.next_lsn == log.lsn
    assert not result.damage
    assert result.durable_lsn == log.starts[-1]


def test_markers_prove_durability_and_are_not_applied(tmp_path: Path) -> None:
    log = LogBuilder(tmp_path)
    for p in payloads(3):
        log.add(p)
    log.add(b"", synced=log.lsn, rtype=fmt.RecordType.MARKER)
    seen, result = read_all(tmp_path)
    assert seen == payloads(3)
    assert result.records == 3
    assert result.durable_lsn == log.starts[-1]  # the marker proves the three records durable


def test_shrunk_file_is_a_torn_tail_cut_silently(tmp_path: Path) -> None:
    log = LogBuilder(tmp_path)
    data = payloads(10)
    for p in data[:9]:
        log.add(p)
    log.add(data[9], synced=log.starts[-1])  # the last record's sync never completed
    size = log.path.stat().st_size
    with open(log.path, "r+b") as fh:
        fh.truncate(size - 5)
    lines: list[str] = []
    seen, result = read_all(tmp_path, report=lines.append)
    assert seen == data[:9]
    assert log.path.stat().st_size == log.starts[-1]  # cut back to the torn record's start
    assert result.torn_bytes == size - 5 - log.starts[-1]
    assert result.next_lsn == log.starts[-1]
    assert len(lines) == 1 and "torn tail" in lines[0]
    # A second scan finds a clean log.
    seen, result = read_all(tmp_path)
    assert seen == data[:9] and not result.damage


@pytest.mark.parametrize("where", ["header", "payload", "magic", "synced"])
def test_flipped_byte_in_an_unproven_tail_is_torn(tmp_path: Path, where: str) -> None:
    log = LogBuilder(tmp_path)
    for p in payloads(5):
        log.add(p, synced=0)  # nothing proven (a burst that never saw a sync)
    start = log.starts[3]
    offset = {"magic": 1, "header": 9, "synced": 16, "payload": fmt.HEADER_SIZE + 2}[where]
    flip(log.path, start + offset)
    seen, result = read_all(tmp_path)
    assert seen == payloads(5)[:3]
    assert result.next_lsn == start
    assert not result.corruption


@pytest.mark.parametrize("where", ["header", "payload", "magic", "length"])
def test_flipped_byte_followed_by_proof_is_corruption_and_changes_nothing(tmp_path: Path, where: str) -> None:
    log = LogBuilder(tmp_path)
    data = payloads(20)
    for p in data:
        log.add(p)  # each record proves the previous ones durable
    start = log.starts[7]
    offset = {"magic": 0, "header": 5, "length": 10, "payload": fmt.HEADER_SIZE + 3}[where]
    flip(log.path, start + offset)
    before = log.path.read_bytes()
    with pytest.raises(CorruptLogError) as info:
        read_all(tmp_path)
    message = str(info.value)
    assert fmt.file_name(0) in message and f"offset {start}" in message
    assert "\n" not in message
    assert log.path.read_bytes() == before  # nothing moved, nothing cut


def test_salvage_applies_every_record_outside_the_damaged_one(tmp_path: Path) -> None:
    log = LogBuilder(tmp_path)
    data = payloads(20)
    for p in data:
        log.add(p)
    flip(log.path, log.starts[7] + fmt.HEADER_SIZE + 1)
    damage: list[Damage] = []
    seen, result = read_all(tmp_path, salvage=True, on_damage=damage.append)
    assert seen == data[:7] + data[8:]
    assert len(damage) == 1
    assert damage[0].lsn == log.starts[7] and damage[0].end_lsn == log.ends[7]  # exactly one record lost


def test_zeroed_page_followed_by_valid_records_is_corruption(tmp_path: Path) -> None:
    log = LogBuilder(tmp_path)
    data = payloads(200)
    for p in data:
        log.add(p)
    raw = bytearray(log.path.read_bytes())
    raw[4096:8192] = bytes(4096)
    log.path.write_bytes(bytes(raw))
    with pytest.raises(CorruptLogError, match="offset"):
        read_all(tmp_path)
    damage: list[Damage] = []
    seen, _ = read_all(tmp_path, salvage=True, on_damage=damage.append)
    lost = [p for p, s, e in zip(data, log.starts, log.ends) if s < 8192 and e > 4096]
    assert lost and seen == [p for p in data if p not in lost]
    assert damage[0].lsn <= 4096 and damage[0].end_lsn >= 8192


def test_dropped_bytes_are_counted(tmp_path: Path) -> None:
    log = LogBuilder(tmp_path)
    for p in payloads(4):
        log.add(p)
    good = log.lsn
    with open(log.path, "ab") as fh:
        fh.write(b"\x01" * 77)  # garbage after the last record, nothing after it
    _, result = read_all(tmp_path)
    assert result.torn_bytes == 77
    assert log.path.stat().st_size == good


def test_fixed_checksum_does_not_hide_a_record_moved_elsewhere(tmp_path: Path) -> None:
    """The checksum binds a record to its LSN: a valid record copied over another does not verify."""
    log = LogBuilder(tmp_path)
    data = payloads(6)
    for p in data:
        log.add(p)
    raw = bytearray(log.path.read_bytes())
    first = raw[log.starts[0] : log.ends[0]]
    size = len(first)
    # Records 2 and 3 have other sizes; overwrite record 4 with record 0's bytes if it fits.
    target = log.starts[4]
    assert log.ends[4] - target >= size
    raw[target : target + size] = first
    log.path.write_bytes(bytes(raw))
    with pytest.raises(CorruptLogError):
        read_all(tmp_path)


def test_fixed_checksum_makes_a_changed_record_valid(tmp_path: Path) -> None:
    """A change with a recomputed checksum is a valid record (the checksum is all there is)."""
    log = LogBuilder(tmp_path)
    for p in payloads(3):
        log.add(p)
    raw = bytearray(log.path.read_bytes())
    start = log.starts[1]
    payload = bytearray(raw[start + fmt.HEADER_SIZE : log.ends[1]])
    payload[0:5] = b"EVENT"
    magic, _, length, rtype, synced = fmt.HEADER.unpack_from(raw, start)
    raw[start : start + fmt.HEADER_SIZE] = fmt.header(start, rtype, synced, [bytes(payload)])
    raw[start + fmt.HEADER_SIZE : log.ends[1]] = payload
    log.path.write_bytes(bytes(raw))
    seen, result = read_all(tmp_path)
    assert seen[1].startswith(b"EVENT") and not result.damage


def test_missing_middle_file_is_corruption(tmp_path: Path) -> None:
    log = LogBuilder(tmp_path)
    bases = []
    for _ in range(4):
        bases.append(log.base)
        for p in payloads(5):
            log.add(p, synced=0)  # even without any proof: a crash never loses a whole file
        log.new_file()
    (tmp_path / fmt.file_name(bases[2])).unlink()
    with pytest.raises(CorruptLogError, match="missing"):
        read_all(tmp_path)
    assert list_files(tmp_path) == [bases[0], bases[1], bases[3], log.base]


def test_truncated_older_file_is_corruption(tmp_path: Path) -> None:
    log = LogBuilder(tmp_path)
    first = log.path
    for p in payloads(5):
        log.add(p)
    log.new_file()
    for p in payloads(5):
        log.add(p)
    with open(first, "r+b") as fh:
        fh.truncate(first.stat().st_size - 10)
    with pytest.raises(CorruptLogError, match=fmt.file_name(0)):
        read_all(tmp_path)


def test_format_1_files_are_still_read(tmp_path: Path) -> None:
    """Logs of 0.1.0 (``crc | length | type``, no magic) recover; new records go to a new file."""
    data = payloads(5)
    raw = b""
    for p in data:
        raw += struct.pack(">IIB", fmt.v1_checksum(2, p), len(p), 2) + p
    (tmp_path / fmt.file_name(0)).write_bytes(raw + bytes(4096))
    seen, result = read_all(tmp_path)
    assert seen == data
    assert result.tail_is_v1 and result.next_lsn == len(raw)


def test_from_lsn_covers_damage_below_a_checkpoint(tmp_path: Path) -> None:
    log = LogBuilder(tmp_path)
    for p in payloads(10):
        log.add(p, synced=0)
    flip(log.path, log.starts[8] + fmt.HEADER_SIZE)
    # The checkpoint proves the log durable up to record 9: damage below it is corruption.
    with pytest.raises(CorruptLogError):
        read_all(tmp_path, from_lsn=log.ends[9])


def test_writer_leaves_a_marker_after_an_idle_sync(tmp_path: Path) -> None:
    async def body() -> int:
        loop = asyncio.get_running_loop()
        writer = WalWriter(tmp_path, 0, tail_base=None, loop=loop)
        end = 0
        for p in payloads(10):
            end = writer.write(fmt.RecordType.APPEND, [p])[2]
        done = loop.create_future()
        writer.barrier(lambda: done.set_result(None))
        await done
        deadline = time.monotonic() + 30
        while writer.durable_lsn <= end and time.monotonic() < deadline:  # the marker's own sync
            await asyncio.sleep(0.01)
        writer.close()
        return end

    end = asyncio.run(body())
    records: list[Record] = []
    result = scan(tmp_path, records.append)
    assert len(records) == 10
    assert result.durable_lsn >= end  # the marker proves the last record durable
    assert result.next_lsn > end  # the marker follows the data


def test_a_restarted_writer_proves_the_records_it_recovered(tmp_path: Path) -> None:
    """Records recovered without a proof (the process died before its marker) get one at start."""
    log = LogBuilder(tmp_path)
    for p in payloads(5):
        log.add(p, synced=0)
    result = scan(tmp_path, lambda r: None)
    assert result.durable_lsn == 0

    async def body() -> None:
        loop = asyncio.get_running_loop()
        writer = WalWriter(tmp_path, result.next_lsn, tail_base=0, loop=loop, durable_lsn=result.durable_lsn)
        deadline = time.monotonic() + 30
        while writer.lsn == result.next_lsn and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        done = loop.create_future()
        writer.barrier(lambda: done.set_result(None))
        await done
        writer.close()

    asyncio.run(body())
    again = scan(tmp_path, lambda r: None)
    assert again.records == 5
    assert again.durable_lsn == result.next_lsn  # the marker proves all five records


def test_sealed_artifacts_verify_and_refuse_damage() -> None:
    """The checksum helper for artifacts outside the log (tier-2 chunks, checkpoints)."""
    blob = fmt.seal(b"chunk data " * 100)
    assert bytes(fmt.unseal(blob, "chunk 7")) == b"chunk data " * 100
    damaged = bytearray(blob)
    damaged[5] ^= 1
    with pytest.raises(fmt.ChecksumError, match="chunk 7: checksum mismatch"):
        fmt.unseal(bytes(damaged), "chunk 7")
    with pytest.raises(fmt.ChecksumError, match="too short"):
        fmt.unseal(b"abc", "chunk 8")
    with pytest.raises(fmt.ChecksumError):
        fmt.unseal(blob[:-1], "chunk 9")  # cut short
