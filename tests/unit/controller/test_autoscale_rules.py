"""Auto-scaling decisions (pure) and the rate meter, from hand-made rates."""

from __future__ import annotations

import math

import pytest

from pravega_server.controller.autoscale import (
    AutoScaleConfig,
    Candidate,
    Merge,
    Split,
    decide,
    is_cold,
    is_hot,
    split_count,
)
from pravega_server.controller.model import SegmentRecord, StreamConfig
from pravega_server.storage.ops import SegmentKind
from pravega_server.storage.rates import RateTracker, SegmentRates, inherited
from pravega_server.storage.segments import Segment

T = 100.0
SCALE = AutoScaleConfig(cooldown=10, mute=10)
POLICY = StreamConfig(scale_type=2, target_rate=100, scale_factor=3, min_segments=1)


def cand(
    lo: float, hi: float, rates: list[float] | None, age: float = 100, watched: float = 100, sid: int = 0
) -> Candidate:
    return Candidate(SegmentRecord(sid, lo, hi), rates, age, watched)


@pytest.mark.parametrize(
    ("rates", "hot"),
    [
        ([501, 0, 0, 0], True),  # 2-minute rate over 5 T
        ([500, 0, 0, 0], False),
        ([0, 201, 0, 0], True),  # 5-minute rate over 2 T
        ([0, 0, 101, 0], True),  # 10-minute rate over T
        ([499, 199, 99, 1000], False),  # the 20-minute rate never splits
    ],
)
def test_hot(rates: list[float], hot: bool) -> None:
    assert is_hot(rates, T) is hot


@pytest.mark.parametrize(
    ("rates", "cold"),
    [([99, 99, 99, 49], True), ([100, 0, 0, 0], False), ([0, 0, 0, 50], False), ([0, 0, 99, 0], True)],
)
def test_cold(rates: list[float], cold: bool) -> None:
    assert is_cold(rates, T) is cold


def test_split_count_follows_the_load_within_the_scale_factor() -> None:
    assert split_count([0, 0, 101, 0], T, 4) == 2  # at least two
    assert split_count([0, 0, 250, 0], T, 4) == 3
    assert split_count([0, 0, 1000, 0], T, 4) == 4  # at most scale_factor
    assert split_count([2000, 0, 0, 0], T, 8) == 4  # 2-minute rate counts at a fifth


def test_hot_segment_is_split_into_equal_ranges_of_its_own_range() -> None:
    action = decide(POLICY, [cand(0.0, 0.5, [0, 0, 250, 0], sid=1), cand(0.5, 1.0, [0, 0, 10, 0], sid=2)], 100, SCALE)
    assert isinstance(action, Split) and action.segment.id == 1
    assert action.ranges == [(0.0, 0.5 / 3), (0.5 / 3, 0.5 * 2 / 3), (0.5 * 2 / 3, 0.5)]


def test_hottest_segment_goes_first() -> None:
    segs = [cand(0.0, 0.5, [0, 0, 150, 0], sid=1), cand(0.5, 1.0, [0, 0, 900, 0], sid=2)]
    action = decide(POLICY, segs, 100, SCALE)
    assert isinstance(action, Split) and action.segment.id == 2


def test_mute_and_cooldown_hold() -> None:
    hot = [cand(0.0, 1.0, [0, 0, 900, 0], age=5)]
    assert decide(POLICY, hot, 100, SCALE) is None  # segment too young
    assert decide(POLICY, [cand(0.0, 1.0, [0, 0, 900, 0])], 5, SCALE) is None  # stream in cooldown
    assert isinstance(decide(POLICY, [cand(0.0, 1.0, [0, 0, 900, 0])], 10, SCALE), Split)


def test_fixed_policy_never_scales() -> None:
    fixed = StreamConfig(scale_type=0, min_segments=1)
    assert decide(fixed, [cand(0.0, 1.0, [10**6] * 4)], 10**6, SCALE) is None


def test_scale_factor_one_never_splits() -> None:
    policy = StreamConfig(scale_type=2, target_rate=100, scale_factor=1, min_segments=1)
    assert decide(policy, [cand(0.0, 1.0, [10**6] * 4)], 100, SCALE) is None


def test_cold_neighbours_merge_but_not_below_min_segments() -> None:
    cold = [0.0, 0.0, 0.0, 0.0]
    segs = [cand(0.0, 0.5, cold, sid=1), cand(0.5, 1.0, cold, sid=2)]
    action = decide(POLICY, segs, 100, SCALE)
    assert isinstance(action, Merge) and [s.id for s in action.segments] == [1, 2]
    two = StreamConfig(scale_type=2, target_rate=100, scale_factor=3, min_segments=2)
    assert decide(two, segs, 100, SCALE) is None


def test_merge_needs_both_cold_adjacent_and_watched() -> None:
    cold, warm = [0.0] * 4, [150.0, 0, 0, 0]
    assert decide(POLICY, [cand(0.0, 0.5, cold), cand(0.5, 1.0, warm)], 100, SCALE) is None
    assert decide(POLICY, [cand(0.0, 0.5, cold), cand(0.5, 1.0, cold, watched=1)], 100, SCALE) is None
    assert decide(POLICY, [cand(0.0, 0.4, cold), cand(0.5, 1.0, cold)], 100, SCALE) is None  # not adjacent


def test_coldest_pair_merges_first() -> None:
    segs = [
        cand(0.0, 0.3, [40, 40, 40, 10], sid=1),
        cand(0.3, 0.6, [30, 30, 30, 10], sid=2),
        cand(0.6, 1.0, [1, 1, 1, 1], sid=3),
    ]
    action = decide(POLICY, segs, 100, SCALE)
    assert isinstance(action, Merge) and [s.id for s in action.segments] == [2, 3]


def test_data_rate_policy_uses_kib_per_second() -> None:
    from pravega_server.controller.autoscale import policy_rates

    rates = SegmentRates([5.0] * 4, [2048.0] * 4, since=0, last_tick=0)
    assert policy_rates(StreamConfig(scale_type=1, target_rate=1), rates) == [2.0] * 4  # KiB/s
    assert policy_rates(StreamConfig(scale_type=2, target_rate=1), rates) == [5.0] * 4  # events/s


def test_rate_meter_approaches_a_constant_load() -> None:
    seg = Segment("s/t/0.#epoch.0", 0, SegmentKind.STREAM)
    tracker = RateTracker((2.0, 5.0, 10.0, 20.0))
    tracker.tick([seg], 0.0)
    for second in range(1, 11):
        seg.appended_events += 1000  # 1000 events/s
        seg.appended_bytes += 100_000
        tracker.tick([seg], float(second))
    r = tracker.get(seg.name)
    assert r is not None
    for w, value in zip((2.0, 5.0, 10.0, 20.0), r.events):
        assert value == pytest.approx(1000 * (1 - math.exp(-10 / w)), rel=1e-9)
    assert r.bytes[0] == pytest.approx(100 * r.events[0])
    tracker.tick([], 11.0)
    assert tracker.get(seg.name) is None  # forgotten once it is no longer listed


def test_successors_inherit_their_share() -> None:
    parent = SegmentRates([100.0] * 4, [1000.0] * 4, since=0, last_tick=0)
    events, size = inherited([(parent, 0.0, 0.5)], 0.0, 0.25)
    assert events == [50.0] * 4 and size == [500.0] * 4
    other = SegmentRates([10.0] * 4, [0.0] * 4, since=0, last_tick=0)
    events, _ = inherited([(parent, 0.0, 0.5), (other, 0.5, 1.0)], 0.0, 1.0)
    assert events == [110.0] * 4


def test_appends_and_merged_transactions_count_toward_the_target_segment() -> None:
    import asyncio

    from pravega_server.storage.engine import Engine
    from pravega_server.storage.ops import CreateSegment, MergeSegments

    async def main() -> None:
        engine = await Engine.open(None)
        await engine.execute([CreateSegment("s/t/0.#epoch.0"), CreateSegment("s/t/0.#epoch.0#transaction.1")])
        done = asyncio.get_running_loop().create_future()
        seg, txn = engine.get("s/t/0.#epoch.0"), engine.get("s/t/0.#epoch.0#transaction.1")
        engine.append(seg, 1, 3, b"x" * 30, lambda: None, events=3)
        engine.append(txn, 2, 5, b"y" * 50, lambda: done.set_result(None), events=5)
        await done
        assert (seg.appended_events, seg.appended_bytes) == (3, 30)
        await engine.execute([MergeSegments(seg.name, txn.name)])
        assert (seg.appended_events, seg.appended_bytes) == (8, 80)
        engine.close()

    asyncio.run(main())
