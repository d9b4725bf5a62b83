"""Prometheus metrics: scrape ``/metrics`` of a real server process, send traffic, scrape
again; the counters and gauges move with what was sent."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

import pravega
from pravega.testing import ServerProcess


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with ServerProcess() as proc:
        yield proc


def scrape(server: ServerProcess) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    reply = requests.get(f"{server.rest_uri}/metrics", timeout=60)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(reply.text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_append_counters_move_with_the_events_written(server: ServerProcess) -> None:
    scope = f"met-{uuid.uuid4().hex[:8]}"
    before = scrape(server)
    with pravega.Client(server.controller_uri) as client:
        client.create_scope(scope)
        client.create_stream(scope, "s", 2)
        writer = client.create_writer(scope, "s")
        for i in range(200):
            writer.write(b"x" * 100, routing_key=str(i))
        writer.flush()
        during = scrape(server)
        assert value(during, "segmentstore_connections") >= 1
        assert value(during, "segmentstore_writers") >= 1
        writer.close()
    after = scrape(server)
    labels = {"scope": scope, "stream": "s"}
    assert value(after, "segmentstore_segment_write_events_total", **labels) == 200
    # Each event is framed with an 8-byte header on the wire.
    assert value(after, "segmentstore_segment_write_bytes_total", **labels) == 200 * 108
    global_bytes = "segmentstore_segment_write_bytes_global_total"
    assert value(after, global_bytes) - value(before, global_bytes) >= 200 * 108
    assert value(after, "segmentstore_log_durable_bytes_total") > value(before, "segmentstore_log_durable_bytes_total")
    assert value(after, "segmentstore_storage_bytes", tier="log") > 0
    stored = "segmentstore_storage_bytes"
    assert value(after, stored, tier="segments") - value(before, stored, tier="segments") >= 200 * 108
    assert value(after, "controller_scopes") == value(before, "controller_scopes") + 1
    active = value(after, "controller_streams", state="active") - value(before, "controller_streams", state="active")
    assert active == 1
    # One latency observation per acknowledged block; each sync of the log is a group commit.
    appended = "segmentstore_segment_write_latency_ms_count"
    assert value(after, appended) - value(before, appended) >= 1
    assert value(after, "segmentstore_segment_write_latency_ms_sum") > value(
        before, "segmentstore_segment_write_latency_ms_sum"
    )
    assert value(after, appended) == value(after, "segmentstore_segment_write_latency_ms_bucket", le="+Inf")
    synced = "segmentstore_log_sync_bytes_sum"
    assert value(after, synced) - value(before, synced) >= 200 * 108
    assert value(after, "segmentstore_log_sync_latency_ms_count") > value(
        before, "segmentstore_log_sync_latency_ms_count"
    )
    assert value(after, "segmentstore_log_sync_records_sum") >= value(after, "segmentstore_log_sync_records_count") > 0
    segments = "segmentstore_segments"
    grown = value(after, segments, kind="stream", state="active") - value(
        before, segments, kind="stream", state="active"
    )
    assert grown >= 2


def test_read_counters_and_latency_move_with_the_events_read(server: ServerProcess) -> None:
    scope = f"mrd-{uuid.uuid4().hex[:8]}"
    labels = {"scope": scope, "stream": "s"}
    with pravega.Client(server.controller_uri) as client:
        client.create_scope(scope)
        client.create_stream(scope, "s")
        writer = client.create_writer(scope, "s")
        for _ in range(50):
            writer.write(b"r" * 92)
        writer.close()
        before = scrape(server)
        assert value(before, "segmentstore_segment_read_bytes_total", **labels) == 0
        group = client.create_reader_group("g", scope, ["s"])
        reader = group.create_reader("r")
        events = []
        while len(events) < 50:
            event = reader.read_next_event(timeout=30)
            assert event is not None
            events.append(event)
        reader.close()
    after = scrape(server)
    # Every event (100 bytes with its header) was read once.
    assert value(after, "segmentstore_segment_read_bytes_total", **labels) == 50 * 100
    read_global = "segmentstore_segment_read_bytes_global_total"
    assert value(after, read_global) - value(before, read_global) >= 50 * 100
    timed = "segmentstore_segment_read_latency_ms_count"
    assert value(after, timed) > value(before, timed)
    fast = value(after, "segmentstore_segment_read_latency_ms_bucket", le="10000") - value(
        before, "segmentstore_segment_read_latency_ms_bucket", le="10000"
    )
    assert fast == value(after, timed) - value(before, timed)  # none took longer than 10 s


def test_transactions_by_state_and_sealed_streams(server: ServerProcess) -> None:
    scope = f"mtx-{uuid.uuid4().hex[:8]}"
    before = scrape(server)
    with pravega.Client(server.controller_uri) as client:
        client.create_scope(scope)
        client.create_stream(scope, "s")
        writer = client.create_transactional_writer(scope, "s")
        open_txn = writer.begin()
        committed = writer.begin()
        committed.write(b"e")
        committed.commit()
        during = scrape(server)
        assert (
            value(during, "controller_transactions", state="OPEN")
            == value(before, "controller_transactions", state="OPEN") + 1
        )
        assert (
            value(during, "controller_transactions", state="COMMITTED")
            >= value(before, "controller_transactions", state="COMMITTED") + 1
        )
        open_txn.abort()
        writer.close()
        client.seal_stream(scope, "s")
    after = scrape(server)
    assert (
        value(after, "controller_transactions", state="ABORTED")
        >= value(before, "controller_transactions", state="ABORTED") + 1
    )
    assert value(after, "controller_streams", state="sealed") == value(before, "controller_streams", state="sealed") + 1


def test_process_metrics_are_there(server: ServerProcess) -> None:
    samples = scrape(server)
    assert value(samples, "process_resident_memory_bytes") > 0
    assert value(samples, "segmentstore_log_failed") == 0


def test_counters_stay_monotonic_when_segments_go_away(server: ServerProcess) -> None:
    scope = f"mgone-{uuid.uuid4().hex[:8]}"
    labels = {"scope": scope, "stream": "s"}
    with pravega.Client(server.controller_uri) as client:
        client.create_scope(scope)
        client.create_stream(scope, "s")
        txn_writer = client.create_transactional_writer(scope, "s")
        txn = txn_writer.begin()
        for _ in range(30):
            txn.write(b"t" * 10)
        txn.flush()
        seen = scrape(server)  # the transaction's segment, before it is merged and deleted
        assert value(seen, "segmentstore_segment_write_events_total", **labels) == 30
        txn.commit()
        txn_writer.close()
        committed = scrape(server)
        assert value(committed, "segmentstore_segment_write_events_total", **labels) >= 30
        client.seal_stream(scope, "s")
        client.delete_stream(scope, "s")
    gone = scrape(server)
    assert value(gone, "segmentstore_segment_write_events_total", **labels) == value(
        committed, "segmentstore_segment_write_events_total", **labels
    )
    global_events = "segmentstore_segment_write_events_global_total"
    assert value(gone, global_events) >= value(committed, global_events)


def test_rest_requests_are_counted_and_timed(server: ServerProcess) -> None:
    route = {"method": "GET", "route": "/v1/scopes/{scopeName}"}
    before = scrape(server)
    for _ in range(3):
        assert requests.get(f"{server.rest_uri}/v1/scopes/nope-{uuid.uuid4().hex[:6]}", timeout=60).status_code == 404
    assert requests.get(f"{server.rest_uri}/v1/nothing/here", timeout=60).status_code == 404
    after = scrape(server)
    answered = "rest_requests_total"
    assert value(after, answered, **route, status="404") - value(before, answered, **route, status="404") == 3
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert value(after, answered, **unmatched) - value(before, answered, **unmatched) == 1
    timed = "rest_request_duration_seconds_count"
    assert value(after, timed, **route) - value(before, timed, **route) == 3
    assert value(after, "rest_request_duration_seconds_sum", **route) > 0
