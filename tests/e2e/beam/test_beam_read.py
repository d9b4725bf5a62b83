"""ReadFromPravega against a real server, on the DirectRunner and the embedded portable runner."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import apache_beam as beam
import pytest
from apache_beam.transforms import window
from beam_testing import Collector, counter, gauges, new_scope, options, segment_counters

import pravega
from pravega_beam import PravegaEvent, ReadFromPravega

pytestmark = pytest.mark.parametrize("runner", ["direct", "portable"])


def _encode(events: list[str]) -> list[tuple[Any, str | None]]:
    """(payload, routing key): the key is the part before ':'."""
    return [(e.encode(), e.split(":")[0]) for e in events]


def _in_background(work: Callable[[], None], finally_: Callable[[], object]) -> tuple[threading.Thread, list]:
    """Run ``work`` in a thread; ``finally_`` runs whatever happens (it seals the stream,
    so a failed writer cannot leave the pipeline reading forever)."""
    failures: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # reported by the test after join()
            failures.append(exc)
        finally:
            finally_()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, failures


def test_unbounded_read_until_sealed_reads_each_event_once(server: Any, runner: str) -> None:
    uri, scope = server.controller_uri, new_scope()
    batches = [[f"k{i % 7}:{b}.{i}" for i in range(500)] for b in range(4)]
    with pravega.Client(uri) as client:
        client.create_scope(scope)
        client.create_stream(scope, "in", 3)
        writer: Any = client.create_writer(scope, "in")
        writer.write_many(_encode(batches[0]))
        writer.flush()
        collector = Collector()

        def feed() -> None:
            # Each batch is written once the reader has emitted everything before it, so
            # the read keeps catching up with the tail and polling it.
            for n, batch in enumerate(batches[1:], start=1):
                collector.wait_for(500 * n)
                writer.write_many(_encode(batch))
                writer.flush()
            collector.wait_for(500 * len(batches))

        thread, failures = _in_background(feed, lambda: client.seal_stream(scope, "in"))
        p = beam.Pipeline(options=options(runner, streaming=True))
        _ = p | ReadFromPravega(uri, f"{scope}/in", deserializer=bytes.decode) | collector.sink()
        result = p.run()
        result.wait_until_finish()
        thread.join(30)
    assert not failures
    assert sorted(collector.items) == sorted(e for batch in batches for e in batch)
    assert counter(result, "events_read") == 2000
    assert counter(result, "bytes_read") == sum(len(e) + 8 for batch in batches for e in batch)
    assert gauges(result, "backlog_bytes") == [0]  # caught up when it last checkpointed


def test_read_across_scaling_keeps_each_key_in_order(server: Any, runner: str) -> None:
    uri, scope = server.controller_uri, new_scope()
    keys = [f"key{k}" for k in range(12)]
    seq: dict[str, int] = defaultdict(int)

    def next_events(n: int) -> list[str]:
        out = []
        for i in range(n):
            key = keys[i % len(keys)]
            out.append(f"{key}:{seq[key]}")
            seq[key] += 1
        return out

    with pravega.Client(uri) as client:
        client.create_scope(scope)
        client.create_stream(scope, "in", 1)
        writer: Any = client.create_writer(scope, "in")
        writer.write_many(_encode(next_events(600)))
        writer.flush()
        # Split the one segment in two, then merge the two back into one: the merged
        # successor may only be read after both of its predecessors.
        (first,) = client.stream_info(scope, "in").tail.positions
        split = client.scale_stream(scope, "in", [first], [(0.0, 0.5), (0.5, 1.0)])
        writer.write_many(_encode(next_events(600)))
        writer.flush()
        client.scale_stream(scope, "in", [r.segment_id for r in split], [(0.0, 1.0)])
        writer.write_many(_encode(next_events(600)))
        writer.flush()
        client.seal_stream(scope, "in")

    collector = Collector()
    p = beam.Pipeline(options=options(runner, streaming=True))
    _ = p | ReadFromPravega(uri, f"{scope}/in", deserializer=bytes.decode, with_metadata=True) | collector.sink()
    p.run().wait_until_finish()

    records: list[PravegaEvent] = collector.items
    assert len(records) == 1800
    assert len({r.segment_id for r in records}) == 4  # the first, the two halves, the merged one
    by_key: dict[str, list[int]] = defaultdict(list)
    for r in records:
        key, n = r.event.split(":")
        by_key[key].append(int(n))
    for key in keys:
        assert by_key[key] == list(range(seq[key])), key
    assert all(r.stream == f"{scope}/in" for r in records)


def test_bounded_read_between_stream_cuts(server: Any, runner: str) -> None:
    uri, scope = server.controller_uri, new_scope()
    with pravega.Client(uri) as client:
        client.create_scope(scope)
        client.create_stream(scope, "in", 2)
        writer: Any = client.create_writer(scope, "in")
        writer.write_many(_encode([f"k{i % 5}:before.{i}" for i in range(300)]))
        writer.flush()
        start = client.stream_info(scope, "in").tail
        between = [f"k{i % 5}:between.{i}" for i in range(700)]
        writer.write_many(_encode(between[:400]))
        writer.flush()
        current = list(client.stream_info(scope, "in").tail.positions)
        client.scale_stream(scope, "in", current, [(0.0, 0.3), (0.3, 0.6), (0.6, 1.0)])
        writer.write_many(_encode(between[400:]))
        writer.flush()
        end = client.stream_info(scope, "in").tail
        writer.write_many(_encode([f"k{i % 5}:after.{i}" for i in range(200)]))
        writer.flush()

    collector = Collector()
    p = beam.Pipeline(options=options(runner))
    _ = (
        p
        | ReadFromPravega(uri, f"{scope}/in", start=start, end=end.to_text(), deserializer=bytes.decode)
        | collector.sink()
    )
    result = p.run()
    result.wait_until_finish()
    assert sorted(collector.items) == sorted(between)
    assert counter(result, "events_read") == 700


def test_start_at_tail_or_cut_of_a_sealed_stream(server: Any, runner: str) -> None:
    uri, scope = server.controller_uri, new_scope()
    with pravega.Client(uri) as client:
        client.create_scope(scope)
        client.create_stream(scope, "in", 2)
        writer: Any = client.create_writer(scope, "in")
        writer.write_many(_encode([f"k{i % 3}:old.{i}" for i in range(100)]))
        writer.flush()
        cut = client.stream_info(scope, "in").tail
        writer.write_many(_encode([f"k{i % 3}:new.{i}" for i in range(50)]))
        writer.flush()
        client.seal_stream(scope, "in")

    from_tail, from_cut = Collector(), Collector()
    p = beam.Pipeline(options=options(runner, streaming=True))
    _ = p | "Tail" >> ReadFromPravega(uri, f"{scope}/in", start="tail") | "T" >> from_tail.sink()
    _ = p | "Cut" >> ReadFromPravega(uri, f"{scope}/in", start=cut, deserializer=bytes.decode) | "C" >> from_cut.sink()
    p.run().wait_until_finish()
    assert from_tail.items == []
    assert sorted(from_cut.items) == sorted(f"k{i % 3}:new.{i}" for i in range(50))


class _WindowCounts(beam.DoFn):
    def process(self, element: tuple[str, int], win: Any = beam.DoFn.WindowParam) -> Any:
        yield int(win.start), element[0], element[1]


def test_event_time_windows_from_timestamp_fn(server: Any, runner: str) -> None:
    uri, scope = server.controller_uri, new_scope()
    events = [f"{t}:{word}" for t in range(30) for word in ("a", "b", "b")[: 1 + t % 3]]
    with pravega.Client(uri) as client:
        client.create_scope(scope)
        client.create_stream(scope, "in", 2)
        writer: Any = client.create_writer(scope, "in")
        writer.write_many([(e.encode(), e) for e in events])
        writer.flush()
        client.seal_stream(scope, "in")

    collector = Collector()
    p = beam.Pipeline(options=options(runner, streaming=True))
    _ = (
        p
        | ReadFromPravega(
            uri, f"{scope}/in", deserializer=bytes.decode, timestamp_fn=lambda e: int(e.split(":")[0]), idle_timeout=1.0
        )
        | beam.Map(lambda e: e.split(":")[1])
        | beam.WindowInto(window.FixedWindows(10))
        | beam.combiners.Count.PerElement()
        | beam.ParDo(_WindowCounts())
        | collector.sink()
    )
    p.run().wait_until_finish()

    expected: dict[tuple[int, str], int] = defaultdict(int)
    for e in events:
        t, word = e.split(":")
        expected[(int(t) // 10 * 10, word)] += 1
    assert sorted(collector.items) == sorted((w, word, n) for (w, word), n in expected.items())


def test_four_segments_are_read_as_four_restrictions_in_order_across_scaling(server: Any, runner: str) -> None:
    """A 4-segment stream read unbounded: one restriction per segment (per-segment
    counters), each event exactly once, and each key in order although the merged
    successors have predecessors read by different restrictions."""
    uri, scope = server.controller_uri, new_scope()
    keys = [f"key{k}" for k in range(40)]
    seq: dict[str, int] = defaultdict(int)

    def next_events(n: int) -> list[str]:
        out = []
        for i in range(n):
            key = keys[i % len(keys)]
            out.append(f"{key}:{seq[key]}")
            seq[key] += 1
        return out

    with pravega.Client(uri) as client:
        client.create_scope(scope)
        client.create_stream(scope, "in", 4)
        writer: Any = client.create_writer(scope, "in")
        writer.write_many(_encode(next_events(2000)))
        writer.flush()
        first = sorted(client.stream_info(scope, "in").tail.positions)
        assert len(first) == 4
        # Merge the four into two (each merge joins segments of two restrictions), then
        # the two into one.
        low = client.scale_stream(scope, "in", first[:2], [(0.0, 0.5)])
        high = client.scale_stream(scope, "in", first[2:], [(0.5, 1.0)])
        writer.write_many(_encode(next_events(1000)))
        writer.flush()
        client.scale_stream(scope, "in", [low[0].segment_id, high[0].segment_id], [(0.0, 1.0)])
        writer.write_many(_encode(next_events(1000)))
        writer.flush()
        client.seal_stream(scope, "in")

    collector = Collector()
    p = beam.Pipeline(options=options(runner, streaming=True))
    _ = p | ReadFromPravega(uri, f"{scope}/in", deserializer=bytes.decode, with_metadata=True) | collector.sink()
    result = p.run()
    result.wait_until_finish()

    records: list[PravegaEvent] = collector.items
    assert len(records) == 4000
    assert len({(r.segment_id, r.offset) for r in records}) == 4000  # each event once
    per_segment = segment_counters(result, f"{scope}/in")
    assert sorted(per_segment) == sorted({r.segment_id for r in records})
    assert len(per_segment) == 7  # 4 + 2 merged + 1
    assert all(per_segment[sid] > 0 for sid in first)  # the 4 initial restrictions all read
    assert sum(per_segment.values()) == 4000 == counter(result, "events_read")
    by_key: dict[str, list[int]] = defaultdict(list)
    for r in records:
        key, n = r.event.split(":")
        by_key[key].append(int(n))
    for key in keys:
        assert by_key[key] == list(range(seq[key])), key


def test_multi_stream_read_between_cuts_of_every_stream(server: Any, runner: str) -> None:
    uri, scope = server.controller_uri, new_scope()
    with pravega.Client(uri) as client:
        client.create_scope(scope)
        starts, ends = [], []
        for name, segments in (("a", 2), ("b", 3)):
            client.create_stream(scope, name, segments)
            writer: Any = client.create_writer(scope, name)
            writer.write_many(_encode([f"{name}{i % 5}:{i}" for i in range(300)]))
            writer.flush()
            starts.append(client.stream_info(scope, name).tail)
            writer.write_many(_encode([f"{name}{i % 5}:{i}" for i in range(300, 600)]))
            writer.flush()
            ends.append(client.stream_info(scope, name).tail)
            writer.write_many(_encode([f"{name}{i % 5}:{i}" for i in range(600, 700)]))
            writer.flush()
    collector = Collector()
    p = beam.Pipeline(options=options(runner))
    _ = (
        p
        | ReadFromPravega(uri, [f"{scope}/a", f"{scope}/b"], start=starts, end=ends, deserializer=bytes.decode)
        | collector.sink()
    )
    p.run().wait_until_finish()
    expected = [f"{name}{i % 5}:{i}" for name in ("a", "b") for i in range(300, 600)]
    assert sorted(collector.items) == sorted(expected)
