"""Where retention truncates a stream (pure): min and max limits, subscribers."""

from __future__ import annotations

from pravega_server.controller.retention import Record, choose_cut, decode_records, encode_records

# A one-segment stream: a cut is {0: offset}; "before" compares offsets.
R = [Record(t, {0: off}) for t, off in ((0, 0), (10, 100), (20, 200), (30, 300), (40, 400))]
NOW = 45


def before(a: dict[int, int], b: dict[int, int]) -> bool:
    return a[0] < b[0]


def age(cut: dict[int, int]) -> int:
    """Age of a cut: that of the first record at or after it."""
    for r in R:
        if r.cut[0] >= cut[0]:
            return NOW - r.time_ms
    return 0


def test_without_subscribers_truncate_at_the_newest_cut_keeping_the_minimum() -> None:
    assert choose_cut(R, age, 20, 0, None, before) == {0: 200}  # 25 ms kept >= 20
    assert choose_cut(R, age, 5, 0, None, before) == {0: 400}
    assert choose_cut(R, age, 100, 0, None, before) is None  # not that much data yet


def test_subscribers_hold_data_within_the_limits() -> None:
    # The subscriber is behind the min limit: truncate only up to it.
    assert choose_cut(R, age, 5, 0, [{0: 150}], before) == {0: 150}
    # The subscriber is ahead: never past the min limit.
    assert choose_cut(R, age, 20, 0, [{0: 380}], before) == {0: 200}
    # The lowest of several subscribers wins.
    assert choose_cut(R, age, 5, 0, [{0: 350}, {0: 120}], before) == {0: 120}


def test_a_subscriber_without_a_cut_holds_everything_but_the_maximum() -> None:
    assert choose_cut(R, age, 5, 0, [None], before) is None
    assert choose_cut(R, age, 5, 30, [None, {0: 390}], before) == {0: 100}  # only data older than 30 ms goes


def test_the_maximum_overrides_a_slow_subscriber() -> None:
    assert choose_cut(R, age, 5, 20, [{0: 50}], before) == {0: 200}
    assert choose_cut(R, age, 5, 40, [{0: 50}], before) == {0: 50}  # max keeps data back to t=0: the subscriber's cut


def test_size_limits_work_the_same_way() -> None:
    def kept_bytes(cut: dict[int, int]) -> int:
        return 450 - cut[0]

    assert choose_cut(R, kept_bytes, 100, 0, None, before) == {0: 300}
    assert choose_cut(R, kept_bytes, 100, 300, [{0: 10}], before) == {0: 100}


def test_records_round_trip() -> None:
    records = [Record(5, {1: 10, 2: 20}), Record(9, {3: 0})]
    assert decode_records(encode_records(records)) == records
