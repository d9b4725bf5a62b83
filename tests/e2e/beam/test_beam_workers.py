"""Several worker processes on the DirectRunner (``--direct_num_workers=2
--direct_running_mode=multi_processing``): the segments' restrictions are read in
parallel by different processes, and what each defers comes back (Beam's multi-worker
merge drops residuals; ``pravega_beam._direct_workers`` keeps them), so every event is
read exactly once and in key order while the stream is written, scaled and sealed."""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from beam_testing import AppendLines, counter, new_scope, read_lines, segment_counters

import pravega
from pravega_beam import ReadFromPravega

KEYS = [f"key{k}" for k in range(40)]


def test_two_worker_processes_read_the_segments_in_parallel_exactly_once(
    server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = str(Path(__file__).resolve().parent)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH")) if p))
    uri, scope = server.controller_uri, new_scope()
    seq: dict[str, int] = defaultdict(int)

    def batch(n: int) -> list[tuple[bytes, str]]:
        out = []
        for i in range(n):
            key = KEYS[i % len(KEYS)]
            out.append((f"{key}:{seq[key]}".encode(), key))
            seq[key] += 1
        return out

    client = pravega.Client(uri)
    client.create_scope(scope)
    client.create_stream(scope, "in", 4)
    writer: Any = client.create_writer(scope, "in")
    writer.write_many(batch(2000))
    writer.flush()
    first = sorted(client.stream_info(scope, "in").tail.positions)
    failures: list[BaseException] = []

    def produce() -> None:
        # While the pipeline runs: its reads reach the tail and defer (residuals), then
        # the stream scales (4 -> 2 -> 1) under them and is sealed, which ends the read.
        try:
            for _ in range(3):
                time.sleep(0.7)
                writer.write_many(batch(500))
                writer.flush()
            low = client.scale_stream(scope, "in", first[:2], [(0.0, 0.5)])
            high = client.scale_stream(scope, "in", first[2:], [(0.5, 1.0)])
            writer.write_many(batch(1000))
            writer.flush()
            time.sleep(0.7)
            client.scale_stream(scope, "in", [low[0].segment_id, high[0].segment_id], [(0.0, 1.0)])
            writer.write_many(batch(1000))
            writer.flush()
            client.seal_stream(scope, "in")
        except BaseException as exc:  # reported by the test below
            failures.append(exc)
            client.seal_stream(scope, "in")

    out = tmp_path / "out"
    out.mkdir()
    options = ["--direct_num_workers=2", "--direct_running_mode=multi_processing", "--streaming"]
    p = beam.Pipeline(options=PipelineOptions(options))
    _ = (
        p
        | ReadFromPravega(uri, f"{scope}/in", deserializer=bytes.decode, with_metadata=True)
        | beam.Map(lambda e: (e.segment_id, e.offset, e.event))
        | beam.ParDo(AppendLines(str(out)))
    )
    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    try:
        result = p.run()
        result.wait_until_finish()
    finally:
        producer.join(timeout=120)
        writer.close()
        client.close()
    assert not failures, failures

    total = sum(seq.values())
    assert total == 2000 + 3 * 500 + 2 * 1000
    lines = read_lines(out)
    assert len(lines) == total
    assert len({(sid, offset) for _, sid, offset, _ in lines}) == total  # each event once
    assert len({pid for pid, *_ in lines}) >= 2  # read by more than one worker process
    per_segment = segment_counters(result, f"{scope}/in")
    assert len(per_segment) == 7  # the 4 first restrictions, 2 merged successors, 1 more
    assert all(per_segment[sid] > 0 for sid in first)
    assert sum(per_segment.values()) == total == counter(result, "events_read")
    # Key order: within a segment by offset, and segments in the order scaling made them.
    by_key: dict[str, list[int]] = defaultdict(list)
    for _, _, _, event in sorted(lines, key=lambda line: (line[1] >> 32, line[1] & 0xFFFFFFFF, line[2])):
        key, n = event.split(":")
        by_key[key].append(int(n))
    for key in KEYS:
        assert by_key[key] == list(range(seq[key])), key
