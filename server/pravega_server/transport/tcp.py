"""The segment store's TCP listener: one protocol object per connection.

Each connection owns a sans-I/O codec. Incoming frames are decoded and handled in
arrival order; every request gets a reply slot, and replies leave strictly in
request order (the Rust client checks reply request ids on pooled connections).

Appends are handled here rather than in ``SegmentStore`` because their state
(``SetupAppend`` per writer, a pending ``AppendBlock``) belongs to the connection.

Any protocol violation (malformed or oversized frame, unknown type, bad UTF-8, a
reply type sent as a request) takes one path: an ``ErrorMessage`` is sent if the
connection can still carry it, then the connection is closed. Other connections and
everything already acknowledged are unaffected.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from typing import Any

from pravega.protocol import commands as c
from pravega.protocol.codec import encode
from pravega.protocol.connection import CLOSED, NEED_DATA, Connection, Role
from pravega.protocol.errors import ProtocolError
from pravega.protocol.framing import OLDEST_COMPATIBLE_VERSION, WIRE_VERSION, frame_event

from ..service.segment_store import ILLEGAL_ARGUMENT, UNSPECIFIED, SegmentStore
from ..storage import errors
from ..storage.segments import MIN_EVENT_NUMBER, Segment

log = logging.getLogger(__name__)

_EMBEDDED_HEADER = struct.Struct(">ii")
_PADDING, _PARTIAL_EVENT = -1, -2
#: Stop reading from a peer that has this many replies outstanding.
MAX_PENDING_REPLIES = 4096


class _Slot:
    __slots__ = ("reply", "close")

    def __init__(self) -> None:
        self.reply: Any = None
        self.close = False


class _Writer:
    """Append state of one writer id on one connection."""

    __slots__ = ("segment", "block")

    def __init__(self, segment: Segment) -> None:
        self.segment = segment
        self.block: bytes | memoryview | None = None  # data of a pending AppendBlock


class WireConnection(asyncio.Protocol):
    #: Set once an append was refused for lack of storage: later blocks are refused too.
    _storage_failed = False

    def __init__(self, store: SegmentStore, connections: set[WireConnection]) -> None:
        self.store = store
        self.engine = store.engine
        self.codec = Connection(Role.SERVER)
        self.transport: asyncio.Transport | None = None
        self.slots: list[_Slot] = []
        self.head = 0  # index of the oldest unsent slot
        self.writers: dict[int, _Writer] = {}
        self.closing = False
        self.paused_writing = False
        self.paused_reading = False
        self.peer = "?"
        self.tasks: set[asyncio.Future] = set()
        self._connections = connections

    # -- asyncio callbacks -----------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if peer else "?"
        self._connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self._connections.discard(self)
        for task in list(self.tasks):
            task.cancel()
        self.slots.clear()
        self.head = 0

    def pause_writing(self) -> None:
        self.paused_writing = True
        self._update_reading()

    def resume_writing(self) -> None:
        self.paused_writing = False
        self._update_reading()

    def eof_received(self) -> bool:
        return False  # close our side too

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        codec = self.codec
        try:
            codec.receive_data(data)
            while not self.closing:
                cmd = codec.next_event()
                if cmd is NEED_DATA or cmd is CLOSED:
                    break
                self._dispatch(cmd)
        except ProtocolError as exc:
            self._protocol_failure(str(exc))
        except Exception:  # a bug in a handler must not take the server down
            log.exception("internal error on connection %s", self.peer)
            self._protocol_failure("internal server error")

    # -- replies -----------------------------------------------------------------

    def _slot(self) -> _Slot:
        slot = _Slot()
        self.slots.append(slot)
        if len(self.slots) - self.head > MAX_PENDING_REPLIES:
            self._update_reading()
        return slot

    def _reply(self, reply: Any) -> None:
        """Queue a reply that is ready now."""
        slot = self._slot()
        slot.reply = reply
        self._flush()

    def _fill(self, slot: _Slot, reply: Any, close: bool = False) -> None:
        if self.closing:
            return
        slot.reply = reply
        slot.close = close
        self._flush()

    def _flush(self) -> None:
        slots = self.slots
        head = self.head
        out = []
        close = False
        while head < len(slots) and slots[head].reply is not None:
            slot = slots[head]
            out.append(self.codec.send(slot.reply))
            head += 1
            if slot.close:
                close = True
                break
        if head == len(slots):
            slots.clear()
            head = 0
        elif head > 1024:
            del slots[:head]
            head = 0
        self.head = head
        if out and self.transport is not None:
            self.transport.write(out[0] if len(out) == 1 else b"".join(out))
        if close:
            self._close()
        self._update_reading()

    def _await_reply(self, awaitable: Any) -> None:
        slot = self._slot()
        task = asyncio.ensure_future(awaitable)
        self.tasks.add(task)

        def done(t: asyncio.Future) -> None:
            self.tasks.discard(t)
            if t.cancelled():
                return
            exc = t.exception()
            if exc is not None:
                log.error("request failed on %s: %r", self.peer, exc, exc_info=exc)
                self._fill(slot, c.ErrorMessage(-1, "", f"internal error: {exc}", UNSPECIFIED), close=True)
                return
            self._fill(slot, t.result())

        task.add_done_callback(done)

    def _update_reading(self) -> None:
        if self.transport is None or self.closing:
            return
        should_pause = self.paused_writing or len(self.slots) - self.head > MAX_PENDING_REPLIES
        if should_pause and not self.paused_reading:
            self.transport.pause_reading()
            self.paused_reading = True
        elif not should_pause and self.paused_reading:
            self.transport.resume_reading()
            self.paused_reading = False

    def _close(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.close()

    def _protocol_failure(self, message: str) -> None:
        log.info("closing connection %s: %s", self.peer, message)
        if self.transport is not None and not self.closing:
            try:
                # Written directly: the codec is in its error state by now.
                frame = _error_frame(message)
                self.transport.write(frame)
            except Exception:  # pragma: no cover - best effort
                pass
        self._close()

    # -- dispatch --------------------------------------------------------------

    def _dispatch(self, cmd: c.Command) -> None:
        kind = type(cmd)
        if kind is c.AppendBlockEnd:
            self._append_block_end(cmd)
            return
        special = _SPECIAL.get(kind)
        if special is not None:
            special(self, cmd)
            return
        handler = self.store.handler(kind)
        if handler is None:
            self._reply(c.OperationUnsupported(cmd.request_id, kind.__name__, ""))
            return
        result = handler(cmd)
        if isinstance(result, c.Command):
            self._reply(result)
        else:
            self._await_reply(result)

    def _hello(self, cmd: c.Hello) -> None:
        compatible = cmd.low_version <= WIRE_VERSION and cmd.high_version >= OLDEST_COMPATIBLE_VERSION
        slot = self._slot()
        self._fill(slot, c.Hello(WIRE_VERSION, OLDEST_COMPATIBLE_VERSION), close=not compatible)
        if not compatible:
            log.info("%s: incompatible wire versions %d..%d", self.peer, cmd.low_version, cmd.high_version)

    # -- appends ---------------------------------------------------------------

    def _setup_append(self, cmd: c.SetupAppend) -> None:
        seg = self.engine.segments.get(cmd.segment)
        if seg is None:
            self._reply(c.NoSuchSegment(cmd.request_id, cmd.segment, "", -1))
            return
        if seg.sealed:
            self._reply(c.SegmentIsSealed(cmd.request_id, cmd.segment, "", -1))
            return
        self.writers[cmd.writer_id] = _Writer(seg)
        slot = self._slot()

        def reply() -> None:
            # After the barrier: the number reported is durable.
            last = seg.writers.get(cmd.writer_id, MIN_EVENT_NUMBER)
            self._fill(slot, c.AppendSetup(cmd.request_id, cmd.segment, cmd.writer_id, last))

        self.engine.log.barrier(reply)

    def _writer(self, writer_id: int, request_id: int, event_number: int) -> _Writer | None:
        writer = self.writers.get(writer_id)
        if writer is None:
            self._invalid_event_number(writer_id, request_id, event_number, "append without SetupAppend")
        return writer

    def _invalid_event_number(self, writer_id: int, request_id: int, event_number: int, why: str) -> None:
        log.info("%s: writer %032x: %s", self.peer, writer_id, why)
        slot = self._slot()
        self._fill(slot, c.InvalidEventNumber(writer_id, request_id, why, event_number), close=True)

    def _append_block(self, cmd: c.AppendBlock) -> None:
        writer = self._writer(cmd.writer_id, -1, -1)
        if writer is not None:
            writer.block = cmd.data

    def _append_block_end(self, cmd: c.AppendBlockEnd) -> None:
        writer = self.writers.get(cmd.writer_id)
        if writer is None:
            self._invalid_event_number(
                cmd.writer_id, cmd.request_id, cmd.last_event_number, "append without SetupAppend"
            )
            return
        data = cmd.data
        if writer.block is not None:
            data = _reassemble(writer.block, cmd.size_of_whole_events, data)
            writer.block = None
            if data is None:
                self._protocol_failure("malformed AppendBlock data")
                return
        first = cmd.last_event_number - cmd.num_events + 1
        self._append(writer, cmd.writer_id, cmd.last_event_number, first, data, cmd.request_id, None)

    def _conditional_block_end(self, cmd: c.ConditionalBlockEnd) -> None:
        writer = self._writer(cmd.writer_id, cmd.request_id, cmd.event_number)
        if writer is not None:
            self._append(
                writer, cmd.writer_id, cmd.event_number, cmd.event_number, cmd.data, cmd.request_id, cmd.expected_offset
            )

    def _conditional_append(self, cmd: c.ConditionalAppend) -> None:
        writer = self._writer(cmd.writer_id, cmd.request_id, cmd.event_number)
        if writer is not None:
            self._append(
                writer,
                cmd.writer_id,
                cmd.event_number,
                cmd.event_number,
                frame_event(bytes(cmd.data)),
                cmd.request_id,
                cmd.expected_offset,
            )

    def _append(
        self,
        writer: _Writer,
        writer_id: int,
        last: int,
        first: int,
        data: Any,
        request_id: int,
        expected_offset: int | None,
    ) -> None:
        seg = writer.segment
        previous = seg.writers.get(writer_id, MIN_EVENT_NUMBER)
        slot = self._slot()
        if self._storage_failed:
            # A later block must not be stored after an earlier one was refused: the resend
            # of the refused block would then look like a duplicate and be dropped.
            self._fill(slot, c.ErrorMessage(request_id, seg.name, "storage unavailable", ILLEGAL_ARGUMENT), close=True)
            return
        if last <= previous:
            # Already stored (a resend after reconnect): acknowledge once durable.
            self.engine.log.barrier(
                lambda: self._fill(slot, c.DataAppended(writer_id, last, previous, request_id, seg.length))
            )
            return
        if first <= previous:
            self._fill(
                slot, c.InvalidEventNumber(writer_id, request_id, "block overlaps stored events", last), close=True
            )
            return
        if seg.deleted:
            self._fill(slot, c.NoSuchSegment(request_id, seg.name, "", -1))
            return
        try:
            previous, length = self.engine.append(
                seg,
                writer_id,
                last,
                data,
                lambda: self._fill(slot, c.DataAppended(writer_id, last, previous, request_id, length)),
                expected_offset,
                events=last - first + 1,
            )
        except errors.BadOffset:
            # Not fatal for the connection: the writer decides what to do.
            self._fill(slot, c.ConditionalCheckFailed(writer_id, last, request_id))
        except errors.SegmentSealed:
            self._fill(slot, c.SegmentIsSealed(request_id, seg.name, "", seg.length))
        except errors.StorageUnavailable as exc:
            # Disk full or failing: the writer reconnects and resends (nothing was stored).
            self._storage_failed = True
            self._fill(slot, c.ErrorMessage(request_id, seg.name, str(exc), ILLEGAL_ARGUMENT), close=True)
        except errors.StoreError as exc:
            self._fill(slot, c.ErrorMessage(request_id, seg.name, str(exc), ILLEGAL_ARGUMENT))


_SPECIAL = {
    c.Hello: WireConnection._hello,
    c.SetupAppend: WireConnection._setup_append,
    c.AppendBlock: WireConnection._append_block,
    c.ConditionalBlockEnd: WireConnection._conditional_block_end,
    c.ConditionalAppend: WireConnection._conditional_append,
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


def _error_frame(message: str) -> bytes:
    """An ErrorMessage encoded without the connection's codec, which is in its error
    state once the peer broke the protocol."""
    return encode(c.ErrorMessage(-1, "", message[:1000], UNSPECIFIED))


async def start_tcp(
    store: SegmentStore, host: str, port: int, *, sock: socket.socket | None = None
) -> tuple[asyncio.AbstractServer, set[WireConnection]]:
    """Serve the wire protocol on ``host:port``, or on ``sock`` (bound and listening already,
    see :func:`bind_listener`)."""
    connections: set[WireConnection] = set()
    loop = asyncio.get_running_loop()
    if sock is None:
        sock = bind_listener(host, port)
    server = await loop.create_server(lambda: WireConnection(store, connections), sock=sock, backlog=1024)
    return server, connections


def bind_listener(host: str, port: int) -> socket.socket:
    """An exclusive listening socket: SO_REUSEADDR (restart over TIME_WAIT) but never
    SO_REUSEPORT, so a second server on the same port fails with EADDRINUSE."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(1024)
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot bind the segment store to {host}:{port}: {exc.strerror}") from None
    sock.setblocking(False)
    return sock
