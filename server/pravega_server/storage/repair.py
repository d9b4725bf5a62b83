"""``pravega-server repair``: salvage a damaged log and say exactly what was lost.

The repair replays every valid record of the log (the scan resynchronizes after each
damaged region), copies the records that still apply into a new log with fresh LSNs,
keeps the old log untouched under ``DIR/damaged/<time>/wal`` and swaps the new one in
(see ``repair_files`` for the crash-safe order). A torn tail is not salvaged (nothing in
it was acknowledged); the server cuts it by itself.

What salvaging means for a segment: an append's place in a segment is implicit in log
order, so when an append record is lost, the segment's later appends move down by the
lost bytes: every event outside the damaged record is kept, whole and in order, and the
report names the segment and the offset where the loss is. (Readers that had saved a
position beyond that offset in the segment must restart from the segment's start or
from a stream cut taken before the loss.) A lost metadata record (a batch) can leave
later records that no longer apply (for example an append to a segment whose creation
was lost): they are dropped and reported one by one.
"""

from __future__ import annotations

import asyncio
import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import errors
from .engine import Engine
from .lock import DataDirLock
from .ops import APPEND_HEADER, decode_batch
from .repair_files import WAL, finish_repair, new_staging, swap_in
from .segments import Segment
from .wal import format as fmt
from .wal.files import fsync_dir
from .wal.reader import Damage, Record, scan


@dataclass
class RepairReport:
    healthy: bool = False
    records_kept: int = 0
    records_dropped: int = 0
    bytes_lost: int = 0
    lines: list[str] = field(default_factory=list)
    kept_at: Path | None = None

    def note(self, line: str) -> None:
        self.lines.append(line)


class _LogCopier:
    """Writes records to a new log directory from ``start_lsn`` on, everything synced at the end."""

    def __init__(self, directory: Path, file_size: int, start_lsn: int = 0) -> None:
        self._dir = directory
        self._file_size = file_size
        self._lsn = start_lsn
        self._base = start_lsn
        self._fh = open(directory / fmt.file_name(start_lsn), "wb")

    def write(self, rtype: int, payload: bytes | memoryview) -> None:
        if self._lsn - self._base >= self._file_size:
            self._close_file()
            self._base = self._lsn
            self._fh = open(self._dir / fmt.file_name(self._base), "wb")
        head = fmt.header(self._lsn, rtype, self._lsn, [payload])
        self._fh.write(head)
        self._fh.write(payload)
        self._lsn += len(head) + len(payload)

    def _close_file(self) -> None:
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()

    def finish(self) -> None:
        # The whole new log is synced before it is swapped in: prove it in the log too.
        self.write(fmt.RecordType.MARKER, b"")
        self._close_file()
        fsync_dir(self._dir)


def repair(data_dir: Path, *, file_size: int = fmt.DEFAULT_FILE_SIZE) -> RepairReport:
    """Salvage the log in ``data_dir`` (the server must not run: the lock is taken)."""
    lock = DataDirLock.acquire(data_dir)
    try:
        finish_repair(data_dir)
        loop = asyncio.new_event_loop()
        try:
            return _repair(data_dir, file_size, loop)
        finally:
            loop.close()
    finally:
        lock.release()


def _repair(data_dir: Path, file_size: int, loop: asyncio.AbstractEventLoop) -> RepairReport:
    wal = data_dir / WAL
    report = RepairReport()
    engine = Engine(data_dir, loop, fsync=True)
    from_lsn = _load_checkpoint(engine, data_dir)
    # First a look without changing anything: a healthy log (or a torn tail only) is left alone.
    probe = scan(wal, lambda r: None, from_lsn=from_lsn, salvage=True)
    if not probe.corruption:
        report.healthy = True
        tail = f"; a torn tail of {probe.damage[0].end_lsn - probe.damage[0].lsn} bytes" if probe.damage else ""
        report.note(
            f"the log is healthy ({probe.records} records{tail}, which the server cuts at start): nothing to repair"
        )
        return report
    staging = new_staging(data_dir)
    copier = _LogCopier(staging, file_size, from_lsn)
    after_damage = [False]

    def apply(record: Record) -> None:
        problem = _applies(engine, record) if after_damage[0] else None
        if problem is None:
            try:
                engine._replay(record)
            except (KeyError, ValueError, IndexError) as exc:  # a record that needed a lost one
                problem = f"cannot be applied without the lost records ({exc!r})"
        if problem is not None:
            report.records_dropped += 1
            report.note(f"dropped record at LSN {record.lsn} ({_describe(engine, record)}): {problem}")
            return
        copier.write(record.rtype, record.payload)
        report.records_kept += 1

    def damaged(damage: Damage) -> None:
        after_damage[0] = True
        report.bytes_lost += damage.end_lsn - damage.lsn
        report.note(f"lost {damage.describe()}")
        for line in _guess_lost(engine, wal, damage):
            report.note("  " + line)

    scan(wal, apply, from_lsn=from_lsn, salvage=True, on_damage=damaged)
    copier.finish()
    report.kept_at = swap_in(data_dir, staging)
    report.note(
        f"kept {report.records_kept} records, dropped {report.records_dropped}, lost {report.bytes_lost} bytes; "
        f"the damaged log is kept in {report.kept_at}"
    )
    return report


def _load_checkpoint(engine: Engine, data_dir: Path) -> int:
    """Start from the newest metadata checkpoint when the store has them (tiered storage):
    returns the LSN it covers (the log before it may be gone), 0 without one.

    Looked up by name so the repair works with and without the checkpoint module.
    """
    try:
        checkpoint = importlib.import_module(f"{__package__}.checkpoint")
    except ImportError:
        return 0
    install = getattr(engine, "_install", None)
    state = checkpoint.load_newest(data_dir)
    if state is None or install is None:
        return 0
    install(state)
    return int(state.lsn)


def _applies(engine: Engine, record: Record) -> str | None:
    """Why an append after a damaged region no longer applies, or None."""
    if record.rtype == fmt.RecordType.BATCH:
        try:
            engine._validate(decode_batch(record.payload))
        except errors.StoreError as exc:
            return f"it depends on lost records ({exc})"
        return None
    if record.rtype != fmt.RecordType.APPEND:
        return None
    seg_id = APPEND_HEADER.unpack_from(record.payload)[0]
    if seg_id >= engine.next_id:
        return f"its segment (id {seg_id}) was created in a lost record"
    return None


def _segment_name(engine: Engine, seg_id: int) -> str:
    seg: Segment | None = engine.by_id.get(seg_id)
    return seg.name if seg is not None else f"segment id {seg_id} (deleted or unknown)"


def _describe(engine: Engine, record: Record) -> str:
    if record.rtype == fmt.RecordType.APPEND:
        seg_id, _, _, event = APPEND_HEADER.unpack_from(record.payload)
        size = len(record.payload) - APPEND_HEADER.size
        return f"append of {size} bytes to {_segment_name(engine, seg_id)}, event number {event}"
    return f"record type {record.rtype}"


def _guess_lost(engine: Engine, wal: Path, damage: Damage) -> list[str]:
    """Best effort: walk the record headers inside the damaged region (unverified)."""
    if "missing" in damage.reason or "overlaps" in damage.reason:
        return ["the content of the missing log data is unknown"]
    path = wal / damage.file
    lines: list[str] = []
    try:
        with open(path, "rb") as fh:
            fh.seek(damage.offset)
            region = fh.read(damage.end_lsn - damage.lsn)
    except OSError:
        return ["(the damaged file cannot be read)"]
    pos = 0
    while pos + fmt.HEADER_SIZE <= len(region):
        magic, _, length, rtype, _ = fmt.HEADER.unpack_from(region, pos)
        if magic != fmt.MAGIC or pos + fmt.HEADER_SIZE + length > len(region):
            break
        payload = region[pos + fmt.HEADER_SIZE : pos + fmt.HEADER_SIZE + length]
        if rtype == fmt.RecordType.APPEND and length >= APPEND_HEADER.size:
            seg_id, _, _, event = APPEND_HEADER.unpack_from(payload)
            seg = engine.by_id.get(seg_id)
            where = f" at segment offset {seg.length}" if seg is not None else ""
            lines.append(
                f"probably an append of {length - APPEND_HEADER.size} bytes to {_segment_name(engine, seg_id)}"
                f"{where} (event number {event}); the segment's later data now starts at that offset "
                "(header unverified)"
            )
        elif rtype == fmt.RecordType.BATCH:
            lines.append(f"probably a metadata batch of {length} bytes (header unverified)")
        pos += fmt.HEADER_SIZE + length
    if pos < len(region):
        lines.append(f"{len(region) - pos} bytes of unknown content")
    return lines


def main(data_dir: Path, out: Callable[[str], None] = print) -> int:
    """The ``repair`` subcommand: 0 repaired or healthy, 1 on error."""
    if not (data_dir / WAL).is_dir() and not (data_dir / "wal.repair").is_dir():
        out(f"pravega-server repair: no log in {data_dir}")
        return 1
    try:
        result = repair(data_dir)
    except OSError as exc:
        out(f"pravega-server repair: {exc}")
        return 1
    for line in result.lines:
        out(line)
    return 0
