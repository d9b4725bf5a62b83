"""Event and byte rates of stream segments, for auto-scaling.

The append path only adds to two counters of the segment (``appended_events`` and
``appended_bytes``, once per appended block; a merged transaction adds its totals to the
segment it merges into). Everything else happens on a timer: :meth:`RateTracker.tick`
turns the counters' growth since the previous tick into an instantaneous rate and folds
it into one exponentially weighted moving average per window (Pravega's 2, 5, 10 and 20
minutes by default)::

    rate_w += (1 - exp(-dt / w)) * (instant - rate_w)

which is the continuous-time EWMA with time constant ``w``: a step of the load to ``R``
reaches ``R * (1 - 1/e)`` after ``w`` seconds. So the cost of rate tracking is two integer
additions per block on the hot path and O(segments) per tick off it.

Rates live in memory: after a restart they start again from zero (decisions that need a
cold segment wait for the mute period, see ``controller/autoscale.py``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from .segments import Segment

#: Pravega's rate windows in seconds: 2, 5, 10 and 20 minutes.
DEFAULT_WINDOWS: tuple[float, float, float, float] = (120.0, 300.0, 600.0, 1200.0)


@dataclass
class SegmentRates:
    """EWMAs of one segment, one per window, in events/s and bytes/s."""

    events: list[float]
    bytes: list[float]
    #: When the tracker first saw the segment (monotonic seconds).
    since: float
    last_tick: float
    last_events: int = 0
    last_bytes: int = 0

    def fold(self, now: float, events: int, size: int, windows: tuple[float, ...]) -> None:
        dt = now - self.last_tick
        if dt <= 0:
            return
        instant_events = (events - self.last_events) / dt
        instant_bytes = (size - self.last_bytes) / dt
        for i, w in enumerate(windows):
            alpha = 1.0 - math.exp(-dt / w)
            self.events[i] += alpha * (instant_events - self.events[i])
            self.bytes[i] += alpha * (instant_bytes - self.bytes[i])
        self.last_tick, self.last_events, self.last_bytes = now, events, size


@dataclass
class RateTracker:
    windows: tuple[float, ...] = DEFAULT_WINDOWS
    rates: dict[str, SegmentRates] = field(default_factory=dict)
    #: Initial rates for segments not seen yet (successors of a scale), by name.
    _seeds: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)

    def tick(self, segments: Iterable[Segment], now: float) -> None:
        """Fold the counters of ``segments`` into their rates; forget segments not listed."""
        seen: dict[str, SegmentRates] = {}
        for seg in segments:
            r = self.rates.get(seg.name)
            if r is None:
                events, size = self._seeds.pop(seg.name, (None, None))
                n = len(self.windows)
                r = SegmentRates(
                    list(events) if events else [0.0] * n,
                    list(size) if size else [0.0] * n,
                    since=now,
                    last_tick=now,
                    last_events=seg.appended_events,
                    last_bytes=seg.appended_bytes,
                )
            else:
                r.fold(now, seg.appended_events, seg.appended_bytes, self.windows)
            seen[seg.name] = r
        self.rates = seen

    def get(self, name: str) -> SegmentRates | None:
        return self.rates.get(name)

    def seed(self, name: str, events: list[float], size: list[float]) -> None:
        """Start ``name`` (a segment created by a scale) at the given rates instead of zero,
        so a successor inherits its share of its predecessors' load."""
        self._seeds[name] = (events, size)


def inherited(
    parents: list[tuple[SegmentRates, float, float]], low: float, high: float
) -> tuple[list[float], list[float]]:
    """The rates a new segment covering [low, high) inherits from ``parents``, each given with
    its key range: every parent contributes in proportion to the part of its range covered."""
    n = len(parents[0][0].events) if parents else 0
    events, size = [0.0] * n, [0.0] * n
    for rates, plo, phi in parents:
        overlap = max(0.0, min(high, phi) - max(low, plo))
        share = overlap / (phi - plo) if phi > plo else 0.0
        for i in range(n):
            events[i] += rates.events[i] * share
            size[i] += rates.bytes[i] * share
    return events, size
