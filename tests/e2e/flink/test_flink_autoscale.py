"""A PyFlink job (exactly-once sink) reading a stream that splits and merges by itself
while it is written: 0 lost, 0 duplicated, per-key order kept."""

from __future__ import annotations

from flink_testkit import InputWriter, cancel, check_exactly_once, wait_for

from pravega import ScalingPolicy


def _scales(run, stream: str) -> tuple[int, int]:
    """(splits, merges) so far in the stream's history."""
    events = run.client.scaling_events(run.scope, stream)[1:]
    splits = sum(1 for e in events if len(e.created) > len(e.sealed))
    merges = sum(1 for e in events if len(e.created) < len(e.sealed))
    return splits, merges


def test_exactly_once_through_automatic_splits_and_merges(run):
    from pyflink.common import Types, WatermarkStrategy
    from pyflink.datastream.connectors import DeliveryGuarantee

    run.client.create_stream(run.scope, "in", ScalingPolicy.by_event_rate(60, 2, 1))
    out = run.stream("out", 2)
    env = run.env(parallelism=1, checkpoint_ms=1000)
    source = run.source(f"{run.scope}/in").build()
    sink = run.sink(out, DeliveryGuarantee.EXACTLY_ONCE).build()
    env.from_source(source, WatermarkStrategy.no_watermarks(), "in").map(
        lambda s: s, output_type=Types.STRING()
    ).sink_to(sink)
    job = env.execute_async("eo-autoscale")
    writer = InputWriter(run.client, run.scope, "in", keys=10, pause=0.02)
    writer.start()
    try:
        wait_for(
            lambda: _scales(run, "in")[0] >= 2, 120, "two automatic splits", diagnose=lambda: run.diagnose(job, out)
        )
        final = writer.stop()
        wait_for(lambda: _scales(run, "in")[1] >= 1, 120, "an automatic merge", diagnose=lambda: run.diagnose(job, out))
        total = sum(final.values())
        wait_for(
            lambda: run.count(out) >= total,
            120,
            f"{total} events in the output",
            diagnose=lambda: run.diagnose(job, out),
        )
    finally:
        if writer.is_alive():
            writer.stop()
        cancel(job)
    check_exactly_once([], final, per_segment=run.read_segments(out))
