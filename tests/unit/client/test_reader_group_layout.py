"""A reader group's state in the official client's table layout (spec §3.1).

A small in-memory table applies updates with the server's rules (§2.8: every condition
checked against the table before the batch, all or nothing, a new version per write),
so the entries our transitions produce are checked the way the server checks them, also
against entries written the way the official client writes them.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from pravega import errors
from pravega.client import reader_group_layout as layout
from pravega.client import reader_group_state as rgs
from pravega.client.reader_group_state import State, Txn
from pravega.protocol import cbor

NOW = 1_700_000_000.0
NO_VERSION = layout.NO_VERSION
NOT_EXISTS = layout.NOT_EXISTS


class Conflict(Exception):
    pass


class Table:
    """Table-segment semantics: conditional batches, versions from a growing counter."""

    def __init__(self) -> None:
        self.entries: dict[bytes, tuple[int, bytes]] = {}
        self.counter = itertools.count(100)

    def update(self, batch: list[tuple[bytes, int, bytes]]) -> list[int]:
        for key, expected, _ in batch:
            if expected == NO_VERSION:
                continue
            current = self.entries.get(key)
            if expected == NOT_EXISTS and current is not None:
                raise Conflict(f"{cbor.loads(key)} exists")
            if expected >= 0 and (current is None or current[0] != expected):
                raise Conflict(f"{cbor.loads(key)}: version {current and current[0]} != {expected}")
        out = []
        for key, _, value in batch:
            version = next(self.counter)
            self.entries[key] = (version, value)
            out.append(version)
        return out

    def state(self) -> State:
        s = layout.parse(self.entries)
        assert s is not None
        return s

    def value(self, outer: str, inner: str | None = None) -> tuple[str, Any]:
        _, raw = self.entries[layout.key_bytes(layout.composite(outer, inner))]
        type_id, data = layout.decode_value(raw)
        return type_id, None if type_id in ("blob", layout.TOMBSTONE) else layout.decode_payload(type_id, data)

    def write(self, txn: Txn) -> None:
        self.update(rgs.entries_of(txn))


def seg(n: int) -> str:
    return f"sc/st/{n}.#epoch.0"


def new_group(table: Table, start: dict[str, int]) -> None:
    config = {"streams": ["sc/st"], "start": start, "end": {}, "generation": 0, "checkpoint_seq": 0}
    table.update(rgs.initial_entries(config))


def official_write(table: Table, changes: dict[tuple[str, str], tuple[str, Any]]) -> None:
    """Write entries as the official client does: the inner keys and their outer keys'
    markers, each conditioned on the version last seen."""
    batch = []
    for outer in sorted({o for o, _ in changes}):
        key = layout.key_bytes(layout.composite(outer))
        batch.append((key, table.entries.get(key, (NOT_EXISTS,))[0], layout.MARKER_VALUE))
    for (outer, inner), (type_id, payload) in changes.items():
        key = layout.key_bytes(layout.composite(outer, inner))
        raw = layout.TOMBSTONE_VALUE if type_id == layout.TOMBSTONE else layout.encode_payload(type_id, payload)
        batch.append((key, table.entries.get(key, (NOT_EXISTS,))[0], raw))
    table.update(batch)


def test_new_group_in_the_official_layout() -> None:
    table = Table()
    new_group(table, {seg(0): 0, seg(1): 12})
    keys = {cbor.loads(k) for k in table.entries}
    markers = {layout.composite(o) for o in layout.OUTER}  # all of them, from the start
    assert "17assigned_segments" in markers and "06config" in markers
    assert keys == markers | {
        "06config/default",
        f"19unassigned_segments/{seg(0)}",
        f"19unassigned_segments/{seg(1)}",
        "09py_config/default",
    }
    assert table.value("unassigned_segments", seg(1)) == ("Offset", {"read": 12})
    type_id, config = table.value("config", "default")
    assert type_id == "ReaderGroupConfigVersioned"
    cuts = config["V1"]["starting_stream_cuts"]
    ((stream, cut),) = cuts.items()
    assert stream == {"scope": {"name": "sc"}, "stream": {"name": "st"}}
    assert {layout.segment_name(s): o for s, o in cut["V1"]["positions"].items()} == {seg(0): 0, seg(1): 12}
    state = table.state()
    assert state.segments == {seg(0): rgs.segment_entry(None, 0, None), seg(1): rgs.segment_entry(None, 12, None)}
    with pytest.raises(Conflict):  # creating it again fails: the caller opens it instead
        new_group(table, {seg(0): 0})


def test_an_official_reader_is_seen_and_left_alone() -> None:
    table = Table()
    new_group(table, {seg(0): 0, seg(1): 0, seg(2): 0, seg(3): 0})
    official_write(
        table,
        {
            ("assigned_segments", "rust-1"): (
                "HashMap<ScopedSegment, Offset>",
                {layout.scoped_segment(seg(0)): {"read": 40}, layout.scoped_segment(seg(1)): {"read": 8}},
            ),
            ("distance_to_tail", "rust-1"): ("u64", layout.U64_MAX),
            ("unassigned_segments", seg(0)): (layout.TOMBSTONE, None),
            ("unassigned_segments", seg(1)): (layout.TOMBSTONE, None),
        },
    )
    state = table.state()
    assert state.readers == {"rust-1": {"online": True}}
    assert state.segments[seg(0)] == rgs.segment_entry("rust-1", 40, None)
    assert state.segments[seg(2)]["owner"] is None

    # Ours joins and takes its fair share (2 of 4) from the unassigned ones.
    txn = Txn(state)
    rgs.add_reader(state, txn, "ours", "sc/g")
    table.write(txn)
    state = table.state()
    assert state.online() == ["ours", "rust-1"] and state.ours() == ["ours"]
    txn = Txn(state)
    plan = rgs.plan_sync(state, txn, "ours", 0, {}, False, NOW)
    assert sorted(name for name, _, _ in plan.start) == [seg(2), seg(3)]
    rust_entry = table.entries[layout.key_bytes(layout.composite("assigned_segments", "rust-1"))]
    table.write(txn)
    # The official reader's entry was not rewritten; ours holds the other two.
    assert table.entries[layout.key_bytes(layout.composite("assigned_segments", "rust-1"))] == rust_entry
    _, mine = table.value("assigned_segments", "ours")
    assert {layout.segment_name(s): o["read"] for s, o in mine.items()} == {seg(2): 0, seg(3): 0}
    assert table.value("unassigned_segments", seg(2))[0] == layout.TOMBSTONE

    # A checkpoint waits for ours only and counts the official reader's segments at the
    # offsets it wrote back.
    state = table.state()
    txn = Txn(state)
    rgs.new_checkpoint(txn, "cp", 30.0, NOW)
    assert txn.s.checkpoints["cp"]["pending"] == ["ours"]
    table.write(txn)
    state = table.state()
    txn = Txn(state)
    rgs.plan_sync(state, txn, "ours", 0, {}, False, NOW)
    cp = txn.s.checkpoints["cp"]
    assert cp["complete"] and cp["positions"] == {seg(0): 40, seg(1): 8, seg(2): 0, seg(3): 0}


def test_every_change_conflicts_with_any_concurrent_change() -> None:
    table = Table()
    new_group(table, {seg(0): 0})
    state = table.state()
    ours = Txn(state)
    rgs.new_checkpoint(ours, "cp", 30.0, NOW)  # touches only our own outer keys
    official_write(table, {("distance_to_tail", "rust-1"): ("u64", 5)})  # only the official ones
    with pytest.raises(Conflict):
        table.write(ours)
    # Recomputed from a fresh read it goes through.
    state = table.state()
    again = Txn(state)
    rgs.new_checkpoint(again, "cp", 30.0, NOW)
    table.write(again)
    assert "cp" in table.state().checkpoints


def test_leaving_tombstones_entries_and_removes_no_key() -> None:
    table = Table()
    new_group(table, {seg(0): 0, seg(1): 0})
    state = table.state()
    txn = Txn(state)
    rgs.add_reader(state, txn, "ours", "sc/g")
    table.write(txn)
    state = table.state()
    txn = Txn(state)
    rgs.plan_sync(state, txn, "ours", 0, {}, False, NOW)
    table.write(txn)
    keys_before = set(table.entries)
    state = table.state()
    txn = Txn(state)
    assert rgs.remove_reader(state, txn, "ours", {seg(0): 30, seg(1): 4})
    table.write(txn)
    assert keys_before <= set(table.entries)
    for outer in ("assigned_segments", "distance_to_tail", "py_readers"):
        assert table.value(outer, "ours")[0] == layout.TOMBSTONE
    state = table.state()
    assert state.readers == {}
    assert {n: e["offset"] for n, e in state.segments.items()} == {seg(0): 30, seg(1): 4}
    assert rgs.entries_of(Txn(state)) == []  # nothing changed: nothing to write


def test_future_segments_in_the_official_form() -> None:
    table = Table()
    new_group(table, {seg(0): 0, seg(1): 0})
    state = table.state()
    txn = Txn(state)
    rgs.add_reader(state, txn, "ours", "sc/g")
    table.write(txn)
    state = table.state()
    txn = Txn(state)
    rgs.plan_sync(state, txn, "ours", 0, {}, False, NOW)
    table.write(txn)
    state = table.state()
    txn = Txn(state)
    from pravega.model import SegmentRange

    merged = SegmentRange(2, 0.0, 1.0)
    rgs.complete_segment(txn, seg(0), 50, {merged: [0, 1]})
    table.write(txn)
    type_id, waiting = table.value("future_segments", seg(2))
    assert type_id == "HashSet<i64>" and waiting == [{"number": 1, "tx_id": None}]
    state = table.state()
    assert state.futures[seg(2)]["waiting_for"] == [seg(1)]
    assert state.futures[seg(2)]["done"] == {seg(0): 50}
    # The official client completes the other predecessor: the successor becomes unassigned.
    official_write(
        table,
        {
            ("future_segments", seg(2)): (layout.TOMBSTONE, None),
            ("unassigned_segments", seg(2)): ("Offset", {"read": 0}),
        },
    )
    state = table.state()
    assert state.futures == {}
    assert state.segments[seg(2)] == rgs.segment_entry(None, 0, None)


def test_a_group_the_official_client_created() -> None:
    table = Table()
    stream = layout.scoped_stream("sc/st")
    config = {
        "V1": {
            "group_refresh_time_millis": 3000,
            "starting_stream_cuts": {
                stream: {"V1": {"stream": stream, "positions": {layout.scoped_segment(seg(0)): 0}}}
            },
            "ending_stream_cuts": {},
        }
    }
    official_write(
        table,
        {
            ("config", "default"): ("ReaderGroupConfigVersioned", config),
            ("unassigned_segments", seg(0)): ("Offset", {"read": 0}),
        },
    )
    state = table.state()
    assert state.config["streams"] == ["sc/st"] and state.config["start"] == {seg(0): 0}
    assert state.generation == 0
    txn = Txn(state)
    rgs.add_reader(state, txn, "ours", "sc/g")
    table.write(txn)  # writes our config next to the official one, which stays as it was
    assert table.value("config", "default")[1] == config
    assert table.value("py_config", "default")[1]["streams"] == ["sc/st"]


def test_reset_is_refused_while_official_readers_are_online() -> None:
    table = Table()
    new_group(table, {seg(0): 0})
    official_write(
        table,
        {
            ("assigned_segments", "rust-1"): ("HashMap<ScopedSegment, Offset>", {}),
            ("distance_to_tail", "rust-1"): ("u64", layout.U64_MAX),
        },
    )
    state = table.state()
    with pytest.raises(errors.InterfaceError, match="rust-1"):
        rgs.reset(state, Txn(state), {seg(0): 0})


def test_tombstones_of_our_own_keys_are_collectable_only() -> None:
    table = Table()
    new_group(table, {seg(0): 0})
    state = table.state()
    txn = Txn(state)
    rgs.add_reader(state, txn, "ours", "sc/g")
    rgs.new_checkpoint(txn, "cp", 30.0, NOW)
    table.write(txn)
    state = table.state()
    txn = Txn(state)
    rgs.remove_reader(state, txn, "ours", None)  # completes the checkpoint without it
    rgs.abort_checkpoint(txn.s, txn, "cp")
    table.write(txn)
    state = table.state()
    collectable = {cbor.loads(k) for k in state.tombstones}
    assert collectable == {"10py_readers/ours"}  # not 17assigned_segments/ours, 16distance_to_tail/ours
    assert table.value("assigned_segments", "ours")[0] == layout.TOMBSTONE


def test_start_of_groups_the_official_client_created() -> None:
    stream = layout.scoped_stream("sc/st")
    for start, tail_started in (("Unbounded", []), ("Tail", ["sc/st"])):
        config = {"V1": {"group_refresh_time_millis": 500, "starting_stream_cuts": {stream: start}}}
        ours = layout.config_of_rust(cbor.loads(cbor.dumps(config)))
        assert ours["streams"] == ["sc/st"] and ours["start"] == {} and ours["group_refresh_time"] == 0.5
        assert ours["tail_started"] == tail_started


@pytest.mark.parametrize(
    "entry",
    [
        (b"not cbor \xff", layout.MARKER_VALUE),  # a key that is not CBOR text
        (cbor.dumps("xx"), layout.MARKER_VALUE),  # not a composite key
        (layout.key_bytes(layout.composite("unassigned_segments", seg(0))), b"\x01"),  # not a value map
        (
            layout.key_bytes(layout.composite("unassigned_segments", seg(0))),
            layout.value_bytes("Offset", cbor.dumps({"where": 1})),  # an Offset without "read"
        ),
        (layout.key_bytes(layout.composite("py_checkpoints", "cp")), layout.value_bytes("json", b"{no json")),
    ],
)
def test_a_table_that_holds_something_else_is_a_clear_error(entry: tuple[bytes, bytes]) -> None:
    table = Table()
    new_group(table, {seg(1): 0})
    table.entries[entry[0]] = (1, entry[1])
    with pytest.raises(errors.ServerError, match="something else than reader-group state"):
        layout.parse(table.entries)
