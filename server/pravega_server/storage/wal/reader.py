"""Recovery: read every valid record of a log directory in order.

Policy (the RocksDB "point in time" idea, narrowed to what a crash can cause):

* a short header, a short payload or a checksum mismatch in the **last** file is a torn
  tail: the file is cut back to the start of that record and recovery succeeds;
* the same in an earlier file cannot come from a crash (that file was synced and
  closed before the next one was started): it is corruption and raises
  :class:`CorruptLogError`, unless ``tolerate_corruption`` is set, in which case the
  rest of the log after the damaged record is dropped and reported.
"""

from __future__ import annotations

import mmap
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import format as fmt


class CorruptLogError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Record:
    rtype: int
    payload: memoryview
    file_base: int  # base LSN of the file holding it
    payload_offset: int  # offset of the payload inside that file
    end_lsn: int


@dataclass
class Recovery:
    """What :func:`scan` found; ``next_lsn`` is where the writer continues."""

    next_lsn: int = 0
    tail_base: int | None = None
    torn_bytes: int = 0
    records: int = 0


def list_files(directory: Path) -> list[int]:
    bases = []
    for entry in os.listdir(directory):
        base = fmt.parse_file_name(entry)
        if base is not None:
            bases.append(base)
    return sorted(bases)


def scan(
    directory: Path,
    apply: Callable[[Record], None],
    *,
    from_lsn: int = 0,
    tolerate_corruption: bool = False,
    report: Callable[[str], None] | None = None,
) -> Recovery:
    """Feed every valid record to ``apply`` and repair a torn tail.

    Records whose end LSN is at or below ``from_lsn`` (covered by a checkpoint) are not
    applied; files wholly below it may be absent, a missing file above it is corruption.
    """
    result = Recovery(next_lsn=from_lsn)
    bases = list_files(directory)
    # Files wholly below from_lsn: the next file starts at or below it.
    while len(bases) > 1 and bases[1] <= from_lsn:
        bases.pop(0)
    if bases and bases[0] > from_lsn:
        raise CorruptLogError(
            f"{fmt.file_name(bases[0])}: log data from LSN {from_lsn} to {bases[0]} is missing (a deleted log file?)"
        )
    expected = bases[0] if bases else from_lsn
    for index, base in enumerate(bases):
        last = index == len(bases) - 1
        path = directory / fmt.file_name(base)
        if base != expected:
            raise CorruptLogError(f"{path.name}: expected a log file starting at LSN {expected} (a missing file?)")
        good_end, damage = _scan_file(path, base, _skip_before(apply, from_lsn), result)
        size = path.stat().st_size
        result.tail_base = base
        result.next_lsn = base + good_end
        expected = result.next_lsn
        if damage is None:
            continue
        message = f"{path.name}: {damage} at offset {good_end} ({size - good_end} bytes dropped)"
        if not last and not tolerate_corruption:
            raise CorruptLogError(message)
        if report is not None:
            report(("torn tail: " if last else "corruption: ") + message)
        result.torn_bytes += size - good_end
        with open(path, "r+b") as fh:
            fh.truncate(good_end)
            os.fsync(fh.fileno())
        for later in bases[index + 1 :]:  # only reachable when tolerating corruption
            os.unlink(directory / fmt.file_name(later))
        break
    return result


def _skip_before(apply: Callable[[Record], None], from_lsn: int) -> Callable[[Record], None]:
    if from_lsn <= 0:
        return apply

    def filtered(record: Record) -> None:
        if record.end_lsn > from_lsn:
            apply(record)

    return filtered


def _scan_file(path: Path, base: int, apply: Callable[[Record], None], result: Recovery) -> tuple[int, str | None]:
    size = path.stat().st_size
    if size == 0:
        return 0, None
    with open(path, "rb") as fh:
        mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    view = memoryview(mm)
    pos = 0
    try:
        while pos < size:
            if size - pos < fmt.HEADER_SIZE:
                return pos, "short record header"
            crc, length, rtype = fmt.HEADER.unpack_from(view, pos)
            if crc == 0 and length == 0 and rtype == 0:
                # Preallocated space: the end of the log. Anything not zero after it
                # would be a record written without the ones before it being synced,
                # and never acknowledged.
                return pos, None
            if length > fmt.MAX_RECORD_SIZE:
                return pos, f"record length {length} out of range"
            start = pos + fmt.HEADER_SIZE
            end = start + length
            if end > size:
                return pos, "short record payload"
            payload = view[start:end]
            if zlib.crc32(payload, zlib.crc32(bytes((rtype,)))) != crc:
                return pos, "checksum mismatch"
            apply(Record(rtype, payload, base, start, base + end))
            result.records += 1
            pos = end
        return pos, None
    finally:
        view.release()
        try:
            mm.close()
        except BufferError:
            # A caller kept a slice of the payload; the map is freed with it.
            pass
