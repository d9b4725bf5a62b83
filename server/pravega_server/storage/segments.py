"""In-memory state of segments and table segments.

A segment's bytes are not held here: its index lists *extents*, each a run of the
segment's bytes at a known place (a log file position, or a ``bytes`` object for the
in-memory store). Appends, merges and truncations only edit the index.

Two views of every segment exist. The *pending* view (``length``, ``sealed``) already
includes operations written to the log but not yet synced; new operations are
validated against it, so they are ordered exactly as in the log. The *durable* view
(``durable_length``, ``durable_sealed``) is what readers see: data becomes readable
only once it can no longer be lost.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable
from typing import Any

from .ops import NO_VERSION, SegmentKind

MIN_EVENT_NUMBER = -(2**63)

# An extent is (file base LSN, offset in that file, length) for data in the log,
# (chunk name, offset in that chunk, length) for data in tier 2,
# or (None, buffer, length) for the in-memory store.
Extent = tuple[Any, Any, int]


def now_ms() -> int:
    return int(time.time() * 1000)


class Table:
    """A table segment: keys with versions, plus the order of their last writes.

    A version is the position of the update that wrote it. Positions increase with
    every written entry, so ``ReadTableEntriesDelta`` can page through the live
    entries in write order with ``bisect``.
    """

    __slots__ = ("entries", "positions", "key_at", "next_position")

    def __init__(self) -> None:
        self.entries: dict[bytes, tuple[int, bytes]] = {}
        self.positions: list[int] = []  # sorted positions of live entries
        self.key_at: dict[int, bytes] = {}
        self.next_position = 0

    def put(self, key: bytes, value: bytes) -> int:
        old = self.entries.get(key)
        if old is not None:
            self._forget(old[0])
        version = self.next_position
        self.next_position += 1
        self.entries[key] = (version, value)
        self.positions.append(version)
        self.key_at[version] = key
        return version

    def remove(self, key: bytes) -> None:
        old = self.entries.pop(key, None)
        if old is not None:
            self._forget(old[0])
        # A removal is an update too: it moves the table's length on.
        self.next_position += 1

    def _forget(self, version: int) -> None:
        i = bisect.bisect_left(self.positions, version)
        del self.positions[i]
        del self.key_at[version]

    def delta(self, from_position: int, max_count: int) -> tuple[list[tuple[bytes, int, bytes]], int]:
        """Live entries last written at ``from_position`` or later, in write order.

        Returns the entries and the position just after the last one returned (or the
        table length when the scan reached the end)."""
        i = bisect.bisect_left(self.positions, from_position)
        chosen = self.positions[i : i + max_count]
        out = []
        for pos in chosen:
            key = self.key_at[pos]
            out.append((key, pos, self.entries[key][1]))
        if i + max_count >= len(self.positions):
            return out, self.next_position
        return out, chosen[-1] + 1


class Segment:
    __slots__ = (
        "name",
        "id",
        "kind",
        "scale_type",
        "target_rate",
        "length",
        "durable_length",
        "start_offset",
        "sealed",
        "durable_sealed",
        "deleted",
        "starts",
        "extents",
        "writers",
        "attributes",
        "last_modified",
        "table",
        "waiters",
        "created",
        "appended_events",
        "appended_bytes",
        "read_bytes",
        "log_size",
    )

    def __init__(self, name: str, seg_id: int, kind: SegmentKind, scale_type: int = 0, target_rate: int = 0) -> None:
        self.name = name
        self.id = seg_id
        self.kind = kind
        self.scale_type = scale_type
        self.target_rate = target_rate
        self.length = 0
        self.durable_length = 0
        self.start_offset = 0
        self.sealed = False
        self.durable_sealed = False
        self.deleted = False
        self.starts: list[int] = []
        self.extents: list[Extent] = []
        self.log_size = 0  # bytes of the extents in the log (see log_bytes)
        self.writers: dict[int, int] = {}
        self.attributes: dict[int, int] = {}
        self.created = self.last_modified = now_ms()
        # Totals since the process started (not durable), for the rate tracker (rates.py).
        self.appended_events = 0
        self.appended_bytes = 0
        self.read_bytes = 0  # event data served by ReadSegment since the server started
        self.table: Table | None = Table() if kind == SegmentKind.TABLE else None
        self.waiters: list[Callable[[], None]] = []

    def add_extent(self, extent: Extent) -> None:
        self.starts.append(self.length)
        self.extents.append(extent)
        self.length += extent[2]
        if type(extent[0]) is int:
            self.log_size += extent[2]
        self.last_modified = now_ms()

    def extents_from(self, offset: int) -> list[tuple[int, Extent]]:
        """(segment offset, extent) pairs covering [offset, length), the first one cut."""
        out: list[tuple[int, Extent]] = []
        if offset >= self.length:
            return out
        i = bisect.bisect_right(self.starts, offset) - 1
        start = self.starts[i]
        out.append((offset, _cut(self.extents[i], offset - start)))
        for j in range(i + 1, len(self.extents)):
            out.append((self.starts[j], self.extents[j]))
        return out

    def drop_below(self, offset: int) -> list[Extent]:
        """Forget extents that lie wholly below ``offset`` (after a truncation); returns them."""
        i = bisect.bisect_right(self.starts, offset) - 1
        if i > 0:
            dropped = self.extents[:i]
            del self.starts[:i]
            del self.extents[:i]
            self.log_size -= sum(e[2] for e in dropped if type(e[0]) is int)
            return dropped
        return []

    def log_run(self, max_bytes: int) -> tuple[int, int, list[Extent]] | None:
        """The first run of durable log bytes: (segment offset, length, extents), at
        most ``max_bytes`` long (the last extent may be cut); None if there is none."""
        for i, extent in enumerate(self.extents):
            if type(extent[0]) is not int:
                continue
            start = self.starts[i]
            run: list[Extent] = []
            size = 0
            for j in range(i, len(self.extents)):
                base, where, n = self.extents[j]
                if type(base) is not int or self.starts[j] + n > self.durable_length or size >= max_bytes:
                    break
                take = min(n, max_bytes - size)
                run.append((base, where, take))
                size += take
            return (start, size, run) if run else None
        return None

    def log_bytes(self) -> int:
        """Bytes of this segment still only in the log (kept as extents change: tiering
        asks every segment on every round, and a segment may have many small extents)."""
        return self.log_size

    def restore_extent(self, start: int, extent: Extent) -> None:
        """Add an extent read from a checkpoint."""
        self.starts.append(start)
        self.extents.append(extent)
        if type(extent[0]) is int:
            self.log_size += extent[2]

    def replace_run(self, start: int, length: int, chunk: str) -> bool:
        """Replace the log bytes [start, start + length) by one chunk extent; ``start``
        must begin an extent, the end may split one. False (and nothing changed) if
        the range is not such a run of log extents any more."""
        i = bisect.bisect_left(self.starts, start)
        if i >= len(self.starts) or self.starts[i] != start or length <= 0:
            return False
        j = i
        size = 0
        rest: list[Extent] = []
        while size < length:
            if j >= len(self.extents) or type(self.extents[j][0]) is not int:
                return False
            base, where, n = self.extents[j]
            if size + n > length:  # split: the tail stays in the log
                keep = length - size
                rest = [(base, where + keep, n - keep)]
                n = keep
            size += n
            j += 1
        self.extents[i:j] = [(chunk, 0, length), *rest]
        self.starts[i:j] = [start, start + length] if rest else [start]
        self.log_size -= length
        return True

    def chunks(self) -> set[str]:
        return {e[0] for e in self.extents if type(e[0]) is str}

    def notify(self) -> None:
        if self.waiters:
            waiters, self.waiters = self.waiters, []
            for wake in waiters:
                wake()

    def attribute(self, attribute_id: int) -> int:
        if attribute_id in RATE_ATTRIBUTES:
            return getattr(self, RATE_ATTRIBUTES[attribute_id])  # type: ignore[no-any-return]
        return self.attributes.get(attribute_id, NO_VERSION)


#: Read-only attributes a controller in another process reads the append counters of a
#: segment through (``GetSegmentAttribute``), for auto-scaling: reserved ids in the
#: ``core`` attribute range a client never sets (two fixed UUIDs).
APPENDED_EVENTS_ATTRIBUTE = 0x5052_4156_4547_4100_0000_0000_0000_0001
APPENDED_BYTES_ATTRIBUTE = 0x5052_4156_4547_4100_0000_0000_0000_0002
RATE_ATTRIBUTES = {APPENDED_EVENTS_ATTRIBUTE: "appended_events", APPENDED_BYTES_ATTRIBUTE: "appended_bytes"}


def _cut(extent: Extent, skip: int) -> Extent:
    if skip == 0:
        return extent
    base, where, length = extent
    if base is None:
        return (None, memoryview(where)[skip:], length - skip)
    return (base, where + skip, length - skip)
