"""Reading a stream's watermarks and a reader's time window (PDP-33).

The controller aggregates the times writers note (``EventWriter.note_time``) into the
stream's watermark stream ``_MARK<stream>`` (see the server's
``controller/watermarks.py``). Each record is an event holding UTF-8 JSON
``{"v": 1, "lower": ms, "upper": ms, "cut": {"<segment id>": offset}}``: when it was
written, every active writer had noted a time between ``lower`` and ``upper``, at a
position at or before ``cut``.

A reader's :class:`TimeWindow` brackets the times of the events around its position:

* ``lower``: the ``lower`` of the newest watermark the reader has passed (its position is
  at or past the cut in every segment of the cut; segments it finished count as passed).
  The events it reads from now on were written after the writers noted at least this.
* ``upper``: the ``upper`` of the oldest watermark the reader has not passed in any of
  the segments it holds (each held segment is in the cut, at or before it). The events it
  returned so far were written before the writers noted this.

Either is ``None`` when no watermark qualifies (no writer noted a time yet, or the reader
is past every watermark written so far).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from .. import errors, naming
from ..protocol.framing import parse_events
from .segment_reader import SegmentClient, SegmentReader


@dataclass(frozen=True)
class Watermark:
    lower: int
    upper: int
    cut: dict[int, int]

    @classmethod
    def parse(cls, payload: bytes) -> Watermark:
        d = json.loads(payload)
        if d.get("v") != 1:
            raise ValueError(f"unknown watermark record version {d.get('v')!r}")
        return cls(int(d["lower"]), int(d["upper"]), {int(s): int(o) for s, o in d["cut"].items()})


@dataclass(frozen=True)
class TimeWindow:
    """Times in milliseconds (as noted by the writers); ``None``: not known (yet)."""

    lower: int | None
    upper: int | None

    def contains(self, time_ms: int) -> bool:
        return (self.lower is None or self.lower <= time_ms) and (self.upper is None or time_ms <= self.upper)


def time_window(
    watermarks: Sequence[Watermark], positions: dict[int, int], finished: Collection[int] = ()
) -> TimeWindow:
    """The window of a reader at ``positions`` ({segment id: offset of its next event})
    that read ``finished`` to their end, given the stream's watermarks in order."""
    lower = upper = None
    for w in watermarks:
        if all(sid in finished or positions.get(sid, -1) >= off for sid, off in w.cut.items()):
            lower = w.lower
        if upper is None and _not_passed(w, positions, finished):
            upper = w.upper
    return TimeWindow(lower, upper)


def lower_bound(watermarks: Sequence[Watermark], positions: dict[int, int]) -> int | None:
    """The lowest time of the events after ``positions`` *in those segments*: the
    ``lower`` of the newest watermark whose cut they are all at or past (segments not in
    a cut count as past it: writers had not written there yet). For a reader of a
    fixed set of segments (a Beam restriction), unlike :func:`time_window`, which
    takes the whole stream into account."""
    lower = None
    for w in watermarks:
        if all(off >= w.cut.get(sid, -1) for sid, off in positions.items()):
            lower = w.lower
    return lower


def _not_passed(w: Watermark, positions: dict[int, int], finished: Collection[int]) -> bool:
    if not positions or any(sid in w.cut for sid in finished):
        return False
    return all(sid in w.cut and off <= w.cut[sid] for sid, off in positions.items())


class WatermarkFollower:
    """Follows one stream's watermark stream: :meth:`refresh` reads what was appended."""

    def __init__(self, ctx: Any, scope: str, stream: str) -> None:
        self._ctx = ctx
        self._segments = SegmentClient(ctx)
        self.segment = naming.qualified_segment_name(scope, f"{naming.MARK_STREAM_PREFIX}{stream}", 0)
        self.watermarks: list[Watermark] = []
        self._offset = 0
        self._partial = b""

    async def refresh(self) -> list[Watermark]:
        """Read the records appended since the last call (none if there is no watermark
        stream yet); returns every watermark so far, oldest first."""

        try:
            length = (await self._segments.info(self.segment)).length
        except errors.NoSuchSegmentError:
            return self.watermarks
        if length <= self._offset + len(self._partial):
            return self.watermarks
        reader = SegmentReader(self._ctx, self.segment, self._offset + len(self._partial))
        try:
            buf = self._partial
            while self._offset + len(buf) < length:
                result = await reader.read()
                buf += bytes(result.data)
                if result.end_of_segment or not result.data:
                    break
        finally:
            reader.close()
        _offsets, payloads, end = parse_events(buf, 0, self._offset)
        self.watermarks.extend(Watermark.parse(bytes(p)) for p in payloads)
        self._offset += end
        self._partial = buf[end:]
        return self.watermarks
