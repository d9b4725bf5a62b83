"""The append session of one writer on one segment.

Events are framed by the caller and collected into a buffer; the buffer is cut into
*blocks* (one ``AppendBlockEnd`` each) and up to ``max_inflight_blocks`` blocks are
unacknowledged at a time. While blocks are in flight, new events accumulate, so the
block size grows with the load by itself (no timer, no per-event round trip).

Every block remembers its event numbers and bytes until the server acknowledges it.
If the connection fails, the session reconnects with the same writer id; the
``AppendSetup`` reply names the last event number the server stored, the blocks up to
it count as acknowledged and the rest are sent again — no loss, no duplicates.

When the segment is sealed (the stream scaled or was sealed), the session stops and
hands its unacknowledged events to ``on_sealed``; the event writer re-routes them to
the successor segments before any newer event of the same key.

An event over 8 MiB does not fit in one append. It becomes a block of its own, sent
when every block before it is acknowledged, through a transient segment merged into
this one (:mod:`.large_event`, as the official client does); the blocks after it wait
until the merge is done, so the order of the events holds.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import uuid
from collections.abc import Callable

from .. import errors
from ..protocol import commands as c
from ..protocol.codec import encode
from ..protocol.framing import EVENT_HEADER_SIZE, parse_events
from .connection import SegmentStoreConnection, next_request_id
from .context import ClientContext
from .large_event import SegmentSealed, write_large_event

log = logging.getLogger(__name__)

#: The largest event the append path carries in one block (Pravega's limit).
MAX_EVENT_SIZE = 8 * 1024 * 1024


def split_events(data: bytes) -> list[bytes]:
    """The framed events in ``data`` (inverse of concatenated :func:`frame_event`)."""
    offsets, payloads, _ = parse_events(data)
    return [data[pos : pos + EVENT_HEADER_SIZE + len(payload)] for pos, payload in zip(offsets, payloads)]


class _Block:
    __slots__ = ("last", "count", "data", "keys", "future", "large")

    def __init__(
        self, last: int, count: int, data: bytes, keys: list, future: asyncio.Future, large: bool = False
    ) -> None:
        self.last = last
        self.count = count
        self.data = data
        self.keys = keys
        self.future = future
        self.large = large  # one event over MAX_EVENT_SIZE, written through a transient segment


class SegmentWriter:
    def __init__(
        self,
        ctx: ClientContext,
        segment: str,
        *,
        writer_id: int | None = None,
        on_sealed: Callable[[SegmentWriter], None] | None = None,
    ) -> None:
        self.ctx = ctx
        self.segment = segment
        self.writer_id = writer_id if writer_id is not None else uuid.uuid4().int
        self.on_sealed = on_sealed
        self.loop = asyncio.get_running_loop()
        cfg = ctx.config
        self.max_block = cfg.max_block_size
        self.max_inflight = cfg.max_inflight_blocks
        self.max_buffered = cfg.max_buffered_bytes
        self.event_number = 0  # last event number assigned
        self.acked = 0
        self.acked_offset = 0  # segment length reported by the last acknowledgement
        self._buf = bytearray()
        self._buf_keys: list = []
        self._buf_future: asyncio.Future | None = None
        self._queued: collections.deque[_Block] = collections.deque()
        self._inflight: collections.deque[_Block] = collections.deque()
        self._buffered = 0  # bytes not yet acknowledged
        self._space: asyncio.Future | None = None
        self._send_scheduled = False
        self._conn: SegmentStoreConnection | None = None
        self._connecting: asyncio.Task | None = None
        self._large: _Block | None = None  # the large event being written, if any
        self._large_task: asyncio.Task | None = None
        self._seal_after_large = False
        self.sealed = False
        self.closed = False
        self.failure: BaseException | None = None

    # -- writing ------------------------------------------------------------------

    def append(self, framed: bytes, key: object = None) -> asyncio.Future:
        """Queue one framed event; the returned future (shared by the events of a block)
        completes when the server has stored it."""
        if self.failure is not None:
            raise self.failure
        if self.closed:
            raise errors.InterfaceError("the writer is closed")
        if len(framed) > MAX_EVENT_SIZE + EVENT_HEADER_SIZE:
            return self._append_large(framed, key)
        if self._buf and len(self._buf) + len(framed) > self.max_block:
            self._cut()
        self._buf += framed
        self._buf_keys.append(key)
        self._buffered += len(framed)
        self.event_number += 1
        fut = self._buf_future
        if fut is None:
            fut = self._buf_future = self.loop.create_future()
        if not self._send_scheduled:
            self._send_scheduled = True
            self.loop.call_soon(self._send)
        return fut

    def _append_large(self, framed: bytes, key: object) -> asyncio.Future:
        self._cut()
        fut = self.loop.create_future()
        self._queued.append(_Block(self.event_number, 1, framed, [key], fut, large=True))
        self._buffered += len(framed)
        if not self._send_scheduled:
            self._send_scheduled = True
            self.loop.call_soon(self._send)
        return fut

    @property
    def has_space(self) -> bool:
        return self._buffered < self.max_buffered

    async def wait_for_space(self) -> None:
        while self._buffered >= self.max_buffered and self.failure is None and not self.sealed:
            if self._space is None:
                self._space = self.loop.create_future()
            await asyncio.shield(self._space)
        if self.failure is not None:
            raise self.failure

    def _cut(self) -> None:
        if not self._buf:
            return
        fut = self._buf_future or self.loop.create_future()
        block = _Block(self.event_number, len(self._buf_keys), bytes(self._buf), self._buf_keys, fut)
        self._queued.append(block)
        self._buf = bytearray()
        self._buf_keys = []
        self._buf_future = None

    def _send(self) -> None:
        self._send_scheduled = False
        if self.sealed or self.failure is not None or self._large is not None:
            return  # (while a large event is written, the blocks after it wait)
        conn = self._conn
        if conn is None or conn.closed:
            self._ensure_connection()
            return
        if len(self._inflight) < self.max_inflight:
            self._cut()
        frames: list[bytes] = []
        while self._queued and len(self._inflight) < self.max_inflight:
            if self._queued[0].large:
                if not self._inflight and not frames:  # every block before it is stored
                    self._start_large(self._queued.popleft())
                break
            block = self._queued.popleft()
            self._inflight.append(block)
            frames.append(self._frame(block))
        if frames:
            try:
                conn.send_raw(frames)
            except errors.ConnectionLostError:
                self._ensure_connection()

    def _start_large(self, block: _Block) -> None:
        self._large = block
        self._large_task = asyncio.ensure_future(self._write_large(block))

    async def _write_large(self, block: _Block) -> None:
        try:
            await write_large_event(self.ctx, self.segment, block.data)
        except SegmentSealed:
            self._large, self._large_task = None, None
            self._queued.appendleft(block)  # unacknowledged: re-routed with the rest
            self._seal_after_large = False
            self._seal()
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._large, self._large_task = None, None
            self._queued.appendleft(block)
            self._fail(exc if isinstance(exc, errors.PravegaError) else errors.PravegaError(f"{self.segment}: {exc!r}"))
            return
        self._large, self._large_task = None, None
        self._buffered -= len(block.data)
        if not block.future.done():
            block.future.set_result(None)
        if self._space is not None and self._buffered < self.max_buffered:
            self._space.set_result(None)
            self._space = None
        if self._seal_after_large:
            self._seal_after_large = False
            self._seal()
            return
        self._send()

    def _frame(self, block: _Block) -> bytes:
        return encode(
            c.AppendBlockEnd(self.writer_id, len(block.data), block.data, block.count, block.last, next_request_id())
        )

    async def flush(self) -> None:
        """Wait until every event appended so far is stored."""
        self._cut()
        if not self._send_scheduled:
            self._send_scheduled = True
            self.loop.call_soon(self._send)
        pending = [b.future for b in (*self._inflight, *self._queued)]
        if self._large is not None:
            pending.append(self._large.future)
        if pending:
            await asyncio.gather(*(asyncio.shield(f) for f in pending))
        if self.failure is not None:
            raise self.failure

    # -- acknowledgements -----------------------------------------------------------

    def _on_reply(self, reply: c.Command) -> None:
        if type(reply) is c.DataAppended:  # the hot path: narrowed for the type checker, as fast as before
            if reply.writer_id == self.writer_id:
                self.acked_offset = max(self.acked_offset, reply.current_segment_write_offset)
                self._ack(reply.event_number)
                self._send()
            return
        kind = type(reply)
        if kind in (c.SegmentIsSealed, c.NoSuchSegment):
            self._seal()
        elif kind is c.WrongHost:
            self._drop_connection()
        elif kind is c.InvalidEventNumber:
            log.warning("%s: server rejected event numbers (%s); reconnecting", self.segment, reply)
            self._drop_connection()
        elif kind is c.AuthTokenCheckFailed:
            self._fail(errors.ServerError(f"{self.segment}: authentication failed"))
        elif kind is not c.KeepAlive:
            log.debug("%s: unexpected reply %r", self.segment, reply)

    def _ack(self, event_number: int) -> None:
        if event_number <= self.acked:
            return
        self.acked = event_number
        inflight = self._inflight
        while inflight and inflight[0].last <= event_number:
            block = inflight.popleft()
            self._buffered -= len(block.data)
            if not block.future.done():
                block.future.set_result(None)
        if self._space is not None and self._buffered < self.max_buffered:
            self._space.set_result(None)
            self._space = None

    # -- connection life cycle -------------------------------------------------------

    def _ensure_connection(self) -> None:
        if self._connecting is None or self._connecting.done():
            self._connecting = asyncio.ensure_future(self._connect())

    def _drop_connection(self) -> None:
        self.ctx.forget_endpoint(self.segment)
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.on_lost = None
            conn.close()
        if not self.closed and not self.sealed:
            self._ensure_connection()

    async def _connect(self) -> None:
        deadline = self.loop.time() + self.ctx.config.reconnect_timeout
        delay = 0.01
        while not self.closed and not self.sealed:
            try:
                await self._setup()
                return
            except _Sealed:
                self._seal()
                return
            except (errors.ConnectionLostError, errors.RetriesExhaustedError, OSError) as exc:
                self.ctx.forget_endpoint(self.segment)
                if self.loop.time() > deadline:
                    self._fail(errors.ConnectionLostError(f"{self.segment}: cannot reach the segment store: {exc}"))
                    return
                log.info("%s: reconnecting after %s", self.segment, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # anything else is final: never leave flush() waiting
                log.warning("%s: cannot set up appends: %r", self.segment, exc)
                self._fail(
                    exc
                    if isinstance(exc, errors.PravegaError)
                    else errors.PravegaError(f"{self.segment}: cannot set up appends: {exc!r}")
                )
                return

    async def _setup(self) -> None:
        endpoint = await self.ctx.endpoint_of(self.segment)
        conn = await self.ctx.pool.dedicated(endpoint)
        reply = await conn.request(
            c.SetupAppend(next_request_id(), self.writer_id, self.segment, ""), self.ctx.config.request_timeout
        )
        if type(reply) in (c.SegmentIsSealed, c.NoSuchSegment):
            conn.close()
            raise _Sealed()
        if type(reply) is not c.AppendSetup:
            conn.close()
            raise errors.ConnectionLostError(f"{self.segment}: SetupAppend answered with {reply!r}")
        conn.on_reply = self._on_reply
        conn.on_lost = lambda exc: self._on_lost(conn)
        self._conn = conn
        # Everything up to the stored event number is acknowledged; the rest goes again.
        self._ack(reply.last_event_number)
        self._queued.extendleft(reversed(self._inflight))
        self._inflight.clear()
        self._send()

    def _on_lost(self, conn: SegmentStoreConnection) -> None:
        if conn is self._conn:
            self._conn = None
            if not self.closed and not self.sealed:
                self._ensure_connection()

    def _seal(self) -> None:
        if self.sealed:
            return
        if self._large is not None:
            # A large event is being merged: its outcome decides whether it is re-routed.
            self._seal_after_large = True
            return
        self.sealed = True
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.on_lost = None
            conn.close()
        if self.on_sealed is not None:
            self.on_sealed(self)
        else:
            self._fail(errors.StreamSealedError(f"segment {self.segment} is sealed"))

    def take_unacked(self) -> list[tuple[bytes, object, asyncio.Future]]:
        """After a seal: every unacknowledged event as (framed bytes, key, future)."""
        self._cut()
        out: list[tuple[bytes, object, asyncio.Future]] = []
        for block in (*self._inflight, *self._queued):
            for framed, key in zip(split_events(block.data), block.keys):
                out.append((framed, key, block.future))
        self._inflight.clear()
        self._queued.clear()
        self._buffered = 0
        if self._space is not None:
            self._space.set_result(None)
            self._space = None
        return out

    def _fail(self, exc: BaseException) -> None:
        if self.failure is None:
            self.failure = exc
        for block in (*self._inflight, *self._queued, *([self._large] if self._large else [])):
            if not block.future.done():
                block.future.set_exception(exc)
        if self._buf_future is not None and not self._buf_future.done():
            self._buf_future.set_exception(exc)
        if self._space is not None and not self._space.done():
            self._space.set_exception(exc)

    async def close(self) -> None:
        try:
            if not self.sealed and self.failure is None:
                await self.flush()
        finally:
            self.closed = True
            if self._connecting is not None:
                self._connecting.cancel()
            if self._large_task is not None:
                self._large_task.cancel()
            if self._conn is not None:
                self._conn.on_lost = None
                self._conn.close()
                self._conn = None


class _Sealed(Exception):
    pass
