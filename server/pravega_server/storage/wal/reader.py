"""Recovery: read every valid record of a log directory in order, and judge any damage.

A scan walks the files in LSN order. A record that does not verify (bad magic, length
or checksum, cut short by the end of the file), zeros followed by valid records, a gap
between files or a file overlapping the previous one is *damage*; the scan then
resynchronizes on the next record magic whose record verifies, so it sees every valid
record after the damage, too.

Every valid record carries the LSN its writer knew durable (see ``format``). Let D be the
highest such proof (and at least ``from_lsn``, the LSN a checkpoint covers):

* damage at an LSN below D cannot come from a crash, because bytes before D were synced:
  it is **corruption**. :func:`scan` raises :class:`CorruptLogError` with one line naming
  the file and offset, and changes nothing on disk. ``pravega-server repair`` salvages;
* damage at or after D is a **torn tail**: nothing from it on was acknowledged (its sync
  never completed, or the proof would be on disk), so the log is cut there.

Format-1 files (0.1.0) carry no proof: a format-1 file followed by another file was
synced when the writer moved on, so its whole content counts as proven.
"""

from __future__ import annotations

import mmap
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import format as fmt
from .files import fsync_dir


class CorruptLogError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Record:
    rtype: int
    payload: memoryview
    file_base: int  # base LSN of the file holding it
    payload_offset: int  # offset of the payload inside that file
    end_lsn: int
    lsn: int = 0  # LSN of the record's first header byte
    synced_lsn: int = 0


@dataclass(frozen=True, slots=True)
class Damage:
    """Bytes ``[lsn, end_lsn)`` of the log that are not valid records."""

    file: str
    offset: int
    lsn: int
    end_lsn: int
    reason: str
    always_corrupt: bool = False

    def describe(self) -> str:
        return f"{self.file} offset {self.offset} (LSN {self.lsn}): {self.reason}, {self.end_lsn - self.lsn} bytes"


@dataclass
class Recovery:
    """What :func:`scan` found; ``next_lsn`` is where the writer continues."""

    next_lsn: int = 0
    tail_base: int | None = None
    torn_bytes: int = 0
    records: int = 0
    durable_lsn: int = 0  # highest LSN proven durable (D)
    damage: list[Damage] = field(default_factory=list)  # everything that did not verify
    corruption: list[Damage] = field(default_factory=list)  # the part of it below D
    tail_is_v1: bool = False  # the tail file is format 1: the writer starts a new file


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
    salvage: bool = False,
    on_damage: Callable[[Damage], None] | None = None,
    report: Callable[[str], None] | None = None,
) -> Recovery:
    """Feed every valid record to ``apply`` in log order and cut a torn tail.

    Records whose end LSN is at or below ``from_lsn`` (covered by a checkpoint) are not
    applied; files wholly below it may be absent, a missing file above it is corruption.
    Marker records are never passed to ``apply``.

    Strict (default): records after the first damage are not applied; corruption raises
    :class:`CorruptLogError` (nothing on disk changed). With ``salvage``: every valid record
    before the torn tail is applied, ``on_damage`` is called (in log order, between the
    records) for each corrupt region, and nothing on disk is changed at all.
    """
    bases = list_files(directory)
    while len(bases) > 1 and bases[1] <= from_lsn:
        bases.pop(0)
    if salvage:
        verdict = _walk(directory, bases, from_lsn, None)
        _judge(verdict)
        torn = _torn_tail(verdict)
        limit = torn.lsn if torn is not None else None

        def feed(record: Record) -> None:
            if (limit is None or record.lsn < limit) and record.end_lsn > from_lsn:
                apply(record)

        def damaged(d: Damage) -> None:
            if on_damage is not None and d in verdict.corruption:
                on_damage(d)

        _walk(directory, bases, from_lsn, feed, damaged)
        return verdict
    applied_until: list[bool] = [True]

    def strict(record: Record) -> None:
        if applied_until[0] and record.end_lsn > from_lsn:
            apply(record)

    def stop(_: Damage) -> None:
        applied_until[0] = False

    result = _walk(directory, bases, from_lsn, strict, stop)
    _judge(result)
    if result.corruption:
        first = result.corruption[0]
        more = f"; {len(result.corruption) - 1} more damaged region(s)" if len(result.corruption) > 1 else ""
        raise CorruptLogError(
            f"corrupt log: {first.describe()}; valid records prove LSN {result.durable_lsn} durable, so this is "
            f"not a torn tail{more}. Nothing was changed: run `pravega-server repair --data-dir {directory.parent}` to salvage"
        )
    torn = _torn_tail(result)
    if torn is not None:
        _cut(directory, bases, torn, result)
        if report is not None:
            report(f"torn tail cut (nothing in it was acknowledged): {torn.describe()}")
    return result


def _judge(result: Recovery) -> None:
    result.corruption = [d for d in result.damage if d.always_corrupt or d.lsn < result.durable_lsn]


def _torn_tail(result: Recovery) -> Damage | None:
    for d in result.damage:
        if d not in result.corruption:
            return d
    return None


def _cut(directory: Path, bases: list[int], torn: Damage, result: Recovery) -> None:
    """Cut the log back to ``torn.lsn``: truncate the file holding it, delete later files."""
    holder = max(b for b in bases if b <= torn.lsn)
    with open(directory / fmt.file_name(holder), "r+b") as fh:
        size = os.fstat(fh.fileno()).st_size
        fh.truncate(torn.lsn - holder)
        os.fsync(fh.fileno())
    result.torn_bytes = size - (torn.lsn - holder)
    later = [b for b in bases if b > holder]
    for base in later:
        path = directory / fmt.file_name(base)
        result.torn_bytes += path.stat().st_size
        path.unlink()
    if later:
        fsync_dir(directory)
    result.next_lsn = torn.lsn
    result.tail_base = holder
    result.tail_is_v1 = result.tail_is_v1 and holder == bases[-1]


def _walk(
    directory: Path,
    bases: list[int],
    from_lsn: int,
    apply: Callable[[Record], None] | None,
    on_damage: Callable[[Damage], None] | None = None,
) -> Recovery:
    result = Recovery(next_lsn=from_lsn, durable_lsn=from_lsn)

    def damage(d: Damage) -> None:
        result.damage.append(d)
        if on_damage is not None:
            on_damage(d)

    def record(r: Record) -> None:
        result.durable_lsn = max(result.durable_lsn, r.synced_lsn)
        if r.rtype == fmt.RecordType.MARKER:
            return
        result.records += 1
        if apply is not None:
            apply(r)

    if bases and bases[0] > from_lsn:
        damage(
            Damage(
                fmt.file_name(bases[0]),
                0,
                from_lsn,
                bases[0],
                f"log data from LSN {from_lsn} is missing (a deleted log file?)",
                always_corrupt=True,
            )
        )
    expected = bases[0] if bases else from_lsn
    trailing: Damage | None = None  # damage running to the end of the previous file
    previous_v1 = False
    for base in bases:
        if previous_v1:
            # The format-1 writer synced a file before it started the next one.
            result.durable_lsn = max(result.durable_lsn, base)
        name = fmt.file_name(base)
        if base > expected and trailing is None:
            # A crash cannot cause it: a log file is synced before the next one is created.
            damage(
                Damage(
                    name,
                    0,
                    expected,
                    base,
                    f"log data from LSN {expected} is missing (a lost log file?)",
                    always_corrupt=True,
                )
            )
        elif base < expected:
            damage(Damage(name, 0, base, expected, "file overlaps the previous log file", always_corrupt=True))
        scanner = _FileScan(directory / name, base)
        data_end, trailing, v1 = scanner.run(record, damage)
        previous_v1 = v1
        result.tail_base = base
        result.tail_is_v1 = v1
        result.next_lsn = base + data_end
        expected = max(expected, base + data_end)
    return result


#: Window of the magic search (copied out of the map, then searched).
_SEARCH_WINDOW = 1 << 20


def _find_magic(view: memoryview, size: int, start: int) -> int:
    """Offset of the next record magic at or after ``start``, or -1.

    Searches copies of bounded windows instead of calling ``mmap.find``: the
    interpreter shipped in the container image (Debian's 3.11.2) crashed in
    ``mmap.find`` during recovery over a bind-mounted data directory.
    """
    n = len(fmt.MAGIC_BYTES)
    while start < size:
        end = min(size, start + _SEARCH_WINDOW)
        hit = bytes(view[start : min(size, end + n - 1)]).find(fmt.MAGIC_BYTES)
        if hit >= 0:
            return start + hit
        start = end
    return -1


class _FileScan:
    def __init__(self, path: Path, base: int) -> None:
        self.path = path
        self.base = base

    def run(
        self, on_record: Callable[[Record], None], on_damage: Callable[[Damage], None]
    ) -> tuple[int, Damage | None, bool]:
        """Scan the file; returns (end of its valid data, damage running to its end, format 1?)."""
        size = self.path.stat().st_size
        if size == 0:
            return 0, None, False
        with open(self.path, "rb") as fh:
            mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        view = memoryview(mm)
        try:
            if self._is_v1(mm, view, size):
                end, trailing = self._run_v1(view, size, on_record, on_damage)
                return end, trailing, True
            end, trailing = self._run_v2(mm, view, size, on_record, on_damage)
            return end, trailing, False
        finally:
            view.release()
            try:
                mm.close()
            except BufferError:
                # A caller kept a slice of a payload; the map is freed with it.
                pass

    def _is_v1(self, mm: mmap.mmap, view: memoryview, size: int) -> bool:
        if mm[:4] == fmt.MAGIC_BYTES or not any(mm[: min(size, fmt.HEADER_SIZE)]):
            return False
        if self._find(mm, view, size, 0) is not None:
            return False  # a format-2 file whose first record is damaged
        if size < fmt.V1_HEADER.size:
            return False
        crc, length, rtype = fmt.V1_HEADER.unpack_from(view, 0)
        end = fmt.V1_HEADER.size + length
        return bool(end <= size and fmt.v1_checksum(rtype, view[fmt.V1_HEADER.size : end]) == crc)

    def _damage(self, offset: int, end: int, reason: str) -> Damage:
        return Damage(self.path.name, offset, self.base + offset, self.base + end, reason)

    def _check(self, view: memoryview, size: int, pos: int) -> str | None:
        """Why the record at ``pos`` is not valid, or None."""
        if size - pos < fmt.HEADER_SIZE:
            return "record header cut short by the end of the file"
        magic, crc, length, rtype, synced = fmt.HEADER.unpack_from(view, pos)
        if magic != fmt.MAGIC:
            return "bad record magic"
        if length > fmt.MAX_RECORD_SIZE:
            return f"record length {length} out of range"
        start = pos + fmt.HEADER_SIZE
        if start + length > size:
            return "record cut short by the end of the file"
        if fmt.checksum(self.base + pos, rtype, synced, [view[start : start + length]]) != crc:
            return "checksum mismatch"
        return None

    def _find(self, mm: mmap.mmap, view: memoryview, size: int, start: int) -> int | None:
        """Offset of the next valid record at or after ``start``."""
        pos = _find_magic(view, size, start)
        while pos >= 0:
            if self._check(view, size, pos) is None:
                return pos
            pos = _find_magic(view, size, pos + 1)
        return None

    def _run_v2(
        self,
        mm: mmap.mmap,
        view: memoryview,
        size: int,
        on_record: Callable[[Record], None],
        on_damage: Callable[[Damage], None],
    ) -> tuple[int, Damage | None]:
        pos = 0
        base = self.base
        unpack, hsize, magic_ok, crc_head = fmt.HEADER.unpack_from, fmt.HEADER_SIZE, fmt.MAGIC, fmt.CRC_HEAD.pack
        while pos < size:
            if size - pos >= hsize:  # the fast path: a valid record
                magic, crc, length, rtype, synced = unpack(view, pos)
                start = pos + hsize
                end = start + length
                if magic == magic_ok and end <= size:
                    payload = view[start:end]
                    if zlib.crc32(payload, zlib.crc32(crc_head(base + pos, length, rtype, synced))) == crc:
                        on_record(Record(rtype, payload, base, start, base + end, base + pos, synced))
                        pos = end
                        continue
            problem = self._check(view, size, pos) or "checksum mismatch"
            zeros = size - pos >= fmt.HEADER_SIZE and not any(mm[pos : pos + fmt.HEADER_SIZE])
            following = self._find(mm, view, size, pos + 1)
            if following is None:
                if zeros:
                    return pos, None  # preallocated space: the end of the data
                trailing = self._damage(pos, size, problem)
                on_damage(trailing)
                return pos, trailing
            on_damage(self._damage(pos, following, "zeroed bytes" if zeros else problem))
            pos = following
        return pos, None

    def _run_v1(
        self,
        view: memoryview,
        size: int,
        on_record: Callable[[Record], None],
        on_damage: Callable[[Damage], None],
    ) -> tuple[int, Damage | None]:
        pos = 0
        hsize = fmt.V1_HEADER.size
        while pos < size:
            if size - pos < hsize:
                problem = "short record header"
            else:
                crc, length, rtype = fmt.V1_HEADER.unpack_from(view, pos)
                if crc == 0 and length == 0 and rtype == 0:
                    return pos, None
                start = pos + hsize
                end = start + length
                if length > fmt.MAX_RECORD_SIZE:
                    problem = f"record length {length} out of range"
                elif end > size:
                    problem = "short record payload"
                elif fmt.v1_checksum(rtype, view[start:end]) != crc:
                    problem = "checksum mismatch"
                else:
                    on_record(Record(rtype, view[start:end], self.base, start, self.base + end, self.base + pos, 0))
                    pos = end
                    continue
            # Format 1 has no magic to resynchronize on: the rest of the file is damage.
            trailing = self._damage(pos, size, problem + " (format-1 file)")
            on_damage(trailing)
            return pos, trailing
        return pos, None
