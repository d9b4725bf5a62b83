"""The collector: the server's state as Prometheus metric families.

It runs on the server's event loop thread (the aiohttp handler calls it there), so it
may read the engine and the controller, which are not thread-safe. Everything is read
through typed attributes, so a refactoring that renames one fails the type check rather
than silently dropping a metric. Counters come from the segments (bytes and events
appended and read), histograms from the store's :class:`~pravega_server.stats.StoreStats`.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from pravega import naming

from ..stats import Histogram

if TYPE_CHECKING:
    from ..app import PravegaServer
    from ..controller.service import ControllerService
    from ..storage.engine import Engine
    from ..transport.tcp import WireConnection

#: Per segment: its stream (None: counted globally only), bytes and events appended, bytes read.
_Counts = tuple[tuple[str, str] | None, int, int, int]

KINDS = {0: "stream", 1: "table", 2: "transient"}


class ServerCollector:
    """The families of a server: its segment store's (its own engine's, or gathered from
    its containers before the scrape: ``PravegaServer.segment_store_metrics``) and its
    controller's."""

    def __init__(self, server: PravegaServer) -> None:
        self.server = server
        self.store = SegmentStoreCollector(lambda: server.engine, lambda: server.connections)

    def describe(self) -> list[Metric]:
        return []  # families depend on the state; collected on demand

    def collect(self) -> Iterator[Metric]:
        gathered = self.server.segment_store_metrics()
        yield from self.store.collect() if gathered is None else gathered
        controller = self.server.controller
        if controller is not None:
            yield from _controller(controller)


class SegmentStoreCollector:
    """The segment store's families, over one engine and its connections."""

    def __init__(
        self, engine: Callable[[], Engine | None], connections: Callable[[], Collection[WireConnection]]
    ) -> None:
        self.engine = engine
        self.connections = connections
        # Counts of segments seen at the last scrape, and the final counts of those gone
        # since (deleted streams, merged transactions): the counters stay monotonic.
        self._seen: dict[str, _Counts] = {}
        self._retired: dict[tuple[str, str] | None, list[int]] = {}

    def collect(self) -> Iterator[Metric]:
        engine = self.engine()
        if engine is not None:
            yield from self._segments(engine)
            yield from self._log(engine)
            yield from self._latencies(engine)
        yield from self._connections()

    def _segments(self, engine: Engine) -> Iterator[Metric]:
        write_bytes = CounterMetricFamily(
            "segmentstore_segment_write_bytes",
            "Bytes appended to the stream's segments since the server started",
            labels=["scope", "stream"],
        )
        write_events = CounterMetricFamily(
            "segmentstore_segment_write_events",
            "Events appended to the stream's segments since the server started",
            labels=["scope", "stream"],
        )
        read_bytes = CounterMetricFamily(
            "segmentstore_segment_read_bytes",
            "Bytes read from the stream's segments (ReadSegment) since the server started",
            labels=["scope", "stream"],
        )
        counts: Counter[tuple[str, str]] = Counter()
        stored = 0
        seen: dict[str, _Counts] = {}
        for name, seg in list(engine.segments.items()):
            if seg.deleted:
                continue
            kind = KINDS.get(int(seg.kind), "other")
            counts[(kind, "sealed" if seg.sealed else "active")] += 1
            stored += max(0, seg.length - seg.start_offset)
            if seg.appended_bytes or seg.appended_events or seg.read_bytes:
                owner = _stream_of(name) if kind == "stream" else None
                seen[name] = (owner, seg.appended_bytes, seg.appended_events, seg.read_bytes)
        for name, (owner, *numbers) in self._seen.items():
            if name not in seen:  # deleted, or merged (a transaction): keep its counts
                retired = self._retired.setdefault(owner, [0, 0, 0])
                for i, n in enumerate(numbers):
                    retired[i] += n
        self._seen = seen
        totals: dict[tuple[str, str] | None, list[int]] = {k: list(v) for k, v in self._retired.items()}
        for owner, *numbers in seen.values():
            acc = totals.setdefault(owner, [0, 0, 0])
            for i, n in enumerate(numbers):
                acc[i] += n
        total_bytes, total_events, total_read = (sum(v[i] for v in totals.values()) for i in range(3))
        by_stream = {k: v for k, v in totals.items() if k is not None}
        for (scope, stream), (nbytes, nevents, nread) in sorted(by_stream.items()):
            write_bytes.add_metric([scope, stream], nbytes)
            write_events.add_metric([scope, stream], nevents)
            read_bytes.add_metric([scope, stream], nread)
        yield write_bytes
        yield write_events
        yield read_bytes
        yield CounterMetricFamily(
            "segmentstore_segment_write_bytes_global",
            "Bytes appended to all segments since the server started",
            value=total_bytes,
        )
        yield CounterMetricFamily(
            "segmentstore_segment_write_events_global",
            "Events appended to all segments since the server started",
            value=total_events,
        )
        yield CounterMetricFamily(
            "segmentstore_segment_read_bytes_global",
            "Bytes read from all segments (ReadSegment) since the server started",
            value=total_read,
        )
        segments = GaugeMetricFamily("segmentstore_segments", "Segments by kind and state", labels=["kind", "state"])
        for (kind, state), n in sorted(counts.items()):
            segments.add_metric([kind, state], n)
        yield segments
        tiers = GaugeMetricFamily(
            "segmentstore_storage_bytes",
            "Bytes per storage tier: readable segment data, and the write-ahead log on disk",
            labels=["tier"],
        )
        tiers.add_metric(["segments"], stored)
        tiers.add_metric(["log"], _log_disk_bytes(engine.data_dir))
        yield tiers

    def _log(self, engine: Engine) -> Iterator[Metric]:
        yield CounterMetricFamily(
            "segmentstore_log_written_bytes",
            "Bytes written to the durable log (log sequence number)",
            value=engine.log.lsn,
        )
        yield CounterMetricFamily(
            "segmentstore_log_durable_bytes",
            "Bytes of the durable log known to be on disk (fsynced)",
            value=engine.log.durable_lsn,
        )
        yield GaugeMetricFamily(
            "segmentstore_log_failed",
            "1 when the durable log failed and nothing more is acknowledged",
            value=0 if engine.fatal is None else 1,
        )

    def _latencies(self, engine: Engine) -> Iterator[Metric]:
        stats = engine.stats
        yield _histogram(
            "segmentstore_segment_write_latency_ms",
            "Milliseconds from an append block's arrival to its acknowledgement (durable)",
            stats.append_latency,
        )
        yield _histogram(
            "segmentstore_segment_read_latency_ms",
            "Milliseconds from a segment read to its reply (reads waiting at the tail excluded)",
            stats.read_latency,
        )
        yield _histogram("segmentstore_log_sync_latency_ms", "Milliseconds per sync of the log", stats.sync_latency)
        yield _histogram(
            "segmentstore_log_sync_bytes", "Log bytes made durable by one sync (group commit size)", stats.sync_bytes
        )
        yield _histogram(
            "segmentstore_log_sync_records",
            "Log records made durable by one sync (group commit size)",
            stats.sync_records,
        )

    def _connections(self) -> Iterator[Metric]:
        connections = list(self.connections())
        yield GaugeMetricFamily(
            "segmentstore_connections", "Open client connections to the segment store", value=len(connections)
        )
        writers = sum(len(c.appends.writers) for c in connections)
        yield GaugeMetricFamily(
            "segmentstore_writers", "Writers set up on the open connections (SetupAppend)", value=writers
        )


# -- controller -----------------------------------------------------------------------


def _controller(controller: ControllerService) -> Iterator[Metric]:
    streams = controller.all_streams()
    user = [s for s in streams if not s.name.startswith(naming.INTERNAL_PREFIX)]
    yield GaugeMetricFamily("controller_scopes", "Scopes", value=controller.scope_count())
    by_state = GaugeMetricFamily("controller_streams", "User streams by state", labels=["state"])
    sealed = sum(1 for s in user if s.sealed)
    by_state.add_metric(["active"], len(user) - sealed)
    by_state.add_metric(["sealed"], sealed)
    yield by_state
    yield GaugeMetricFamily(
        "controller_stream_segments",
        "Active segments of user streams",
        value=sum(len(s.current.segments) for s in user if not s.sealed),
    )
    txns = Counter(t.state for per in controller.transactions.by_stream.values() for t in per.values())
    family = GaugeMetricFamily("controller_transactions", "Transactions by state", labels=["state"])
    for state in ("OPEN", "COMMITTED", "ABORTED"):
        family.add_metric([state], txns.get(state, 0))
    yield family
    rgs = sum(len(v) for v in controller.reader_groups.by_scope.values())
    yield GaugeMetricFamily("controller_reader_groups", "Reader groups registered with the controller", value=rgs)
    kvts = sum(len(v) for v in controller.kvts.by_scope.values())
    yield GaugeMetricFamily("controller_kvtables", "Key-value tables", value=kvts)
    yield CounterMetricFamily(
        "controller_auto_scale_actions",
        "Scales made by the auto-scaler since the server started",
        value=controller.autoscaler.scales,
    )
    yield CounterMetricFamily(
        "controller_retention_truncations",
        "Truncations made by retention since the server started",
        value=controller.retention.truncations,
    )


def _histogram(name: str, documentation: str, h: Histogram) -> HistogramMetricFamily:
    return HistogramMetricFamily(name, documentation, buckets=h.cumulative(), sum_value=h.sum)


def _stream_of(segment: str) -> tuple[str, str] | None:
    """(scope, stream) of a stream segment or of a transaction segment of it."""
    try:
        if naming.is_transaction_segment(segment):
            segment = naming.parse_transaction_segment_name(segment)[0]
        scope, stream, _ = naming.parse_segment_name(segment)
    except Exception:  # not a stream segment name: counted globally only
        return None
    return scope, stream


def _log_disk_bytes(data_dir: Path | None) -> int:
    if data_dir is None:
        return 0
    total = 0
    try:
        with os.scandir(Path(data_dir) / "wal") as entries:
            for entry in entries:
                if entry.is_file():
                    total += entry.stat().st_blocks * 512
    except OSError:
        return 0
    return total
