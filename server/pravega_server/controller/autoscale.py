"""Auto-scaling: streams split hot segments and merge cold neighbours by themselves.

Pravega's rules (``ScalingPolicy`` javadoc), with ``T`` the policy's target rate per segment
(events/s for ``by_event_rate``, KiB/s for ``by_data_rate``) and the rates of
``storage/rates.py`` over the 2, 5, 10 and 20 minute windows:

* scale up (split) when the 2-minute rate is over ``5 T``, or the 5-minute rate over
  ``2 T``, or the 10-minute rate over ``T``; the segment is split into equal key ranges, as
  many as the load calls for (``ceil(rate / T)``) but at least 2 and at most the policy's
  ``scale_factor``;
* scale down (merge two adjacent segments) when both are cold: their 2-, 5- and 10-minute
  rates under ``T`` and their 20-minute rate under ``T / 2``; never below the policy's
  ``min_num_segments``.

A segment is left alone for the *mute* period after it was created, and a stream for the
*cooldown* period after its last scale (both 600 s in Pravega). Both are measured from the
epoch history, which is durable, so they hold across restarts; as rates start from zero
after a restart, merges also wait until the tracker has watched both segments for the mute
period. One scale per stream at a time: the controller's stream lock serializes it with
manual scales, transactions and updates, and the scale itself is one atomic log batch, so
a crash leaves either the old epoch or the new one.

:func:`decide` is pure (tested with hand-made rates); :class:`AutoScaler` is the loop.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..storage.rates import DEFAULT_WINDOWS, RateTracker, SegmentRates, inherited
from .model import FIXED_NUM_SEGMENTS, SegmentRecord, Stream, StreamConfig, equal_ranges
from .periodic import Periodic

if TYPE_CHECKING:
    from .service import ControllerService

log = logging.getLogger(__name__)

BY_EVENT_RATE = 2  # ScalingPolicy.ScaleType BY_RATE_IN_EVENTS_PER_SEC
BY_DATA_RATE = 1  # BY_RATE_IN_KBYTES_PER_SEC


@dataclass(frozen=True)
class AutoScaleConfig:
    """The time scale of the mechanism; Pravega's defaults."""

    enabled: bool = True
    #: EWMA windows (seconds) for the 2-, 5-, 10- and 20-minute rates.
    windows: tuple[float, float, float, float] = DEFAULT_WINDOWS
    #: No scale of a stream for this long after its previous one.
    cooldown: float = 600.0
    #: No scale of a segment for this long after its creation.
    mute: float = 600.0
    #: How often rates are folded and decisions taken.
    interval: float = 10.0

    def validate(self) -> str | None:
        if len(self.windows) != 4 or any(w <= 0 for w in self.windows):
            return "four positive rate windows are needed"
        if self.cooldown < 0 or self.mute < 0:
            return "cooldown and mute must not be negative"
        if self.interval <= 0:
            return "the check interval must be positive"
        return None


@dataclass(frozen=True)
class Candidate:
    """One active segment as :func:`decide` sees it."""

    record: SegmentRecord
    #: Rates in the policy's unit (events/s, or KiB/s), one per window; None if unknown.
    rates: Sequence[float] | None
    #: Seconds since the segment was created (by its epoch's time).
    age: float
    #: Seconds the rate tracker has watched it (since creation or since the restart).
    watched: float


@dataclass(frozen=True)
class Split:
    segment: SegmentRecord
    ranges: list[tuple[float, float]]


@dataclass(frozen=True)
class Merge:
    segments: tuple[SegmentRecord, SegmentRecord]


Action = Split | Merge


def is_hot(rates: Sequence[float], target: float) -> bool:
    r2, r5, r10, _ = rates
    return r2 > 5 * target or r5 > 2 * target or r10 > target


def is_cold(rates: Sequence[float], target: float) -> bool:
    r2, r5, r10, r20 = rates
    return r2 < target and r5 < target and r10 < target and r20 < target / 2


def split_count(rates: Sequence[float], target: float, scale_factor: int) -> int:
    """How many ranges a hot segment is split into: what its load needs, 2..scale_factor."""
    needed = math.ceil(max(rates[0] / 5, rates[1] / 2, rates[2]) / target)
    return max(2, min(scale_factor, needed))


def decide(
    config: StreamConfig, segments: Sequence[Candidate], since_last_scale: float, scale: AutoScaleConfig
) -> Action | None:
    """The one scale to do now for a stream with ``config`` and active ``segments`` (sorted
    by key range), or None."""
    if config.scale_type == FIXED_NUM_SEGMENTS or config.target_rate <= 0:
        return None
    if since_last_scale < scale.cooldown:
        return None
    target = float(config.target_rate)
    hottest: tuple[float, Candidate] | None = None
    if config.scale_factor >= 2:
        for cand in segments:
            if cand.rates is None or cand.age < scale.mute or not is_hot(cand.rates, target):
                continue
            heat = max(cand.rates[0] / 5, cand.rates[1] / 2, cand.rates[2]) / target
            if hottest is None or heat > hottest[0]:
                hottest = (heat, cand)
    if hottest is not None:
        cand = hottest[1]
        n = split_count(cand.rates or (), target, config.scale_factor)
        lo, hi = cand.record.min_key, cand.record.max_key
        return Split(cand.record, [(lo + (hi - lo) * a, lo + (hi - lo) * b) for a, b in equal_ranges(n)])
    if len(segments) <= config.min_segments:
        return None
    coldest: tuple[float, Candidate, Candidate] | None = None
    for left, right in zip(segments, segments[1:]):
        if left.record.max_key != right.record.min_key:
            continue
        pair_ok = all(
            c.rates is not None and c.age >= scale.mute and c.watched >= scale.mute and is_cold(c.rates, target)
            for c in (left, right)
        )
        if not pair_ok:
            continue
        load = (left.rates or (0.0,))[0] + (right.rates or (0.0,))[0]
        if coldest is None or load < coldest[0]:
            coldest = (load, left, right)
    if coldest is not None:
        return Merge((coldest[1].record, coldest[2].record))
    return None


def policy_rates(config: StreamConfig, rates: SegmentRates | None) -> list[float] | None:
    """A segment's rates in its policy's unit."""
    if rates is None:
        return None
    if config.scale_type == BY_DATA_RATE:
        return [b / 1024.0 for b in rates.bytes]
    return list(rates.events)


class AutoScaler:
    """Folds the segment store's counters into rates and scales streams by their policies."""

    def __init__(
        self,
        controller: ControllerService,
        config: AutoScaleConfig,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.controller = controller
        self.config = config
        self.tracker = RateTracker(config.windows)
        self._monotonic = monotonic
        self._loop = Periodic("auto-scaling check", config.interval, lambda: self.check())
        #: Scales this process started, for logs and metrics.
        self.scales = 0

    def start(self) -> None:
        if self.config.enabled:
            self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    def _watched_streams(self) -> list[Stream]:
        return [s for s in self.controller.all_streams() if not s.sealed]

    async def check(self) -> None:
        """One round: fold rates of every active segment, then scale what needs it."""
        engine = self.controller.engine
        streams = self._watched_streams()
        await engine.refresh(
            [
                s.segment_name(r.id)
                for s in streams
                if s.config.scale_type != FIXED_NUM_SEGMENTS
                for r in s.current.segments
            ],
            rates=True,
        )
        segments = []
        for stream in streams:
            for rec in stream.current.segments:
                seg = engine.segments.get(stream.segment_name(rec.id))
                if seg is not None:
                    segments.append(seg)
        now = self._monotonic()
        self.tracker.tick(segments, now)
        wall_ms = self.controller.now_ms()
        for stream in streams:
            cfg = stream.config
            if cfg.scale_type == FIXED_NUM_SEGMENTS:
                continue
            cands = []
            for rec in stream.current.segments:
                rates = self.tracker.get(stream.segment_name(rec.id))
                created_ms = stream.epochs[rec.epoch].created_ms
                cands.append(
                    Candidate(
                        rec,
                        policy_rates(cfg, rates),
                        age=(wall_ms - created_ms) / 1000.0,
                        watched=0.0 if rates is None else now - rates.since,
                    )
                )
            since_last = (wall_ms - stream.current.created_ms) / 1000.0
            action = decide(cfg, cands, since_last, self.config)
            if action is not None:
                await self._execute(stream, action)

    async def _execute(self, stream: Stream, action: Action) -> None:
        if isinstance(action, Split):
            sealed = [action.segment]
            ranges = action.ranges
        else:
            sealed = list(action.segments)
            ranges = [(action.segments[0].min_key, action.segments[1].max_key)]
        parents = [
            (r, s.min_key, s.max_key) for s in sealed if (r := self.tracker.get(stream.segment_name(s.id))) is not None
        ]
        status, created, _ = await self.controller.scale(stream.scope, stream.name, [s.id for s in sealed], ranges)
        if not created:
            log.info("auto-scale of %s/%s not applied (%s)", stream.scope, stream.name, status)
            return
        self.scales += 1
        for rec in created:
            if parents:
                events, size = inherited(parents, rec.min_key, rec.max_key)
                self.tracker.seed(stream.segment_name(rec.id), events, size)
        kind = "split" if isinstance(action, Split) else "merge"
        log.info(
            "auto-scale %s of %s/%s: sealed %s, created %s",
            kind,
            stream.scope,
            stream.name,
            [s.id for s in sealed],
            [(r.id, r.min_key, r.max_key) for r in created],
        )
