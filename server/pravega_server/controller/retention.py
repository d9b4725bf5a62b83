"""Retention: streams truncated by their ``RetentionPolicy`` and their subscribers' positions.

As in Pravega (retention.md), every retention cycle the controller records the stream's tail
as a stream cut, with the time, in the stream's *retention set*; tail cuts fall on event
boundaries (a segment's length only ever moves by whole appends), so any of them is a valid
truncation point. Then it truncates the stream at one of them:

* the *min limit* cut is the newest recorded cut that keeps at least the policy's minimum
  (``retention_param``: milliseconds of data for ``by_time``, bytes for ``by_size``) after it;
* the *max limit* cut is the newest that keeps at least the policy's maximum
  (``retention_max``, if set) after it: data beyond the maximum goes even if not consumed;
* without subscribers (reader groups with retention NONE only), the stream is truncated at
  the min limit cut;
* with subscribers (reader groups created with ``MANUAL_RELEASE_AT_USER_STREAMCUT`` or
  ``AUTOMATIC_RELEASE_AT_LAST_CHECKPOINT``), at the subscribers' lowest cut, but never past
  the min limit cut, and at least up to the max limit cut. A subscriber that has not
  published a cut yet holds everything (within the maximum).

The retention set is kept in the controller's metadata (``retention/<scope>/<stream>``), so
a restart does not reset the clock. Truncation itself is ``ControllerService.truncate_stream``:
one atomic batch, after which the store frees the space (see the storage tiers).

:func:`choose_cut` is pure; :class:`RetentionManager` is the loop.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..storage.ops import PutMeta
from .model import Stream
from .periodic import Periodic

if TYPE_CHECKING:
    from .service import ControllerService

log = logging.getLogger(__name__)

RETENTION_NONE, RETENTION_TIME, RETENTION_SIZE = 0, 1, 2
#: Pravega runs its retention job every 30 minutes.
DEFAULT_INTERVAL = 1800.0


@dataclass(frozen=True)
class RetentionConfig:
    enabled: bool = True
    #: Seconds between two retention cycles (record a tail cut, truncate).
    interval: float = DEFAULT_INTERVAL
    #: Most cuts kept in a stream's retention set (older ones are thinned out).
    max_records: int = 1000


@dataclass(frozen=True)
class Record:
    """One tail cut of the retention set."""

    time_ms: int
    cut: dict[int, int]


def _key(scope: str, name: str) -> str:
    return f"retention/{scope}/{name}"


def encode_records(records: Sequence[Record]) -> bytes:
    return json.dumps([[r.time_ms, sorted(r.cut.items())] for r in records], separators=(",", ":")).encode()


def decode_records(data: bytes) -> list[Record]:
    return [Record(int(t), {int(s): int(o) for s, o in cut}) for t, cut in json.loads(data)]


def choose_cut(
    records: Sequence[Record],
    kept: Callable[[dict[int, int]], int],
    minimum: int,
    maximum: int,
    subscribers: Sequence[dict[int, int] | None] | None,
    is_before: Callable[[dict[int, int], dict[int, int]], bool],
) -> dict[int, int] | None:
    """Where to truncate, or None.

    ``records`` oldest first; ``kept(cut)`` how much (ms or bytes) truncating at ``cut`` keeps;
    ``subscribers`` the subscriber groups' cuts (None: no cut published yet), or None when
    the stream has no subscribers.
    """
    min_cut = _newest_keeping(records, kept, minimum)
    max_cut = _newest_keeping(records, kept, maximum) if maximum > 0 else None
    if subscribers is None:
        return min_cut.cut if min_cut is not None else None
    target: dict[int, int] | None = None
    lowest = _lowest(subscribers, is_before)
    if lowest is not None:
        # The subscribers' cut, unless truncating there would keep less than the minimum.
        target = lowest if kept(lowest) >= minimum else (min_cut.cut if min_cut is not None else None)
    if max_cut is not None and (target is None or is_before(target, max_cut.cut)):
        target = max_cut.cut
    return target


def _newest_keeping(records: Sequence[Record], kept: Callable[[dict[int, int]], int], amount: int) -> Record | None:
    """The newest record truncating at which keeps at least ``amount``."""
    best = None
    for r in records:
        if kept(r.cut) >= amount:
            best = r
    return best


def _lowest(
    cuts: Sequence[dict[int, int] | None], is_before: Callable[[dict[int, int], dict[int, int]], bool]
) -> dict[int, int] | None:
    """A cut no later than any of ``cuts``: one of them that no other lies before, or None if
    a subscriber has published nothing or the cuts cross (then only the limits apply)."""
    present = [c for c in cuts if c is not None]
    if not present or len(present) != len(cuts):
        return None
    for c in present:
        if not any(is_before(o, c) for o in present if o is not c):
            return c
    return None


class RetentionManager:
    def __init__(
        self, controller: ControllerService, config: RetentionConfig, clock_ms: Callable[[], int] | None = None
    ) -> None:
        self.controller = controller
        self.config = config
        self._clock_ms = clock_ms or controller.now_ms
        self._records: dict[tuple[str, str], list[Record]] = {}
        self._loop = Periodic("retention cycle", config.interval, lambda: self.cycle())
        #: Truncations done by this process (for logs and metrics).
        self.truncations = 0

    def load(self) -> None:
        for key, value in self.controller.engine.meta_scan("retention/"):
            _, scope, name = key.split("/", 2)
            self._records[(scope, name)] = decode_records(value)

    def start(self) -> None:
        self.load()
        if self.config.enabled:
            self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    # -- one cycle ----------------------------------------------------------------

    async def cycle(self) -> None:
        live = set()
        for stream in self.controller.all_streams():
            live.add((stream.scope, stream.name))
            if stream.config.retention_type == RETENTION_NONE:
                continue
            await self._stream_cycle(stream)
        for key in [k for k in self._records if k not in live]:
            del self._records[key]
            await self.controller.engine.execute([PutMeta(_key(*key), None)])

    def _length(self, stream: Stream, sid: int) -> int:
        seg = self.controller.engine.segments.get(stream.segment_name(sid))
        return seg.durable_length if seg is not None else 0

    def bytes_after(self, stream: Stream, cut: dict[int, int]) -> int:
        """Bytes of the stream after ``cut`` (up to the tail)."""
        total = sum(max(0, self._length(stream, sid) - off) for sid, off in cut.items())
        return total + sum(self._length(stream, sid) for sid in stream.descendants(set(cut)))

    async def _stream_cycle(self, stream: Stream) -> None:
        scope, name = stream.scope, stream.name
        await self.controller.engine.refresh([stream.segment_name(s.id) for s in stream.all_segments()])
        now = self._clock_ms()
        records = list(self._records.get((scope, name), []))
        head = dict(self.controller.head(scope, name))
        records = [r for r in records if not stream.is_before(r.cut, head)]
        if not stream.sealed:
            tail = {s.id: self._length(stream, s.id) for s in stream.current.segments}
            if not records or records[-1].cut != tail:
                records.append(Record(now, tail))
        if len(records) > self.config.max_records:
            records = [*records[:-1:2], records[-1]]  # thin out, keep the newest
        self._records[(scope, name)] = records
        await self.controller.engine.execute([PutMeta(_key(scope, name), encode_records(records))])

        cfg = stream.config
        if cfg.retention_type == RETENTION_TIME:

            def kept(cut: dict[int, int]) -> int:
                # A cut's age is that of the first recorded tail at or after it (conservative:
                # the data just after it may be younger than the record before it).
                for r in records:
                    if not stream.is_before(r.cut, cut):
                        return now - r.time_ms
                return 0

        else:

            def kept(cut: dict[int, int]) -> int:
                return self.bytes_after(stream, cut)

        subscribers = self.controller.reader_groups.subscriber_cuts(scope, name)
        cut = choose_cut(records, kept, cfg.retention_param, cfg.retention_max, subscribers, stream.is_before)
        if cut is None or cut == head or not stream.is_before(head, cut) or stream.is_before(cut, head):
            return
        before = self.bytes_after(stream, head)
        await self.controller.truncate_stream(scope, name, cut)
        self.truncations += 1
        log.info(
            "retention truncated %s/%s at %s: %d bytes -> %d bytes",
            scope,
            name,
            cut,
            before,
            self.bytes_after(stream, cut),
        )
