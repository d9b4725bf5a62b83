"""Events over 8 MiB, written the way the official client writes them.

One append carries at most 8 MiB, so a larger event cannot go through the normal
append session. Instead (Pravega's large-event path, spec §2.5):

1. ``CreateTransientSegment(writer id, parent)`` creates a private segment next to
   the target segment;
2. ``SetupAppend`` on it (a fresh segment: the stored event number must be unknown);
3. the framed event (8-byte header + payload) goes in ``ConditionalBlockEnd`` chunks of
   8 MiB, event numbers 0, 1, 2... at expected offsets 0, 8 MiB, ... (conditional, so a
   chunk can never land twice or out of place);
4. ``MergeSegments(target = parent, source = transient)`` appends the whole event to the
   parent atomically and deletes the transient segment.

Readers therefore see the event in one piece or not at all. The caller must have every
earlier event of the writer acknowledged first (order), and must not send later events
to the segment before this returns.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable

from .. import errors
from ..protocol import commands as c
from .connection import SegmentStoreConnection, next_request_id
from .context import ClientContext
from .segment_reader import SegmentClient

log = logging.getLogger(__name__)

#: Chunk size of the transient segment's appends (one append's limit).
CHUNK_SIZE = 8 * 1024 * 1024

#: Long.MIN_VALUE: the event number the server reports for a writer it never saw.
_NO_EVENT = -(1 << 63)


class SegmentSealed(Exception):
    """The target segment is sealed (or gone): route the event to its successors."""


async def write_large_event(ctx: ClientContext, segment: str, framed: bytes, writer_id: int | None = None) -> None:
    """Append the framed event ``framed`` to ``segment`` through a transient segment.

    Raises :class:`SegmentSealed` if the target is sealed (nothing was appended to it
    then). A lost connection is retried (for the client's ``reconnect_timeout``): before
    the merge was asked for, with a new transient segment; after, by looking whether the
    transient segment still exists (the merge deletes it; the server keeps transient
    segments durably until merged), so the event is appended exactly once.
    """
    wid = writer_id if writer_id is not None else uuid.uuid4().int
    progress = _Progress()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ctx.config.reconnect_timeout
    delay = 0.05
    while True:
        try:
            if progress.merge_sent:
                if not await _still_there(ctx, progress.transient):
                    return  # the merge went through before the connection failed
                await _on_new_connection(ctx, segment, lambda conn: _merge(ctx, conn, segment, progress))
            else:
                await _on_new_connection(ctx, segment, lambda conn: _write(ctx, conn, segment, framed, wid, progress))
            return
        except (errors.ConnectionLostError, errors.RetriesExhaustedError, OSError) as exc:
            ctx.forget_endpoint(segment)
            log.info("%s: large event interrupted (%s, merge sent: %s); retrying", segment, exc, progress.merge_sent)
            if loop.time() > deadline:
                raise errors.ConnectionLostError(f"{segment}: cannot write a large event: {exc}") from exc
            await asyncio.sleep(delay)
            delay = min(2 * delay, 1.0)


class _Progress:
    transient = ""
    merge_sent = False


async def _on_new_connection(
    ctx: ClientContext, segment: str, work: Callable[[SegmentStoreConnection], Awaitable[None]]
) -> None:
    endpoint = await ctx.endpoint_of(segment)
    conn = await ctx.pool.dedicated(endpoint)
    try:
        await work(conn)
    finally:
        conn.close()


async def _still_there(ctx: ClientContext, transient: str) -> bool:
    try:
        await SegmentClient(ctx).info(transient)
    except errors.NoSuchSegmentError:
        return False
    return True


async def _request(ctx: ClientContext, conn: SegmentStoreConnection, cmd: c.Command, what: str) -> c.Command:
    reply = await conn.request(cmd, max(ctx.config.request_timeout, 60.0))
    if type(reply) in (c.SegmentIsSealed, c.NoSuchSegment):
        raise SegmentSealed(what)
    return reply


async def _write(
    ctx: ClientContext, conn: SegmentStoreConnection, segment: str, framed: bytes, wid: int, progress: _Progress
) -> None:
    reply = await _request(ctx, conn, c.CreateTransientSegment(next_request_id(), wid, segment, ""), segment)
    if not isinstance(reply, c.SegmentCreated):
        raise errors.ServerError(f"{segment}: CreateTransientSegment answered with {reply!r}")
    transient = reply.segment
    reply = await _request(ctx, conn, c.SetupAppend(next_request_id(), wid, transient, ""), segment)
    if not isinstance(reply, c.AppendSetup) or reply.last_event_number != _NO_EVENT:
        raise errors.ServerError(f"{transient}: SetupAppend of a new transient segment answered with {reply!r}")
    for number, start in enumerate(range(0, len(framed), CHUNK_SIZE)):
        chunk = framed[start : start + CHUNK_SIZE]
        reply = await _request(ctx, conn, c.ConditionalBlockEnd(wid, number, start, chunk, next_request_id()), segment)
        if isinstance(reply, c.ConditionalCheckFailed):
            raise errors.ServerError(f"{transient}: chunk {number} at {start} was refused (the segment changed)")
        if not isinstance(reply, c.DataAppended):
            raise errors.ServerError(f"{transient}: chunk {number} answered with {reply!r}")
    progress.transient = transient
    await _merge(ctx, conn, segment, progress)


async def _merge(ctx: ClientContext, conn: SegmentStoreConnection, segment: str, progress: _Progress) -> None:
    progress.merge_sent = True
    reply = await _request(ctx, conn, c.MergeSegments(next_request_id(), segment, progress.transient, ""), segment)
    if not isinstance(reply, c.SegmentsMerged):
        raise errors.ServerError(f"{segment}: merging {progress.transient} answered with {reply!r}")
