"""A segment's extent index: the count of log bytes kept beside it stays exact."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pravega_server.storage.ops import SegmentKind
from pravega_server.storage.segments import Segment


def _counted(seg: Segment) -> int:
    return sum(e[2] for e in seg.extents if type(e[0]) is int)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["log", "chunk", "tier", "drop"]), st.integers(1, 500)), max_size=60))
def test_log_bytes_follows_appends_tiering_and_truncation(steps: list[tuple[str, int]]) -> None:
    seg = Segment("scope/stream/0.#epoch.0", 1, SegmentKind.STREAM)
    lsn = 0
    for what, n in steps:
        if what == "log":
            seg.add_extent((lsn, 100, n))
            lsn += n + 100
        elif what == "chunk":  # a merged transaction's data already in tier 2
            seg.add_extent((f"c{lsn}", 0, n))
        elif what == "tier":
            found = seg.log_run(n)
            if found is not None:
                start, length, _ = found
                assert seg.replace_run(start, length, f"t{start}")
        else:
            seg.drop_below(min(seg.length, seg.start_offset + n))
        seg.durable_length = seg.length
        assert seg.log_bytes() == _counted(seg)
    tiered_before = len(seg.chunks())
    while (found := seg.log_run(1000)) is not None:
        assert seg.replace_run(found[0], found[1], f"x{found[0]}")
    assert seg.log_bytes() == 0
    assert len(seg.chunks()) >= tiered_before
