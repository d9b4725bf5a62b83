"""Appends on one connection: Pravega's ``AppendProcessor`` beside the connection handler.

A writer announces itself with ``SetupAppend`` and then sends blocks of events
(``AppendBlockEnd``, optionally preceded by an ``AppendBlock`` carrying the first part
of the data as the Java client frames it) or single conditional appends. This state
belongs to the connection, so there is one :class:`AppendProcessor` per connection.

Each block is written to the log as it arrives and its ``DataAppended`` is sent from
the log's durability callback, without a task or a future per block. What a block is
(new, a resend of stored events, an overlap, refused because the segment is sealed,
deleted or the log failed) is decided by :meth:`Engine.append` alone; this module
only turns the outcome into the reply.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable
from time import perf_counter
from typing import Any, Protocol

from pravega.protocol import commands as c
from pravega.protocol.framing import frame_event

from ..storage import errors
from ..storage.engine import Engine
from ..storage.segments import MIN_EVENT_NUMBER, Segment
from .replies import closes_connection, error_reply

log = logging.getLogger(__name__)

_EMBEDDED_HEADER = struct.Struct(">ii")
_PADDING, _PARTIAL_EVENT = -1, -2


class ReplySlots(Protocol):
    """What the connection offers: replies leave in the order their slots were taken."""

    def slot(self) -> Any:
        """Reserve the place of the next reply."""

    def fill(self, slot: Any, reply: c.Command, close: bool = False) -> None:
        """Put the reply in its place; ``close`` closes the connection after sending it."""

    def acknowledge(
        self, slot: Any, writer_id: int, event_number: int, previous: int, request_id: int, offset: int
    ) -> None:
        """Put a ``DataAppended`` with these fields in its place (the hot path: the
        connection may pack it without building the command)."""

    def protocol_failure(self, message: str) -> None:
        """Answer a protocol violation with an ErrorMessage and close the connection."""


class _Writer:
    """Append state of one writer id on one connection."""

    __slots__ = ("segment", "block")

    def __init__(self, segment: Segment) -> None:
        self.segment = segment
        self.block: bytes | bytearray | memoryview | None = None  # data of a pending AppendBlock


class AppendProcessor:
    """The append commands of one connection."""

    def __init__(self, engine: Engine, replies: ReplySlots) -> None:
        self.engine = engine
        self.replies = replies
        self.writers: dict[int, _Writer] = {}
        self.peer = "?"
        #: Set once an append was refused for lack of storage: later blocks are refused
        #: too, or the resend of the refused block would look like a duplicate and be dropped.
        self.storage_failed = False

    def setup_append(self, cmd: c.SetupAppend) -> None:
        replies = self.replies
        seg = self.engine.segments.get(cmd.segment)
        if seg is None:
            replies.fill(replies.slot(), c.NoSuchSegment(cmd.request_id, cmd.segment, "", -1))
            return
        if seg.sealed:
            replies.fill(replies.slot(), c.SegmentIsSealed(cmd.request_id, cmd.segment, "", -1))
            return
        self.writers[cmd.writer_id] = _Writer(seg)
        slot = replies.slot()

        def reply() -> None:
            # After the barrier: the number reported is durable.
            last = seg.writers.get(cmd.writer_id, MIN_EVENT_NUMBER)
            replies.fill(slot, c.AppendSetup(cmd.request_id, cmd.segment, cmd.writer_id, last))

        self.engine.log.barrier(reply)

    def append_block(self, cmd: c.AppendBlock) -> None:
        writer = self._writer(cmd.writer_id, -1, -1)
        if writer is not None:
            writer.block = cmd.data

    def append_block_end(self, cmd: c.AppendBlockEnd) -> None:
        writer = self._writer(cmd.writer_id, cmd.request_id, cmd.last_event_number)
        if writer is None:
            return
        data = cmd.data
        if writer.block is not None:
            joined = _reassemble(writer.block, cmd.size_of_whole_events, data)
            writer.block = None
            if joined is None:
                self.replies.protocol_failure("malformed AppendBlock data")
                return
            data = joined
        self._append(writer, cmd.writer_id, cmd.last_event_number, cmd.num_events, data, cmd.request_id, None)

    def conditional_block_end(self, cmd: c.ConditionalBlockEnd) -> None:
        writer = self._writer(cmd.writer_id, cmd.request_id, cmd.event_number)
        if writer is not None:
            self._append(writer, cmd.writer_id, cmd.event_number, 1, cmd.data, cmd.request_id, cmd.expected_offset)

    def conditional_append(self, cmd: c.ConditionalAppend) -> None:
        writer = self._writer(cmd.writer_id, cmd.request_id, cmd.event_number)
        if writer is not None:
            data = frame_event(bytes(cmd.data))
            self._append(writer, cmd.writer_id, cmd.event_number, 1, data, cmd.request_id, cmd.expected_offset)

    # -- internals ---------------------------------------------------------------

    def _writer(self, writer_id: int, request_id: int, event_number: int) -> _Writer | None:
        writer = self.writers.get(writer_id)
        if writer is None:
            self._invalid_event_number(writer_id, request_id, event_number, "append without SetupAppend")
        return writer

    def _invalid_event_number(self, writer_id: int, request_id: int, event_number: int, why: str) -> None:
        log.info("%s: writer %032x: %s", self.peer, writer_id, why)
        replies = self.replies
        replies.fill(replies.slot(), c.InvalidEventNumber(writer_id, request_id, why, event_number), close=True)

    def _append(
        self,
        writer: _Writer,
        writer_id: int,
        last: int,
        events: int,
        data: Any,
        request_id: int,
        expected_offset: int | None,
    ) -> None:
        seg = writer.segment
        replies = self.replies
        slot = replies.slot()
        if self.storage_failed:
            refused = errors.StorageUnavailable(seg.name, "an earlier append on this connection was refused")
            replies.fill(slot, error_reply(request_id, refused), True)
            return
        previous = length = 0
        started = perf_counter()
        latency = self.engine.stats.append_latency

        def durable() -> None:
            latency.observe((perf_counter() - started) * 1000.0)
            replies.acknowledge(slot, writer_id, last, previous, request_id, length)

        try:
            previous, length = self.engine.append(seg, writer_id, last, data, durable, expected_offset, events)
        except errors.BadOffset:
            # Not fatal for the connection: the writer decides what to do.
            replies.fill(slot, c.ConditionalCheckFailed(writer_id, last, request_id))
        except errors.EventNumberOverlap as exc:
            log.info("%s: writer %032x: %s", self.peer, writer_id, exc)
            replies.fill(slot, c.InvalidEventNumber(writer_id, request_id, "block overlaps stored events", last), True)
        except errors.StoreError as exc:
            close = closes_connection(exc)
            if close:
                log.warning("%s: refusing an append: %s", self.peer, exc)
                self.storage_failed = True
            offset = seg.length if isinstance(exc, errors.SegmentSealed) else -1
            replies.fill(slot, error_reply(request_id, exc, offset), close)


#: The append commands and their handlers.
APPEND_COMMANDS: dict[type, Callable[[AppendProcessor, Any], None]] = {
    c.SetupAppend: AppendProcessor.setup_append,
    c.AppendBlock: AppendProcessor.append_block,
    c.AppendBlockEnd: AppendProcessor.append_block_end,
    c.ConditionalBlockEnd: AppendProcessor.conditional_block_end,
    c.ConditionalAppend: AppendProcessor.conditional_append,
}


def _reassemble(block: Any, whole: int, tail: Any) -> bytes | None:
    """Data of a Java client's AppendBlock + AppendBlockEnd.

    The block holds whole events first, then possibly one embedded PartialEvent (the
    start of an event finished by ``tail``) or Padding (unused space).
    """
    block = memoryview(block)
    if whole < 0 or whole > len(block):
        return None
    pieces = [block[:whole]]
    rest = block[whole:]
    while len(rest) >= _EMBEDDED_HEADER.size:
        code, length = _EMBEDDED_HEADER.unpack_from(rest)
        body = rest[_EMBEDDED_HEADER.size :]
        if length < 0 or length > len(body) or code not in (_PADDING, _PARTIAL_EVENT):
            return None
        if code == _PARTIAL_EVENT:
            pieces.append(body[:length])
        rest = body[length:]
    if len(rest):
        return None
    pieces.append(memoryview(tail))
    return b"".join(pieces)
