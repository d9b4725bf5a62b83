"""Dynamic splitting of a read restriction by whole segments, driven the way a runner
does it (``try_split`` on the tracker while the DoFn runs), against a real server: the
local runners never ask for such splits, so this test plays the runner."""

from __future__ import annotations

from typing import Any

from apache_beam.runners.sdf_utils import RestrictionTrackerView, ThreadsafeRestrictionTracker
from beam_testing import new_scope

import pravega
from pravega_beam._estimator import _Watermarks
from pravega_beam._restriction import _Restriction, _Tracker
from pravega_beam._sdf import _ReadFn, _ReadSpec


def _drain(fn: _ReadFn, spec: _ReadSpec, restriction: _Restriction, split_after: int | None = None) -> tuple:
    """Run the DoFn over ``restriction`` like a runner; after ``split_after`` outputs ask
    for a split of half the segments. Returns (outputs, the split's residual, the
    checkpoint residual)."""
    tracker = ThreadsafeRestrictionTracker(_Tracker(restriction))
    outputs, split = [], None
    for value in fn._read(spec, RestrictionTrackerView(tracker), _Watermarks(None)):
        outputs.append(value.value)
        if split_after is not None and len(outputs) == split_after:
            split = tracker.try_split(0.5)
    tracker.check_done()
    deferred = tracker.deferred_status()
    return outputs, split[1] if split else None, deferred[0] if deferred else None


def test_a_split_moves_whole_segments_and_every_event_is_read_once(server: Any) -> None:
    uri, scope = server.controller_uri, new_scope()
    with pravega.Client(uri) as client:
        client.create_scope(scope)
        client.create_stream(scope, "in", 4)
        writer: Any = client.create_writer(scope, "in")
        events = [f"k{i % 32}:{i}" for i in range(4000)]
        writer.write_many([(e.encode(), e.split(":")[0]) for e in events])
        writer.flush()
        client.seal_stream(scope, "in")
        segments = sorted(client.stream_info(scope, "in").head.positions)

    spec = _ReadSpec(uri, scope, "in", "head", read_id="split-test")
    fn = _ReadFn(bytes.decode, True, None, None, 200)
    fn.setup()
    try:
        # One restriction holding all four segments, split by the "runner" after 10 events.
        first, residual, rest = _drain(fn, spec, _Restriction(tuple((s, 0) for s in segments)), split_after=10)
        assert residual is not None
        moved = {sid for sid, _ in residual.positions}
        assert len(moved) == 2 and moved < set(segments)
        # The primary emitted of the moved segments only what it had claimed before the
        # split (the residual starts right after it), and kept reading the others.
        starts = dict(residual.positions)
        assert all(e.offset < starts[e.segment_id] for e in first if e.segment_id in moved)
        assert {e.segment_id for e in first} - moved
        outputs = list(first)
        todo = [r for r in (residual, rest) if r is not None]
        while todo:  # the runner processes residuals and checkpoints until nothing is left
            out, _, again = _drain(fn, spec, todo.pop())
            outputs += out
            if again is not None:
                todo.append(again)
    finally:
        fn.teardown()
    assert sorted(e.event for e in outputs) == sorted(events)
    assert len({(e.segment_id, e.offset) for e in outputs}) == len(events)
    assert {e.segment_id for e in outputs} == set(segments)
