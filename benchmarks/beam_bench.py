"""Beam connector throughput beside the raw client's, against a freshly started server process.

    python benchmarks/beam_bench.py                 # 200,000 events of 100 B
    python benchmarks/beam_bench.py --events 50000 --runner portable

Measures, and prints beside the targets (no assertions):

(a) the raw asyncio client in this process: ``EventWriter`` writes (routing keys, then
    flush), one transaction holding every event (write, commit), and a batch read of
    the sealed stream (``batch_client``, all segments);
(b) ``ReadFromPravega`` on the DirectRunner (``--direct_num_workers=1 --streaming``):
    an unbounded read of the same sealed stream from its head, to its end;
(c) ``WriteToPravega`` exactly-once (transaction per bundle, Reshuffle, commit) and
    at-least-once, fed by an in-pipeline generator of the same events;
(d) read -> write, exactly-once, bounded: ``ReadFromPravega(end=tail)`` of the same
    stream into ``WriteToPravega`` without a sink id (two-stage commit) and with one
    (``sink_id``: the progress record in a table segment, commit per bundle), and
    their ratio;
(e) ``ReadFromPravega`` unbounded of a sealed stream of 1 segment and of one of 4
    segments (the same events): the read is one restriction per segment, so the 4-segment
    read shows what the runner gets from parallel restrictions (``--only segments`` runs
    just this part). ``--runner direct2`` runs two SDK worker processes, the only local
    runner here that runs restrictions in parallel; ``direct`` and ``portable`` run one
    bundle at a time.

Pipeline rates are given two ways: over the whole ``run()`` (startup included, about
0.5 s on the DirectRunner, 2 s on the portable runner) and "steady", from the first
to the last element seen inside the pipeline (measured per bundle through Beam
metrics). Client and server share the machine's CPUs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "connectors" / "beam"))
import apache_beam as beam  # noqa: E402
from apache_beam.metrics import Metrics  # noqa: E402
from apache_beam.metrics.metric import MetricsFilter  # noqa: E402
from apache_beam.options.pipeline_options import PipelineOptions  # noqa: E402

import pravega  # noqa: E402
import pravega.aio  # noqa: E402
from _common import Table  # noqa: E402  (also puts core/ and server/ on the path)
from pravega.testing import ServerProcess  # noqa: E402
from pravega_beam import ReadFromPravega, WriteToPravega  # noqa: E402

PAYLOAD = 100
TARGETS = {"read": ">= 50,000 ev/s", "write": ">= 20,000 ev/s"}
RUNNERS = {
    "direct": ["--direct_num_workers=1"],
    # Two SDK worker processes: restrictions (segments) are read in parallel.
    "direct2": ["--direct_num_workers=2", "--direct_running_mode=multi_processing"],
    "portable": ["--runner=PortableRunner", "--job_endpoint=embed", "--environment_type=LOOPBACK"],
}


def event(i: int) -> bytes:
    return b"%010d" % i + b"x" * (PAYLOAD - 10)


def rate(events: int, seconds: float) -> str:
    return f"{events / seconds:,.0f} ev/s  ({events:,} in {seconds:.2f} s)" if seconds > 0 else "n/a"


# -- (a) the raw client ----------------------------------------------------------------------


async def raw_client(uri: str, scope: str, n: int, table: Table) -> None:
    async with pravega.aio.Client(uri) as client:
        writer: Any = await client.create_writer(scope, "raw")
        started = time.perf_counter()
        for i in range(n):
            await writer.write(event(i), f"k{i % 16}")
        await writer.flush()
        table.add("raw client: EventWriter.write + flush", rate(n, time.perf_counter() - started))

        txn_writer: Any = await client.create_transactional_writer(scope, "raw")
        started = time.perf_counter()
        txn = await txn_writer.begin()
        for i in range(n):
            await txn.write(event(i), f"k{i % 16}")
        await txn.commit()
        table.add("raw client: one transaction, write + commit", rate(n, time.perf_counter() - started))
        await client.seal_stream(scope, "raw")

        batch = client.batch_client()
        started = time.perf_counter()
        count = 0
        for piece in await batch.list_segments(scope, "raw"):
            async for _ in batch.read_segment(piece):
                count += 1
        assert count == 2 * n, count
        table.add("raw client: batch read (all segments)", rate(count, time.perf_counter() - started))


# -- (b, c) pipelines ------------------------------------------------------------------------


class _Clock(beam.DoFn):
    """Passes elements on; records when each bundle saw its first element and ended."""

    def __init__(self) -> None:
        self._first = Metrics.distribution("bench", "first_ms")
        self._last = Metrics.distribution("bench", "last_ms")
        self._seen = Metrics.counter("bench", "seen")

    def start_bundle(self) -> None:
        self._count = 0

    def process(self, element: bytes):
        if self._count == 0:
            self._first.update(int(time.time() * 1000))
        self._count += 1
        yield element

    def finish_bundle(self) -> None:
        if self._count:
            self._last.update(int(time.time() * 1000))
            self._seen.inc(self._count)


def _steady(result: beam.runners.runner.PipelineResult, end_ms: float | None = None) -> tuple[int, float]:
    metrics = result.metrics().query(MetricsFilter().with_namespace("bench"))
    dists = {d.key.metric.name: d.committed for d in metrics["distributions"]}
    seen = sum(c.committed for c in metrics["counters"] if c.key.metric.name == "seen")
    last = end_ms if end_ms is not None else dists["last_ms"].max
    return seen, (last - dists["first_ms"].min) / 1000.0


def _connector_counter(result: beam.runners.runner.PipelineResult, name: str) -> int:
    found = result.metrics().query(MetricsFilter().with_namespace("pravega").with_name(name))["counters"]
    return sum(c.committed for c in found)


def pipeline_read(uri: str, scope: str, n: int, runner: str, table: Table) -> None:
    p = beam.Pipeline(options=PipelineOptions(RUNNERS[runner] + ["--streaming"]))
    _ = p | ReadFromPravega(uri, f"{scope}/raw") | beam.ParDo(_Clock())
    started = time.perf_counter()
    result = p.run()
    result.wait_until_finish()
    wall = time.perf_counter() - started
    seen, steady = _steady(result)
    assert seen == n == _connector_counter(result, "events_read"), (seen, n)
    table.add(f"ReadFromPravega ({runner}), whole run", rate(n, wall))
    table.add(f"ReadFromPravega ({runner}), steady", rate(n, steady), TARGETS["read"])


def pipeline_write(uri: str, scope: str, stream: str, n: int, runner: str, exactly_once: bool, table: Table) -> None:
    p = beam.Pipeline(options=PipelineOptions(RUNNERS[runner]))
    _ = (
        p
        | beam.Impulse()
        | "Generate" >> beam.FlatMap(lambda _, n=n: (event(i) for i in range(n)))
        | beam.ParDo(_Clock())
        | WriteToPravega(uri, f"{scope}/{stream}", routing_key_fn=lambda e: e[8:10].decode(), exactly_once=exactly_once)
    )
    started = time.perf_counter()
    result = p.run()
    result.wait_until_finish()
    wall = time.perf_counter() - started
    seen, steady = _steady(result, end_ms=time.time() * 1000)
    assert seen == n == _connector_counter(result, "events_written"), seen
    mode = "exactly-once" if exactly_once else "at-least-once"
    table.add(f"WriteToPravega {mode} ({runner}), whole run", rate(n, wall))
    table.add(f"WriteToPravega {mode} ({runner}), steady", rate(n, steady), TARGETS["write"] if exactly_once else "")


def pipeline_copy(uri: str, scope: str, n: int, runner: str, sink_id: str | None, table: Table | None) -> float:
    """Read the raw stream (bounded) and write it exactly once to another stream (a new
    one per run); returns the steady rate."""
    out = f"copy-{sink_id or 'plain'}-{time.time_ns()}"
    with pravega.Client(uri) as client:
        client.create_stream(scope, out, 2)
        end = client.stream_info(scope, "raw").tail
    p = beam.Pipeline(options=PipelineOptions(RUNNERS[runner]))
    read = ReadFromPravega(uri, f"{scope}/raw", end=end, with_metadata=sink_id is not None)
    # With a sink id the elements are PravegaEvents; routing_key_fn sees their .event.
    write = WriteToPravega(uri, f"{scope}/{out}", routing_key_fn=lambda e: e[8:10].decode(), sink_id=sink_id)
    _ = p | read | beam.ParDo(_Clock()) | write
    started = time.perf_counter()
    result = p.run()
    result.wait_until_finish()
    wall = time.perf_counter() - started
    seen, steady = _steady(result, end_ms=time.time() * 1000)
    assert seen == n == _connector_counter(result, "events_written"), (seen, n)
    if table is None:
        return n / steady
    mode = "with sink_id (progress record)" if sink_id else "two-stage, no sink_id"
    table.add(f"read -> WriteToPravega exactly-once, {mode} ({runner}), whole run", rate(n, wall))
    table.add(f"read -> WriteToPravega exactly-once, {mode} ({runner}), steady", rate(n, steady))
    return n / steady


def segments_read(uri: str, scope: str, n: int, runner: str, table: Table, repeat: int) -> None:
    """(e): the same n events in a 1-segment and a 4-segment stream, each read unbounded
    (to the end of the sealed stream); the steady rate's median over ``repeat`` runs."""

    async def fill(stream: str, segments: int) -> None:
        async with pravega.aio.Client(uri) as client:
            await client.create_stream(scope, stream, segments)
            writer: Any = await client.create_writer(scope, stream)
            for i in range(n):
                await writer.write(event(i), f"k{i % 64}")
            await writer.flush()
            await client.seal_stream(scope, stream)

    rates = {}
    for segments in (1, 4):
        stream = f"seg{segments}"
        asyncio.run(fill(stream, segments))
        steady_rates = []
        for _ in range(repeat):
            p = beam.Pipeline(options=PipelineOptions(RUNNERS[runner] + ["--streaming"]))
            _ = p | ReadFromPravega(uri, f"{scope}/{stream}") | beam.ParDo(_Clock())
            started = time.perf_counter()
            result = p.run()
            result.wait_until_finish()
            wall = time.perf_counter() - started
            seen, steady = _steady(result)
            assert seen == n == _connector_counter(result, "events_read"), (seen, n)
            steady_rates.append(n / steady)
        rates[segments] = statistics.median(steady_rates)
        table.add(f"ReadFromPravega ({runner}), {segments} segment(s), last whole run", rate(n, wall))
        table.add(
            f"ReadFromPravega ({runner}), {segments} segment(s), steady (median of {repeat})",
            f"{rates[segments]:,.0f} ev/s",
        )
    table.add(f"read 4 segments / 1 segment ({runner}), steady", f"{rates[4] / rates[1]:.2f}x", ">= 2x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--runner", choices=sorted(RUNNERS), default="direct")
    parser.add_argument("--quick", action="store_true", help="20,000 events")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each read -> write pipeline (d), read (e)")
    parser.add_argument("--only", choices=["all", "segments"], default="all", help="'segments': only (e)")
    args = parser.parse_args()
    # Worker processes (direct2) import this module's DoFns by name.
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "benchmarks"), os.environ.get("PYTHONPATH")) if p)
    n = 20_000 if args.quick else args.events
    table = Table(f"Beam connector, {n:,} events of {PAYLOAD} B, runner: {args.runner}")
    with tempfile.TemporaryDirectory(prefix="beam-bench-") as data, ServerProcess(f"{data}/data") as server:
        uri, scope = server.controller_uri, "bench"

        async def setup() -> None:
            async with pravega.aio.Client(uri) as client:
                await client.create_scope(scope)
                for stream in ("raw", "eo", "alo"):
                    await client.create_stream(scope, stream, 2)

        asyncio.run(setup())
        print(table.title)
        if args.only == "segments":
            segments_read(uri, scope, n, args.runner, table, args.repeat)
            print()
            print(table.render())
            return 0
        asyncio.run(raw_client(uri, scope, n, table))
        # The raw stream now holds 2n events (plain writes, then one transaction).
        pipeline_read(uri, scope, 2 * n, args.runner, table)
        pipeline_write(uri, scope, "eo", n, args.runner, True, table)
        pipeline_write(uri, scope, "alo", n, args.runner, False, table)
        plain = [pipeline_copy(uri, scope, 2 * n, args.runner, None, table)]
        tracked = [pipeline_copy(uri, scope, 2 * n, args.runner, "bench", table)]
        for i in range(args.repeat - 1):  # alternating, against the noise of a shared machine
            plain.append(pipeline_copy(uri, scope, 2 * n, args.runner, None, None))
            tracked.append(pipeline_copy(uri, scope, 2 * n, args.runner, f"bench{i}", None))
        ratio = statistics.median(tracked) / statistics.median(plain)
        table.add(f"exactly-once with sink_id / without, steady (median of {args.repeat})", f"{ratio:.2f}x", ">= 0.8x")
        segments_read(uri, scope, n, args.runner, table, args.repeat)
    print()
    print(table.render())
    return 0


if __name__ == "__main__":
    # Run from the module imported by name, so DoFns pickle as ``beam_bench.X``: worker
    # processes (direct2) import them instead of needing this script's globals.
    import beam_bench

    sys.exit(beam_bench.main())
