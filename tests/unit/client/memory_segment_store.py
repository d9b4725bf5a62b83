"""An in-memory segment-store peer for the client's connection seam.

:meth:`MemorySegmentStore.connect` is a :data:`pravega.client.connection.ConnectionFactory`:
it returns the client's real :class:`SegmentStoreConnection`, attached to an in-memory
transport instead of a socket. The other end decodes with the real sans-I/O codec
(:class:`pravega.protocol.Connection`, server role) and answers appends and reads the way
a segment store does: event numbers per writer make a resent block a duplicate that is
acknowledged but not stored again.

Failures are injected from outside, as a network or a server would cause them:
:meth:`MemorySegmentStore.seal` a segment, :meth:`~MemorySegmentStore.move_away` (every
request is then answered ``WrongHost``) or lose every connection at a chosen command
(:attr:`~MemorySegmentStore.lose_connection_on`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from pravega.client.connection import Endpoint, SegmentStoreConnection
from pravega.protocol import commands as c
from pravega.protocol.connection import Connection, Role, Sentinel
from pravega.protocol.framing import OLDEST_COMPATIBLE_VERSION, WIRE_VERSION, parse_events


@dataclass
class Segment:
    data: bytearray = field(default_factory=bytearray)
    sealed: bool = False
    writers: dict[int, int] = field(default_factory=dict)  # writer id -> last event number stored

    def events(self) -> list[bytes]:
        _, payloads, _ = parse_events(bytes(self.data))
        return [bytes(p) for p in payloads]


class _Transport(asyncio.Transport):
    """The client's side of an in-memory connection: bytes go to the peer on the next
    loop iteration, as they would over a socket."""

    def __init__(self, side: _ServerSide) -> None:
        super().__init__()
        self._side = side

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._side.closed:
            self._side.loop.call_soon(self._side.received, bytes(data))

    def writelines(self, list_of_data: object) -> None:
        self.write(b"".join(list_of_data))  # type: ignore[arg-type]

    def close(self) -> None:
        self._side.close(None)

    def is_closing(self) -> bool:
        return self._side.closed


class _ServerSide:
    def __init__(self, store: MemorySegmentStore, client: SegmentStoreConnection) -> None:
        self.store = store
        self.client = client
        self.loop = asyncio.get_running_loop()
        self.codec = Connection(Role.SERVER)
        self.closed = False
        self.appending_to = ""  # the segment of this connection's SetupAppend

    def received(self, data: bytes) -> None:
        if self.closed:
            return
        self.codec.receive_data(data)
        while not self.closed:
            cmd = self.codec.next_event()
            if isinstance(cmd, Sentinel):  # NEED_DATA or CLOSED
                return
            self.store.received.append(cmd)
            if self._lost_at(cmd, "lose_connection_on"):
                return
            reply = self.store.handle(cmd, self)
            if self._lost_at(cmd, "lose_reply_to"):
                return
            if reply is not None:
                self.send(reply)

    def _lost_at(self, cmd: c.Command, hook: str) -> bool:
        """Close the connection if the store's one-shot ``hook`` accepts ``cmd``."""
        lose = getattr(self.store, hook)
        if lose is None or not lose(cmd):
            return False
        setattr(self.store, hook, None)
        self.store.lost += 1
        self.close(ConnectionResetError("connection reset by the test"))
        return True

    def send(self, reply: c.Command) -> None:
        if not self.closed:
            self.loop.call_soon(self._deliver, self.codec.send(reply))

    def _deliver(self, data: bytes) -> None:
        if not self.closed:
            self.client.data_received(data)

    def close(self, exc: Exception | None) -> None:
        if not self.closed:
            self.closed = True
            self.loop.call_soon(self.client.connection_lost, exc)


class MemorySegmentStore:
    def __init__(self) -> None:
        self.segments: dict[str, Segment] = {}
        #: Every command received, in order (Hellos included).
        self.received: list[c.Command] = []
        #: Endpoints connected to, one per connection opened.
        self.connected: list[Endpoint] = []
        #: Close the connection (before answering) at the first command this accepts.
        self.lose_connection_on: Callable[[c.Command], bool] | None = None
        #: Handle (store) the first command this accepts, then close the connection before the
        #: reply goes out: the write happened, its acknowledgement is lost.
        self.lose_reply_to: Callable[[c.Command], bool] | None = None
        #: Connections lost either way.
        self.lost = 0
        self._moved_to: str | None = None
        self._sides: list[_ServerSide] = []

    # -- the seam ----------------------------------------------------------------------

    async def connect(self, endpoint: Endpoint, timeout: float) -> SegmentStoreConnection:
        self.connected.append(endpoint)
        client = SegmentStoreConnection(endpoint)
        side = _ServerSide(self, client)
        self._sides.append(side)
        client.connection_made(_Transport(side))
        await client.handshake(timeout)
        return client

    # -- failures ------------------------------------------------------------------------

    def seal(self, segment: str) -> None:
        self.segment(segment).sealed = True

    def move_away(self, correct_host: str) -> None:
        """The segments are not here any more: every request is answered ``WrongHost``."""
        self._moved_to = correct_host

    def segment(self, name: str) -> Segment:
        return self.segments.setdefault(name, Segment())

    # -- the server's answers ----------------------------------------------------------------

    def handle(self, cmd: c.Command, side: _ServerSide) -> c.Command | None:
        kind = type(cmd)
        if kind is c.Hello:
            return c.Hello(WIRE_VERSION, OLDEST_COMPATIBLE_VERSION)
        if kind is c.KeepAlive:
            return None
        segment_name = getattr(cmd, "segment", None)
        if self._moved_to is not None and segment_name is not None:
            return c.WrongHost(cmd.request_id, segment_name, self._moved_to)
        if isinstance(cmd, c.SetupAppend):
            side.appending_to = cmd.segment
            seg = self.segment(cmd.segment)
            if seg.sealed:
                return c.SegmentIsSealed(cmd.request_id, cmd.segment, "", len(seg.data))
            return c.AppendSetup(cmd.request_id, cmd.segment, cmd.writer_id, seg.writers.get(cmd.writer_id, -1))
        if isinstance(cmd, c.AppendBlockEnd):
            if self._moved_to is not None:
                return c.WrongHost(cmd.request_id, side.appending_to, self._moved_to)
            return self._append(cmd, side.appending_to)
        if isinstance(cmd, c.ReadSegment):
            seg = self.segment(cmd.segment)
            data = bytes(seg.data[cmd.offset : cmd.offset + cmd.suggested_length])
            at_end = cmd.offset + len(data) >= len(seg.data)
            return c.SegmentRead(cmd.segment, cmd.offset, at_end, at_end and seg.sealed, data, cmd.request_id)
        raise AssertionError(f"the in-memory segment store does not handle {cmd!r}")

    def _append(self, cmd: c.AppendBlockEnd, name: str) -> c.Command:
        seg = self.segment(name)
        if seg.sealed:
            return c.SegmentIsSealed(cmd.request_id, name, "", len(seg.data))
        previous = seg.writers.get(cmd.writer_id, -1)
        if cmd.last_event_number > previous:  # else a duplicate: acknowledged, not stored again
            seg.data += cmd.data
            seg.writers[cmd.writer_id] = cmd.last_event_number
        return c.DataAppended(cmd.writer_id, cmd.last_event_number, previous, cmd.request_id, len(seg.data))
