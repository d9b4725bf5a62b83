"""Metric families from several container processes: through JSON and added up."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families

from pravega_server.metrics.families import add_up, decode, encode


def _container(events: dict[str, int], buckets: list[tuple[str, float]], total: float) -> list[Metric]:
    written = CounterMetricFamily("segmentstore_segment_write_events", "events", labels=["scope", "stream"])
    for stream, n in events.items():
        written.add_metric(["s", stream], n)
    connections = GaugeMetricFamily("segmentstore_connections", "connections", value=2)
    latency = HistogramMetricFamily("segmentstore_segment_write_latency_ms", "ms", buckets=buckets, sum_value=total)
    return [written, connections, latency]


def test_containers_add_up_to_one_servers_view() -> None:
    one = _container({"a": 3, "b": 1}, [("1.0", 2), ("+Inf", 3)], 2.5)
    two = _container({"b": 4, "c": 7}, [("1.0", 1), ("+Inf", 5)], 9.0)
    total = add_up([decode(encode(one)), decode(encode(two))])

    class Fixed:
        def collect(self) -> list[Metric]:
            return total

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Fixed())  # type: ignore[arg-type]
    text = generate_latest(registry).decode()
    got = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    events = "segmentstore_segment_write_events_total"
    assert got[(events, (("scope", "s"), ("stream", "a")))] == 3
    assert got[(events, (("scope", "s"), ("stream", "b")))] == 5
    assert got[(events, (("scope", "s"), ("stream", "c")))] == 7
    assert got[("segmentstore_connections", ())] == 4
    hist = "segmentstore_segment_write_latency_ms"
    assert got[(hist + "_bucket", (("le", "1.0"),))] == 3
    assert got[(hist + "_bucket", (("le", "+Inf"),))] == 8
    assert got[(hist + "_count", ())] == 8
    assert got[(hist + "_sum", ())] == 11.5
    assert text.count("# TYPE segmentstore_segment_write_events_total counter") == 1
