"""Sans-I/O state machine for one segment-store connection (h11 style).

The caller owns the socket.  Bytes read from it go to `Connection.receive_data` (``b""`` for
EOF); commands come out of `Connection.next_event`, which returns `NEED_DATA` when more bytes are
needed and `CLOSED` once the peer closed cleanly.  Commands to send go through
`Connection.send`, which returns the bytes to write::

    conn = Connection(Role.SERVER)
    conn.receive_data(sock.recv(65536))
    while (event := conn.next_event()) is not NEED_DATA and event is not CLOSED:
        sock.sendall(conn.send(handle(event)))

Any exception leaves the connection in `State.ERROR` for good; every later call raises
`LocalProtocolError`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from .codec import COMMAND_TYPES, decode, encode
from .commands import Command, Direction, Hello
from .errors import LocalProtocolError, RemoteProtocolError
from .framing import HEADER_SIZE, MAX_WIRECOMMAND_SIZE, OLDEST_COMPATIBLE_VERSION, WIRE_VERSION, parse_header

__all__ = ["Role", "State", "Sentinel", "NEED_DATA", "CLOSED", "Connection", "versions_compatible"]


class Role(enum.Enum):
    CLIENT = "client"
    SERVER = "server"


class State(enum.Enum):
    OPEN = "open"
    CLOSED = "closed"  # the peer sent EOF and every complete frame was consumed
    ERROR = "error"


class Sentinel(enum.Enum):
    NEED_DATA = "NEED_DATA"
    CLOSED = "CLOSED"

    def __repr__(self) -> str:
        return self.value


NEED_DATA = Sentinel.NEED_DATA
CLOSED = Sentinel.CLOSED


def versions_compatible(high: int, low: int) -> bool:
    """True iff a peer speaking versions ``[low, high]`` overlaps our ``[5, 17]``."""
    return max(low, OLDEST_COMPATIBLE_VERSION) <= min(high, WIRE_VERSION)


def _allowed(directions: tuple[Direction, ...]) -> dict[int, type[Command]]:
    return {code: cls for code, cls in COMMAND_TYPES.items() if cls.DIRECTION in directions and not cls.EMBEDDED}


_RECEIVABLE = {
    Role.SERVER: _allowed((Direction.REQUEST, Direction.BOTH)),
    Role.CLIENT: _allowed((Direction.REPLY, Direction.BOTH)),
}
_SENDABLE = {
    Role.SERVER: frozenset(_RECEIVABLE[Role.CLIENT].values()),
    Role.CLIENT: frozenset(_RECEIVABLE[Role.SERVER].values()),
}


class Connection:
    """One side (``role``) of a connection.

    ``max_frame_size`` bounds received frames (header included); a larger declared length is
    rejected as soon as its header arrives, before any of the payload is buffered.
    """

    def __init__(self, role: Role, max_frame_size: int = MAX_WIRECOMMAND_SIZE) -> None:
        if max_frame_size < HEADER_SIZE:
            raise ValueError(f"max_frame_size must be at least {HEADER_SIZE}")
        self.role = role
        self.max_frame_size = max_frame_size
        self._state = State.OPEN
        self._receivable = _RECEIVABLE[role]
        self._sendable = _SENDABLE[role]
        # Unparsed input is self._buf[self._pos:].  While a received chunk is consumed whole it
        # stays the original `bytes` object and payloads are zero-copy slices of it; once a frame
        # spans chunks the rest moves to a bytearray that grows in place and is compacted when
        # more than half of it has been consumed, so large frames are copied a bounded number of
        # times instead of once per chunk.
        self._buf: bytes | bytearray = b""
        self._pos = 0
        self._eof = False
        self._peer_hello: tuple[int, int] | None = None
        self._own_high_version = WIRE_VERSION

    @property
    def state(self) -> State:
        return self._state

    @property
    def peer_hello(self) -> tuple[int, int] | None:
        """``(high_version, low_version)`` of the first Hello received, if any."""
        return self._peer_hello

    @property
    def peer_version(self) -> int | None:
        """``min(peer's high_version, WIRE_VERSION)``; None before the peer's Hello (see also
        `negotiated_version`, which also accounts for the Hello we sent)."""
        return None if self._peer_hello is None else min(self._peer_hello[0], WIRE_VERSION)

    @property
    def negotiated_version(self) -> int:
        """Version used to encode and decode: the lower of the peer's high version (once known)
        and the high version of the Hello we sent (`WIRE_VERSION` if none was sent)."""
        if self._peer_hello is None:
            return self._own_high_version
        return min(self._peer_hello[0], self._own_high_version)

    def _check_usable(self) -> None:
        if self._state is State.ERROR:
            raise LocalProtocolError("connection is in ERROR state after an earlier failure")

    # -- receiving --------------------------------------------------------------------------

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Add bytes received from the peer; ``b""`` means the peer closed (EOF)."""
        self._check_usable()
        if self._eof:
            self._state = State.ERROR
            raise LocalProtocolError("received data after EOF")
        if not data:
            self._eof = True
            return
        if self._pos == len(self._buf):
            self._buf = data if type(data) is bytes else bytes(data)
            self._pos = 0
            return
        if isinstance(self._buf, bytes):
            with memoryview(self._buf) as view:
                self._buf = bytearray(view[self._pos :])
            self._pos = 0
        elif self._pos > len(self._buf) // 2:
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    def next_event(self) -> Command | Sentinel:
        """Return the next command, `NEED_DATA`, or `CLOSED` (peer EOF on a frame boundary)."""
        self._check_usable()
        if self._state is State.CLOSED:
            return CLOSED
        try:
            return self._next_event()
        except Exception:
            self._state = State.ERROR
            raise

    def _next_event(self) -> Command | Sentinel:
        buf, pos = self._buf, self._pos
        available = len(buf) - pos
        if available < HEADER_SIZE:
            if not self._eof:
                return NEED_DATA
            if available:
                raise RemoteProtocolError("EOF in the middle of a frame header", detail=f"{available} bytes")
            self._state = State.CLOSED
            return CLOSED
        type_code, length = parse_header(buf, pos, max_frame_size=self.max_frame_size)
        if type_code not in self._receivable:
            raise self._unexpected(type_code)
        start = pos + HEADER_SIZE
        end = start + length
        if len(buf) < end:
            if self._eof:
                raise RemoteProtocolError(
                    "EOF in the middle of a frame", type_code=type_code, detail=f"{len(buf) - start} of {length} bytes"
                )
            return NEED_DATA
        payload: bytes | memoryview
        if type(buf) is bytes:
            payload = memoryview(buf)[start:end]
        else:  # copy out: the bytearray will be compacted or resized later
            with memoryview(buf) as view, view[start:end] as piece:
                payload = bytes(piece)
        self._pos = end
        cmd = decode(type_code, payload, self.negotiated_version)
        if self._peer_hello is None and type(cmd) is Hello:
            self._peer_hello = (cmd.high_version, cmd.low_version)
        return cmd

    def _unexpected(self, type_code: int) -> RemoteProtocolError:
        cls = COMMAND_TYPES.get(type_code)
        if cls is None:
            return RemoteProtocolError("unknown command type", type_code=type_code)
        if cls.EMBEDDED:
            return RemoteProtocolError(f"{cls.__name__} is only valid inside append data", type_code=type_code)
        return RemoteProtocolError(
            f"a {self.role.value} cannot receive {cls.__name__} ({cls.DIRECTION.value})", type_code=type_code
        )

    # -- sending ----------------------------------------------------------------------------

    def send(self, cmd: Command) -> bytes:
        """Return the frame to write for ``cmd``, encoded for the negotiated version."""
        self._check_usable()
        try:
            if type(cmd) not in self._sendable:
                raise LocalProtocolError(
                    f"a {self.role.value} cannot send {type(cmd).__name__}", type_code=getattr(cmd, "TYPE_CODE", None)
                )
            frame = encode(cmd, self.negotiated_version)
        except Exception:
            self._state = State.ERROR
            raise
        if type(cmd) is Hello:
            self._own_high_version = min(cmd.high_version, WIRE_VERSION)
        return frame

    def send_many(self, cmds: Iterable[Command]) -> bytes:
        """Frames of several commands, concatenated."""
        return b"".join([self.send(cmd) for cmd in cmds])
