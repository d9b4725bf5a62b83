"""Conditional appends with one writer id: "append only if the segment is this long".

:class:`ConditionalAppender` is the building block of byte streams and state
synchronizers. It keeps one append session (``SetupAppend``) on a dedicated
connection and numbers its appends 1, 2, 3... under a single writer id, so the
server stores one writer record per appender rather than one per append.

Each :meth:`ConditionalAppender.append` is one ``ConditionalBlockEnd``: the server
appends the bytes only if the segment's length equals ``expected_offset`` and answers
``DataAppended`` (with the new length) or ``ConditionalCheckFailed``.

If the connection fails while an append is unanswered, the outcome is unknown; the
appender reconnects with the same writer id, and ``AppendSetup`` names the last event
number the server stored: if it covers the lost append, the append happened (at
``expected_offset``, so the new length is known); otherwise it is sent again with the
same number. Either way an append happens at most once.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from .. import errors
from ..protocol import commands as c
from .connection import SegmentStoreConnection, next_request_id
from .context import ClientContext

log = logging.getLogger(__name__)

#: The largest block a segment store accepts in one append (Pravega's event limit).
MAX_APPEND_SIZE = 8 * 1024 * 1024


class ConditionalAppender:
    """Conditional appends to one segment, one at a time, under one writer id."""

    def __init__(self, ctx: ClientContext, segment: str, writer_id: int | None = None) -> None:
        self.ctx = ctx
        self.segment = segment
        self.writer_id = writer_id if writer_id is not None else uuid.uuid4().int
        self._event_number = 0  # last number used; set from AppendSetup on (re)connect
        self._conn: SegmentStoreConnection | None = None
        self._lock = asyncio.Lock()
        self._closed = False

    async def append(self, data: bytes, expected_offset: int) -> int:
        """Append ``data`` if the segment is exactly ``expected_offset`` bytes long.

        Returns the segment's length after the append. Raises
        :class:`~pravega.errors.ConditionalCheckFailedError` if the length differs,
        :class:`~pravega.errors.StreamSealedError` if the segment is sealed and
        :class:`~pravega.errors.NoSuchSegmentError` if it does not exist.
        """
        if len(data) > MAX_APPEND_SIZE:
            raise errors.InterfaceError(f"one conditional append is limited to {MAX_APPEND_SIZE} bytes")
        async with self._lock:
            if self._closed:
                raise errors.InterfaceError("the appender is closed")
            conn = await self._connect()
            self._event_number += 1
            number = self._event_number
            for attempt in range(8):
                try:
                    reply = await conn.request(
                        c.ConditionalBlockEnd(self.writer_id, number, expected_offset, data, next_request_id()),
                        self.ctx.config.request_timeout,
                    )
                except errors.ConnectionLostError as exc:
                    log.info("%s: conditional append interrupted (%s); reconnecting", self.segment, exc)
                    await asyncio.sleep(min(0.05 * 2**attempt, 1.0))
                    stored = await self._reconnect()
                    if stored >= number:  # it did go through before the connection failed
                        self._event_number = stored
                        return expected_offset + len(data)
                    conn = self._conn  # type: ignore[assignment]
                    continue
                if isinstance(reply, c.DataAppended):
                    return reply.current_segment_write_offset
                kind = type(reply)
                if kind is c.ConditionalCheckFailed:
                    raise errors.ConditionalCheckFailedError(
                        f"{self.segment}: the segment is not {expected_offset} bytes long"
                    )
                if kind is c.SegmentIsSealed:
                    raise errors.StreamSealedError(f"segment {self.segment} is sealed")
                if kind is c.NoSuchSegment:
                    raise errors.NoSuchSegmentError(f"no segment {self.segment}")
                if kind is c.InvalidEventNumber:
                    # The server closed the session; start a new one and retry.
                    conn = await self._reconnect_and_renumber(number)
                    number = self._event_number
                    continue
                raise errors.ServerError(f"{self.segment}: conditional append answered with {reply!r}")
            raise errors.RetriesExhaustedError(f"{self.segment}: conditional append kept failing")

    async def _connect(self) -> SegmentStoreConnection:
        if self._conn is None or self._conn.closed:
            await self._reconnect()
        assert self._conn is not None
        return self._conn

    async def _reconnect(self) -> int:
        """Open a connection and set up the append session; returns the last stored event number."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        last_error: BaseException | None = None
        delay = 0.02
        deadline = asyncio.get_running_loop().time() + self.ctx.config.reconnect_timeout
        while True:
            try:
                endpoint = await self.ctx.endpoint_of(self.segment)
                conn = await self.ctx.pool.dedicated(endpoint)
                reply = await conn.request(
                    c.SetupAppend(next_request_id(), self.writer_id, self.segment, ""), self.ctx.config.request_timeout
                )
            except (errors.ConnectionLostError, OSError) as exc:
                last_error = exc
                self.ctx.forget_endpoint(self.segment)
                if asyncio.get_running_loop().time() > deadline:
                    raise errors.ConnectionLostError(
                        f"{self.segment}: cannot reach the segment store: {last_error}"
                    ) from last_error
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            if type(reply) is c.AppendSetup:
                self._conn = conn
                stored = reply.last_event_number
                if stored > self._event_number:
                    self._event_number = stored
                return stored
            conn.close()
            if type(reply) is c.SegmentIsSealed:
                raise errors.StreamSealedError(f"segment {self.segment} is sealed")
            if type(reply) is c.NoSuchSegment:
                raise errors.NoSuchSegmentError(f"no segment {self.segment}")
            raise errors.ServerError(f"{self.segment}: SetupAppend answered with {reply!r}")

    async def _reconnect_and_renumber(self, number: int) -> SegmentStoreConnection:
        await self._reconnect()
        self._event_number = max(self._event_number, number) + 1
        assert self._conn is not None
        return self._conn

    async def close(self) -> None:
        """Release the connection (waits for an append in progress)."""
        async with self._lock:
            self._closed = True
            if self._conn is not None:
                self._conn.close()
                self._conn = None
