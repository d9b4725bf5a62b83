"""Reader groups: readers, in one process or many, that share the segments of some
streams so that every event is read once; checkpoints, resets and stream cuts.

The group's shared state is one table segment; its layout and every transition are in
:mod:`.reader_group_state` (pure functions). :class:`ReaderGroup` here does the I/O of
each operation: read the state, apply a transition to a copy, write the change back
conditionally on the version read, and retry from a fresh read on a conflict. Readers
are :class:`~.event_reader.EventReader`; configuration is in :mod:`.reader_group_config`.
This module re-exports the public names of all three.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

from .. import errors, naming
from ..model import StreamCut, scoped_stream
from ..serializers import Serializer
from . import reader_group_layout as layout
from . import reader_group_state as rgs
from .context import ClientContext
from .event_reader import MAX_BUFFERED, READ_SIZE, EventBatch, EventRead, EventReader
from .reader_group_config import (
    Checkpoint,
    ReaderGroupConfig,
    config_from_state,
    cut_map,
    cuts_of,
    position_arg,
    positions_of,
    reader_group_config,
    stream_of,
)
from .reader_group_state import (
    AUTO_CHECKPOINT_TIMEOUT,
    KEEP_CHECKPOINTS,
    MAX_ATTEMPTS,
    STALE_CHECKPOINT_GRACE,
    ReaderNotInGroupError,
    State,
    Txn,
)
from .segment_reader import SegmentClient

__all__ = [
    "AUTO_CHECKPOINT_TIMEOUT",
    "GC_THRESHOLD",
    "KEEP_CHECKPOINTS",
    "MAX_ATTEMPTS",
    "MAX_BUFFERED",
    "READ_SIZE",
    "STALE_CHECKPOINT_GRACE",
    "Checkpoint",
    "CheckpointFailedError",
    "CheckpointTimeoutError",
    "EventBatch",
    "EventRead",
    "EventReader",
    "ReaderGroup",
    "ReaderGroupConfig",
    "ReaderNotInGroupError",
    "reader_group_config",
]

T = TypeVar("T")

#: Tombstones tolerated before they are removed from the table.
GC_THRESHOLD = 64

_CONFLICTS = (errors.BadKeyVersionError, errors.KeyDoesNotExistError)


class CheckpointFailedError(errors.PravegaError):
    """A checkpoint was aborted: by a reset, or by its initiator's timeout."""


class CheckpointTimeoutError(CheckpointFailedError, TimeoutError):
    """Not every online reader acknowledged a checkpoint in time."""


async def _backoff(attempt: int) -> None:
    await asyncio.sleep(random.uniform(0, min(0.05, 0.001 * 2 ** min(attempt, 10))))


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
        self.table = layout.table_segment(scope, name)
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
        try:
            await group.segments.update_table(group.table, rgs.initial_entries(state_config))
        except _CONFLICTS:
            return await cls.open(ctx, scope, name, register)
        return group

    @classmethod
    async def open(
        cls, ctx: ClientContext, scope: str, name: str, register: Callable[[Any], None] | None = None
    ) -> ReaderGroup:
        group = cls(ctx, scope, name, None, register)
        state = await group._read_state()
        group.config = config_from_state(state.config)
        return group

    @staticmethod
    async def delete_state(ctx: ClientContext, scope: str, name: str) -> bool:
        return await SegmentClient(ctx).delete_table(layout.table_segment(scope, name))

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
                start.update(positions_of(cut))
            elif config.from_tail:
                start.update(await self._tail(stream_name))
            else:
                start.update(await self._head(stream_name))
            ecut = config.end_cuts.get(stream_name)
            if ecut is not None and not ecut.is_unbounded:
                end.update(positions_of(ecut))
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

    async def _read_state(self) -> State:
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
            raise await self._no_such_group() from None
        state = rgs.state_from_entries(raw)
        if state is None:
            raise errors.NoSuchReaderGroupError(f"no reader group {self.scope}/{self.name}")
        return state

    async def _no_such_group(self) -> errors.NoSuchReaderGroupError:
        """The error for a missing group; it names the state of an earlier version of this
        client (another table, not read any more) if that exists."""
        message = f"no reader group {self.scope}/{self.name}"
        try:
            await self.segments.info(naming.reader_group_state_segment(self.scope, self.name))
        except errors.PravegaError:
            return errors.NoSuchReaderGroupError(message)
        return errors.NoSuchReaderGroupError(
            f"{message}: there is one in the format of an earlier version of this client, which is not read any "
            "more (it now shares groups with the official client); create the group again"
        )

    async def _config_version(self) -> tuple[int, ...]:
        """The version of the whole state (its version markers), read cheaply."""
        try:
            found = await self.segments.read_table(self.table, layout.marker_keys())
        except errors.NoSuchSegmentError:
            raise errors.NoSuchReaderGroupError(f"no reader group {self.scope}/{self.name}") from None
        return tuple(layout.NOT_EXISTS if f is None else f[0] for f in found)

    async def _write(self, txn: Txn) -> tuple[int, ...]:
        """Write a change conditionally on the state version it was computed from;
        returns the new state version. Raises BadKeyVersionError on a conflict."""
        entries = rgs.entries_of(txn)
        if not entries:
            return txn.base.version
        versions = await self.segments.update_table(self.table, entries)
        return layout.version_after(txn.base, entries, versions)

    async def _try_write(self, txn: Txn, attempt: int) -> tuple[int, ...] | None:
        """:meth:`_write`, or None after a short backoff if a conflicting change came
        first (the caller recomputes its change from a fresh read)."""
        try:
            return await self._write(txn)
        except _CONFLICTS:
            await _backoff(attempt)
            return None

    async def _gc(self, state: State) -> None:
        if len(state.tombstones) < GC_THRESHOLD:
            return
        try:
            await self.segments.remove_table_keys(self.table, list(state.tombstones.items()))
        except (*_CONFLICTS, errors.ConditionalCheckFailedError):
            pass  # something was rewritten meanwhile: try again another time

    async def _transact(self, plan: Callable[[State, Txn], T]) -> T:
        for attempt in range(MAX_ATTEMPTS):
            state = await self._read_state()
            txn = Txn(state)
            result = plan(state, txn)
            if not txn.dirty:
                return result
            if await self._try_write(txn, attempt) is None:
                continue
            await self._gc(state)
            return result
        raise errors.RetriesExhaustedError(f"reader group {self.scope}/{self.name}: too many conflicting updates")

    # -- readers ----------------------------------------------------------------------

    async def create_reader(self, reader_id: str, serializer: Serializer[T] | None = None) -> EventReader[T]:
        """Join the group as ``reader_id`` (an id that is not online already)."""
        if not reader_id or not isinstance(reader_id, str):
            raise errors.InterfaceError("a reader id is a non-empty string")

        where = f"{self.scope}/{self.name}"
        generation = await self._transact(lambda state, txn: rgs.add_reader(state, txn, reader_id, where))
        reader: EventReader[T] = EventReader(self, reader_id, serializer, generation)
        if self._register is not None:
            self._register(reader)
        return reader

    async def reader_offline(self, reader_id: str, last_position: Any = None) -> bool:
        """Declare a reader gone: its segments return to the pool at ``last_position``
        ({segment name: offset}, a StreamCut or {stream: StreamCut}) where given, else at
        the offsets it last wrote back. False if it was not online."""
        positions = position_arg(last_position)

        return await self._transact(lambda state, txn: rgs.remove_reader(state, txn, reader_id, positions))

    async def _reader_closed(self, reader_id: str, positions: dict[str, int], generation: int) -> None:
        def plan(state: State, txn: Txn) -> None:
            rgs.remove_reader(state, txn, reader_id, positions if state.generation == generation else None)

        await self._transact(plan)

    async def online_readers(self) -> list[str]:
        return (await self._read_state()).online()

    # -- checkpoints, cuts, reset -------------------------------------------------------

    async def initiate_checkpoint(self, name: str, timeout: float = 30.0) -> Checkpoint:
        """Start a checkpoint and wait until every online reader acknowledged it (readers
        acknowledge inside ``read_next_event``). On timeout the checkpoint is aborted."""
        if not name:
            raise errors.InterfaceError("a checkpoint needs a name")

        def plan(state: State, txn: Txn) -> None:
            if name in state.checkpoints:
                raise errors.InterfaceError(f"checkpoint {name!r} already exists in {self.scope}/{self.name}")
            rgs.new_checkpoint(txn, name, timeout, time.time())

        await self._transact(plan)
        key = layout.checkpoint_key(name)
        deadline = time.monotonic() + timeout
        while True:
            found = (await self.segments.read_table(self.table, [key]))[0]
            cp = None if found is None else layout.checkpoint_value(found[1])
            if cp is None:
                raise CheckpointFailedError(f"checkpoint {name!r} was aborted (by a reset?)")
            if cp.get("complete"):
                return rgs.checkpoint_of(name, cp)
            if time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.02)

        cp = await self._transact(lambda state, txn: rgs.abort_checkpoint(state, txn, name))
        if cp is not None and cp.get("complete"):
            return rgs.checkpoint_of(name, cp)
        pending = cp["pending"] if cp else "?"
        raise CheckpointTimeoutError(
            f"checkpoint {name!r} of {self.scope}/{self.name} timed out after {timeout}s: readers {pending} did not "
            "acknowledge (every online reader must call read_next_event; use reader_offline() for readers that are gone)"
        )

    async def latest_checkpoint(self) -> Checkpoint | None:
        """The most recent completed checkpoint still kept in the state, if any."""
        return rgs.latest_checkpoint(await self._read_state())

    async def reset(self, target: Any = None) -> None:
        """Restart the group from a :class:`Checkpoint`, from stream cuts (streams without
        one restart from their start cut) or, with None, from the start cuts. Readers
        drop what they own and acquire from the new positions."""
        state = await self._read_state()
        start: dict[str, int] = dict(state.config.get("start", {}))
        streams: list[str] = list(state.config.get("streams", []))
        if isinstance(target, Checkpoint):
            positions = dict(target.segment_positions)
        else:
            cuts = cut_map(target, "reset")
            positions = {}
            for stream_name in streams:
                cut = cuts.pop(stream_name, None)
                if cut is None:
                    own = {s: o for s, o in start.items() if stream_of(s) == stream_name}
                    if not own and stream_name in state.config.get("tail_started", []):
                        raise errors.InterfaceError(
                            f"the official client started this group at the tail of {stream_name} and did not record "
                            "where that was: reset it to a stream cut"
                        )
                    # No start positions: a group the official client created from the head.
                    positions.update(own or await self._head(stream_name))
                elif cut.is_unbounded:
                    positions.update(await self._head(stream_name))
                else:
                    positions.update(positions_of(cut))
            if cuts:
                raise errors.InterfaceError(f"the group does not read {sorted(cuts)}")
        for seg in positions:
            if stream_of(seg) not in streams:
                raise errors.InterfaceError(f"segment {seg} is not in a stream the group reads")

        await self._transact(lambda state, txn: rgs.reset(state, txn, positions))

    async def get_streamcut(self) -> dict[str, StreamCut]:
        """The group's current position in each stream it still reads (offsets as the
        readers last wrote them back)."""
        return cuts_of(rgs.current_positions(await self._read_state()))

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
