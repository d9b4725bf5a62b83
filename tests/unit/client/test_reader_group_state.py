"""The pure transitions of a reader group's state, on hand-made states.

Each async operation of :class:`pravega.client.reader_group.ReaderGroup` and
:class:`pravega.client.event_reader.EventReader` reads the state, applies one of these
functions to a copy and writes the change back; here the functions alone are checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pytest

from pravega import errors, naming
from pravega.client import reader_group_state as rgs
from pravega.client.reader_group_state import CHECKPOINT, FUTURE, READER, SEGMENT, State, Txn
from pravega.model import SegmentRange

NOW = 1_000_000.0


def seg(n: int) -> str:
    return naming.qualified_segment_name("sc", "st", n)


@dataclass
class Held:
    """A reader's local view of one segment it owns (what `LocalSegment` asks for)."""

    offset: int
    finished: bool = False
    successors: Mapping[SegmentRange, list[int]] | None = None


def make_state(
    segments: Mapping[str, tuple[str | None, int]] | None = None,
    readers: tuple[str, ...] = (),
    offline: tuple[str, ...] = (),
    futures: Mapping[str, dict] | None = None,
    generation: int = 0,
    ends: Mapping[str, int] | None = None,
    **config: object,
) -> State:
    """A state as the table would hold it: segments as {name: (owner, offset)}."""
    cfg = {
        "streams": ["sc/st"],
        "start": {},
        "end": dict(ends or {}),
        "generation": generation,
        "checkpoint_seq": 0,
        "last_auto_checkpoint": NOW,
        **config,
    }
    state = State((7,), cfg)
    for name, (owner, offset) in (segments or {}).items():
        state.segments[name] = rgs.segment_entry(owner, offset, (ends or {}).get(name))
    for r in readers:
        state.readers[r] = {"online": True, "py": True}  # readers of this client
    for r in offline:
        state.readers[r] = {"online": False}
    state.futures.update(futures or {})
    return state


def sync(
    state: State, me: str, held: Mapping[str, Held] | None = None, write_positions: bool = False, now: float = NOW
) -> tuple[rgs.SyncPlan, Txn]:
    txn = Txn(state)
    plan = rgs.plan_sync(state, txn, me, state.generation, held or {}, write_positions, now)
    return plan, txn


def owners(txn: Txn) -> dict[str, str | None]:
    return {name: entry["owner"] for name, entry in txn.s.segments.items()}


def apply(txn: Txn) -> State:
    """The state after ``txn`` was written (a new version)."""
    after = txn.s
    after.version = tuple(v + 1 for v in txn.base.version)
    return after


# -- joining and acquiring -------------------------------------------------------------------


def test_add_reader_joins_the_current_generation_and_refuses_a_duplicate() -> None:
    state = make_state(generation=3)
    txn = Txn(state)
    assert rgs.add_reader(state, txn, "r1", "sc/g") == 3
    assert txn.ops == {READER + "r1": {"online": True, "py": True}}
    with pytest.raises(errors.InterfaceError, match="already online in sc/g"):
        rgs.add_reader(apply(txn), Txn(apply(txn)), "r1", "sc/g")


def test_a_single_reader_acquires_every_unassigned_segment_at_its_offset() -> None:
    state = make_state({seg(0): (None, 0), seg(1): (None, 40), seg(2): (None, 9)}, readers=("r1",))
    plan, txn = sync(state, "r1")
    assert owners(txn) == {seg(0): "r1", seg(1): "r1", seg(2): "r1"}
    assert sorted(plan.start) == [(seg(0), 0, None), (seg(1), 40, None), (seg(2), 9, None)]
    assert plan.drop == [] and not plan.reset and not plan.finished
    assert txn.base.segments[seg(1)]["owner"] is None  # the state read is never changed


def test_readers_take_at_most_their_fair_share() -> None:
    state = make_state({seg(i): (None, 0) for i in range(5)}, readers=("r1", "r2"))
    plan1, txn1 = sync(state, "r1")
    assert [name for name, _, _ in plan1.start] == [seg(0), seg(1), seg(2)]  # ceil(5 / 2)
    plan2, txn2 = sync(apply(txn1), "r2")
    assert [name for name, _, _ in plan2.start] == [seg(3), seg(4)]
    assert set(owners(txn2).values()) == {"r1", "r2"}


def test_a_reader_above_its_fair_share_releases_at_the_offset_it_read_to() -> None:
    state = make_state({seg(i): ("r1", 0) for i in range(4)}, readers=("r1", "r2"))
    held = {seg(i): Held(offset=10 * (i + 1)) for i in range(4)}
    plan, txn = sync(state, "r1", held)
    assert sorted(plan.drop) == [seg(2), seg(3)]  # the highest names go
    assert txn.s.segments[seg(3)] == rgs.segment_entry(None, 40, None)
    assert txn.s.segments[seg(2)] == rgs.segment_entry(None, 30, None)
    assert txn.s.segments[seg(0)] == rgs.segment_entry("r1", 10, None)  # written back: the txn is dirty anyway
    assert plan.wrote_positions


def test_positions_are_written_back_on_the_refresh_schedule_only() -> None:
    state = make_state({seg(0): ("r1", 0)}, readers=("r1",))
    held = {seg(0): Held(offset=25)}
    _, quiet = sync(state, "r1", held)
    assert not quiet.dirty
    plan, due = sync(state, "r1", held, write_positions=True)
    assert due.ops == {SEGMENT + seg(0): rgs.segment_entry("r1", 25, None)} and plan.wrote_positions


def test_a_reader_not_online_is_told_so() -> None:
    state = make_state({seg(0): (None, 0)}, readers=("r2",), offline=("r1",))
    with pytest.raises(rgs.ReaderNotInGroupError, match="r1"):
        sync(state, "r1")


def test_a_segment_taken_away_is_dropped_and_one_assigned_meanwhile_is_adopted() -> None:
    state = make_state({seg(0): (None, 5), seg(1): ("r1", 7)}, readers=("r1", "r2"))
    plan, txn = sync(state, "r1", {seg(0): Held(offset=5)})
    assert plan.drop == [seg(0)]
    assert (seg(1), 7, None) in plan.start


# -- finishing segments, successors ------------------------------------------------------------


def test_successor_is_assigned_only_after_all_predecessors_are_finished() -> None:
    # Segments 0 and 1 merge into 2.
    merged = {SegmentRange(2, 0.0, 1.0): [0, 1]}
    state = make_state({seg(0): ("r1", 0), seg(1): ("r2", 0)}, readers=("r1", "r2"))
    plan, txn = sync(state, "r1", {seg(0): Held(offset=100, finished=True, successors=merged)})
    assert plan.drop == [seg(0)]
    assert seg(2) not in txn.s.segments
    assert txn.s.futures[seg(2)] == {"waiting_for": [seg(1)], "done": {seg(0): 100}, "range": [0.0, 1.0]}

    # r2 has not finished segment 1: the successor stays a future.
    _, txn2 = sync(apply(txn), "r2", {seg(1): Held(offset=50)})
    assert seg(2) in txn2.s.futures and seg(2) not in txn2.s.segments

    # The last predecessor finishes: the successor becomes an unassigned segment at 0 and is acquired.
    plan3, txn3 = sync(apply(txn2), "r2", {seg(1): Held(offset=80, finished=True, successors=merged)})
    assert seg(2) not in txn3.s.futures
    assert txn3.s.segments == {seg(2): rgs.segment_entry("r2", 0, None)}
    assert (seg(2), 0, None) in plan3.start and seg(1) in plan3.drop
    assert txn3.ops[FUTURE + seg(2)] is None  # removed by a tombstone in the same batch


def test_a_finished_segment_waits_while_its_successors_are_unknown() -> None:
    state = make_state({seg(0): ("r1", 0)}, readers=("r1",))
    plan, txn = sync(state, "r1", {seg(0): Held(offset=100, finished=True, successors=None)})
    assert seg(0) in txn.s.segments and plan.drop == []


def test_a_segment_read_to_its_end_cut_has_no_successors_and_the_group_finishes() -> None:
    state = make_state({seg(0): ("r1", 0)}, readers=("r1",), ends={seg(0): 60})
    plan, txn = sync(state, "r1", {seg(0): Held(offset=60, finished=True, successors=None)})
    assert txn.s.segments == {} and txn.s.futures == {}
    assert plan.finished


def test_complete_segment_splits_into_two_successors_at_once() -> None:
    split = {SegmentRange(1, 0.0, 0.5): [0], SegmentRange(2, 0.5, 1.0): [0]}
    txn = Txn(make_state({seg(0): ("r1", 0)}, readers=("r1",)))
    rgs.complete_segment(txn, seg(0), 33, split)
    assert txn.s.segments == {seg(1): rgs.segment_entry(None, 0, None), seg(2): rgs.segment_entry(None, 0, None)}
    assert txn.s.futures == {}


# -- checkpoints -------------------------------------------------------------------------------


def test_checkpoint_is_pending_on_every_online_reader_and_completes_with_their_positions() -> None:
    state = make_state(
        {seg(0): ("r1", 0), seg(1): ("r2", 0), seg(2): (None, 12)},
        readers=("r1", "r2"),
        offline=("gone",),
        futures={seg(3): {"waiting_for": [seg(4)], "done": {seg(5): 70}, "range": [0.0, 1.0]}},
    )
    txn = Txn(state)
    rgs.new_checkpoint(txn, "cp", timeout=30.0, now=NOW)
    cp = txn.s.checkpoints["cp"]
    assert cp["pending"] == ["r1", "r2"] and not cp["complete"] and cp["deadline"] == NOW + 30.0
    assert txn.s.config["checkpoint_seq"] == 1 and txn.config_changed

    plan1, txn1 = sync(apply(txn), "r1", {seg(0): Held(offset=11)})
    assert plan1.checkpoint == "cp"
    assert txn1.s.checkpoints["cp"]["pending"] == ["r2"]
    assert txn1.s.checkpoints["cp"]["acks"] == {"r1": {seg(0): 11}}

    plan2, txn2 = sync(apply(txn1), "r2", {seg(1): Held(offset=22)})
    done = txn2.s.checkpoints["cp"]
    assert plan2.checkpoint == "cp" and done["complete"]
    # Acks + unassigned segments + the finished predecessors of futures.
    assert done["positions"] == {seg(0): 11, seg(1): 22, seg(2): 12, seg(5): 70}
    latest = rgs.latest_checkpoint(apply(txn2))
    assert latest is not None and latest.name == "cp" and latest.segment_positions == done["positions"]


def test_no_rebalancing_while_a_checkpoint_is_pending() -> None:
    state = make_state({seg(0): (None, 0), seg(1): (None, 0)}, readers=("r1", "r2"))
    txn = Txn(state)
    rgs.new_checkpoint(txn, "cp", 30.0, NOW)
    plan, after = sync(apply(txn), "r1")
    assert plan.start == [] and owners(after) == {seg(0): None, seg(1): None}


def test_a_reader_that_acknowledged_holds_back_its_finished_segments() -> None:
    state = make_state({seg(0): ("r1", 0), seg(1): ("r2", 0)}, readers=("r1", "r2"))
    txn = Txn(state)
    rgs.new_checkpoint(txn, "cp", 30.0, NOW)
    succ = {SegmentRange(9, 0.0, 1.0): [0]}
    _, acked = sync(apply(txn), "r1", {seg(0): Held(offset=5)})
    plan, held = sync(apply(acked), "r1", {seg(0): Held(offset=5, finished=True, successors=succ)})
    assert seg(0) in held.s.segments and plan.drop == []


def test_only_the_newest_completed_checkpoints_are_kept() -> None:
    state = make_state(readers=())
    for i in range(rgs.KEEP_CHECKPOINTS + 3):
        txn = Txn(state)
        rgs.new_checkpoint(txn, f"cp{i}", 30.0, NOW)  # no reader online: complete at once
        state = apply(txn)
    assert sorted(state.checkpoints, key=lambda n: int(n[2:])) == [f"cp{i}" for i in range(3, rgs.KEEP_CHECKPOINTS + 3)]


def test_abort_checkpoint_removes_a_pending_one_but_not_a_completed_one() -> None:
    state = make_state(readers=("r1",))
    txn = Txn(state)
    rgs.new_checkpoint(txn, "cp", 30.0, NOW)
    pending = apply(txn)
    abort = Txn(pending)
    assert rgs.abort_checkpoint(pending, abort, "cp") is not None
    assert abort.ops == {CHECKPOINT + "cp": None}

    done = make_state()
    txn = Txn(done)
    rgs.new_checkpoint(txn, "cp", 30.0, NOW)
    completed = apply(txn)
    keep = Txn(completed)
    assert rgs.abort_checkpoint(completed, keep, "cp")["complete"]  # type: ignore[index]
    assert not keep.dirty


def test_a_checkpoint_long_past_its_deadline_is_dropped_by_the_next_sync() -> None:
    state = make_state({seg(0): ("r1", 0)}, readers=("r1", "r2"))
    txn = Txn(state)
    rgs.new_checkpoint(txn, "cp", 1.0, NOW)
    later = NOW + 1.0 + rgs.STALE_CHECKPOINT_GRACE + 0.1
    _, after = sync(apply(txn), "r1", {seg(0): Held(offset=3)}, now=later)
    assert "cp" not in after.s.checkpoints


def test_an_automatic_checkpoint_starts_when_its_interval_passed() -> None:
    state = make_state({seg(0): ("r1", 0)}, readers=("r1", "r2"), automatic_checkpoint_interval=5.0)
    _, early = sync(state, "r1", {seg(0): Held(offset=0)}, now=NOW + 4.0)
    assert early.s.checkpoints == {}
    plan, due = sync(state, "r1", {seg(0): Held(offset=0)}, now=NOW + 5.0)
    assert list(due.s.checkpoints) == ["auto-1"]
    assert due.s.checkpoints["auto-1"]["pending"] == ["r1", "r2"]
    assert due.s.config["last_auto_checkpoint"] == NOW + 5.0


# -- leaving, reset ----------------------------------------------------------------------------


def test_reader_going_offline_returns_its_segments_with_positions() -> None:
    state = make_state({seg(0): ("r1", 10), seg(1): ("r1", 20), seg(2): ("r2", 30)}, readers=("r1", "r2"))
    txn = Txn(state)
    assert rgs.remove_reader(state, txn, "r1", {seg(0): 15})
    assert txn.s.readers["r1"] == {"online": False}
    assert txn.s.segments == {
        seg(0): rgs.segment_entry(None, 15, None),  # at the position given
        seg(1): rgs.segment_entry(None, 20, None),  # at the offset last written back
        seg(2): rgs.segment_entry("r2", 30, None),
    }
    assert not rgs.remove_reader(apply(txn), Txn(apply(txn)), "r1", None)  # not online any more


def test_reader_going_offline_completes_a_checkpoint_waiting_only_for_it() -> None:
    state = make_state({seg(0): ("r1", 10), seg(1): ("r2", 4)}, readers=("r1", "r2"))
    txn = Txn(state)
    rgs.new_checkpoint(txn, "cp", 30.0, NOW)
    _, acked = sync(apply(txn), "r2", {seg(1): Held(offset=8)})
    gone = apply(acked)
    leave = Txn(gone)
    rgs.remove_reader(gone, leave, "r1", None)
    cp = leave.s.checkpoints["cp"]
    assert cp["complete"] and cp["positions"] == {seg(0): 10, seg(1): 8}


def test_reset_puts_every_segment_back_unassigned_in_a_new_generation() -> None:
    state = make_state(
        {seg(0): ("r1", 50), seg(1): ("r2", 60)},
        readers=("r1", "r2"),
        futures={seg(2): {"waiting_for": [seg(1)], "done": {seg(0): 50}, "range": [0.0, 1.0]}},
        generation=4,
        ends={seg(0): 100},
    )
    pending = Txn(state)
    rgs.new_checkpoint(pending, "cp", 30.0, NOW)
    before = apply(pending)
    txn = Txn(before)
    rgs.reset(before, txn, {seg(0): 5, seg(1): 6})
    assert txn.s.generation == 5 and txn.config_changed
    assert txn.s.segments == {seg(0): rgs.segment_entry(None, 5, 100), seg(1): rgs.segment_entry(None, 6, None)}
    assert txn.s.futures == {} and txn.s.checkpoints == {}

    # A reader of the old generation drops everything it holds and starts afresh.
    after = apply(txn)
    plan = rgs.plan_sync(after, Txn(after), "r1", 4, {seg(0): Held(offset=70)}, False, NOW)
    assert plan.reset and plan.generation == 5
    assert sorted(name for name, _, _ in plan.start) == [seg(0)]
    assert plan.start[0] == (seg(0), 5, 100)


# -- the table's bytes -------------------------------------------------------------------------


def test_no_state_without_a_config() -> None:
    # The table layout itself is tested in test_reader_group_layout.py.
    assert rgs.state_from_entries({}) is None
