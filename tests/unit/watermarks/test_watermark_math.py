"""The watermark aggregation of the controller and a reader's time window, without a server."""

from __future__ import annotations

import json

from pravega.client.watermarks import TimeWindow, Watermark, time_window
from pravega_server.controller.model import WriterMark
from pravega_server.controller.watermarks import aggregate, encode_record


def test_aggregation_takes_the_lowest_time_of_active_writers_and_the_highest_positions() -> None:
    marks = {"a": WriterMark(1000, {0: 50, 1: 10}), "b": WriterMark(700, {0: 20, 2: 5}), "c": WriterMark(100, {0: 99})}
    noted = {"a": 100.0, "b": 99.5, "c": 90.0}  # c noted 10 s ago: timed out (timeout 2 s)
    assert aggregate(marks, noted, now=100.0, timeout_ms=2000) == (700, 1000, {0: 50, 1: 10, 2: 5})
    assert aggregate(marks, noted, now=200.0, timeout_ms=2000) is None  # everyone timed out
    # 0: the default timeout (120 s) keeps c.
    assert aggregate(marks, noted, now=100.0, timeout_ms=0) == (100, 1000, {0: 99, 1: 10, 2: 5})


def test_the_record_round_trips() -> None:
    record = encode_record(5, 9, {4294967297: 12, 0: 3})
    assert json.loads(record) == {"v": 1, "lower": 5, "upper": 9, "cut": {"0": 3, "4294967297": 12}}
    assert Watermark.parse(record) == Watermark(5, 9, {0: 3, 4294967297: 12})


def test_time_window_brackets_the_position() -> None:
    marks = [Watermark(10, 20, {0: 100, 1: 50}), Watermark(30, 40, {0: 200, 1: 90}), Watermark(50, 60, {0: 300})]
    assert time_window(marks, {0: 0, 1: 0}) == TimeWindow(None, 20)
    assert time_window(marks, {0: 100, 1: 50}) == TimeWindow(10, 20)  # exactly at the first cut
    assert time_window(marks, {0: 150, 1: 60}) == TimeWindow(10, 40)
    assert time_window(marks, {0: 250, 1: 90}) == TimeWindow(30, None)  # 1 is not in the last cut
    assert time_window(marks, {0: 300, 1: 95}) == TimeWindow(50, None)
    # A finished segment counts as passed; a cut without it was taken after it was
    # written, so the first watermark holding it back is the last one here.
    assert time_window(marks, {0: 150}, finished={1}) == TimeWindow(10, 60)
    assert time_window([], {0: 5}) == TimeWindow(None, None)
    assert TimeWindow(10, 20).contains(10) and not TimeWindow(10, 20).contains(21)
