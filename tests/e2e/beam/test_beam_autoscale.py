"""ReadFromPravega over a stream that splits and merges by itself (auto-scaling on a
seconds time scale): every event once, per-key order kept, successors read."""

from __future__ import annotations

import asyncio
import sys
import time
from collections import defaultdict
from pathlib import Path

import apache_beam as beam
import pytest
from beam_testing import Collector, new_scope, options

import pravega
from pravega import ScalingPolicy
from pravega.testing import ServerProcess
from pravega_beam import PravegaEvent, ReadFromPravega

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "integration"))
from test_autoscaling import FAST, current_ranges, wait_for, write_for


@pytest.fixture(scope="module")
def scaling_server():
    with ServerProcess(extra_args=FAST) as server:
        yield server


@pytest.mark.parametrize("runner", ["direct", "portable"])
def test_read_follows_automatic_splits_and_merges(scaling_server: ServerProcess, runner: str) -> None:
    uri, scope = scaling_server.controller_uri, new_scope()
    with pravega.Client(uri) as client:
        client.create_scope(scope)
        client.create_stream(scope, "in", ScalingPolicy.by_event_rate(15, 2, 1))
        written = asyncio.run(write_for(uri, scope, "in", rate=80, seconds=3))
        assert len(current_ranges(client, scope, "in")) > 1, "the stream must have split"
        wait_for(lambda: len(current_ranges(client, scope, "in")) == 1, 60, "the merge back")
        time.sleep(0.5)
        written += asyncio.run(write_for(uri, scope, "in", rate=40, seconds=1, first=len(written)))
        client.seal_stream(scope, "in")
        history = client.scaling_events(scope, "in")
    collector = Collector()
    p = beam.Pipeline(options=options(runner, streaming=True))
    _ = p | ReadFromPravega(uri, f"{scope}/in", deserializer=bytes.decode, with_metadata=True) | collector.sink()
    p.run().wait_until_finish()

    records: list[PravegaEvent] = collector.items
    assert sorted(r.event for r in records) == sorted(written)
    segments = {s.segment_id for e in history for s in e.created}
    assert {r.segment_id for r in records} <= segments and len({r.segment_id for r in records}) > 2
    by_key: dict[str, list[int]] = defaultdict(list)
    for r in records:
        key, n = r.event.split(":")[:2]
        by_key[key].append(int(n))
    for key, seqs in by_key.items():
        assert seqs == sorted(seqs), f"key {key} out of order"
