"""Reader groups: readers, in one process or many, that share the segments of some
streams so that every event is read once; checkpoints, resets and stream cuts.

Shared state
------------
All of a group's shared state is one table segment
(:func:`pravega.naming.reader_group_state_segment`) holding JSON values:

``config``                 streams, resolved start/end positions, generation, counters
``segment/<segment>``      ``{"owner": reader id | null, "offset": int, "end": int | null}``
``future/<segment>``       a successor not readable yet: ``{"waiting_for": [predecessors not
                           read to their end], "done": {finished predecessor: its end
                           offset}, "range": [low, high]}``
``reader/<id>``            ``{"online": bool}``
``checkpoint/<name>``      ``{"seq", "pending": [ids], "acks": {id: {segment: offset}},
                           "complete": bool, "positions": {segment: offset} | null}``

Every change rewrites ``config`` conditionally on the version it read, in the same
all-or-nothing batch as the change itself. So the version of ``config`` is the version
of the whole state: changes are serialized, and a change computed from a stale view
fails on the server and is recomputed from a fresh read (optimistic concurrency). A
removed entry is written as JSON ``null`` (a tombstone: removal is then part of the same
batch) and garbage-collected later. Reading the table in write order with later entries
winning gives a consistent snapshot, because each batch is appended atomically and
always includes ``config``.

Reading
-------
A reader owns some segments. It reads each with its own :class:`SegmentReader` task
(chunks are fetched concurrently, so an idle segment does not hold up the others) and
returns events round-robin. It writes the offset after the last event it returned back
to the state at least every ``group_refresh_time``, and always before a segment changes
owner (release, offline), so no event is returned by two readers.

At the end of a segment the reader marks it finished and adds its successors: a
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

import asyncio
import copy
import json
import logging
import math
import random
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from .. import errors, naming
from ..model import SegmentRange, StreamCut, scoped_stream
from ..protocol import commands as c
from ..serializers import BytesSerializer, Serializer
from .context import ClientContext
from .segment_reader import EventParser, SegmentClient, SegmentReader

log = logging.getLogger(__name__)
T = TypeVar("T")

NO_VERSION = c.TableKey.NO_VERSION
NOT_EXISTS = c.TableKey.NOT_EXISTS

_CONFIG = "config"
_SEGMENT = "segment/"
_FUTURE = "future/"
_READER = "reader/"
_CHECKPOINT = "checkpoint/"

#: Completed checkpoints kept in the state (older ones are dropped).
KEEP_CHECKPOINTS = 10
#: Bytes asked for per segment read, and buffered per segment before fetching pauses.
READ_SIZE = 1 << 20
MAX_BUFFERED = 2 << 20
#: Attempts of one state change before giving up (conflicts are retried at once).
MAX_ATTEMPTS = 200
#: Tombstones tolerated before they are removed from the table.
GC_THRESHOLD = 64
#: Seconds readers wait for the others to acknowledge an automatic checkpoint.
AUTO_CHECKPOINT_TIMEOUT = 30.0
#: Readers abort a checkpoint this long after its deadline (its initiator did not).
STALE_CHECKPOINT_GRACE = 2.0
_EVENT_HEADER_SIZE = 8


class ReaderNotInGroupError(errors.PravegaError):
    """The reader was declared offline (or never joined); it must not read any more."""


class CheckpointFailedError(errors.PravegaError):
    """A checkpoint was aborted: by a reset, or by its initiator's timeout."""


class CheckpointTimeoutError(CheckpointFailedError, TimeoutError):
    """Not every online reader acknowledged a checkpoint in time."""


# -- configuration ----------------------------------------------------------------------


def _stream_name(s: Any, default_scope: str | None = None) -> str:
    if isinstance(s, tuple) and len(s) == 2:
        return f"{s[0]}/{s[1]}"
    if isinstance(s, StreamCut):
        return f"{s.scope}/{s.stream}"
    if isinstance(s, str):
        if "/" not in s and default_scope is not None:
            s = f"{default_scope}/{s}"
        scoped_stream(s)  # validates
        return s
    raise errors.InterfaceError(f"a stream is 'scope/stream' or (scope, stream), got {s!r}")


def _cut_map(value: Any, what: str) -> dict[str, StreamCut]:
    """Start/end cuts as {"scope/stream": StreamCut}, from a mapping, one cut or cuts."""
    if value is None:
        return {}
    if isinstance(value, StreamCut):
        value = [value]
    if isinstance(value, Mapping):
        items = list(value.values())
        for key, cut in value.items():
            if not isinstance(cut, StreamCut):
                raise errors.InterfaceError(f"{what} cut for {key!r} is not a StreamCut: {cut!r}")
            if _stream_name(key, cut.scope) != f"{cut.scope}/{cut.stream}":
                raise errors.InterfaceError(f"{what} cut for {key!r} is a cut of {cut.scope}/{cut.stream}")
    else:
        items = list(value)
    out: dict[str, StreamCut] = {}
    for cut in items:
        if not isinstance(cut, StreamCut):
            raise errors.InterfaceError(f"{what} cuts must be StreamCuts, got {cut!r}")
        out[f"{cut.scope}/{cut.stream}"] = cut
    return out


@dataclass
class ReaderGroupConfig:
    """What a reader group reads.

    ``streams``: "scope/stream" names or (scope, stream) pairs. ``start_cuts`` /
    ``end_cuts``: StreamCuts (a mapping by stream, one cut or an iterable of cuts); a
    stream without a start cut starts at its head, or at its tail with ``from_tail``;
    a stream without an end cut is read without end. ``automatic_checkpoint_interval``:
    seconds between checkpoints the readers initiate themselves (None: off).
    ``group_refresh_time``: how often a reader writes its positions back and rebalances.
    """

    streams: list[Any]
    start_cuts: Any = None
    end_cuts: Any = None
    from_tail: bool = False
    automatic_checkpoint_interval: float | None = None
    group_refresh_time: float = 1.0

    def __post_init__(self) -> None:
        streams = self.streams
        if isinstance(streams, (str, tuple)):
            streams = [streams]
        names: list[str] = []
        for s in streams:
            name = _stream_name(s)
            if name not in names:
                names.append(name)
        if not names:
            raise errors.InterfaceError("a reader group needs at least one stream")
        self.streams = names
        self.start_cuts = _cut_map(self.start_cuts, "start")
        self.end_cuts = _cut_map(self.end_cuts, "end")
        for what, cuts in (("start", self.start_cuts), ("end", self.end_cuts)):
            for name in cuts:
                if name not in names:
                    raise errors.InterfaceError(f"{what} cut for {name}, which the group does not read")
        if self.group_refresh_time <= 0:
            raise errors.InterfaceError("group_refresh_time must be positive")
        if self.automatic_checkpoint_interval is not None and self.automatic_checkpoint_interval <= 0:
            raise errors.InterfaceError("automatic_checkpoint_interval must be positive (or None)")


def reader_group_config(config_or_streams: Any, scope: str, **options: Any) -> ReaderGroupConfig:
    """A :class:`ReaderGroupConfig` from a config, or from streams plus keyword options;
    stream names without a scope are taken to be in ``scope``."""
    if isinstance(config_or_streams, ReaderGroupConfig):
        if options:
            raise errors.InterfaceError("pass either a ReaderGroupConfig or options, not both")
        return config_or_streams
    streams = config_or_streams
    if isinstance(streams, (str, tuple)):
        streams = [streams]
    return ReaderGroupConfig([_stream_name(s, scope) for s in streams], **options)


# -- value types ------------------------------------------------------------------------


@dataclass(slots=True)  # not frozen: a frozen __init__ costs a third of a read
class EventRead(Generic[T]):
    """One result of :meth:`EventReader.read_next_event`: an event, or a checkpoint.

    ``position`` is (segment, offset just after the event): resuming there does not read
    the event again. For a checkpoint, ``checkpoint_name`` is set and ``event`` is None.
    """

    event: T | None
    data: bytes
    position: tuple[str, int] | None
    event_offset: int = -1
    checkpoint_name: str | None = None

    @property
    def is_checkpoint(self) -> bool:
        return self.checkpoint_name is not None

    @property
    def segment(self) -> str | None:
        return None if self.position is None else self.position[0]

    @property
    def stream(self) -> str | None:
        if self.position is None:
            return None
        scope, stream, _ = naming.parse_segment_name(self.position[0])
        return f"{scope}/{stream}"


@dataclass(frozen=True)
class Checkpoint:
    """A completed checkpoint: a consistent position of the whole group.

    ``positions`` are stream cuts by "scope/stream" (a stream the group finished is
    absent); ``segment_positions`` are the exact offsets by segment name, which
    :meth:`ReaderGroup.reset` replays from.
    """

    name: str
    positions: dict[str, StreamCut]
    segment_positions: dict[str, int] = field(default_factory=dict)

    @property
    def stream_cuts(self) -> dict[str, StreamCut]:
        return self.positions


def _cuts_of(positions: Mapping[str, int]) -> dict[str, StreamCut]:
    by_stream: dict[tuple[str, str], dict[int, int]] = {}
    for name, offset in positions.items():
        scope, stream, sid = naming.parse_segment_name(name)
        by_stream.setdefault((scope, stream), {})[sid] = offset
    return {f"{scope}/{stream}": StreamCut(scope, stream, pos) for (scope, stream), pos in sorted(by_stream.items())}


def _positions_of(cut: StreamCut) -> dict[str, int]:
    return {naming.qualified_segment_name(cut.scope, cut.stream, sid): off for sid, off in cut.positions.items()}


# -- the state ----------------------------------------------------------------------------


@dataclass
class _State:
    version: int  # of the config key: the version of the whole state
    config: dict
    segments: dict[str, dict] = field(default_factory=dict)
    futures: dict[str, dict] = field(default_factory=dict)
    readers: dict[str, dict] = field(default_factory=dict)
    checkpoints: dict[str, dict] = field(default_factory=dict)
    tombstones: dict[bytes, int] = field(default_factory=dict)

    def table(self, kind: str) -> dict[str, Any]:
        if kind == _SEGMENT:
            return self.segments
        if kind == _FUTURE:
            return self.futures
        if kind == _READER:
            return self.readers
        if kind == _CHECKPOINT:
            return self.checkpoints
        raise KeyError(kind)

    @property
    def generation(self) -> int:
        return int(self.config.get("generation", 0))

    def online(self) -> list[str]:
        return sorted(r for r, v in self.readers.items() if v.get("online"))

    def pending(self) -> list[tuple[str, dict]]:
        """Checkpoints not complete yet, oldest first."""
        return sorted(
            ((n, cp) for n, cp in self.checkpoints.items() if not cp.get("complete")),
            key=lambda item: item[1].get("seq", 0),
        )


class _Txn:
    """A change to the state, computed on a copy: ``ops`` are the entries to write."""

    def __init__(self, state: _State) -> None:
        self.base = state
        self.s = copy.deepcopy(state)
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


def _dump(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


def _segment_entry(owner: str | None, offset: int, end: int | None) -> dict:
    return {"owner": owner, "offset": offset, "end": end}


def _current_positions(s: _State) -> dict[str, int]:
    """Offsets of all segments (as last written back), plus the finished predecessors of
    future segments at their ends: a consistent cut of everything not read yet."""
    positions: dict[str, int] = {}
    for fut in s.futures.values():
        positions.update(fut.get("done", {}))
    for name, entry in s.segments.items():
        positions[name] = entry["offset"]
    return positions


def _maybe_complete(txn: _Txn, name: str, cp: dict) -> None:
    """Complete checkpoint ``cp`` if no reader is pending: its positions are every
    acknowledgement, every unassigned segment and the finished predecessors of futures."""
    if cp["pending"]:
        return
    positions: dict[str, int] = {}
    for fut in txn.s.futures.values():
        positions.update(fut.get("done", {}))
    for seg, entry in txn.s.segments.items():
        if entry.get("owner") is None:
            positions[seg] = entry["offset"]
    for acked in cp["acks"].values():
        positions.update(acked)
    cp["complete"] = True
    cp["positions"] = positions
    txn.put(_CHECKPOINT, name, cp)
    complete = sorted(
        ((n, c) for n, c in txn.s.checkpoints.items() if c.get("complete")), key=lambda item: item[1].get("seq", 0)
    )
    for old, _ in complete[:-KEEP_CHECKPOINTS]:
        txn.put(_CHECKPOINT, old, None)


def _new_checkpoint(txn: _Txn, name: str, timeout: float) -> None:
    seq = int(txn.s.config.get("checkpoint_seq", 0)) + 1
    txn.s.config["checkpoint_seq"] = seq
    txn.config_changed = True
    now = time.time()
    cp = {
        "seq": seq,
        "pending": txn.s.online(),
        "acks": {},
        "complete": False,
        "positions": None,
        "created": now,
        "deadline": now + timeout,
    }
    txn.put(_CHECKPOINT, name, cp)
    _maybe_complete(txn, name, cp)


def _release_all(txn: _Txn, reader_id: str, positions: Mapping[str, int] | None) -> None:
    """Return a reader's segments to the pool (at ``positions`` where given) and take it
    out of pending checkpoints."""
    for seg, entry in list(txn.s.segments.items()):
        if entry.get("owner") == reader_id:
            offset = positions.get(seg, entry["offset"]) if positions else entry["offset"]
            txn.put(_SEGMENT, seg, {**entry, "owner": None, "offset": offset})
    for name, cp in txn.s.pending():
        if reader_id in cp["pending"]:
            cp = copy.deepcopy(cp)
            cp["pending"].remove(reader_id)
            txn.put(_CHECKPOINT, name, cp)
            _maybe_complete(txn, name, cp)


def _complete_segment(txn: _Txn, name: str, end_offset: int, successors: Mapping[SegmentRange, list[int]]) -> None:
    """Segment ``name`` was read to its end (``end_offset``): drop it, add its successors."""
    entry = txn.s.segments.get(name, {})
    txn.put(_SEGMENT, name, None)
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
            txn.put(_FUTURE, succ, fut)
        else:
            txn.put(_FUTURE, succ, None)
            txn.put(_SEGMENT, succ, _segment_entry(None, 0, ends.get(succ)))


async def _backoff(attempt: int) -> None:
    await asyncio.sleep(random.uniform(0, min(0.05, 0.001 * 2 ** min(attempt, 10))))


_CONFLICTS = (errors.BadKeyVersionError, errors.KeyDoesNotExistError)


# -- the group ----------------------------------------------------------------------------


class ReaderGroup:
    """Use :meth:`pravega.aio.Client.create_reader_group` / ``reader_group``."""

    def __init__(
        self,
        ctx: ClientContext,
        scope: str,
        name: str,
        config: ReaderGroupConfig | None = None,
        register: Callable[[Any], None] | None = None,
    ) -> None:
        self.ctx = ctx
        self.scope = scope
        self.name = name
        #: The configuration (for an opened group: as stored, with resolved start cuts).
        self.config: ReaderGroupConfig = config  # type: ignore[assignment]
        self.segments = SegmentClient(ctx)
        self.table = naming.reader_group_state_segment(scope, name)
        self._register = register

    def __repr__(self) -> str:
        return f"ReaderGroup({self.scope}/{self.name}, streams={self.config.streams})"

    # -- creating, opening, deleting --------------------------------------------------

    @classmethod
    async def create(
        cls,
        ctx: ClientContext,
        scope: str,
        name: str,
        config: ReaderGroupConfig,
        register: Callable[[Any], None] | None = None,
    ) -> ReaderGroup:
        """Create the group (an existing group is opened and keeps its configuration)."""
        if not naming.is_valid_reader_group_name(name):
            raise errors.InvalidArgumentError(f"invalid reader group name {name!r}")
        group = cls(ctx, scope, name, config, register)
        start, end = await group._resolve(config)
        await group.segments.create_table(group.table)
        state_config = {
            "streams": config.streams,
            "start": start,
            "end": end,
            "generation": 0,
            "automatic_checkpoint_interval": config.automatic_checkpoint_interval,
            "group_refresh_time": config.group_refresh_time,
            "checkpoint_seq": 0,
            "last_auto_checkpoint": time.time(),
        }
        entries = [(_CONFIG.encode(), NOT_EXISTS, _dump(state_config))]
        for seg, offset in sorted(start.items()):
            entries.append(((_SEGMENT + seg).encode(), NO_VERSION, _dump(_segment_entry(None, offset, end.get(seg)))))
        try:
            await group.segments.update_table(group.table, entries)
        except _CONFLICTS:
            return await cls.open(ctx, scope, name, register)
        return group

    @classmethod
    async def open(
        cls, ctx: ClientContext, scope: str, name: str, register: Callable[[Any], None] | None = None
    ) -> ReaderGroup:
        group = cls(ctx, scope, name, None, register)
        state = await group._read_state()
        group.config = _config_from_state(state.config)
        return group

    @staticmethod
    async def delete_state(ctx: ClientContext, scope: str, name: str) -> bool:
        return await SegmentClient(ctx).delete_table(naming.reader_group_state_segment(scope, name))

    async def delete(self) -> bool:
        """Delete the group's state; its readers fail on their next state access."""
        return await self.segments.delete_table(self.table)

    async def _resolve(self, config: ReaderGroupConfig) -> tuple[dict[str, int], dict[str, int]]:
        """Start and end positions by segment name."""
        start: dict[str, int] = {}
        end: dict[str, int] = {}
        for stream_name in config.streams:
            cut = config.start_cuts.get(stream_name)
            if cut is not None and not cut.is_unbounded:
                start.update(_positions_of(cut))
            elif config.from_tail:
                start.update(await self._tail(stream_name))
            else:
                start.update(await self._head(stream_name))
            ecut = config.end_cuts.get(stream_name)
            if ecut is not None and not ecut.is_unbounded:
                end.update(_positions_of(ecut))
        return start, end

    async def _head(self, stream_name: str) -> dict[str, int]:
        scope, stream = scoped_stream(stream_name)
        head = await self.ctx.controller.get_segments_at(scope, stream, 0)
        return {naming.qualified_segment_name(scope, stream, sid): max(0, off) for sid, off in head.items()}

    async def _tail(self, stream_name: str) -> dict[str, int]:
        scope, stream = scoped_stream(stream_name)
        current = await self.ctx.controller.get_current_segments(scope, stream)
        names = [naming.qualified_segment_name(scope, stream, r.segment_id) for r in current]
        infos = await asyncio.gather(*(self.segments.info(n) for n in names))
        return {n: info.length for n, info in zip(names, infos)}

    # -- state access -----------------------------------------------------------------

    async def _read_state(self) -> _State:
        raw: dict[bytes, tuple[int, bytes]] = {}
        token = b""
        try:
            while True:
                entries, next_token = await self.segments.read_table_entries(self.table, token, 1000)
                for key, version, value in entries:
                    raw[key] = (version, value)  # in write order: later entries win
                if not entries or next_token == token:
                    break
                token = next_token
        except errors.NoSuchSegmentError:
            raise errors.NoSuchReaderGroupError(f"no reader group {self.scope}/{self.name}") from None
        config = raw.pop(_CONFIG.encode(), None)
        if config is None or config[1] == b"null":
            raise errors.NoSuchReaderGroupError(f"no reader group {self.scope}/{self.name}")
        state = _State(config[0], json.loads(config[1]))
        for key, (version, value) in raw.items():
            text = key.decode()
            kind = next((k for k in (_SEGMENT, _FUTURE, _READER, _CHECKPOINT) if text.startswith(k)), None)
            if kind is None:
                continue
            if value == b"null":
                state.tombstones[key] = version
                continue
            state.table(kind)[text[len(kind) :]] = json.loads(value)
        return state

    async def _config_version(self) -> int:
        try:
            found = (await self.segments.read_table(self.table, [_CONFIG.encode()]))[0]
        except errors.NoSuchSegmentError:
            found = None
        if found is None:
            raise errors.NoSuchReaderGroupError(f"no reader group {self.scope}/{self.name}")
        return found[0]

    async def _write(self, txn: _Txn) -> int:
        """Write a change conditionally on the state version it was computed from;
        returns the new state version. Raises BadKeyVersionError on a conflict."""
        entries = [(_CONFIG.encode(), txn.base.version, _dump(txn.s.config))]
        for key, value in txn.ops.items():
            entries.append((key.encode(), NO_VERSION, _dump(value)))
        versions = await self.segments.update_table(self.table, entries)
        return versions[0]

    async def _gc(self, state: _State) -> None:
        if len(state.tombstones) < GC_THRESHOLD:
            return
        try:
            await self.segments.remove_table_keys(self.table, list(state.tombstones.items()))
        except errors.ConditionalCheckFailedError:
            pass  # something was rewritten meanwhile: try again another time

    async def _transact(self, plan: Callable[[_State, _Txn], T]) -> T:
        for attempt in range(MAX_ATTEMPTS):
            state = await self._read_state()
            txn = _Txn(state)
            result = plan(state, txn)
            if not txn.dirty:
                return result
            try:
                await self._write(txn)
            except _CONFLICTS:
                await _backoff(attempt)
                continue
            await self._gc(state)
            return result
        raise errors.RetriesExhaustedError(f"reader group {self.scope}/{self.name}: too many conflicting updates")

    # -- readers ----------------------------------------------------------------------

    async def create_reader(self, reader_id: str, serializer: Serializer[T] | None = None) -> EventReader[T]:
        """Join the group as ``reader_id`` (an id that is not online already)."""
        if not reader_id or not isinstance(reader_id, str):
            raise errors.InterfaceError("a reader id is a non-empty string")

        def plan(state: _State, txn: _Txn) -> int:
            if state.readers.get(reader_id, {}).get("online"):
                raise errors.InterfaceError(
                    f"reader {reader_id!r} is already online in {self.scope}/{self.name} "
                    "(close it, or call reader_offline() if it is gone)"
                )
            txn.put(_READER, reader_id, {"online": True})
            return state.generation

        generation = await self._transact(plan)
        reader: EventReader[T] = EventReader(self, reader_id, serializer, generation)
        if self._register is not None:
            self._register(reader)
        return reader

    async def reader_offline(self, reader_id: str, last_position: Any = None) -> bool:
        """Declare a reader gone: its segments return to the pool at ``last_position``
        ({segment name: offset}, a StreamCut or {stream: StreamCut}) where given, else at
        the offsets it last wrote back. False if it was not online."""
        positions = _position_arg(last_position)

        def plan(state: _State, txn: _Txn) -> bool:
            if not state.readers.get(reader_id, {}).get("online"):
                return False
            txn.put(_READER, reader_id, {"online": False})
            _release_all(txn, reader_id, positions)
            return True

        return await self._transact(plan)

    async def _reader_closed(self, reader_id: str, positions: dict[str, int], generation: int) -> None:
        def plan(state: _State, txn: _Txn) -> None:
            if not state.readers.get(reader_id, {}).get("online"):
                return
            txn.put(_READER, reader_id, {"online": False})
            _release_all(txn, reader_id, positions if state.generation == generation else None)

        await self._transact(plan)

    async def online_readers(self) -> list[str]:
        return (await self._read_state()).online()

    # -- checkpoints, cuts, reset -------------------------------------------------------

    async def initiate_checkpoint(self, name: str, timeout: float = 30.0) -> Checkpoint:
        """Start a checkpoint and wait until every online reader acknowledged it (readers
        acknowledge inside ``read_next_event``). On timeout the checkpoint is aborted."""
        if not name:
            raise errors.InterfaceError("a checkpoint needs a name")

        def plan(state: _State, txn: _Txn) -> None:
            if name in state.checkpoints:
                raise errors.InterfaceError(f"checkpoint {name!r} already exists in {self.scope}/{self.name}")
            _new_checkpoint(txn, name, timeout)

        await self._transact(plan)
        key = (_CHECKPOINT + name).encode()
        deadline = time.monotonic() + timeout
        while True:
            found = (await self.segments.read_table(self.table, [key]))[0]
            cp = None if found is None else json.loads(found[1])
            if cp is None:
                raise CheckpointFailedError(f"checkpoint {name!r} was aborted (by a reset?)")
            if cp.get("complete"):
                return Checkpoint(name, _cuts_of(cp["positions"]), dict(cp["positions"]))
            if time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.02)

        def abort(state: _State, txn: _Txn) -> Any:
            cp = state.checkpoints.get(name)
            if cp is None or cp.get("complete"):
                return cp
            txn.put(_CHECKPOINT, name, None)
            return cp

        cp = await self._transact(abort)
        if cp is not None and cp.get("complete"):
            return Checkpoint(name, _cuts_of(cp["positions"]), dict(cp["positions"]))
        pending = cp["pending"] if cp else "?"
        raise CheckpointTimeoutError(
            f"checkpoint {name!r} of {self.scope}/{self.name} timed out after {timeout}s: readers {pending} did not "
            "acknowledge (every online reader must call read_next_event; use reader_offline() for readers that are gone)"
        )

    async def latest_checkpoint(self) -> Checkpoint | None:
        """The most recent completed checkpoint still kept in the state, if any."""
        state = await self._read_state()
        done = [(cp.get("seq", 0), n, cp) for n, cp in state.checkpoints.items() if cp.get("complete")]
        if not done:
            return None
        _, name, cp = max(done)
        return Checkpoint(name, _cuts_of(cp["positions"]), dict(cp["positions"]))

    async def reset(self, target: Any = None) -> None:
        """Restart the group from a :class:`Checkpoint`, from stream cuts (streams without
        one restart from their start cut) or, with None, from the start cuts. Readers
        drop what they own and acquire from the new positions."""
        state = await self._read_state()
        start: dict[str, int] = dict(state.config.get("start", {}))
        streams: list[str] = list(state.config.get("streams", []))
        if isinstance(target, Checkpoint):
            positions = dict(target.segment_positions)
        elif target is None:
            positions = start
        else:
            cuts = _cut_map(target, "reset")
            positions = {}
            for stream_name in streams:
                cut = cuts.pop(stream_name, None)
                if cut is None:
                    positions.update({s: o for s, o in start.items() if _stream_of(s) == stream_name})
                elif cut.is_unbounded:
                    positions.update(await self._head(stream_name))
                else:
                    positions.update(_positions_of(cut))
            if cuts:
                raise errors.InterfaceError(f"the group does not read {sorted(cuts)}")
        for seg in positions:
            if _stream_of(seg) not in streams:
                raise errors.InterfaceError(f"segment {seg} is not in a stream the group reads")

        def plan(state: _State, txn: _Txn) -> None:
            ends = state.config.get("end", {})
            for seg in list(state.segments):
                txn.put(_SEGMENT, seg, None)
            for seg in list(state.futures):
                txn.put(_FUTURE, seg, None)
            for name, _ in state.pending():
                txn.put(_CHECKPOINT, name, None)
            for seg, offset in sorted(positions.items()):
                txn.put(_SEGMENT, seg, _segment_entry(None, offset, ends.get(seg)))
            txn.s.config["generation"] = state.generation + 1
            txn.config_changed = True

        await self._transact(plan)

    async def get_streamcut(self) -> dict[str, StreamCut]:
        """The group's current position in each stream it still reads (offsets as the
        readers last wrote them back)."""
        return _cuts_of(_current_positions(await self._read_state()))

    async def unread_bytes(self) -> int:
        """Bytes between the group's positions and the tails (or end cuts) of its
        segments: a backlog metric."""
        state = await self._read_state()
        open_ended = [s for s, e in state.segments.items() if e.get("end") is None]
        infos = await asyncio.gather(*(self.segments.info(s) for s in open_ended), return_exceptions=True)
        lengths = {s: i.length for s, i in zip(open_ended, infos) if not isinstance(i, BaseException)}
        total = 0
        for seg, entry in state.segments.items():
            tail = entry["end"] if entry.get("end") is not None else lengths.get(seg, entry["offset"])
            total += max(0, tail - entry["offset"])
        return total


def _stream_of(segment: str) -> str:
    scope, stream, _ = naming.parse_segment_name(segment)
    return f"{scope}/{stream}"


def _position_arg(value: Any) -> dict[str, int] | None:
    if value is None:
        return None
    if isinstance(value, StreamCut):
        return _positions_of(value)
    if isinstance(value, Checkpoint):
        return dict(value.segment_positions)
    if isinstance(value, Mapping):
        out: dict[str, int] = {}
        for key, val in value.items():
            if isinstance(val, StreamCut):
                out.update(_positions_of(val))
            else:
                naming.parse_segment_name(key)
                out[key] = int(val)
        return out
    raise errors.InterfaceError(f"a position is {{segment: offset}} or stream cuts, got {value!r}")


def _config_from_state(cfg: dict) -> ReaderGroupConfig:
    streams = cfg.get("streams", [])
    start = {s: c for s, c in _cuts_of(cfg.get("start", {})).items() if s in streams}
    end = {s: c for s, c in _cuts_of(cfg.get("end", {})).items() if s in streams}
    return ReaderGroupConfig(
        streams, start, end, False, cfg.get("automatic_checkpoint_interval"), cfg.get("group_refresh_time", 1.0)
    )


# -- readers ------------------------------------------------------------------------------


class _Owned:
    """A segment this reader owns: its read task and the events it fetched."""

    def __init__(self, name: str, offset: int, end: int | None) -> None:
        self.name = name
        self.offset = offset  # just after the last event returned
        self.end = end
        self.queue: deque[_Chunk] = deque()  # parsed events not returned yet
        self.buffered = 0
        self.space = asyncio.Event()
        self.space.set()
        self.at_end = False  # fetched everything up to the segment's end (or end cut)
        self.deleted = False
        self.error: BaseException | None = None
        self.task: asyncio.Task | None = None
        self.reader: SegmentReader | None = None
        self.stopped = False
        self.successors: dict[SegmentRange, list[int]] | None = None

    @property
    def finished(self) -> bool:
        return self.at_end and not self.queue


class _Chunk:
    """The events parsed from one read: parallel lists, and how many were returned."""

    __slots__ = ("offsets", "payloads", "taken", "nbytes")

    def __init__(self, offsets: list[int], payloads: list[bytes], nbytes: int) -> None:
        self.offsets = offsets
        self.payloads = payloads
        self.taken = 0
        self.nbytes = nbytes


@dataclass(frozen=True)
class EventBatch(Generic[T]):
    """Consecutive events of one segment, from :meth:`EventReader.read_batch`.

    ``events[i]`` starts at ``offsets[i]``; ``position`` is (segment, offset just after the
    last event), the reader's position in that segment once the batch is returned.
    """

    segment: str
    events: list[T]
    offsets: list[int]
    position: tuple[str, int]

    def __len__(self) -> int:
        return len(self.events)

    def __iter__(self) -> Iterator[T]:
        return iter(self.events)


@dataclass
class _Plan:
    generation: int
    reset: bool = False
    drop: list[str] = field(default_factory=list)
    start: list[tuple[str, int, int | None]] = field(default_factory=list)  # adopted or acquired
    checkpoint: str | None = None
    wrote_positions: bool = False
    finished: bool = False


class EventReader(Generic[T]):
    """A member of a reader group. Call :meth:`read_next_event` in a loop; call
    :meth:`close` (or :meth:`offline`) when done, so its segments go to the others.

    Not safe for concurrent ``read_next_event`` calls; one reader per task.
    """

    def __init__(self, group: ReaderGroup, reader_id: str, serializer: Serializer[T] | None, generation: int) -> None:
        self.group = group
        self.reader_id = reader_id
        self.serializer = serializer or BytesSerializer()
        self.refresh_time = group.config.group_refresh_time
        self.poll_interval = min(0.1, self.refresh_time)
        #: (segment, offset, new head) for every jump over truncated data.
        self.truncations: list[tuple[str, int, int]] = []
        self._owned: dict[str, _Owned] = {}
        self._rr = 0
        self._wakeup = asyncio.Event()
        self._lock = asyncio.Lock()
        self._checkpoints: deque[str] = deque()
        self._gen = generation
        self._seen_version = -1
        self._must_sync = True
        self._next_poll = 0.0
        self._last_flush = time.monotonic()
        self._finished = False
        self._closed = False
        self._offline = False
        self._busy = False

    def __repr__(self) -> str:
        return f"EventReader({self.reader_id!r} in {self.group.scope}/{self.group.name})"

    async def __aenter__(self) -> EventReader[T]:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def finished(self) -> bool:
        """True once the group has nothing left to read (every end cut reached, or every
        stream sealed and read)."""
        return self._finished

    def get_position(self) -> dict[str, int]:
        """{segment: offset just after the last event returned} for the owned segments."""
        return {name: o.offset for name, o in self._owned.items()}

    # -- reading ------------------------------------------------------------------

    async def read_next_event(self, timeout: float = 1.0) -> EventRead[T] | None:
        """The next event (or checkpoint), or None if none came within ``timeout``
        seconds (at once if the group finished reading)."""
        return await self._read(self._pop, timeout)

    async def read_batch(self, timeout: float = 1.0, max_events: int = 10_000) -> EventBatch[T] | EventRead[T] | None:
        """The next run of buffered events of one segment as an :class:`EventBatch`
        (much cheaper per event than :meth:`read_next_event`), a checkpoint as an
        :class:`EventRead`, or None if nothing came within ``timeout`` seconds."""
        return await self._read(lambda: self._pop_batch(max_events), timeout)

    async def _read(self, pop: Callable[[], Any], timeout: float) -> Any:
        if self._offline:
            raise ReaderNotInGroupError(f"reader {self.reader_id!r} is not in {self.group.scope}/{self.group.name}")
        if self._closed:
            raise errors.InterfaceError("the reader is closed")
        if self._busy:
            raise errors.InterfaceError("a read is already running on this reader")
        self._busy = True
        try:
            deadline = time.monotonic() + timeout
            while True:
                self._wakeup.clear()
                if self._must_sync or time.monotonic() >= self._next_poll:  # skip the await when not due
                    await self._maybe_sync()
                if self._closed:
                    return None
                if self._checkpoints:
                    return EventRead(None, b"", None, -1, self._checkpoints.popleft())
                result = pop()
                if result is not None:
                    return result
                if self._finished and not self._owned:
                    return None
                now = time.monotonic()
                if now >= deadline:
                    return None
                wait = max(0.001, min(deadline, self._next_poll) - now)
                try:
                    await asyncio.wait_for(self._wakeup.wait(), wait)
                except TimeoutError:
                    pass
        finally:
            self._busy = False

    def _next_ready(self) -> _Owned | None:
        """The next owned segment (round robin) with events buffered; re-raises a
        segment's read error after restarting its reading at the last event returned."""
        owned = list(self._owned.values())
        n = len(owned)
        for i in range(n):
            o = owned[(self._rr + i) % n]
            if o.error is not None:
                error = o.error
                self._stop(o.name)  # read it again from the last event returned
                self._start(o.name, o.offset, o.end)
                raise error
            if o.queue:
                self._rr = (self._rr + i + 1) % n
                return o
        return None

    def _consumed(self, o: _Owned, chunk: _Chunk) -> None:
        o.queue.popleft()
        o.buffered -= chunk.nbytes
        if o.buffered < MAX_BUFFERED:
            o.space.set()
        if o.finished:
            self._next_poll = 0.0  # complete it soon

    def _pop(self) -> EventRead[T] | None:
        o = self._next_ready()
        if o is None:
            return None
        chunk = o.queue[0]
        i = chunk.taken
        payload, event_offset = chunk.payloads[i], chunk.offsets[i]
        chunk.taken = i + 1
        next_offset = event_offset + _EVENT_HEADER_SIZE + len(payload)
        o.offset = next_offset
        if chunk.taken == len(chunk.payloads):
            self._consumed(o, chunk)
        return EventRead(self.serializer.deserialize(payload), payload, (o.name, next_offset), event_offset)

    def _pop_batch(self, max_events: int) -> EventBatch[T] | None:
        o = self._next_ready()
        if o is None:
            return None
        chunk = o.queue[0]
        start = chunk.taken
        stop = min(len(chunk.payloads), start + max(1, max_events))
        payloads = chunk.payloads[start:stop] if start or stop < len(chunk.payloads) else chunk.payloads
        offsets = chunk.offsets[start:stop] if start or stop < len(chunk.offsets) else chunk.offsets
        chunk.taken = stop
        o.offset = offsets[-1] + _EVENT_HEADER_SIZE + len(payloads[-1])
        if stop == len(chunk.payloads):
            self._consumed(o, chunk)
        deserialize = self.serializer.deserialize
        events = payloads if isinstance(self.serializer, BytesSerializer) else [deserialize(p) for p in payloads]
        return EventBatch(o.name, events, offsets, (o.name, o.offset))

    async def _fetch(self, o: _Owned) -> None:
        """Read segment ``o`` into its queue until its end (or end cut)."""
        reader = o.reader = SegmentReader(self.group.ctx, o.name, o.offset, READ_SIZE)
        parser = EventParser(o.offset)
        failures = 0
        try:
            while not o.stopped:
                if o.end is not None and reader.offset >= o.end:
                    break
                while o.buffered >= MAX_BUFFERED and not o.stopped:
                    o.space.clear()
                    await o.space.wait()
                if o.stopped:
                    return
                try:
                    result = await reader.read()
                except errors.SegmentTruncatedError as exc:
                    if exc.start_offset <= reader.offset:
                        raise
                    head = exc.start_offset
                    log.warning("%s: offset %d was truncated; continuing at the head %d", o.name, reader.offset, head)
                    self.truncations.append((o.name, reader.offset, head))
                    reader.seek(head)
                    parser = EventParser(head)
                    continue
                except errors.NoSuchSegmentError:
                    log.warning("%s no longer exists; treating it as read to its end", o.name)
                    o.deleted = True
                    break
                except (errors.ConnectionLostError, errors.RetriesExhaustedError) as exc:
                    if o.stopped:
                        return
                    failures += 1
                    if failures > 20:
                        raise
                    log.info("%s: read failed (%s); retrying", o.name, exc)
                    await asyncio.sleep(min(2.0, 0.05 * 2**failures))
                    continue
                if o.stopped:
                    return
                failures = 0
                data = result.data
                if o.end is not None and result.offset + len(data) > o.end:
                    data = data[: max(0, o.end - result.offset)]
                if data:
                    offsets, payloads = parser.feed_lists(data)
                    if payloads:
                        o.queue.append(_Chunk(offsets, payloads, len(data)))
                        o.buffered += len(data)
                        self._wakeup.set()
                if result.end_of_segment:
                    break
            if o.stopped:
                return
            o.at_end = True
            if o.finished:
                self._next_poll = 0.0
            self._wakeup.set()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            o.error = exc
            self._wakeup.set()
        finally:
            reader.close()

    def _start(self, name: str, offset: int, end: int | None) -> None:
        o = _Owned(name, offset, end)
        self._owned[name] = o
        o.task = asyncio.ensure_future(self._fetch(o))

    def _stop(self, name: str) -> _Owned | None:
        o = self._owned.pop(name, None)
        if o is not None:
            # The flag and the closed connection stop the task even if a cancellation
            # gets lost on the way (asyncio.wait_for on Python 3.11 can swallow one).
            o.stopped = True
            o.space.set()
            if o.task is not None:
                o.task.cancel()
            if o.reader is not None:
                o.reader.close()
        return o

    # -- the shared state -----------------------------------------------------------

    async def _maybe_sync(self) -> None:
        now = time.monotonic()
        if not self._must_sync and now < self._next_poll:
            return
        self._next_poll = now + self.poll_interval
        refresh_due = now - self._last_flush >= self.refresh_time
        if not (self._must_sync or refresh_due or any(o.finished for o in self._owned.values())):
            if await self.group._config_version() == self._seen_version:
                return
        await self._sync(refresh_due)

    async def _sync(self, write_positions: bool) -> None:
        async with self._lock:
            if self._closed:
                return
            self._must_sync = True  # until the local side matches what was written
            for o in list(self._owned.values()):
                if o.finished and o.end is None and o.successors is None:
                    o.successors = await self._successors(o)
            for attempt in range(MAX_ATTEMPTS):
                state = await self.group._read_state()
                await self.group._gc(state)
                txn = _Txn(state)
                try:
                    plan = self._plan(state, txn, write_positions)
                except ReaderNotInGroupError:
                    self._offline = True
                    for name in list(self._owned):
                        self._stop(name)
                    raise
                if txn.dirty:
                    try:
                        version = await self.group._write(txn)
                    except _CONFLICTS:
                        await _backoff(attempt)
                        continue
                else:
                    version = state.version
                if plan.wrote_positions or write_positions:
                    self._last_flush = time.monotonic()
                self._seen_version = version
                self._apply(plan)
                self._must_sync = False
                return
            raise errors.RetriesExhaustedError(f"{self}: too many conflicting state updates")

    async def _successors(self, o: _Owned) -> dict[SegmentRange, list[int]] | None:
        """Successors of a finished segment; None while the controller does not know them
        yet (the segment is sealed but the scale is not recorded yet)."""
        scope, stream, sid = naming.parse_segment_name(o.name)
        try:
            found = await self.group.ctx.controller.get_successors(scope, stream, sid)
            if found or o.deleted:
                return found
            current = await self.group.ctx.controller.get_current_segments(scope, stream)
        except (errors.NoSuchStreamError, errors.InvalidArgumentError):
            return {}
        if any(r.segment_id == sid for r in current):
            return None
        return {}

    def _plan(self, state: _State, txn: _Txn, write_positions: bool) -> _Plan:
        """What to change in the state (into ``txn``) and locally (the returned plan)."""
        me = self.reader_id
        plan = _Plan(state.generation)
        if not state.readers.get(me, {}).get("online"):
            raise ReaderNotInGroupError(f"reader {me!r} is not online in {self.group.scope}/{self.group.name}")
        local = dict(self._owned)
        if state.generation != self._gen:
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
            if time.time() > cp.get("deadline", math.inf) + STALE_CHECKPOINT_GRACE:
                txn.put(_CHECKPOINT, name, None)

        # Acknowledge the oldest checkpoint waiting for this reader.
        for name, cp in txn.s.pending():
            if me in cp["pending"]:
                cp = copy.deepcopy(cp)
                cp["pending"].remove(me)
                cp["acks"][me] = dict(mine)
                txn.put(_CHECKPOINT, name, cp)
                _maybe_complete(txn, name, cp)
                plan.checkpoint = name
                break
        held = any(me in cp["acks"] for _, cp in txn.s.pending())

        # Finished segments: unless holding for a checkpoint this reader acknowledged.
        if not held:
            for name in list(mine):
                o = local.get(name)
                if o is None or not o.finished:
                    continue
                if segs[name].get("end") is None and o.successors is None:
                    continue  # successors not known yet: next time
                _complete_segment(txn, name, o.offset, o.successors or {})
                del mine[name]
                plan.drop.append(name)

        # Rebalance (never while a checkpoint is pending).
        if not txn.s.pending():
            online = txn.s.online()
            fair = math.ceil(len(txn.s.segments) / max(1, len(online)))
            if len(mine) > fair:
                spare = sorted((n for n in mine if not (local.get(n) and local[n].finished)), reverse=True)
                for name in spare[: len(mine) - fair]:
                    txn.put(_SEGMENT, name, {**segs[name], "owner": None, "offset": mine.pop(name)})
                    plan.drop.append(name)
            elif len(mine) < fair:
                free = sorted(n for n, e in segs.items() if e.get("owner") is None)
                for name in free[: fair - len(mine)]:
                    entry = segs[name]
                    txn.put(_SEGMENT, name, {**entry, "owner": me})
                    plan.start.append((name, entry["offset"], entry.get("end")))
            interval = txn.s.config.get("automatic_checkpoint_interval")
            if interval and online and time.time() - txn.s.config.get("last_auto_checkpoint", 0) >= interval:
                seq = int(txn.s.config.get("checkpoint_seq", 0)) + 1
                while f"auto-{seq}" in txn.s.checkpoints:
                    seq += 1
                txn.s.config["last_auto_checkpoint"] = time.time()
                _new_checkpoint(txn, f"auto-{seq}", max(AUTO_CHECKPOINT_TIMEOUT, 3 * interval))

        # Positions: on the refresh schedule, or whenever something is written anyway.
        if write_positions or txn.dirty:
            for name, offset in mine.items():
                entry = segs[name]
                if entry["offset"] != offset:
                    txn.put(_SEGMENT, name, {**entry, "offset": offset})
            plan.wrote_positions = True
        plan.finished = not txn.s.segments and not txn.s.futures
        return plan

    def _apply(self, plan: _Plan) -> None:
        if plan.reset:
            for name in list(self._owned):
                self._stop(name)
            self._checkpoints.clear()
            self._gen = plan.generation
        for name in plan.drop:
            self._stop(name)
        for name, offset, end in plan.start:
            self._stop(name)
            self._start(name, offset, end)
        if plan.checkpoint is not None:
            self._checkpoints.append(plan.checkpoint)
        self._finished = plan.finished

    # -- leaving --------------------------------------------------------------------

    async def close(self) -> None:
        """Leave the group: write the positions back and release the segments."""
        if self._closed:
            return
        self._closed = True
        self._wakeup.set()
        async with self._lock:
            positions = self.get_position()
            tasks = [o.task for o in self._owned.values() if o.task is not None]
            for name in list(self._owned):
                self._stop(name)
            if tasks:
                await asyncio.wait(tasks, timeout=5.0)
            if self._offline:
                return
            try:
                await self.group._reader_closed(self.reader_id, positions, self._gen)
            except errors.NoSuchReaderGroupError:
                pass

    offline = close
