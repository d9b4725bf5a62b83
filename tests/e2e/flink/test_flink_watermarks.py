"""Pravega watermarks through the Flink connector: writers note times, the controller writes
``_MARK<stream>``, the source turns it into Flink watermarks per split (event-time windows fire
complete and in order, while the job runs), and a sink with ``enable_watermark`` notes the
job's watermark so the output stream gets watermarks of its own."""

from __future__ import annotations

import asyncio
import collections
from typing import Any

import pytest
from flink_testkit import FlinkRun, cancel, wait_for

import pravega
import pravega.aio
import pravega_flink
from pravega.client.watermarks import Watermark, WatermarkFollower

#: Event times start here (ms); window ``w`` holds times [T0 + w * 1000, T0 + (w + 1) * 1000).
T0 = 1_700_000_000_000
WINDOW_MS = 1_000


def _event(key: int, time_ms: int, seq: int) -> str:
    return f"k{key}|{time_ms}|{seq}"


class TimedWriter:
    """Our Python client's writer: writes a window's events over several keys (so both
    segments get some), then notes the time at which the next window starts."""

    def __init__(self, run: FlinkRun, stream: str, keys: int = 4) -> None:
        self.writer = run.client.create_writer(run.scope, stream.split("/")[1], pravega.StringSerializer())
        self.keys = keys
        self.seq = 0
        self.per_window: collections.Counter[int] = collections.Counter()

    def window(self, w: int, events: int) -> None:
        for i in range(events):
            t = T0 + w * WINDOW_MS + (i * WINDOW_MS) // events
            key = i % self.keys
            self.writer.write(_event(key, t, self.seq), routing_key=f"k{key}")
            self.seq += 1
            self.per_window[T0 + w * WINDOW_MS] += 1
        self.writer.flush()

    def note(self, time_ms: int) -> None:
        self.writer.note_time(time_ms)

    def close(self) -> None:
        self.writer.close()


def _marks(uri: str, scope: str, stream: str) -> list[Watermark]:
    async def go() -> list[Watermark]:
        async with pravega.aio.Client(uri) as c:
            return await WatermarkFollower(c.ctx, scope, stream).refresh()

    return asyncio.run(go())


def _source(run: FlinkRun, stream: str) -> Any:
    from pyflink.common import SimpleStringSchema

    return (
        pravega_flink.PravegaSource.builder()
        .set_controller_uri(run.uri)
        .set_stream(stream)
        .set_deserialization_schema(SimpleStringSchema())
        .with_pravega_watermarks(pravega_flink.TimestampExtractor.delimited_field("|", 1))
        .set_watermark_poll_interval(200)
        .build()
    )


@pytest.mark.parametrize(
    "source_parallelism,scale_after,history,fail_after",
    [(1, None, False, None), (3, 2, False, None), (2, 2, True, None), (2, None, False, 150)],
    ids=[
        "one-reader",
        "more-readers-than-segments-and-a-scale",
        "catching-up-across-a-scale",
        "failure-and-restore",
    ],
)
def test_event_time_windows_fire_complete_and_in_order_from_pravega_watermarks(
    run, source_parallelism, scale_after, history, fail_after
):
    """A writer notes the start of the next window after each window's events; the job's
    tumbling event-time windows (fed only by the source's Pravega watermarks: the input stays
    open) fire once their end has passed, each with every event of its window, in order. The
    last window fires only after the writer noted a time past its end.

    Second case: three source subtasks for two segments (one has no split and must not hold
    the watermark back), and a scale after window 2 (segment 0 split in two): the sealed
    predecessor holds its reader's watermark until it is read out, and the successors' events
    written before a watermark are not late although they are handed out only afterwards.

    Third case: the same scale, but all windows but the last are written (and their times
    noted, one watermark each) before the job starts: the readers catch up, the one reading
    the unsplit segment runs far ahead of the successors, which nobody reads yet.

    Fourth case: a user function right after the source fails once after 150 events (after
    a checkpoint); the job restores (split positions and watermarks from the checkpoint,
    window state, an exactly-once output) and every window still fires once, complete."""
    from pyflink.common import SimpleStringSchema, Types
    from pyflink.common.time import Time
    from pyflink.datastream.connectors import DeliveryGuarantee
    from pyflink.datastream.functions import ProcessWindowFunction
    from pyflink.datastream.window import TumblingEventTimeWindows

    src = run.stream("events", 2)
    out = run.stream("windows", 1)
    windows = 6

    class Count(ProcessWindowFunction):
        def process(self, key: Any, context: Any, elements: Any) -> Any:
            times = [int(e.split("|")[1]) for e in elements]
            w = context.window()
            yield f"{w.start}|{w.end}|{len(times)}|{min(times)}|{max(times)}|{context.current_watermark()}"

    source = _source(run, src)
    env = run.env(parallelism=1, checkpoint_ms=500)
    sink = (
        pravega_flink.PravegaSink.builder()
        .set_controller_uri(run.uri)
        .set_stream(out)
        .set_serialization_schema(SimpleStringSchema())
        .set_delivery_guarantee(DeliveryGuarantee.EXACTLY_ONCE if fail_after else DeliveryGuarantee.AT_LEAST_ONCE)
        .set_routing_key_extractor(pravega_flink.RoutingKeyExtractor.fixed("w"))
        .build()
    )
    events = env.from_source(source, source.watermark_strategy(), "events").set_parallelism(source_parallelism)
    if fail_after:
        events = run.fail_once(events, fail_after, "after the source").set_parallelism(source_parallelism)
    (
        events.key_by(lambda e: "all", key_type=Types.STRING())
        .window(TumblingEventTimeWindows.of(Time.milliseconds(WINDOW_MS)))
        .process(Count(), output_type=Types.STRING())
        .sink_to(sink)
    )
    writer = TimedWriter(run, src)

    def feed() -> None:
        for w in range(windows):
            writer.window(w, events=30 + 5 * w)
            if w == scale_after:
                run.client.scale_stream(run.scope, "events", [0], [(0.0, 0.25), (0.25, 0.5)])
            if w < windows - 1:
                noted = T0 + (w + 1) * WINDOW_MS
                writer.note(noted)
                if history or fail_after:  # one watermark per window (and checkpoints in between)
                    wait_for(
                        lambda t=noted: any(m.lower >= t for m in _marks(run.uri, run.scope, "events")),
                        60,
                        f"a watermark at {noted}",
                    )

    if history:
        feed()
    job = env.execute_async("pravega-watermark-windows")
    try:
        if not history:
            feed()

        def fired() -> list[list[int]]:
            return [[int(x) for x in line.split("|")] for line in run.read(out)]

        def diagnose() -> str:
            return f"{fired()} marks {_marks(run.uri, run.scope, 'events')[-3:]}"

        got = wait_for(lambda: len(fired()) >= windows - 1 and fired(), 240, "the first windows", diagnose=diagnose)
        # The last window's end has not been noted: it must not have fired.
        assert len(got) == windows - 1, got
        writer.note(T0 + windows * WINDOW_MS)
        got = wait_for(lambda: len(fired()) >= windows and fired(), 120, "the last window", diagnose=diagnose)
        status = str(job.get_job_status().result())
        assert status.endswith("RUNNING"), f"windows fired from the end of input, not from watermarks: {status}"
    finally:
        writer.close()
        cancel(job)

    assert len(got) == windows, got
    assert [g[0] for g in got] == [T0 + w * WINDOW_MS for w in range(windows)], "windows out of order or missing"
    for start, end, count, lo, hi, watermark in got:
        assert count == writer.per_window[start], f"window {start}: {count} events, {writer.per_window[start]} written"
        assert start <= lo <= hi < end
        # Fired only once the watermark passed the window's end, and by a Pravega watermark
        # (the input never ended, so no end-of-input watermark).
        assert end - 1 <= watermark <= T0 + windows * WINDOW_MS, (start, watermark)
    marks = _marks(run.uri, run.scope, "events")
    assert [m.lower for m in marks] == sorted(m.lower for m in marks)
    if fail_after:
        assert run.log("injected-failure"), "the failure was not injected"
    if scale_after is not None:
        assert any(len(m.cut) == 3 for m in marks), "no watermark after the scale names the successors"


def test_sink_notes_the_job_watermark_for_the_output_streams_watermarks(run):
    """A pass-through job with Pravega watermarks in and ``enable_watermark`` sinks out
    (AT_LEAST_ONCE and EXACTLY_ONCE): the output streams get watermarks of their own; their
    times lie within the event times written, never go back, and a reader of the output
    finds every event at or after the lower bound of its time window."""
    from pyflink.common import SimpleStringSchema
    from pyflink.datastream.connectors import DeliveryGuarantee

    src = run.stream("in", 2)
    outputs = {"alo": DeliveryGuarantee.AT_LEAST_ONCE, "eo": DeliveryGuarantee.EXACTLY_ONCE}
    for name in outputs:
        run.stream(name, 2)

    source = _source(run, src)
    env = run.env(parallelism=1, checkpoint_ms=500)
    ds = env.from_source(source, source.watermark_strategy(), "in")
    for name, guarantee in outputs.items():
        ds.sink_to(
            pravega_flink.PravegaSink.builder()
            .set_controller_uri(run.uri)
            .set_stream(f"{run.scope}/{name}")
            .set_serialization_schema(SimpleStringSchema())
            .set_delivery_guarantee(guarantee)
            .set_routing_key_extractor(pravega_flink.RoutingKeyExtractor.delimited_prefix("|"))
            .enable_watermark(True)
            .set_watermark_note_interval(100)
            .build()
        )
    job = env.execute_async("pravega-watermark-sinks")
    writer = TimedWriter(run, src)
    windows = 8
    try:
        for w in range(windows):
            writer.window(w, events=40)
            writer.note(T0 + (w + 1) * WINDOW_MS)
            # Let the job see this watermark before the next window's events (several marks).
            wait_for(
                lambda w=w: any(m.lower >= T0 + (w + 1) * WINDOW_MS for m in _marks(run.uri, run.scope, "alo")),
                120,
                f"the ALO sink to note time {w + 1}",
                diagnose=lambda: f"input marks {_marks(run.uri, run.scope, 'in')[-2:]}",
            )
        total = writer.seq
        wait_for(lambda: run.count(f"{run.scope}/eo") >= total, 120, "the EO output")
        wait_for(lambda: len(_marks(run.uri, run.scope, "eo")) >= 3, 120, "watermarks on the EO output")
    finally:
        writer.close()
        cancel(job)

    written = set(run.read(src))
    assert len(written) == total
    for name in outputs:
        marks = _marks(run.uri, run.scope, name)
        assert len(marks) >= 3, (name, marks)
        lowers = [m.lower for m in marks]
        assert lowers == sorted(lowers), (name, lowers)
        for m in marks:
            assert T0 <= m.lower <= m.upper <= T0 + windows * WINDOW_MS, (name, m)
        events = _read_with_time_windows(run, name, len(written))
        assert set(events) == written, name


def _read_with_time_windows(run: FlinkRun, stream: str, expected: int) -> list[str]:
    """Reads the whole stream with a reader group, checking each event's time against the
    reader's time window just before it: events read next are at or after ``lower``."""

    async def go() -> list[str]:
        async with pravega.aio.Client(run.uri) as c:
            group = await c.create_reader_group(f"check-{stream}", run.scope, [f"{run.scope}/{stream}"])
            reader: Any = await group.create_reader("r")
            seen: list[str] = []
            lowers: set[int] = set()
            idle = 0
            while len(seen) < expected and idle < 20:
                before = await reader.time_window(run.scope, stream)
                event = await reader.read_next_event(timeout=2.0)
                if event is None:
                    idle += 1
                    continue
                if event.is_checkpoint:
                    continue
                text = bytes(event.event).decode()
                t = int(text.split("|")[1])
                assert before.lower is None or before.lower <= t, (stream, before, text)
                if before.lower is not None:
                    lowers.add(before.lower)
                seen.append(text)
            await reader.close()
            assert len(lowers) >= 2, f"{stream}: the reader's time window never moved: {lowers}"
            return seen

    return asyncio.run(go())
