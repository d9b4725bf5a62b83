"""The hot-path histograms: bucket placement (Prometheus ``le`` semantics), cumulative
counts and the refusal of bounds that are not increasing."""

from __future__ import annotations

import pytest

from pravega_server.stats import COUNT, LATENCY_MS, SIZE_BYTES, Histogram


def test_a_value_goes_to_the_first_bucket_whose_bound_is_not_below_it() -> None:
    h = Histogram((1.0, 2.5, 10.0))
    for v in (0.2, 1.0, 1.0001, 2.5, 9.9, 10.0, 11.0, 1e9):
        h.observe(v)
    assert h.buckets == [2, 2, 2, 2]
    assert h.count == 8
    assert h.sum == pytest.approx(0.2 + 1.0 + 1.0001 + 2.5 + 9.9 + 10.0 + 11.0 + 1e9)
    assert h.cumulative() == [("1", 2), ("2.5", 4), ("10", 6), ("+Inf", 8)]


def test_an_empty_histogram_has_zero_everywhere() -> None:
    assert Histogram(LATENCY_MS).cumulative()[-1] == ("+Inf", 0)
    assert [le for le, _ in Histogram((0.1, 0.25)).cumulative()] == ["0.1", "0.25", "+Inf"]


def test_bounds_must_increase() -> None:
    with pytest.raises(ValueError, match="strictly increasing"):
        Histogram((1.0, 1.0))
    with pytest.raises(ValueError, match="strictly increasing"):
        Histogram((2.0, 1.0))


def test_the_default_bounds_cover_what_they_measure() -> None:
    assert LATENCY_MS[0] <= 0.1 and LATENCY_MS[-1] >= 5000
    assert SIZE_BYTES[0] == 256 and SIZE_BYTES[-1] >= 64 * 1024 * 1024
    assert COUNT[0] == 1 and COUNT[-1] >= 4096
