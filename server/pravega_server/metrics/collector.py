"""The collector: the server's state as Prometheus metric families.

It runs on the server's event loop thread (the aiohttp handler calls it there), so it
may read the engine and the controller, which are not thread-safe. Attributes that
other parts of the server may rename are read with ``getattr`` and a default, so a
refactoring elsewhere loses a metric, never the endpoint.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from pravega import naming

if TYPE_CHECKING:
    from ..app import PravegaServer

KINDS = {0: "stream", 1: "table", 2: "transient"}


class ServerCollector:
    def __init__(self, server: PravegaServer) -> None:
        self.server = server
        # Counts of segments seen at the last scrape, and the final counts of those gone
        # since (deleted streams, merged transactions): the counters stay monotonic.
        self._seen: dict[str, tuple[tuple[str, str] | None, int, int]] = {}
        self._retired: dict[tuple[str, str] | None, list[int]] = {}

    def describe(self) -> list[Metric]:
        return []  # families depend on the state; collected on demand

    def collect(self) -> Iterator[Metric]:
        engine = self.server.engine
        if engine is not None:
            yield from self._segments(engine)
            yield from self._log(engine)
        yield from self._connections()
        controller = self.server.controller
        if controller is not None:
            yield from self._controller(controller)

    # -- segment store ------------------------------------------------------------------

    def _segments(self, engine: Any) -> Iterator[Metric]:
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
        counts: Counter[tuple[str, str]] = Counter()
        stored = 0
        seen: dict[str, tuple[tuple[str, str] | None, int, int]] = {}
        for name, seg in list(engine.segments.items()):
            if getattr(seg, "deleted", False):
                continue
            kind = KINDS.get(int(getattr(seg, "kind", 0)), "other")
            counts[(kind, "sealed" if seg.sealed else "active")] += 1
            stored += max(0, seg.length - seg.start_offset)
            nbytes = getattr(seg, "appended_bytes", 0)
            nevents = getattr(seg, "appended_events", 0)
            if nbytes or nevents:
                owner = _stream_of(name) if kind == "stream" else None
                seen[name] = (owner, nbytes, nevents)
        for name, (owner, nbytes, nevents) in self._seen.items():
            if name not in seen:
                retired = self._retired.setdefault(owner, [0, 0])
                retired[0] += nbytes
                retired[1] += nevents
        self._seen = seen
        totals: dict[tuple[str, str] | None, list[int]] = {k: list(v) for k, v in self._retired.items()}
        for owner, nbytes, nevents in seen.values():
            acc = totals.setdefault(owner, [0, 0])
            acc[0] += nbytes
            acc[1] += nevents
        total_bytes = sum(v[0] for v in totals.values())
        total_events = sum(v[1] for v in totals.values())
        by_stream = {k: v for k, v in totals.items() if k is not None}
        for (scope, stream), (nbytes, nevents) in sorted(by_stream.items()):
            write_bytes.add_metric([scope, stream], nbytes)
            write_events.add_metric([scope, stream], nevents)
        yield write_bytes
        yield write_events
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
        tiers.add_metric(["log"], _log_disk_bytes(getattr(engine, "data_dir", None)))
        yield tiers

    def _log(self, engine: Any) -> Iterator[Metric]:
        log = getattr(engine, "log", None)
        written = getattr(log, "lsn", None)
        durable = getattr(log, "durable_lsn", None)
        if isinstance(written, int):
            yield CounterMetricFamily(
                "segmentstore_log_written_bytes",
                "Bytes written to the durable log (log sequence number)",
                value=written,
            )
        if isinstance(durable, int):
            yield CounterMetricFamily(
                "segmentstore_log_durable_bytes",
                "Bytes of the durable log known to be on disk (fsynced)",
                value=durable,
            )
        yield GaugeMetricFamily(
            "segmentstore_log_failed",
            "1 when the durable log failed and nothing more is acknowledged",
            value=0 if getattr(engine, "fatal", None) is None else 1,
        )

    def _connections(self) -> Iterator[Metric]:
        connections = list(getattr(self.server, "connections", ()) or ())
        yield GaugeMetricFamily(
            "segmentstore_connections", "Open client connections to the segment store", value=len(connections)
        )
        writers = sum(len(c.appends.writers) for c in connections if hasattr(c, "appends"))
        yield GaugeMetricFamily(
            "segmentstore_writers", "Writers set up on the open connections (SetupAppend)", value=writers
        )

    # -- controller -------------------------------------------------------------------

    def _controller(self, controller: Any) -> Iterator[Metric]:
        streams = controller.all_streams()
        user = [s for s in streams if not s.name.startswith(naming.INTERNAL_PREFIX)]
        scopes = getattr(controller, "_scopes", {})
        yield GaugeMetricFamily("controller_scopes", "Scopes", value=len(scopes))
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
        scaler = getattr(controller, "autoscaler", None)
        yield CounterMetricFamily(
            "controller_auto_scale_actions",
            "Scales made by the auto-scaler since the server started",
            value=getattr(scaler, "scales", 0),
        )
        retention = getattr(controller, "retention", None)
        yield CounterMetricFamily(
            "controller_retention_truncations",
            "Truncations made by retention since the server started",
            value=getattr(retention, "truncations", 0),
        )


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
