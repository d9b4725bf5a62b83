"""Event writers: route events by key to segments and keep each key's order.

:class:`EventWriter` writes to a stream's current segments. Each segment gets an
append session (:class:`SegmentWriter`) with its own writer id, so the server drops
duplicates after reconnects. When a segment is sealed by a scale, its unacknowledged
events are re-routed to the successor segments before any newer write goes out, so
the events of one key stay in order across scaling.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any, Generic, TypeVar, cast

from .. import errors, naming
from ..model import StreamCut
from ..protocol.framing import frame_event
from ..routing import KeyRanges, key_position
from ..serializers import BytesSerializer, Serializer
from .context import ClientContext
from .segment_writer import SegmentWriter

log = logging.getLogger(__name__)
T = TypeVar("T")


class EventWriter(Generic[T]):
    """Use :meth:`pravega.aio.Client.create_writer`; then ``await writer.write(event, key)``.

    ``write`` returns once the event is queued (it waits only when too much data is
    unacknowledged) and gives back a future that completes when the event is durable.
    ``flush`` waits for every event written so far; ``close`` flushes and releases the
    connections.
    """

    def __init__(
        self,
        ctx: ClientContext,
        scope: str,
        stream: str,
        serializer: Serializer[T] | None = None,
        writer_id: str | None = None,
    ) -> None:
        self.ctx = ctx
        self.scope = scope
        self.stream = stream
        self.serializer: Serializer[T] = serializer or cast(Serializer[T], BytesSerializer())
        self.writer_id = writer_id or uuid.uuid4().hex
        self._ranges: KeyRanges[SegmentWriter] = KeyRanges()
        self._writers: dict[int, SegmentWriter] = {}
        self._rerouting = 0
        self._resumed: asyncio.Event = asyncio.Event()
        self._resumed.set()
        self._sealed = False
        self._closed = False
        self._tasks: set[asyncio.Task] = set()

    async def _start(self) -> EventWriter[T]:
        segments = await self.ctx.controller.get_current_segments(self.scope, self.stream)
        if not segments:
            raise errors.StreamSealedError(f"stream {self.scope}/{self.stream} is sealed")
        for r in segments:
            self._ranges.add(r.min_key, r.max_key, self._writer_for(r.segment_id))
        return self

    def _writer_for(self, segment_id: int) -> SegmentWriter:
        writer = self._writers.get(segment_id)
        if writer is None:
            name = naming.qualified_segment_name(self.scope, self.stream, segment_id)
            writer = SegmentWriter(self.ctx, name, on_sealed=self._on_sealed)
            writer.segment_id = segment_id  # type: ignore[attr-defined]
            self._writers[segment_id] = writer
        return writer

    # -- writing --------------------------------------------------------------------

    async def write(self, event: T, routing_key: str | None = None) -> asyncio.Future:
        """Queue ``event``; returns a future that completes once it is stored."""
        framed = frame_event(self.serializer.serialize(event))
        return await self.write_framed(framed, key_position(routing_key))

    async def write_framed(self, framed: bytes, position: float) -> asyncio.Future:
        if self._closed:
            raise errors.InterfaceError("the writer is closed")
        if self._rerouting:
            await self._resumed.wait()
        if self._sealed:
            raise errors.StreamSealedError(f"stream {self.scope}/{self.stream} is sealed")
        writer = self._ranges.get(position)
        fut = writer.append(framed, position)
        if not writer.has_space:
            await writer.wait_for_space()
        return fut

    async def write_many(self, events: list[tuple[T, str | None]]) -> asyncio.Future:
        """Queue several (event, routing key) pairs; one future for all of them."""
        futures = [await self.write(event, key) for event, key in events]
        return asyncio.ensure_future(asyncio.gather(*futures))

    async def flush(self) -> None:
        """Wait until every event written so far is durable."""
        while True:
            if self._rerouting:
                await self._resumed.wait()
            writers = list(self._writers.values())
            await asyncio.gather(*(w.flush() for w in writers if not w.sealed))
            if not self._rerouting and writers == list(self._writers.values()):
                return

    async def close(self) -> None:
        if self._closed:
            return
        try:
            await self.flush()
        finally:
            self._closed = True
            for writer in self._writers.values():
                await writer.close()

    async def note_time(self, timestamp_ms: int | None = None) -> None:
        """Tell the controller that every event this writer writes from now on has a
        time at or after ``timestamp_ms`` (for watermarks); flushes first."""
        await self.flush()
        positions = {sid: w.acked_offset for sid, w in self._writers.items() if not w.sealed}
        ts = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
        await self.ctx.controller.note_timestamp(self.writer_id, StreamCut(self.scope, self.stream, positions), ts)

    # -- scaling --------------------------------------------------------------------

    def _on_sealed(self, sealed: SegmentWriter) -> None:
        self._rerouting += 1
        self._resumed.clear()
        task = asyncio.ensure_future(self._reroute(sealed))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reroute(self, sealed: SegmentWriter) -> None:
        try:
            segment_id = sealed.segment_id  # type: ignore[attr-defined]
            successors = await self.ctx.controller.get_successors(self.scope, self.stream, segment_id)
            unacked = sealed.take_unacked()
            ranges = self._ranges.ranges_of(sealed)
            for _ in ranges:
                self._ranges.remove(sealed)
            del self._writers[segment_id]
            if not successors:
                self._sealed = True
                exc = errors.StreamSealedError(f"stream {self.scope}/{self.stream} is sealed")
                for _, _, fut in unacked:
                    if not fut.done():
                        fut.set_exception(exc)
                return
            # The successors take over the sealed segment's part of the key space only,
            # so ranges never overlap while other predecessors are still active.
            for low, high in ranges:
                for succ in successors:
                    lo, hi = max(low, succ.min_key), min(high, succ.max_key)
                    if lo < hi:
                        self._ranges.add(lo, hi, self._writer_for(succ.segment_id))
            _resend(self._ranges, unacked)
        except BaseException as exc:
            log.exception("re-routing after the seal of %s failed", sealed.segment)
            for writer in self._writers.values():
                writer._fail(errors.PravegaError(f"re-routing after a scale failed: {exc}"))
            raise
        finally:
            self._rerouting -= 1
            if not self._rerouting:
                self._resumed.set()


def _resend(ranges: KeyRanges[SegmentWriter], unacked: list[tuple[bytes, Any, asyncio.Future]]) -> None:
    """Append re-routed events in their original order; an old block's future completes
    when all of its events are stored again."""
    pending: dict[asyncio.Future, list[asyncio.Future]] = {}
    for framed, position, old in unacked:
        new = ranges.get(position).append(framed, position)
        pending.setdefault(old, []).append(new)
    for old, news in pending.items():

        def done(_: Any, old: asyncio.Future = old, news: list[asyncio.Future] = news) -> None:
            if old.done() or not all(n.done() for n in news):
                return
            failed = next((n.exception() for n in news if n.exception() is not None), None)
            if failed is not None:
                old.set_exception(failed)
            else:
                old.set_result(None)

        for new in set(news):
            new.add_done_callback(done)
