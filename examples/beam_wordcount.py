"""Exactly-once streaming word count with Apache Beam: Pravega stream in, Pravega stream out.

    python examples/beam_wordcount.py                      # starts a server of its own
    python examples/beam_wordcount.py --controller tcp://127.0.0.1:9090 --runner portable

A feeder thread writes timestamped lines ("<epoch seconds>|<text>") to ``wordcount<id>/lines``
while the pipeline runs, then seals the stream. The pipeline reads the lines with
their event times, counts words in 10-second windows and writes "window word count"
records to ``wordcount<id>/counts`` exactly once (a transaction per bundle, committed after
a Reshuffle). It finishes when the sealed input is read to its end; the example then
reads ``wordcount<id>/counts`` back and checks every count against its own tally.

Run from a checkout with ``PYTHONPATH=core:server:connectors/beam``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from contextlib import ExitStack

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.transforms import window
from apache_beam.utils.timestamp import Timestamp

import pravega
import pravega.aio
from pravega.testing import ServerProcess
from pravega_beam import ReadFromPravega, WriteToPravega

WORDS = (
    "stream segment event writer reader scope cut transaction watermark window beam pravega order key scale"
).split()
BASE = 1_700_000_000  # event times start here (seconds since the epoch)
WINDOW = 10

RUNNERS = {
    "direct": ["--direct_num_workers=1"],
    "portable": ["--runner=PortableRunner", "--job_endpoint=embed", "--environment_type=LOOPBACK"],
}


def make_lines(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [
        f"{BASE + i * 0.05:.2f}|{' '.join(rng.choice(WORDS) for _ in range(rng.randint(3, 9)))}" for i in range(count)
    ]


def event_time(line: str) -> float:
    return float(line.split("|", 1)[0])


def words(line: str) -> list[str]:
    return line.split("|", 1)[1].split()


class FormatCount(beam.DoFn):
    def process(self, element: tuple[str, int], win: object = beam.DoFn.WindowParam):
        word, count = element
        yield f"{int(win.start)} {word} {count}"


def feed(controller: str, scope: str, lines: list[str], batches: int) -> None:
    """Write the lines in a few flushes while the pipeline reads, then seal the input."""
    with pravega.Client(controller) as client:
        writer = client.create_writer(scope, "lines")
        try:
            step = -(-len(lines) // batches)
            for start in range(0, len(lines), step):
                writer.write_many([(line.encode(), None) for line in lines[start : start + step]])
                writer.flush()
                time.sleep(0.2)  # let the reader catch up with the tail between batches
        finally:
            client.seal_stream(scope, "lines")  # the pipeline ends once it has read everything


async def read_stream(controller: str, scope: str, stream: str) -> list[str]:
    async with pravega.aio.Client(controller) as client:
        batch = client.batch_client()
        out: list[str] = []
        for piece in await batch.list_segments(scope, stream):
            out.extend([e async for e in batch.read_segment(piece, pravega.StringSerializer())])
        return out


def run(controller: str, runner: str, count: int) -> int:
    scope = "wordcount" + uuid.uuid4().hex[:6]
    with pravega.Client(controller) as client:
        client.create_scope(scope)
        client.create_stream(scope, "lines", 3)
        client.create_stream(scope, "counts", 2)
    lines = make_lines(count)
    feeder = threading.Thread(target=feed, args=(controller, scope, lines, 4), daemon=True)

    options = PipelineOptions(RUNNERS[runner] + ["--streaming"])
    started = time.monotonic()
    with beam.Pipeline(options=options) as p:
        feeder.start()
        _ = (
            p
            | "ReadLines"
            >> ReadFromPravega(
                controller,
                f"{scope}/lines",
                deserializer=pravega.StringSerializer(),
                timestamp_fn=event_time,
                idle_timeout=2.0,
            )
            | "Words" >> beam.FlatMap(words)
            | "Window" >> beam.WindowInto(window.FixedWindows(WINDOW))
            | "Count" >> beam.combiners.Count.PerElement()
            | "Format" >> beam.ParDo(FormatCount())
            | "WriteCounts"
            >> WriteToPravega(
                controller,
                f"{scope}/counts",
                serializer=pravega.StringSerializer(),
                routing_key_fn=lambda record: record.split()[1],
            )
        )
    elapsed = time.monotonic() - started
    feeder.join()

    expected: Counter[tuple[int, str]] = Counter()
    for line in lines:
        start = int(Timestamp.of(event_time(line)).micros // 1_000_000 // WINDOW * WINDOW)
        for word in words(line):
            expected[(start, word)] += 1
    records = asyncio.run(read_stream(controller, scope, "counts"))
    got = Counter()
    for record in records:
        start, word, n = record.split()
        got[(int(start), word)] += int(n)

    print(f"read {len(lines)} lines, wrote {len(records)} window counts to {scope}/counts in {elapsed:.1f} s")
    for start in sorted({s for s, _ in expected})[:2]:
        top = sorted(((w, n) for (s, w), n in got.items() if s == start), key=lambda x: -x[1])[:5]
        print(f"  window {time.strftime('%H:%M:%S', time.gmtime(start))}: " + ", ".join(f"{w}={n}" for w, n in top))
    if len(records) != len(expected) or got != expected:
        print(f"MISMATCH: {len(records)} records for {len(expected)} (window, word) pairs")
        return 1
    print(f"OK: each of the {len(expected)} (window, word) counts is in the output exactly once and correct")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--controller", help="tcp://host:port of a running server (default: start one)")
    parser.add_argument("--runner", choices=sorted(RUNNERS), default="direct")
    parser.add_argument("--lines", type=int, default=2000)
    args = parser.parse_args(argv)
    with ExitStack() as stack:
        controller = args.controller
        if controller is None:
            data = stack.enter_context(tempfile.TemporaryDirectory(prefix="beam-wordcount-"))
            controller = stack.enter_context(ServerProcess(f"{data}/data")).controller_uri
            print(f"started a server: {controller}")
        return run(controller, args.runner, args.lines)


if __name__ == "__main__":
    sys.exit(main())
