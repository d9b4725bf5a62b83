"""The Beam reader's restriction tracker and watermark estimator, without a server."""

from __future__ import annotations

import pytest
from apache_beam.utils.timestamp import MIN_TIMESTAMP, Timestamp

from pravega_beam._estimator import _Watermarks
from pravega_beam._restriction import _Announced, _Found, _Restriction, _SegmentEnd, _Tracker
from pravega_beam._sdf import _ReadSpec, _Restrictions

SPEC = _ReadSpec("tcp://127.0.0.1:9090", "sc", "st", "head")


def _split(tracker: _Tracker, fraction: float) -> tuple[_Restriction, _Restriction]:
    """A split that must happen."""
    split = tracker.try_split(fraction)
    assert split is not None
    return split


def test_event_claims_must_be_contiguous() -> None:
    tracker = _Tracker(_Restriction(((1, 0), (2, 100))))
    assert tracker.try_claim((1, 0, 20))
    assert tracker.try_claim((1, 20, 50))
    with pytest.raises(ValueError, match="stands at 50"):
        tracker.try_claim((1, 60, 70))
    with pytest.raises(ValueError, match="stands at None"):
        tracker.try_claim((3, 0, 10))
    assert tracker.positions == {1: 50, 2: 100}


def test_bounded_claims_stop_at_the_end() -> None:
    tracker = _Tracker(_Restriction(((1, 0),), ((1, 30),)))
    assert tracker.is_bounded()
    assert tracker.try_claim((1, 0, 30))
    assert not tracker.try_claim((1, 30, 40))
    with pytest.raises(ValueError, match="not read to the end"):
        tracker.check_done()
    assert tracker.try_claim(_SegmentEnd(1, 30))
    assert tracker.check_done()


def test_a_successor_waits_for_all_of_its_predecessors() -> None:
    # 1 and 2 merge into 5; 3 splits into 6 and 7 (all in one restriction).
    tracker = _Tracker(_Restriction(((1, 0), (2, 0), (3, 0))))
    end1 = _SegmentEnd(1, 0, ((5, (1, 2)),))
    assert tracker.try_claim(end1)
    assert end1.added == ()  # 2 is still being read; 1 owns 5 (its lowest predecessor)
    end3 = _SegmentEnd(3, 0, ((6, (3,)), (7, (3,))))
    assert tracker.try_claim(end3)
    assert end3.added == (6, 7)
    assert tracker.positions == {2: 0, 6: 0, 7: 0}
    primary, residual = _split(tracker, 0)
    # The checkpoint carries the successor that waits for 2.
    assert residual == _Restriction(((2, 0), (6, 0), (7, 0)), None, ((5, (2,)),))
    assert primary.stop == residual
    assert not tracker.try_claim((2, 0, 10))

    resumed = _Tracker(residual)
    end2 = _SegmentEnd(2, 0, ((5, (1, 2)),))
    assert resumed.try_claim(end2)
    assert end2.added == (5,)
    assert resumed.positions == {5: 0, 6: 0, 7: 0}
    # 2 does not own 5, so its end is announced to whoever might (here: nobody else).
    assert resumed.done == {2}
    assert resumed.try_claim(_Announced((2,)))
    assert _split(resumed, 0)[1].waiting == ()


def test_a_merge_across_restrictions_waits_for_the_announcement() -> None:
    # 1 and 2 merge into 5, read by two restrictions (one per segment).
    owner = _Tracker(_Restriction(((1, 0),)))
    other = _Tracker(_Restriction(((2, 0),)))
    end1 = _SegmentEnd(1, 40, ((5, (1, 2)),))
    assert owner.try_claim((1, 0, 40))
    assert owner.try_claim(end1)
    assert end1.added == () and owner.waiting == {5: {2}}
    assert owner.done == set()  # 1 owns its only successor: nothing to announce
    _, owner_rest = _split(owner, 0)  # nothing to read: it polls for 2's announcement
    assert owner_rest == _Restriction((), None, ((5, (2,)),))
    assert owner.check_done()

    end2 = _SegmentEnd(2, 0, ((5, (1, 2)),))
    assert other.try_claim(end2)
    assert end2.added == () and other.positions == {}  # 5 is not its to read
    _, other_rest = _split(other, 0)  # announced in the next bundle, after this one commits
    assert other_rest == _Restriction((), None, (), (2,))
    announcing = _Tracker(other_rest)
    assert announcing.try_claim(_Announced((2,)))
    assert announcing.try_split(0) is None and announcing.check_done()

    polling = _Tracker(owner_rest)
    found = _Found((2,))
    assert polling.try_claim(found)
    assert found.added == (5,) and polling.positions == {5: 0}


def test_successors_start_at_the_resume_offsets() -> None:
    tracker = _Tracker(_Restriction(((1, 0),), resume=((4, 30),)))
    end = _SegmentEnd(1, 0, ((4, (1,)),))
    assert tracker.try_claim(end)
    assert end.added == (4,) and tracker.positions == {4: 30}


def test_a_restriction_splits_by_whole_segments() -> None:
    tracker = _Tracker(_Restriction(((1, 0), (2, 5), (3, 0), (4, 0)), None, ((9, (1, 8)),), (7,)))
    assert tracker.try_claim((2, 5, 20))
    primary, residual = _split(tracker, 0.5)
    assert residual == _Restriction(((3, 0), (4, 0)), None, (), (7,))
    assert primary.positions == ((1, 0), (2, 5)) and primary.waiting == ((9, (1, 8)),)
    assert not tracker.try_claim((3, 0, 10))  # moved to the residual
    assert tracker.try_claim((1, 0, 10))
    # Never all segments: the last one stays.
    primary2, residual2 = _split(tracker, 0.9)
    assert residual2.positions == ((2, 20),) and primary2.positions == ((1, 0),)
    assert tracker.try_split(0.5) is None
    single = _Tracker(_Restriction(((1, 0),), ((1, 100),)))
    assert single.try_split(0.5) is None


def test_the_end_of_a_sealed_stream_finishes_the_read() -> None:
    tracker = _Tracker(_Restriction(((1, 0),)))
    assert tracker.try_claim((1, 0, 10))
    assert tracker.try_claim(_SegmentEnd(1, 10, ()))
    assert tracker.try_split(0) is None  # nothing left to defer
    assert tracker.check_done()


def test_a_single_segment_restriction_only_checkpoints() -> None:
    tracker = _Tracker(_Restriction(((1, 0),), ((1, 100),)))
    assert tracker.try_split(0.5) is None
    assert tracker.try_claim((1, 0, 40))
    primary, residual = _split(tracker, 0)
    assert residual == _Restriction(((1, 40),), ((1, 100),))
    assert tracker.check_done()


def test_a_bounded_read_splits_per_segment_and_sizes_exactly() -> None:
    provider = _Restrictions()
    whole = _Restriction(((1, 10), (2, 0)), ((1, 110), (2, 50)))
    parts = list(provider.split(SPEC, whole))
    assert parts == [_Restriction(((1, 10),), ((1, 110),)), _Restriction(((2, 0),), ((2, 50),))]
    assert [provider.restriction_size(SPEC, p) for p in parts] == [100, 50]
    # An unbounded restriction without segments still has work while it waits or announces.
    assert provider.restriction_size(SPEC, _Restriction((), None, ((5, (2,)),))) == 1
    assert provider.restriction_size(SPEC, _Restriction((), None, (), (2,))) == 1
    assert provider.restriction_size(SPEC, _Restriction(())) == 0
    assert provider.truncate(SPEC, whole) == whole
    unbounded = _Restriction(((1, 10), (2, 0)), resume=((3, 7),))
    assert list(provider.split(SPEC, unbounded)) == [
        _Restriction(((1, 10),), resume=((3, 7),)),
        _Restriction(((2, 0),), resume=((3, 7),)),
    ]
    assert provider.truncate(SPEC, unbounded) is None


def test_watermark_is_the_least_segment_time_and_skips_idle_segments() -> None:
    wm = _Watermarks(None)
    assert wm.current_watermark() == MIN_TIMESTAMP
    wm.observe_segment(1, 5_000_000)
    wm.observe_segment(2, 3_000_000)
    wm.advance_event_time([1, 2], set(), now_micros=100_000_000, idle_timeout_micros=10_000_000)
    assert wm.current_watermark() == Timestamp(3)
    wm.advance_event_time([1, 2], {2}, now_micros=100_000_000, idle_timeout_micros=10_000_000)
    assert wm.current_watermark() == Timestamp(5)
    # All idle: now - idle_timeout.
    wm.advance_event_time([1, 2], {1, 2}, now_micros=100_000_000, idle_timeout_micros=10_000_000)
    assert wm.current_watermark() == Timestamp(90)
    # Never back.
    wm.advance_event_time([1, 2], set(), now_micros=100_000_000, idle_timeout_micros=10_000_000)
    assert wm.current_watermark() == Timestamp(90)
    state = wm.get_estimator_state()
    assert _Watermarks(state).current_watermark() == Timestamp(90)


def test_a_new_segment_without_events_holds_the_watermark() -> None:
    wm = _Watermarks((Timestamp(10).micros, {1: Timestamp(20).micros}))
    wm.advance_event_time([1, 7], set(), now_micros=Timestamp(100).micros, idle_timeout_micros=None)
    assert wm.current_watermark() == Timestamp(10)
    wm.forget_segment(1)
    wm.observe_segment(7, Timestamp(30).micros)
    wm.advance_event_time([7], set(), now_micros=Timestamp(100).micros, idle_timeout_micros=None)
    assert wm.current_watermark() == Timestamp(30)
