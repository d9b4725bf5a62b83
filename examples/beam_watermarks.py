"""Event-time windows over a Pravega stream, with the watermark from Pravega's watermarks.

    python examples/beam_watermarks.py                  # starts a server of its own
    python examples/beam_watermarks.py --controller tcp://127.0.0.1:9090 --runner portable

Two sensors write readings ("<seconds>,<sensor>,<value>") to ``sensors<id>/readings``
(two segments) and, after each minute of readings, note the time they have reached
(``writer.note_time(ms)``). The controller aggregates the notes into the stream's
watermark stream ``_MARKreadings``; ``ReadFromPravega(timestamp_fn=...)`` takes its
watermark from there, so no reading is late and every one-minute window is complete.
The pipeline averages each sensor per minute; the example checks the averages and
prints the reader's time window (``EventReader.time_window``) at the end of the stream.

Run from a checkout with ``PYTHONPATH=core:server:connectors/beam``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from contextlib import ExitStack
from typing import Any

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.transforms import window

import pravega
import pravega.aio
from pravega.client.watermarks import WatermarkFollower
from pravega.model import ScalingPolicy, StreamConfiguration
from pravega.testing import ServerProcess
from pravega_beam import ReadFromPravega

RUNNERS = {
    "direct": ["--direct_num_workers=1", "--streaming"],
    "portable": ["--runner=PortableRunner", "--job_endpoint=embed", "--environment_type=LOOPBACK", "--streaming"],
}
MINUTES = 5
SENSORS = ("s1", "s2")


def reading(second: int, sensor: str) -> int:
    return (second * 7 + ord(sensor[-1]) * 13) % 100


async def wait_for_watermark(controller: str, scope: str, lower_ms: int) -> None:
    """Until the controller has aggregated the writers' notes up to ``lower_ms``."""
    async with pravega.aio.Client(controller) as client:
        follower = WatermarkFollower(client.ctx, scope, "readings")
        deadline = time.monotonic() + 60
        while not any(w.lower >= lower_ms for w in await follower.refresh()):
            if time.monotonic() > deadline:
                raise TimeoutError("the controller wrote no watermark")
            await asyncio.sleep(0.1)


class Collect(beam.DoFn):
    """Keeps the per-window averages in this process (the local runners run here)."""

    results: list[tuple[int, str, float]] = []

    def process(self, element: tuple[str, float], win: Any = beam.DoFn.WindowParam) -> tuple[()]:
        Collect.results.append((int(win.start), element[0], element[1]))
        return ()


def run(controller: str, runner: str) -> int:
    scope = "sensors" + uuid.uuid4().hex[:6]
    with pravega.Client(controller) as client:
        client.create_scope(scope)
        config = StreamConfiguration(ScalingPolicy.fixed(2), timestamp_aggregation_timeout_ms=30_000)
        client.create_stream(scope, "readings", config=config)
        writers: dict[str, Any] = {
            sensor: client.create_writer(scope, "readings", writer_id=sensor) for sensor in SENSORS
        }
        for minute in range(MINUTES):
            for sensor, writer in writers.items():
                seconds = range(minute * 60, (minute + 1) * 60)
                writer.write_many([(f"{s},{sensor},{reading(s, sensor)}".encode(), sensor) for s in seconds])
                writer.note_time((minute + 1) * 60_000)  # everything after this is later
            asyncio.run(wait_for_watermark(controller, scope, (minute + 1) * 60_000))
        for writer in writers.values():
            writer.close()
        client.seal_stream(scope, "readings")
    print(f"wrote {MINUTES} minutes of readings of {len(SENSORS)} sensors to {scope}/readings")

    def parse(event: bytes) -> tuple[int, str, int]:
        second, sensor, value = event.decode().split(",")
        return int(second), sensor, int(value)

    with beam.Pipeline(options=PipelineOptions(RUNNERS[runner])) as p:
        _ = (
            p
            | ReadFromPravega(controller, f"{scope}/readings", timestamp_fn=lambda e: parse(e)[0], idle_timeout=None)
            | beam.Map(lambda e: (parse(e)[1], parse(e)[2]))
            | beam.WindowInto(window.FixedWindows(60))
            | beam.combiners.Mean.PerKey()
            | beam.ParDo(Collect())
        )

    expected: dict[tuple[int, str], list[int]] = defaultdict(list)
    for s in range(MINUTES * 60):
        for sensor in SENSORS:
            expected[(s // 60 * 60, sensor)].append(reading(s, sensor))
    want = sorted((start, sensor, sum(v) / len(v)) for (start, sensor), v in expected.items())
    for start, sensor, mean in sorted(Collect.results):
        print(f"  minute {start // 60}: {sensor} averages {mean:.2f}")

    with pravega.Client(controller) as client:
        reader = client.create_reader_group("check", scope, [f"{scope}/readings"]).create_reader("r")
        count = 0
        while count < MINUTES * 60 * len(SENSORS):
            read = reader.read_next_event(timeout=5.0)
            if read is not None and not read.is_checkpoint:
                count += 1
                if count % 200 == 0:
                    window_ms = reader.time_window(scope, "readings")
                    print(f"  a reader after {count} readings: time window {window_ms} (ms)")
        reader.close()

    if sorted(Collect.results) != want:
        print(f"MISMATCH: expected {want}")
        return 1
    print("OK: every one-minute window is complete")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--controller", help="tcp://host:port of a running server (default: start one)")
    parser.add_argument("--runner", choices=sorted(RUNNERS), default="direct")
    args = parser.parse_args(argv)
    with ExitStack() as stack:
        controller = args.controller
        if controller is None:
            data = stack.enter_context(tempfile.TemporaryDirectory(prefix="beam-watermarks-"))
            controller = stack.enter_context(ServerProcess(f"{data}/data")).controller_uri
            print(f"started a server: {controller}")
        return run(controller, args.runner)


if __name__ == "__main__":
    sys.exit(main())
