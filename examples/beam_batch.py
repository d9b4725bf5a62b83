"""A Beam batch job over the part of a Pravega stream between two stream cuts.

    python examples/beam_batch.py                      # starts a server of its own
    python examples/beam_batch.py --controller tcp://127.0.0.1:9090 --runner portable

The example writes orders ("customer,amount") to ``orders<id>/orders`` in three phases and
takes a stream cut after the first and after the second; between them the stream is
scaled from 2 to 3 segments. The pipeline reads exactly the second phase — a bounded
read, split into one restriction per segment range — totals the amounts per customer
and writes the totals to ``orders<id>/totals``. The example reads them back and checks
them against its own.

Run from a checkout with ``PYTHONPATH=core:server:connectors/beam``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from contextlib import ExitStack

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

import pravega
import pravega.aio
from pravega.testing import ServerProcess
from pravega_beam import ReadFromPravega, WriteToPravega

RUNNERS = {
    "direct": ["--direct_num_workers=1"],
    "portable": ["--runner=PortableRunner", "--job_endpoint=embed", "--environment_type=LOOPBACK"],
}


def orders(count: int, seed: int) -> list[tuple[str, int]]:
    rng = random.Random(seed)
    return [(f"customer-{rng.randint(1, 8)}", rng.randint(1, 500)) for _ in range(count)]


def write(writer: pravega.EventWriter, batch: list[tuple[str, int]]) -> None:
    writer.write_many([(f"{customer},{amount}".encode(), customer) for customer, amount in batch])
    writer.flush()


async def read_stream(controller: str, scope: str, stream: str) -> list[bytes]:
    async with pravega.aio.Client(controller) as client:
        batch = client.batch_client()
        out: list[bytes] = []
        for piece in await batch.list_segments(scope, stream):
            out.extend([e async for e in batch.read_segment(piece)])
        return out


def parse(event: bytes) -> tuple[str, int]:
    customer, amount = event.decode().split(",")
    return customer, int(amount)


def run(controller: str, runner: str, count: int) -> int:
    scope = "orders" + uuid.uuid4().hex[:6]
    before, during, after = orders(count, 1), orders(count, 2), orders(count, 3)
    with pravega.Client(controller) as client:
        client.create_scope(scope)
        client.create_stream(scope, "orders", 2)
        writer = client.create_writer(scope, "orders")
        write(writer, before)
        start = client.stream_info(scope, "orders").tail
        write(writer, during[: count // 2])
        client.scale_stream(scope, "orders", list(start.positions), [(0.0, 0.3), (0.3, 0.7), (0.7, 1.0)])
        write(writer, during[count // 2 :])
        end = client.stream_info(scope, "orders").tail
        write(writer, after)
        writer.close()
    print(f"wrote {3 * count} orders; reading the {count} between\n  {start}\n  {end}")

    with pravega.Client(controller) as client:
        client.create_stream(scope, "totals", 1)
    started = time.monotonic()
    with beam.Pipeline(options=PipelineOptions(RUNNERS[runner])) as p:
        events = p | "ReadOrders" >> ReadFromPravega(
            controller, f"{scope}/orders", start=start, end=end, with_metadata=True
        )
        totals = (
            events
            | "Parse" >> beam.Map(lambda e: parse(e.event))
            | "Total" >> beam.CombinePerKey(sum)
            | "Format" >> beam.MapTuple(lambda customer, total: f"{customer},{total}")
        )
        segments = (
            events
            | "SegmentIds" >> beam.Map(lambda e: e.segment_id)
            | "Distinct" >> beam.Distinct()
            | "HowMany" >> beam.combiners.Count.Globally()
            | "FormatSegments" >> beam.Map(lambda n: f"segments,{n}")
        )
        _ = (
            (totals, segments)
            | beam.Flatten()
            | "WriteTotals" >> WriteToPravega(controller, f"{scope}/totals", serializer=str.encode)
        )
    elapsed = time.monotonic() - started
    results = dict(parse(event) for event in asyncio.run(read_stream(controller, scope, "totals")))
    segment_count = results.pop("segments")

    expected: dict[str, int] = defaultdict(int)
    for customer, amount in during:
        expected[customer] += amount
    print(f"batch job: {segment_count} segments read, totals written to {scope}/totals in {elapsed:.1f} s")
    for customer in sorted(results):
        print(f"  {customer}: {results[customer]}")
    if results != expected:
        print(f"MISMATCH: expected {dict(expected)}")
        return 1
    print("OK: the totals cover exactly the orders between the two cuts")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--controller", help="tcp://host:port of a running server (default: start one)")
    parser.add_argument("--runner", choices=sorted(RUNNERS), default="direct")
    parser.add_argument("--orders", type=int, default=5000)
    args = parser.parse_args(argv)
    with ExitStack() as stack:
        controller = args.controller
        if controller is None:
            data = stack.enter_context(tempfile.TemporaryDirectory(prefix="beam-batch-"))
            controller = stack.enter_context(ServerProcess(f"{data}/data")).controller_uri
            print(f"started a server: {controller}")
        return run(controller, args.runner, args.orders)


if __name__ == "__main__":
    sys.exit(main())
