"""Histograms the segment store's hot paths fill, read by the metrics collector.

The append, read and log-sync paths record one observation per block, read or sync (never
per event) into plain Python objects: a bisect and three additions, no lock, because every
observation is made on the event loop thread (the log's sync thread hands its timings to
the loop with the sync result). The Prometheus collector turns them into histogram
families at scrape time, so nothing here depends on the metrics library.
"""

from __future__ import annotations

from bisect import bisect_left

#: Upper bounds (ms) for latencies: sub-millisecond appends up to multi-second stalls.
LATENCY_MS: tuple[float, ...] = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
#: Upper bounds (bytes) for the data of one log sync (a group commit).
SIZE_BYTES: tuple[float, ...] = tuple(float(4**i * 256) for i in range(10))  # 256 B .. 64 MiB
#: Upper bounds for the number of records in one log sync.
COUNT: tuple[float, ...] = tuple(float(2**i) for i in range(13))  # 1 .. 4096


class Histogram:
    """Counts of observations per bucket (``value <= bound``), their sum and count."""

    __slots__ = ("bounds", "buckets", "sum", "count")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        if list(bounds) != sorted(set(bounds)):
            raise ValueError("histogram bounds must be strictly increasing")
        self.bounds = bounds
        self.buckets = [0] * (len(bounds) + 1)  # the last one: above every bound
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.buckets[bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1

    def cumulative(self) -> list[tuple[str, int]]:
        """Prometheus buckets: ``(le, observations <= le)``, ending with ``+Inf``."""
        out: list[tuple[str, int]] = []
        running = 0
        for bound, n in zip(self.bounds, self.buckets, strict=False):
            running += n
            out.append((_le(bound), running))
        out.append(("+Inf", self.count))
        return out


class StoreStats:
    """What the segment store measures as it serves (one instance per engine)."""

    __slots__ = ("append_latency", "read_latency", "sync_latency", "sync_bytes", "sync_records")

    def __init__(self) -> None:
        #: From an append block's arrival to its ``DataAppended`` (the block is durable).
        self.append_latency = Histogram(LATENCY_MS)
        #: From a ``ReadSegment`` to its reply, for reads answered with data at once or
        #: from tier 2 (reads parked at the tail wait for writers, not for the store).
        self.read_latency = Histogram(LATENCY_MS)
        #: Duration of one sync of the log (``fdatasync`` of the files written since the last).
        self.sync_latency = Histogram(LATENCY_MS)
        #: Log bytes and records made durable by one sync: the group commit's size.
        self.sync_bytes = Histogram(SIZE_BYTES)
        self.sync_records = Histogram(COUNT)


def _le(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else repr(float(bound))
