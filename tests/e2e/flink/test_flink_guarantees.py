"""What the weaker delivery guarantees promise, and bounded reads over several streams with
stream cuts (including a scale inside the range)."""

from __future__ import annotations

from flink_testkit import check_at_least_once, check_exactly_once, parse


def test_at_least_once_loses_nothing_across_a_failure(run):
    """AT_LEAST_ONCE: a failed source reader replays events since the last checkpoint; every
    input event arrives (duplicates allowed). NONE on the same job: whatever arrives is input.
    The source is unbounded but its input is sealed: it ends when the stream is read out."""
    from pyflink.common import Types, WatermarkStrategy
    from pyflink.datastream.connectors import DeliveryGuarantee

    src = run.stream("in", 2)
    alo = run.stream("alo", 2)
    none = run.stream("none", 1)
    expected = run.write_keyed(src, keys=8, per_key=400)
    run.client.seal_stream(run.scope, "in")

    def slow(text: str) -> str:
        import time as t

        t.sleep(0.0005)
        return text + "|py"

    env = run.env(parallelism=1, checkpoint_ms=500)
    ds = env.from_source(run.source(src).build(), WatermarkStrategy.no_watermarks(), "in")
    ds = run.fail_once(ds, 1800, "source reader").map(slow, output_type=Types.STRING())
    ds.sink_to(run.sink(alo, DeliveryGuarantee.AT_LEAST_ONCE).build())
    ds.sink_to(run.sink(none, DeliveryGuarantee.NONE).build())
    env.execute("at-least-once")
    assert [ln for ln in run.log("injected-failure") if ln[2] == "source"], "the reader failure was not injected"
    check_at_least_once(run.read(alo), expected)
    written = {(f"k{k}", s) for k in range(8) for s in range(400)}
    assert {parse(t) for t in run.read(none)} <= written


def test_bounded_read_of_two_streams_with_cuts_and_a_scale(run):
    """A bounded source over two streams: one read from its head across a scale up to an end
    cut, the other from a start cut to its tail at job start; NONE sink; no failures, so the
    output is exactly the events between the cuts."""
    from pyflink.common import Types, WatermarkStrategy
    from pyflink.datastream.connectors import DeliveryGuarantee

    import pravega_flink

    s1 = run.stream("one", 2)
    s2 = run.stream("two", 1)
    out = run.stream("out", 2)
    run.write_keyed(s1, keys=4, per_key=50)  # k0..k3: 0..49
    run.client.scale_stream(run.scope, "one", [1], [(0.5, 0.75), (0.75, 1.0)])
    run.write_keyed(s1, keys=4, per_key=50, start=50)  # k0..k3: 50..99, partly in successors
    end = run.client.stream_info(run.scope, "one").tail
    run.write_keyed(s1, keys=4, per_key=50, start=100)  # after the end cut: not read
    run.write(s2, ((f"x{k}", f"x{k}:{s}") for s in range(30) for k in range(2)))  # before the start cut
    start = run.client.stream_info(run.scope, "two").tail
    run.write(s2, ((f"y{k}", f"y{k}:{s}") for s in range(40) for k in range(3)))  # read

    from pyflink.common import SimpleStringSchema

    source = (
        pravega_flink.PravegaSource.builder()
        .set_controller_uri(run.uri)
        .add_stream(s1, end_cut=end)
        .add_stream(s2, start_cut=str(start))
        .set_bounded()
        .set_deserialization_schema(SimpleStringSchema())
        .build()
    )
    env = run.env(parallelism=2, checkpoint_ms=500)
    (
        env.from_source(source, WatermarkStrategy.no_watermarks(), "two-streams")
        .map(lambda t: t + "|py", output_type=Types.STRING())
        .sink_to(run.sink(out, DeliveryGuarantee.NONE).build())
    )
    env.execute("bounded-two-streams")
    expected = {f"k{k}": 100 for k in range(4)} | {f"y{k}": 40 for k in range(3)}
    check_exactly_once([], expected, per_segment=run.read_segments(out))
