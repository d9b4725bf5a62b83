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

import uuid

from .. import errors
from ..protocol import commands as c
from .connection import SegmentStoreConnection, next_request_id
from .context import ClientContext

#: Chunk size of the transient segment's appends (one append's limit).
CHUNK_SIZE = 8 * 1024 * 1024

#: Long.MIN_VALUE: the event number the server reports for a writer it never saw.
_NO_EVENT = -(1 << 63)


class SegmentSealed(Exception):
    """The target segment is sealed (or gone): route the event to its successors."""


async def write_large_event(ctx: ClientContext, segment: str, framed: bytes, writer_id: int | None = None) -> int:
    """Append the framed event ``framed`` to ``segment`` through a transient segment;
    returns the target's length after the merge. Raises :class:`SegmentSealed` if the
    target is sealed (nothing was appended to it then)."""
    wid = writer_id if writer_id is not None else uuid.uuid4().int
    endpoint = await ctx.endpoint_of(segment)
    conn = await ctx.pool.dedicated(endpoint)
    try:
        return await _write(ctx, conn, segment, framed, wid)
    finally:
        conn.close()


async def _request(ctx: ClientContext, conn: SegmentStoreConnection, cmd: c.Command, what: str) -> c.Command:
    reply = await conn.request(cmd, max(ctx.config.request_timeout, 60.0))
    if type(reply) in (c.SegmentIsSealed, c.NoSuchSegment):
        raise SegmentSealed(what)
    return reply


async def _write(ctx: ClientContext, conn: SegmentStoreConnection, segment: str, framed: bytes, wid: int) -> int:
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
    reply = await _request(ctx, conn, c.MergeSegments(next_request_id(), segment, transient, ""), segment)
    if not isinstance(reply, c.SegmentsMerged):
        raise errors.ServerError(f"{segment}: merging {transient} answered with {reply!r}")
    return reply.new_target_write_offset
