"""Segment placement over containers and the data directory's fixed container count."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from pravega import naming
from pravega_server.cluster import layout
from pravega_server.cluster.placement import container_of, container_of_stream, stream_key


def test_everything_of_a_stream_lands_in_one_container() -> None:
    for count in (2, 3, 8):
        for i in range(50):
            scope, stream = "sc", f"st{i}"
            owner = container_of_stream(scope, stream, count)
            segment = naming.qualified_segment_name(scope, stream, naming.segment_id(3, 7))
            txn = naming.transaction_segment_name(segment, 12, 34)
            assert container_of(segment, count) == owner
            assert container_of(txn, count) == owner
            assert container_of(f"{segment}#transient.{'0' * 32}.abc", count) == owner
    kvt = naming.kvt_segment_name("sc", "table", 2)
    assert stream_key(kvt) == f"sc/{naming.kvt_stream_name('table')}"
    assert container_of(kvt, 4) == container_of_stream("sc", naming.kvt_stream_name("table"), 4)


def test_placement_is_stable_and_spreads_streams() -> None:
    # a fixed function of the name: a restarted server finds every segment where it was
    assert [container_of_stream("sc", f"st{i}", 4) for i in range(8)] == [
        container_of_stream("sc", f"st{i}", 4) for i in range(8)
    ]
    spread = Counter(container_of_stream("sc", f"st{i}", 4) for i in range(1000))
    assert set(spread) == {0, 1, 2, 3} and min(spread.values()) > 150
    assert container_of("sc/st/0.#epoch.0", 1) == 0


def test_the_container_count_is_fixed_at_creation(tmp_path: Path) -> None:
    data = tmp_path / "data"
    layout.check_count(data, 1)  # a single-process directory records nothing
    assert layout.stored_count(data) is None
    layout.check_count(data, 2)
    assert layout.stored_count(data) == 2
    layout.check_count(data, 2)
    for other in (1, 3):
        with pytest.raises(layout.LayoutError, match="--containers 2"):
            layout.check_count(data, other)
    single = tmp_path / "single"
    (single / "wal").mkdir(parents=True)
    with pytest.raises(layout.LayoutError, match="--containers 1"):
        layout.check_count(single, 2)
    layout.check_count(single, 1)
