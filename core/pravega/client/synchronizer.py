"""State synchronizers: a small state shared by many processes, kept consistent with
conditional appends on a single-segment stream.

>>> sync = await client.create_synchronizer(                            # doctest: +SKIP
...     "sc", "counters", {}, JsonSerializer(),
...     apply=lambda state, upd: {**state, upd["k"]: state.get(upd["k"], 0) + upd["n"]})
>>> await sync.update(lambda state: {"k": "a", "n": 1})
>>> sync.state
{'a': 1}

The segment is a log of records. Every process holds a copy of the state and the
*revision* it reflects: the segment offset just after the last record it applied.
An update is appended with ``ConditionalBlockEnd`` at exactly that revision, so it
succeeds only if nobody appended since; otherwise the process fetches the new records,
applies them, recomputes its update from the new state and tries again. All copies
therefore apply the same records in the same order.

Record framing: each record is stored as an event (``00000000`` + i32 length, so
event readers can split the segment) whose payload starts with one kind byte —
``0x01`` an update, ``0x02`` a snapshot of the whole state — followed by the
serialized update or state. :meth:`StateSynchronizer.compact` appends a snapshot and
truncates the segment before it; a process that finds its revision truncated away
(and any new process) starts from the snapshot at the head. The first process on an
empty stream writes the initial state as a snapshot at offset 0.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from .. import errors
from ..protocol.framing import frame_event
from ..serializers import JsonSerializer, Serializer
from .conditional import MAX_APPEND_SIZE, ConditionalAppender
from .context import ClientContext
from .segment_reader import EventParser, SegmentClient, SegmentReader
from .single_segment import close_segment_io, open_single_segment

S = TypeVar("S")  # the state
U = TypeVar("U")  # an update

UPDATE = 0x01
SNAPSHOT = 0x02


def _record(kind: int, payload: bytes) -> bytes:
    """One event of the synchronizer's segment: a kind byte, then the payload."""
    return frame_event(bytes((kind,)) + payload)


class StateSynchronizer(Generic[S, U]):
    """Use :meth:`pravega.aio.Client.create_synchronizer`.

    ``apply(state, update) -> state`` folds one update into the state (it may return
    a new object or the mutated one); it must be deterministic, since every process
    applies the same updates. ``update_serializer`` defaults to ``serializer``; the
    default ``apply`` replaces the state by the update.
    """

    def __init__(
        self,
        ctx: ClientContext,
        scope: str,
        stream: str,
        initial_state: S,
        serializer: Serializer[S] | None = None,
        apply: Callable[[S, U], S] | None = None,
        update_serializer: Serializer[U] | None = None,
    ) -> None:
        self.ctx = ctx
        self.scope = scope
        self.stream = stream
        self.serializer: Serializer[S] = serializer or JsonSerializer()
        self.update_serializer: Serializer[U] = update_serializer or self.serializer  # type: ignore[assignment]
        self.apply: Callable[[S, U], S] = apply or (lambda state, update: update)  # type: ignore[assignment,return-value]
        self._initial = initial_state
        self._state: S = initial_state
        self._revision = -1  # nothing fetched yet
        self.segment = ""
        self._segments = SegmentClient(ctx)
        self._appender: ConditionalAppender | None = None
        self._reader: SegmentReader | None = None
        self._closed = False

    async def _start(self) -> StateSynchronizer[S, U]:
        self.segment, _, _ = await open_single_segment(self.ctx, self.scope, self.stream, "a synchronizer")
        self._appender = ConditionalAppender(self.ctx, self.segment)
        info = await self._segments.info(self.segment)
        if info.length == 0:
            try:  # the first one writes the initial state, so that all start alike
                await self._appender.append(_record(SNAPSHOT, self.serializer.serialize(self._initial)), 0)
            except errors.ConditionalCheckFailedError:
                pass
        await self.fetch_updates()
        return self

    # -- reading --------------------------------------------------------------------

    @property
    def state(self) -> S:
        """The state as of :attr:`revision` (call :meth:`fetch_updates` for newer)."""
        return self._state

    @property
    def revision(self) -> int:
        """The offset in the segment just after the last record applied."""
        return self._revision

    async def fetch_updates(self) -> S:
        """Read and apply the records appended since :attr:`revision`; returns the state."""
        self._check_open()
        while True:
            info = await self._segments.info(self.segment)
            try:
                if self._revision < info.start_offset:
                    await self._read_from(info.start_offset, info.length, reset=True)
                elif self._revision < info.length:
                    await self._read_from(self._revision, info.length, reset=False)
            except errors.SegmentTruncatedError:
                continue  # compacted meanwhile: start again from the snapshot at the new head
            return self._state

    async def _read_from(self, offset: int, end: int, reset: bool) -> None:
        if self._reader is None:
            self._reader = SegmentReader(self.ctx, self.segment, offset)
        else:
            self._reader.seek(offset)
        reader = self._reader
        parser = EventParser(offset)
        state = self._initial if reset else self._state
        first = reset
        revision = offset
        while parser.offset < end:
            result = await reader.read()
            for _, payload in parser.feed(result.data):
                if not payload:
                    raise errors.ServerError(f"{self.segment}: empty synchronizer record")
                kind, body = payload[0], payload[1:]
                if kind == SNAPSHOT:
                    state = self.serializer.deserialize(body)
                elif kind == UPDATE:
                    if first:
                        raise errors.ServerError(f"{self.segment}: the head at {offset} is an update, not a snapshot")
                    state = self.apply(state, self.update_serializer.deserialize(body))
                else:
                    raise errors.ServerError(f"{self.segment}: unknown synchronizer record kind {kind}")
                first = False
            # Commit what was read so far: the records up to parser.offset are applied.
            self._state, self._revision = state, parser.offset
            revision = parser.offset
            if not result.data and result.end_of_segment:
                break
        if revision < end:
            raise errors.ServerError(f"{self.segment}: the log ends inside a record at {revision}")

    # -- writing ----------------------------------------------------------------------

    async def update(self, fn: Callable[[S], U | Iterable[U] | None], *, many: bool = False) -> S:
        """Append the update(s) ``fn(state)`` computes from the latest state, atomically.

        ``fn`` gets the current state and returns one update (or, with ``many=True``, a
        list of updates), or ``None`` to write nothing. If another process appended
        first, the new records are fetched and ``fn`` is called again on the new state,
        until the append goes through; so ``fn`` must not change the state itself.
        Returns the state after the update.
        """
        self._check_open()
        assert self._appender is not None
        if self._revision < 0:
            await self.fetch_updates()
        while True:
            result = fn(self._state)
            if result is None:
                return self._state
            updates: list[U] = list(result) if many else [result]  # type: ignore[arg-type,list-item]
            if not updates:
                return self._state
            data = b"".join(_record(UPDATE, self.update_serializer.serialize(u)) for u in updates)
            if len(data) > MAX_APPEND_SIZE:
                raise errors.InterfaceError(f"an update is limited to {MAX_APPEND_SIZE} bytes")
            try:
                revision = await self._appender.append(data, self._revision)
            except errors.ConditionalCheckFailedError:
                await self.fetch_updates()
                continue
            state = self._state
            for u in updates:
                state = self.apply(state, u)
            self._state, self._revision = state, revision
            return state

    async def compact(self, fn: Callable[[S], S] | None = None) -> int:
        """Write the state (or ``fn(state)``, a state equivalent to it) as a snapshot
        and truncate the segment before it; returns the snapshot's offset, the new head.
        Retries like :meth:`update` if others append meanwhile."""
        self._check_open()
        assert self._appender is not None
        while True:
            await self.fetch_updates()
            state = fn(self._state) if fn is not None else self._state
            data = _record(SNAPSHOT, self.serializer.serialize(state))
            if len(data) > MAX_APPEND_SIZE:
                raise errors.InterfaceError(f"a snapshot is limited to {MAX_APPEND_SIZE} bytes")
            at = self._revision
            try:
                revision = await self._appender.append(data, at)
            except errors.ConditionalCheckFailedError:
                continue
            self._state, self._revision = state, revision
            await self._segments.truncate(self.segment, at)
            return at

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        reader, self._reader = self._reader, None
        await close_segment_io(reader, self._appender)

    async def __aenter__(self) -> StateSynchronizer[S, U]:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise errors.InterfaceError("the synchronizer is closed")
