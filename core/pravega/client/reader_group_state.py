"""A reader group's shared state and its transitions, as pure functions (no I/O).

Every operation on a group is: read the state, compute a change with one of the
functions here, write the change back conditionally (:mod:`.reader_group` and
:mod:`.event_reader` do the reading and writing). So each async operation has a pure
counterpart that can be tested on a hand-made :class:`State`.

The state in the table
----------------------
All of a group's shared state is one table segment, in the layout of the official
client (:mod:`.reader_group_layout`), so readers of both clients can share a group. Here
the state is seen as:

``config``                 streams, resolved start/end positions, generation, counters
``segments[<segment>]``    ``{"owner": reader id | null, "offset": int, "end": int | null}``
``futures[<segment>]``     a successor not readable yet: ``{"waiting_for": [predecessors not
                           read to their end], "done": {finished predecessor: its end
                           offset}, "range": [low, high]}``
``readers[<id>]``          ``{"online": bool, "py": readers of this client}``
``checkpoints[<name>]``    ``{"seq", "pending": [ids], "acks": {id: {segment: offset}},
                           "complete": bool, "positions": {segment: offset} | null}``

A change is written as one all-or-nothing table update that rewrites the version marker
of every outer key, each conditioned on the version read: the tuple of those versions
is the version of the whole state, so changes (of either client) are serialized, and a
change computed from a stale view fails on the server and is recomputed from a fresh
read (optimistic concurrency). Removed entries become tombstones.

Segments and successors
-----------------------
At the end of a segment its reader marks it finished and adds its successors: a
successor with unfinished predecessors goes to ``future/``; the last predecessor to
finish turns it into an unassigned segment at offset 0. Readers acquire unassigned
segments up to ``ceil(#segments / #online readers)`` and release those above it.

Checkpoints
-----------
``initiate_checkpoint`` records the online readers as pending. Each reader, at its next
``read_next_event``, acknowledges with its positions and returns a checkpoint event; the
acknowledgement that empties ``pending`` computes the checkpoint's positions (all
acknowledgements + unassigned segments + the finished predecessors of future segments)
in the same conditional update. While any checkpoint is pending no reader acquires or
releases segments, and a reader that already acknowledged holds back the completion of
its finished segments, so the positions form a consistent cut.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from .. import errors, naming
from ..model import SegmentRange
from ..protocol import commands as c
from . import reader_group_layout as layout
from .reader_group_config import Checkpoint, cuts_of

NO_VERSION = c.TableKey.NO_VERSION

CONFIG = "config"
SEGMENT = "segment/"
FUTURE = "future/"
READER = "reader/"
CHECKPOINT = "checkpoint/"
KINDS = (SEGMENT, FUTURE, READER, CHECKPOINT)

#: Completed checkpoints kept in the state (older ones are dropped).
KEEP_CHECKPOINTS = 10
#: Attempts of one state change before giving up (conflicts are retried at once).
MAX_ATTEMPTS = 200
#: Seconds readers wait for the others to acknowledge an automatic checkpoint.
AUTO_CHECKPOINT_TIMEOUT = 30.0
#: Readers abort a checkpoint this long after its deadline (its initiator did not).
STALE_CHECKPOINT_GRACE = 2.0


class ReaderNotInGroupError(errors.PravegaError):
    """The reader was declared offline (or never joined); it must not read any more."""


@dataclass
class State:
    """A snapshot of the table: one dict per kind of entry, by name."""

    version: tuple[int, ...]  # of the outer keys' version markers: the version of the whole state
    config: dict
    segments: dict[str, dict] = field(default_factory=dict)
    futures: dict[str, dict] = field(default_factory=dict)
    readers: dict[str, dict] = field(default_factory=dict)
    checkpoints: dict[str, dict] = field(default_factory=dict)
    tombstones: dict[bytes, int] = field(default_factory=dict)  # never collected (see the layout)
    keys: dict[str, int] = field(default_factory=dict)  # version of every key in the table
    live: dict[str, tuple[str, Any]] = field(default_factory=dict)  # key -> (type_id, payload)

    def table(self, kind: str) -> dict[str, Any]:
        if kind == SEGMENT:
            return self.segments
        if kind == FUTURE:
            return self.futures
        if kind == READER:
            return self.readers
        if kind == CHECKPOINT:
            return self.checkpoints
        raise KeyError(kind)

    @property
    def generation(self) -> int:
        return int(self.config.get("generation", 0))

    def online(self) -> list[str]:
        return sorted(r for r, v in self.readers.items() if v.get("online"))

    def ours(self) -> list[str]:
        """Online readers of this client (readers of the official client do not take part
        in checkpoints)."""
        return sorted(r for r, v in self.readers.items() if v.get("online") and v.get("py"))

    def pending(self) -> list[tuple[str, dict]]:
        """Checkpoints not complete yet, oldest first."""
        return sorted(
            ((n, cp) for n, cp in self.checkpoints.items() if not cp.get("complete")),
            key=lambda item: item[1].get("seq", 0),
        )


class Txn:
    """A change to the state, computed on a copy: ``ops`` are the entries to write."""

    def __init__(self, state: State) -> None:
        self.base = state
        self.s = State(
            state.version,
            copy.deepcopy(state.config),
            copy.deepcopy(state.segments),
            copy.deepcopy(state.futures),
            copy.deepcopy(state.readers),
            copy.deepcopy(state.checkpoints),
            dict(state.tombstones),
            state.keys,  # the table as read: shared, never changed
            state.live,
        )
        self.ops: dict[str, Any] = {}
        self.config_changed = False

    def put(self, kind: str, name: str, value: Any) -> None:
        key = kind + name
        table = self.s.table(kind)
        if value is None:
            table.pop(name, None)
            if name in self.base.table(kind):
                self.ops[key] = None
            else:
                self.ops.pop(key, None)
        else:
            table[name] = value
            self.ops[key] = value

    @property
    def dirty(self) -> bool:
        return bool(self.ops) or self.config_changed


# -- the table's bytes ----------------------------------------------------------------


def state_from_entries(raw: Mapping[bytes, tuple[int, bytes]]) -> State | None:
    """The state in table entries ``{key: (version, value)}``; None without a config."""
    return layout.parse(raw)


def entries_of(txn: Txn) -> list[tuple[bytes, int, bytes]]:
    """The conditional table update that writes ``txn`` (see :func:`.reader_group_layout.entries_of`)."""
    return layout.entries_of(txn)


def initial_entries(config: Mapping[str, Any]) -> list[tuple[bytes, int, bytes]]:
    """The entries of a new group: its config and its start segments, all conditional
    on not existing yet (so creating an existing group fails and opens it instead)."""
    txn = Txn(State((), {}))
    txn.s.config = dict(config)
    end: Mapping[str, int] = config["end"]
    for seg, offset in sorted(config["start"].items()):
        txn.s.segments[seg] = segment_entry(None, offset, end.get(seg))
    return layout.entries_of(txn)


def segment_entry(owner: str | None, offset: int, end: int | None) -> dict:
    return {"owner": owner, "offset": offset, "end": end}


# -- positions and checkpoints ----------------------------------------------------------


def current_positions(s: State) -> dict[str, int]:
    """Offsets of all segments (as last written back), plus the finished predecessors of
    future segments at their ends: a consistent cut of everything not read yet."""
    positions: dict[str, int] = {}
    for fut in s.futures.values():
        positions.update(fut.get("done", {}))
    for name, entry in s.segments.items():
        positions[name] = entry["offset"]
    return positions


def checkpoint_of(name: str, cp: Mapping[str, Any]) -> Checkpoint:
    """The :class:`Checkpoint` of a completed checkpoint entry."""
    return Checkpoint(name, cuts_of(cp["positions"]), dict(cp["positions"]))


def latest_checkpoint(s: State) -> Checkpoint | None:
    """The most recent completed checkpoint still kept in the state, if any."""
    done = [(cp.get("seq", 0), n, cp) for n, cp in s.checkpoints.items() if cp.get("complete")]
    if not done:
        return None
    _, name, cp = max(done)
    return checkpoint_of(name, cp)


def maybe_complete(txn: Txn, name: str, cp: dict) -> None:
    """Complete checkpoint ``cp`` if no reader is pending: its positions are every
    acknowledgement, every unassigned segment and the finished predecessors of futures."""
    if cp["pending"]:
        return
    positions: dict[str, int] = {}
    for fut in txn.s.futures.values():
        positions.update(fut.get("done", {}))
    for seg, entry in txn.s.segments.items():
        owner = entry.get("owner")
        if owner is None or not txn.s.readers.get(owner, {}).get("py"):
            positions[seg] = entry["offset"]  # unassigned, or an official reader's (as written back)
    for acked in cp["acks"].values():
        positions.update(acked)
    cp["complete"] = True
    cp["positions"] = positions
    txn.put(CHECKPOINT, name, cp)
    complete = sorted(
        ((n, c) for n, c in txn.s.checkpoints.items() if c.get("complete")), key=lambda item: item[1].get("seq", 0)
    )
    for old, _ in complete[:-KEEP_CHECKPOINTS]:
        txn.put(CHECKPOINT, old, None)


def new_checkpoint(txn: Txn, name: str, timeout: float, now: float) -> None:
    """Start checkpoint ``name``, pending on every online reader, with a deadline
    ``timeout`` seconds after ``now`` (wall-clock time)."""
    seq = int(txn.s.config.get("checkpoint_seq", 0)) + 1
    txn.s.config["checkpoint_seq"] = seq
    txn.config_changed = True
    cp = {
        "seq": seq,
        "pending": txn.s.ours(),
        "acks": {},
        "complete": False,
        "positions": None,
        "created": now,
        "deadline": now + timeout,
    }
    txn.put(CHECKPOINT, name, cp)
    maybe_complete(txn, name, cp)


def abort_checkpoint(state: State, txn: Txn, name: str) -> dict | None:
    """Remove checkpoint ``name`` unless it completed; returns its entry as it was."""
    cp = state.checkpoints.get(name)
    if cp is None or cp.get("complete"):
        return cp
    txn.put(CHECKPOINT, name, None)
    return cp


# -- readers and segments -----------------------------------------------------------------


def add_reader(state: State, txn: Txn, reader_id: str, where: str) -> int:
    """Put ``reader_id`` online (``where`` names the group in the error); returns the
    generation it joins."""
    if state.readers.get(reader_id, {}).get("online"):
        raise errors.InterfaceError(
            f"reader {reader_id!r} is already online in {where} (close it, or call reader_offline() if it is gone)"
        )
    txn.put(READER, reader_id, {"online": True, "py": True})
    return state.generation


def remove_reader(state: State, txn: Txn, reader_id: str, positions: Mapping[str, int] | None) -> bool:
    """Take ``reader_id`` offline, returning its segments at ``positions`` (where given,
    else at the offsets it last wrote back). False if it was not online."""
    if not state.readers.get(reader_id, {}).get("online"):
        return False
    txn.put(READER, reader_id, {"online": False})
    release_all(txn, reader_id, positions)
    return True


def release_all(txn: Txn, reader_id: str, positions: Mapping[str, int] | None) -> None:
    """Return a reader's segments to the pool (at ``positions`` where given) and take it
    out of pending checkpoints."""
    for seg, entry in list(txn.s.segments.items()):
        if entry.get("owner") == reader_id:
            offset = positions.get(seg, entry["offset"]) if positions else entry["offset"]
            txn.put(SEGMENT, seg, {**entry, "owner": None, "offset": offset})
    for name, cp in txn.s.pending():
        if reader_id in cp["pending"]:
            cp = copy.deepcopy(cp)
            cp["pending"].remove(reader_id)
            txn.put(CHECKPOINT, name, cp)
            maybe_complete(txn, name, cp)


def complete_segment(txn: Txn, name: str, end_offset: int, successors: Mapping[SegmentRange, list[int]]) -> None:
    """Segment ``name`` was read to its end (``end_offset``): drop it, add its successors."""
    entry = txn.s.segments.get(name, {})
    txn.put(SEGMENT, name, None)
    if entry.get("end") is not None:
        return  # an end cut: stop here, successors are not read
    scope, stream, _ = naming.parse_segment_name(name)
    ends = txn.s.config.get("end", {})
    for rng, predecessors in sorted(successors.items()):
        succ = naming.qualified_segment_name(scope, stream, rng.segment_id)
        if succ in txn.s.segments:
            continue
        fut = copy.deepcopy(txn.s.futures.get(succ))
        if fut is None:
            preds = {naming.qualified_segment_name(scope, stream, p) for p in predecessors}
            fut = {"waiting_for": sorted(preds), "done": {}, "range": [rng.min_key, rng.max_key]}
        fut["waiting_for"] = [p for p in fut["waiting_for"] if p != name]
        fut["done"][name] = end_offset
        if fut["waiting_for"]:
            txn.put(FUTURE, succ, fut)
        else:
            txn.put(FUTURE, succ, None)
            txn.put(SEGMENT, succ, segment_entry(None, 0, ends.get(succ)))


def reset(state: State, txn: Txn, positions: Mapping[str, int]) -> None:
    """Restart the group at ``positions``: every segment unassigned there, futures and
    pending checkpoints dropped, and a new generation (readers drop what they own).
    Refused while readers of the official client are online: they know no generations
    and would keep reading (or fail on) segments taken from them."""
    official = [r for r in state.online() if not state.readers[r].get("py")]
    if official:
        raise errors.InterfaceError(
            f"cannot reset the group while readers of the official client are online ({', '.join(official)}); "
            "take them offline first (reader_offline)"
        )
    ends = state.config.get("end", {})
    for seg in list(state.segments):
        txn.put(SEGMENT, seg, None)
    for seg in list(state.futures):
        txn.put(FUTURE, seg, None)
    for name, _ in state.pending():
        txn.put(CHECKPOINT, name, None)
    for seg, offset in sorted(positions.items()):
        txn.put(SEGMENT, seg, segment_entry(None, offset, ends.get(seg)))
    txn.s.config["generation"] = state.generation + 1
    txn.config_changed = True


# -- one reader's synchronization ------------------------------------------------------------


class LocalSegment(Protocol):
    """What a reader knows of a segment it holds, beyond the shared state."""

    @property
    def offset(self) -> int:
        """Just after the last event the reader returned."""

    @property
    def finished(self) -> bool:
        """Read to its end, and every event returned."""

    @property
    def successors(self) -> Mapping[SegmentRange, list[int]] | None:
        """Once finished: its successors and their predecessors (None: not known yet)."""


@dataclass
class SyncPlan:
    """What a reader changes locally after its change to the state was written."""

    generation: int
    reset: bool = False
    drop: list[str] = field(default_factory=list)
    start: list[tuple[str, int, int | None]] = field(default_factory=list)  # adopted or acquired
    checkpoint: str | None = None
    wrote_positions: bool = False
    finished: bool = False


def plan_sync(
    state: State,
    txn: Txn,
    me: str,
    generation: int,
    held: Mapping[str, LocalSegment],
    write_positions: bool,
    now: float,
    where: str = "the group",
) -> SyncPlan:
    """Reader ``me`` (of ``generation``, holding ``held``) synchronizes with the state at
    wall-clock time ``now``: what to change in the state (into ``txn``) and locally (the
    returned plan). In order: acknowledge the oldest checkpoint waiting for it, complete
    its finished segments, rebalance to its fair share, start an automatic checkpoint when
    due, write its positions back. ``where`` names the group in errors."""
    plan = SyncPlan(state.generation)
    if not state.readers.get(me, {}).get("online"):
        raise ReaderNotInGroupError(f"reader {me!r} is not online in {where}")
    local = dict(held)
    if state.generation != generation:
        plan.reset = True
        local = {}
    segs = txn.s.segments
    mine: dict[str, int] = {}  # owned segment -> offset after the last event returned
    for name, o in local.items():
        entry = segs.get(name)
        if entry is None or entry.get("owner") != me:
            plan.drop.append(name)  # taken away (reader_offline, reset) or lost in a cancelled sync
        else:
            mine[name] = o.offset
    for name, entry in segs.items():
        if entry.get("owner") == me and name not in mine:
            plan.start.append((name, entry["offset"], entry.get("end")))  # a cancelled sync's acquisition
            mine[name] = entry["offset"]

    # Abort checkpoints long past their deadline (their initiator is gone): they
    # would block rebalancing for good.
    for name, cp in txn.s.pending():
        if now > cp.get("deadline", math.inf) + STALE_CHECKPOINT_GRACE:
            txn.put(CHECKPOINT, name, None)

    # Acknowledge the oldest checkpoint waiting for this reader.
    for name, cp in txn.s.pending():
        if me in cp["pending"]:
            cp = copy.deepcopy(cp)
            cp["pending"].remove(me)
            cp["acks"][me] = dict(mine)
            txn.put(CHECKPOINT, name, cp)
            maybe_complete(txn, name, cp)
            plan.checkpoint = name
            break
    holding = any(me in cp["acks"] for _, cp in txn.s.pending())

    # Finished segments: unless holding for a checkpoint this reader acknowledged.
    if not holding:
        for name in list(mine):
            h = local.get(name)
            if h is None or not h.finished:
                continue
            if segs[name].get("end") is None and h.successors is None:
                continue  # successors not known yet: next time
            complete_segment(txn, name, h.offset, h.successors or {})
            del mine[name]
            plan.drop.append(name)

    # Rebalance (never while a checkpoint is pending).
    if not txn.s.pending():
        online = txn.s.online()
        fair = math.ceil(len(txn.s.segments) / max(1, len(online)))
        if len(mine) > fair:
            spare = sorted((n for n in mine if not ((h := local.get(n)) is not None and h.finished)), reverse=True)
            for name in spare[: len(mine) - fair]:
                txn.put(SEGMENT, name, {**segs[name], "owner": None, "offset": mine.pop(name)})
                plan.drop.append(name)
        elif len(mine) < fair:
            free = sorted(n for n, e in segs.items() if e.get("owner") is None)
            for name in free[: fair - len(mine)]:
                entry = segs[name]
                txn.put(SEGMENT, name, {**entry, "owner": me})
                plan.start.append((name, entry["offset"], entry.get("end")))
        interval = txn.s.config.get("automatic_checkpoint_interval")
        if interval and online and now - txn.s.config.get("last_auto_checkpoint", 0) >= interval:
            seq = int(txn.s.config.get("checkpoint_seq", 0)) + 1
            while f"auto-{seq}" in txn.s.checkpoints:
                seq += 1
            txn.s.config["last_auto_checkpoint"] = now
            new_checkpoint(txn, f"auto-{seq}", max(AUTO_CHECKPOINT_TIMEOUT, 3 * interval), now)

    # Positions: on the refresh schedule, or whenever something is written anyway.
    if write_positions or txn.dirty:
        for name, offset in mine.items():
            entry = segs[name]
            if entry["offset"] != offset:
                txn.put(SEGMENT, name, {**entry, "offset": offset})
        plan.wrote_positions = True
    plan.finished = not txn.s.segments and not txn.s.futures
    return plan
