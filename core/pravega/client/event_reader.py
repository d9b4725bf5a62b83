"""A reader in a reader group: reads the segments it owns, synchronizes with the group.

A reader owns some segments. It reads each with its own :class:`SegmentReader` task
(chunks are fetched concurrently, so an idle segment does not hold up the others) and
returns events round-robin. It writes the offset after the last event it returned back
to the state at least every ``group_refresh_time``, and always before a segment changes
owner (release, offline), so no event is returned by two readers.

Each synchronization reads the group's state, computes the change with the pure
:func:`.reader_group_state.plan_sync`, writes it back conditionally and then applies the
returned plan locally (stops and starts segment tasks, queues a checkpoint event).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from .. import errors, naming
from ..model import SegmentRange
from ..protocol.framing import EVENT_HEADER_SIZE
from ..serializers import BytesSerializer, Serializer
from .reader_group_state import MAX_ATTEMPTS, ReaderNotInGroupError, State, SyncPlan, Txn, plan_sync
from .segment_reader import EventParser, SegmentReader
from .watermarks import TimeWindow, WatermarkFollower, time_window

if TYPE_CHECKING:
    from .reader_group import ReaderGroup

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Bytes asked for per segment read, and buffered per segment before fetching pauses.
READ_SIZE = 1 << 20
MAX_BUFFERED = 2 << 20


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


class EventReader(Generic[T]):
    """A member of a reader group. Call :meth:`read_next_event` in a loop; call
    :meth:`close` (or :meth:`offline`) when done, so its segments go to the others.

    Not safe for concurrent ``read_next_event`` calls; one reader per task.
    """

    def __init__(self, group: ReaderGroup, reader_id: str, serializer: Serializer[T] | None, generation: int) -> None:
        self.group = group
        self.reader_id = reader_id
        self.serializer: Serializer[T] = serializer or cast(Serializer[T], BytesSerializer())
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
        self._seen_version: tuple[int, ...] = ()
        self._must_sync = True
        self._next_poll = 0.0
        self._last_flush = time.monotonic()
        self._finished = False
        self._closed = False
        self._offline = False
        self._busy = False
        self._watermarks: dict[tuple[str, str], WatermarkFollower] = {}
        self._read_to_end: set[str] = set()  # segments this reader finished

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

    async def time_window(self, scope: str, stream: str) -> TimeWindow:
        """The time window of this reader's position in ``scope/stream``, from the
        stream's watermarks (see :mod:`pravega.client.watermarks`): the events it returned
        so far are at or before ``upper``, those it reads next at or after ``lower``."""
        follower = self._watermarks.get((scope, stream))
        if follower is None:
            follower = self._watermarks[(scope, stream)] = WatermarkFollower(self.group.ctx, scope, stream)
        marks = await follower.refresh()
        positions = {}
        for name, owned in self._owned.items():
            s_scope, s_stream, sid = naming.parse_segment_name(name)
            if (s_scope, s_stream) == (scope, stream):
                positions[sid] = owned.offset
        # Segments of a cut this reader does not hold, from epochs before all it holds,
        # were read to their end before their successors were handed out.
        oldest = min((naming.segment_epoch(sid) for sid in positions), default=None)
        finished = {
            sid
            for w in marks
            for sid in w.cut
            if sid not in positions and oldest is not None and naming.segment_epoch(sid) < oldest
        }
        for name in self._read_to_end:
            s_scope, s_stream, sid = naming.parse_segment_name(name)
            if (s_scope, s_stream) == (scope, stream) and sid not in positions:  # held again: after a reset
                finished.add(sid)
        return time_window(marks, positions, finished)

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
        next_offset = event_offset + EVENT_HEADER_SIZE + len(payload)
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
        o.offset = offsets[-1] + EVENT_HEADER_SIZE + len(payloads[-1])
        if stop == len(chunk.payloads):
            self._consumed(o, chunk)
        deserialize = self.serializer.deserialize
        bytes_as_they_are = isinstance(self.serializer, BytesSerializer)
        events = cast(list[T], payloads) if bytes_as_they_are else [deserialize(p) for p in payloads]
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
        if o is not None and o.finished:
            self._read_to_end.add(name)  # for time_window
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
                txn = Txn(state)
                try:
                    plan = self._plan(state, txn, write_positions)
                except ReaderNotInGroupError:
                    self._offline = True
                    for name in list(self._owned):
                        self._stop(name)
                    raise
                if txn.dirty:
                    written = await self.group._try_write(txn, attempt)
                    if written is None:
                        continue  # a conflicting change came first: recompute
                    version = written
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

    def _plan(self, state: State, txn: Txn, write_positions: bool) -> SyncPlan:
        """What to change in the state (into ``txn``) and locally (the returned plan)."""
        where = f"{self.group.scope}/{self.group.name}"
        return plan_sync(state, txn, self.reader_id, self._gen, self._owned, write_positions, time.time(), where)

    def _apply(self, plan: SyncPlan) -> None:
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
