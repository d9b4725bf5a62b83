"""A damaged log against a real server process: refuse with one clear line, repair, lose only the damage.

Each case writes events one record each (every write awaited), stops the server, damages the log
the way disks and operators do (a flipped byte in the newest or an older file, a truncated older
file, a zeroed page, a deleted middle file), and checks that:

* the server refuses to start with one line naming the file and offset, and changes nothing;
* ``pravega-server repair`` reports the damage (and the segment) and keeps the damaged log;
* the repaired server serves every event outside the damaged records, in order, exactly once.

A torn tail (half a record at the end, as a crash in the middle of a write leaves it) is cut
silently and loses nothing acknowledged.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pravega import naming
from pravega.aio import Client as AsyncClient
from pravega.client.segment_reader import EventParser, SegmentReader
from pravega.testing import ServerProcess
from pravega_server.storage.ops import APPEND_HEADER
from pravega_server.storage.wal import format as fmt
from pravega_server.storage.wal.reader import Record, list_files, scan

SCOPE, STREAM = "damage", "events"
EVENTS = 300
FILE_SIZE = 16 * 1024

# The log of one engine, damaged by hand at its known path: a single-process server
# (a container's log is the same code, under DATA_DIR/containers/<i>/).
CONTAINERS = 1


def event(i: int) -> bytes:
    return b"<ev-%06d>" % i + b"." * (100 + i % 50)


async def _write(uri: str, count: int) -> None:
    async with AsyncClient(uri) as client:
        await client.create_scope(SCOPE)
        await client.create_stream(SCOPE, STREAM, 1)
        writer: Any = await client.create_writer(SCOPE, STREAM)
        for i in range(count):
            await asyncio.wait_for(await writer.write(event(i)), 60)  # one record per event
        await writer.flush()


async def _read(uri: str) -> list[bytes]:
    async with AsyncClient(uri) as client:
        info = await client.stream_info(SCOPE, STREAM)
        (length,) = info.tail.positions.values()
        reader = SegmentReader(client.ctx, naming.qualified_segment_name(SCOPE, STREAM, 0))
        parser, events = EventParser(0), []
        while parser.offset < length:
            events += parser.feed((await reader.read()).data)
        reader.close()
        return [payload for _, payload in events]


def appends(wal: Path) -> list[Record]:
    """The log's append records, copied (read with the server's own reader, before any damage)."""
    found: list[Record] = []

    def keep(r: Record) -> None:
        if r.rtype == fmt.RecordType.APPEND:
            found.append(Record(r.rtype, memoryview(bytes(r.payload)), r.file_base, r.payload_offset, r.end_lsn, r.lsn))

    scan(wal, keep)
    return found


def lost_events(records: list[Record], lo: int, hi: int) -> set[bytes]:
    """Events held by records overlapping LSNs [lo, hi)."""
    lost = set()
    for r in records:
        if r.lsn < hi and r.end_lsn > lo:
            data = bytes(r.payload[APPEND_HEADER.size :])
            lost |= {event(i) for i in range(EVENTS) if event(i) in data}
    return lost


def server_command(data: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "pravega_server", *args, "--data-dir", str(data)]


def start_refused(data: Path) -> str:
    """Start a server on ``data``; it must exit at once with an error. Returns its stderr."""
    proc = subprocess.run(
        server_command(data, "--controller-port", "0", "--segment-store-port", "0"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "ready" not in proc.stdout
    return proc.stderr


def snapshot(wal: Path) -> dict[str, bytes]:
    return {name: (wal / name).read_bytes() for name in sorted(os.listdir(wal))}


def _record_in(records: list[Record], bases: list[int], file_index: int) -> Record:
    """An append record in the middle of the given log file."""
    base = bases[file_index]
    end = bases[file_index + 1] if file_index + 1 < len(bases) else 1 << 62
    inside = [r for r in records if base <= r.lsn and r.end_lsn <= end]
    assert inside, "no append record in that file"
    return inside[len(inside) // 2]


def flip_newest(wal: Path, records: list[Record]) -> tuple[int, int]:
    bases = list_files(wal)
    r = _record_in(records, bases, len(bases) - 1)
    _flip(wal / fmt.file_name(r.file_base), r.payload_offset + 40)
    return r.lsn, r.end_lsn


def flip_older(wal: Path, records: list[Record]) -> tuple[int, int]:
    bases = list_files(wal)
    r = _record_in(records, bases, 1)
    _flip(wal / fmt.file_name(r.file_base), r.payload_offset + 40)
    return r.lsn, r.end_lsn


def truncate_older(wal: Path, records: list[Record]) -> tuple[int, int]:
    bases = list_files(wal)
    path = wal / fmt.file_name(bases[1])
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.truncate(size - 300)
    return bases[1] + size - 300, bases[2]


def zero_page(wal: Path, records: list[Record]) -> tuple[int, int]:
    bases = list_files(wal)
    path = wal / fmt.file_name(bases[-2])
    raw = bytearray(path.read_bytes())
    raw[4096:8192] = bytes(4096)
    path.write_bytes(bytes(raw))
    return bases[-2] + 4096, bases[-2] + 8192


def delete_middle(wal: Path, records: list[Record]) -> tuple[int, int]:
    bases = list_files(wal)
    middle = len(bases) // 2
    os.unlink(wal / fmt.file_name(bases[middle]))
    return bases[middle], bases[middle + 1]


def _flip(path: Path, offset: int) -> None:
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0x10
    path.write_bytes(bytes(raw))


DAMAGE: dict[str, Callable[[Path, list[Record]], tuple[int, int]]] = {
    "flipped byte, newest file": flip_newest,
    "flipped byte, older file": flip_older,
    "truncated older file": truncate_older,
    "zeroed page": zero_page,
    "deleted middle file": delete_middle,
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_damage_is_refused_then_repaired(tmp_path: Path, case: str) -> None:
    data = tmp_path / "data"
    wal = data / "wal"
    with ServerProcess(data, containers=CONTAINERS, extra_args=["--log-file-size", str(FILE_SIZE)]) as server:
        asyncio.run(_write(server.controller_uri, EVENTS))
        server.stop()
        assert len(list_files(wal)) >= 4
        records = appends(wal)
        lo, hi = DAMAGE[case](wal, records)
        lost = lost_events(records, lo, hi)
        assert lost, "the damage must hit at least one event"
        before = snapshot(wal)

        message = start_refused(data)
        lines = [line for line in message.splitlines() if line.strip()]
        assert len(lines) == 1, message
        assert "corrupt log" in lines[0] and "repair" in lines[0]
        assert ".wal" in lines[0] and "offset" in lines[0]
        assert snapshot(wal) == before, "a refused start must change nothing"

        repaired = subprocess.run(
            server_command(data, "repair"), capture_output=True, text=True, timeout=300, check=False
        )
        assert repaired.returncode == 0, repaired.stdout + repaired.stderr
        report = repaired.stdout
        assert "lost" in report and "kept" in report
        kept = list((data / "damaged").glob("*/wal"))
        assert len(kept) == 1 and snapshot(kept[0]) == before  # the damaged log, untouched
        if "flipped" in case:  # one record lost, its segment named
            assert naming.qualified_segment_name(SCOPE, STREAM, 0) in report

        server.start()
        got = asyncio.run(_read(server.controller_uri))
        expected = [event(i) for i in range(EVENTS) if event(i) not in lost]
        assert got == expected, f"{len(got)} events read, {len(expected)} expected; report:\n{report}"
        # The repaired server takes new writes and keeps them.
        server.stop()
        server.start()
        assert asyncio.run(_read(server.controller_uri)) == expected


def test_repair_of_a_healthy_log_changes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with ServerProcess(data, containers=CONTAINERS) as server:
        asyncio.run(_write(server.controller_uri, 20))
        server.stop()
        before = snapshot(data / "wal")
        out = subprocess.run(server_command(data, "repair"), capture_output=True, text=True, timeout=120)
        assert out.returncode == 0 and "nothing to repair" in out.stdout
        assert snapshot(data / "wal") == before and not (data / "damaged").exists()


def test_torn_tail_is_cut_silently_and_loses_nothing_acknowledged(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with ServerProcess(data, containers=CONTAINERS) as server:
        asyncio.run(_write(server.controller_uri, 50))
        server.kill()
        # What a crash in the middle of a write leaves: half a record after the last one,
        # whose sync never completed (its synced_lsn proves nothing beyond the data).
        wal = data / "wal"
        tail = wal / fmt.file_name(list_files(wal)[-1])
        result = scan(wal, lambda r: None)
        payload = b"x" * 500
        head = fmt.header(result.next_lsn, fmt.RecordType.APPEND, result.durable_lsn, [payload])
        with open(tail, "r+b") as fh:
            fh.seek(result.next_lsn - list_files(wal)[-1])
            fh.write((head + payload)[:300])
        server.start()
        assert asyncio.run(_read(server.controller_uri)) == [event(i) for i in range(50)]
