"""ReadFromPravega's watermark from Pravega watermarks (writers noting times), on the
DirectRunner and the embedded portable runner: event-time windows come out complete and
in order.

Both local runners (FnApiRunner underneath) hand a stage's output to the stages after a
shuffle only when the stage is finished, so windows fire when the read ends, not as the
watermark passes them; what the test can check here is that the watermark the read
reports follows the writers' notes (the gauge), never runs ahead of the data (complete
windows: late data would be dropped), and that windows come out in order.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import defaultdict
from typing import Any

import apache_beam as beam
import pytest
from apache_beam.transforms import window
from beam_testing import Collector, distribution_max, new_scope, options

import pravega
from pravega.aio import Client
from pravega.client.watermarks import WatermarkFollower
from pravega.model import ScalingPolicy, StreamConfiguration
from pravega_beam import ReadFromPravega

WINDOW = 10  # seconds of event time
WINDOWS = 6


class _WindowCounts(beam.DoFn):
    def process(self, element: tuple[str, int], win: Any = beam.DoFn.WindowParam) -> Any:
        yield int(win.start), element[0], element[1]


def _event_time(event: str) -> int:
    return int(event.split(":")[0])


async def _wait_for_watermark(uri: str, scope: str, lower_ms: int, timeout: float = 60.0) -> None:
    """Until the stream's watermark stream has a record with ``lower >= lower_ms``."""
    async with Client(uri) as client:
        follower = WatermarkFollower(client.ctx, scope, "in")
        deadline = time.monotonic() + timeout
        while True:
            marks = await follower.refresh()
            if marks and marks[-1].lower >= lower_ms:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"no watermark >= {lower_ms} within {timeout} s: {marks[-2:]}")
            await asyncio.sleep(0.1)


@pytest.mark.parametrize("runner", ["direct", "portable"])
def test_event_time_windows_fire_complete_and_in_order_from_pravega_watermarks(server: Any, runner: str) -> None:
    uri, scope = server.controller_uri, new_scope()
    expected: dict[tuple[int, str], int] = defaultdict(int)
    collector = Collector()
    failures: list[BaseException] = []
    with pravega.Client(uri) as client:
        client.create_scope(scope)
        config = StreamConfiguration(ScalingPolicy.fixed(2), timestamp_aggregation_timeout_ms=60_000)
        client.create_stream(scope, "in", config=config)
        writers: list[Any] = [client.create_writer(scope, "in", writer_id=f"w{n}") for n in range(2)]

        def feed() -> None:
            # Window k's events, then each writer notes the end of window k; window k + 1
            # is written once the controller has aggregated the notes of window k.
            try:
                for k in range(WINDOWS):
                    for n, writer in enumerate(writers):
                        batch: list[tuple[Any, str | None]] = []
                        for t in range(k * WINDOW, (k + 1) * WINDOW):
                            for word in ("a", "b", "c")[: 1 + (t + n) % 3]:
                                batch.append((f"{t}:{word}".encode(), f"{word}{t % 4}"))
                                expected[(k * WINDOW, word)] += 1
                        writer.write_many(batch)
                        writer.note_time((k + 1) * WINDOW * 1000)
                    asyncio.run(_wait_for_watermark(uri, scope, (k + 1) * WINDOW * 1000))
            except BaseException as exc:  # reported by the test
                failures.append(exc)
            finally:
                client.seal_stream(scope, "in")

        thread = threading.Thread(target=feed, daemon=True)
        thread.start()
        p = beam.Pipeline(options=options(runner, streaming=True))
        _ = (
            p
            | ReadFromPravega(
                uri, f"{scope}/in", deserializer=bytes.decode, timestamp_fn=_event_time, idle_timeout=None
            )
            | beam.Map(lambda e: e.split(":")[1])
            | beam.WindowInto(window.FixedWindows(WINDOW))
            | beam.combiners.Count.PerElement()
            | beam.ParDo(_WindowCounts())
            | collector.sink()
        )
        result = p.run()
        result.wait_until_finish()
        thread.join(60)
    assert not failures, failures
    items = collector.items
    # Complete: every window's counts are exact (late data would have been dropped).
    assert sorted(items) == sorted((w, word, n) for (w, word), n in expected.items())
    # In order: windows fire as the watermark passes them.
    firsts = [w for i, (w, _, _) in enumerate(items) if all(x != w for x, _, _ in items[:i])]
    assert firsts == sorted(firsts) == [k * WINDOW for k in range(WINDOWS)]
    # The watermark came from the stream's watermarks (the writers' last note: the end).
    assert distribution_max(result, "pravega_watermark_ms") == WINDOWS * WINDOW * 1000
