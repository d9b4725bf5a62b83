"""The segment store's TCP listener: one protocol object per connection.

Each connection owns a sans-I/O codec. Incoming frames are decoded and handled in
arrival order; every request gets a reply slot, and replies leave strictly in
request order (the Rust client checks reply request ids on pooled connections).

Commands go to the service layer: appends to the connection's
:class:`~pravega_server.service.appends.AppendProcessor` (their state belongs to the
connection), everything else to :class:`~pravega_server.service.segment_store.SegmentStore`.
This module keeps framing, reply slots and flow control.

Any protocol violation (malformed or oversized frame, unknown type, bad UTF-8, a
reply type sent as a request) takes one path: an ``ErrorMessage`` is sent if the
connection can still carry it, then the connection is closed. Other connections and
everything already acknowledged are unaffected.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import struct
from typing import Any

from pravega.protocol import commands as c
from pravega.protocol.codec import encode
from pravega.protocol.connection import Connection, Role, versions_compatible
from pravega.protocol.errors import ProtocolError
from pravega.protocol.framing import OLDEST_COMPATIBLE_VERSION, WIRE_VERSION

from ..auth.wire import WireGuard
from ..service.appends import APPEND_COMMANDS, AppendProcessor
from ..service.replies import UNSPECIFIED, closes_connection, error_reply
from ..service.segment_store import SegmentStore
from ..storage import errors

log = logging.getLogger(__name__)

#: Stop reading from a peer that has this many replies outstanding.
MAX_PENDING_REPLIES = 4096


class _Slot:
    __slots__ = ("reply", "close")

    def __init__(self) -> None:
        self.reply: Any = None
        self.close = False


class WireConnection(asyncio.Protocol):
    #: Checks delegation tokens when authentication is on (see auth.wire).
    guard: WireGuard | None = None

    def __init__(self, store: SegmentStore, connections: set[WireConnection]) -> None:
        self.store = store
        self.codec = Connection(Role.SERVER)
        self.transport: asyncio.Transport | None = None
        self.slots: list[_Slot] = []
        self.head = 0  # index of the oldest unsent slot
        self.appends = AppendProcessor(store.engine, self)
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
        self.appends.peer = self.peer
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
                if not isinstance(cmd, c.Command):  # NEED_DATA or CLOSED
                    break
                self._dispatch(cmd)
        except ProtocolError as exc:
            self.protocol_failure(str(exc))
        except Exception:  # a bug in a handler must not take the server down
            log.exception("internal error on connection %s", self.peer)
            self.protocol_failure("internal server error")

    # -- replies -----------------------------------------------------------------

    def slot(self) -> _Slot:
        slot = _Slot()
        self.slots.append(slot)
        if len(self.slots) - self.head > MAX_PENDING_REPLIES:
            self._update_reading()
        return slot

    def _reply(self, reply: Any) -> None:
        """Queue a reply that is ready now."""
        slot = self.slot()
        slot.reply = reply
        self._flush()

    def fill(self, slot: _Slot, reply: Any, close: bool = False) -> None:
        if self.closing:
            return
        slot.reply = reply
        slot.close = close
        self._flush()

    def acknowledge(
        self, slot: _Slot, writer_id: int, event_number: int, previous: int, request_id: int, offset: int
    ) -> None:
        if self.closing:
            return
        frame = _pack_data_appended(writer_id, event_number, previous, request_id, offset)
        slots = self.slots
        if len(slots) == self.head + 1 and slots[-1] is slot and self.transport is not None:
            # The only reply due (a writer waiting for its one append): straight out.
            slots.clear()
            self.head = 0
            self.transport.write(frame)
            if self.paused_reading:
                self._update_reading()
            return
        slot.reply = frame
        self._flush()

    def _flush(self) -> None:
        slots = self.slots
        head = self.head
        out = []
        close = False
        while head < len(slots) and slots[head].reply is not None:
            slot = slots[head]
            reply = slot.reply
            # An append's acknowledgement comes packed already (same bytes in every
            # protocol version, see data_appended_frame), everything else is encoded here.
            out.append(reply if type(reply) is bytes else self.codec.send(reply))
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

    def _await_reply(self, awaitable: Any, request_id: int) -> None:
        slot = self.slot()
        task = asyncio.ensure_future(awaitable)
        self.tasks.add(task)

        def done(t: asyncio.Future) -> None:
            self.tasks.discard(t)
            if t.cancelled():
                return
            exc = t.exception()
            if isinstance(exc, errors.StoreError):
                log.warning("request refused on %s: %s", self.peer, exc)
                self.fill(slot, error_reply(request_id, exc), close=closes_connection(exc))
                return
            if exc is not None:
                log.error("request failed on %s: %r", self.peer, exc, exc_info=exc)
                self.fill(slot, c.ErrorMessage(-1, "", f"internal error: {exc}", UNSPECIFIED), close=True)
                return
            self.fill(slot, t.result())

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

    def protocol_failure(self, message: str) -> None:
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
        if self.guard is not None and (refused := self.guard.check(cmd)) is not None:
            log.info("%s: %s refused: %s", self.peer, type(cmd).__name__, refused.server_stack_trace)
            self._reply(refused)
            return
        if isinstance(cmd, c.AppendBlockEnd):  # the hot path first
            self.appends.append_block_end(cmd)
            return
        kind = type(cmd)
        append = APPEND_COMMANDS.get(kind)
        if append is not None:
            append(self.appends, cmd)
            return
        if isinstance(cmd, c.Hello):
            self._hello(cmd)
            return
        handler = self.store.handler(kind)
        if handler is None:
            self._reply(c.OperationUnsupported(cmd.request_id, kind.__name__, ""))
            return
        result = handler(cmd)
        if isinstance(result, c.Command):
            self._reply(result)
        else:
            self._await_reply(result, getattr(cmd, "request_id", -1))

    def _hello(self, cmd: c.Hello) -> None:
        compatible = versions_compatible(cmd.high_version, cmd.low_version)
        self.fill(self.slot(), c.Hello(WIRE_VERSION, OLDEST_COMPATIBLE_VERSION), close=not compatible)
        if not compatible:
            log.info("%s: incompatible wire versions %d..%d", self.peer, cmd.low_version, cmd.high_version)


def _error_frame(message: str) -> bytes:
    """An ErrorMessage encoded without the connection's codec, which is in its error
    state once the peer broke the protocol."""
    return encode(c.ErrorMessage(-1, "", message[:1000], UNSPECIFIED))


_DATA_APPENDED = struct.Struct(">iiQQqqqq")
_DATA_APPENDED_TYPE = c.DataAppended.TYPE_CODE
_DATA_APPENDED_SIZE = _DATA_APPENDED.size - 8
_U64 = (1 << 64) - 1


def data_appended_frame(reply: c.DataAppended) -> bytes:
    """The frame of a ``DataAppended``: header, writer id (two u64), event number, previous
    event number, request id, segment write offset (tests/unit/service/test_ack_frame.py
    checks it equals the codec's output for every protocol version)."""
    return _pack_data_appended(
        reply.writer_id,
        reply.event_number,
        reply.previous_event_number,
        reply.request_id,
        reply.current_segment_write_offset,
    )


def _pack_data_appended(writer_id: int, event_number: int, previous: int, request_id: int, offset: int) -> bytes:
    return _DATA_APPENDED.pack(
        _DATA_APPENDED_TYPE,
        _DATA_APPENDED_SIZE,
        writer_id >> 64,
        writer_id & _U64,
        event_number,
        previous,
        request_id,
        offset,
    )


async def start_tcp(
    store: SegmentStore,
    host: str,
    port: int,
    *,
    sock: socket.socket | None = None,
    ssl_context: ssl.SSLContext | None = None,
    guard: WireGuard | None = None,
) -> tuple[asyncio.Server, set[WireConnection]]:
    """Serve the wire protocol on ``host:port``, or on ``sock`` (bound and listening already,
    see :func:`bind_listener`); over TLS with ``ssl_context``; checking delegation tokens
    with ``guard``."""
    connections: set[WireConnection] = set()
    loop = asyncio.get_running_loop()
    if sock is None:
        sock = bind_listener(host, port)

    def make() -> WireConnection:
        conn = WireConnection(store, connections)
        conn.guard = guard
        return conn

    server = await loop.create_server(
        make,
        sock=sock,
        backlog=1024,
        ssl=ssl_context,
        ssl_handshake_timeout=30.0 if ssl_context is not None else None,
    )
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
