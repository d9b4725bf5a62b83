"""Client and server `Connection`s driven against each other in memory (h11's ConnectionPair style)."""

from __future__ import annotations

import struct
import time
from collections.abc import Iterable

import pytest

from pravega.protocol import (
    CLOSED,
    MAX_WIRECOMMAND_SIZE,
    NEED_DATA,
    OLDEST_COMPATIBLE_VERSION,
    WIRE_VERSION,
    AppendBlockEnd,
    AppendSetup,
    Command,
    Connection,
    DataAppended,
    Event,
    Hello,
    InvalidEventNumber,
    KeepAlive,
    LocalProtocolError,
    ReadSegment,
    RemoteProtocolError,
    Role,
    SegmentRead,
    SetupAppend,
    State,
    TableEntry,
    UpdateTableEntries,
    encode,
    versions_compatible,
)

WRITER = 0x0123456789ABCDEF0011223344556677
SEGMENT = "scope/stream/0.#epoch.0"


def drain(conn: Connection) -> list[Command]:
    events: list[Command] = []
    while True:
        event = conn.next_event()
        if event is NEED_DATA or event is CLOSED:
            return events
        events.append(event)


class ConnectionPair:
    def __init__(self) -> None:
        self.client = Connection(Role.CLIENT)
        self.server = Connection(Role.SERVER)

    def to_server(self, *cmds: Command) -> list[Command]:
        self.server.receive_data(self.client.send_many(cmds))
        return drain(self.server)

    def to_client(self, *cmds: Command) -> list[Command]:
        self.client.receive_data(self.server.send_many(cmds))
        return drain(self.client)


CLIENT_TRAFFIC: list[Command] = [
    Hello(WIRE_VERSION, OLDEST_COMPATIBLE_VERSION),
    SetupAppend(1, WRITER, SEGMENT, ""),
    AppendBlockEnd(WRITER, 26, encode(Event(b"hi")) + encode(Event(b"there!")), 2, 2, 2),
    ReadSegment(SEGMENT, 0, 8 << 20, "token", 3),
    UpdateTableEntries(4, "_system/t", "", [TableEntry(b"k", -1, b"v"), TableEntry(b"", -(1 << 63), b"")]),
    KeepAlive(),
]
SERVER_TRAFFIC: list[Command] = [
    Hello(WIRE_VERSION, OLDEST_COMPATIBLE_VERSION),
    AppendSetup(1, SEGMENT, WRITER, -(1 << 63)),
    DataAppended(WRITER, 2, -(1 << 63), 2, 26),
    SegmentRead(SEGMENT, 0, True, False, b"\x00" * 100, 3),
    KeepAlive(),
]


def test_request_reply_exchange() -> None:
    pair = ConnectionPair()
    assert pair.to_server(*CLIENT_TRAFFIC) == CLIENT_TRAFFIC
    assert pair.to_client(*SERVER_TRAFFIC) == SERVER_TRAFFIC
    assert pair.client.state is pair.server.state is State.OPEN


@pytest.mark.parametrize("role, traffic", [(Role.SERVER, CLIENT_TRAFFIC), (Role.CLIENT, SERVER_TRAFFIC)])
def test_input_split_at_every_byte_boundary(role: Role, traffic: list[Command]) -> None:
    stream = b"".join(encode(cmd) for cmd in traffic)
    for split in range(len(stream) + 1):
        conn = Connection(role)
        events: list[Command] = []
        for part in (stream[:split], stream[split:]):
            if part:  # b"" would mean EOF
                conn.receive_data(part)
            events += drain(conn)
        conn.receive_data(b"")
        assert conn.next_event() is CLOSED
        assert events == traffic, split


@pytest.mark.parametrize("chunk_type", [bytes, bytearray, memoryview])
def test_input_one_byte_at_a_time(chunk_type: type) -> None:
    stream = b"".join(encode(cmd) for cmd in CLIENT_TRAFFIC)
    conn = Connection(Role.SERVER)
    events: list[Command] = []
    for i in range(len(stream)):
        conn.receive_data(chunk_type(stream[i : i + 1]))
        events += drain(conn)
    assert events == CLIENT_TRAFFIC


def test_decoded_data_survives_later_input() -> None:
    # Payloads must not alias the connection's internal buffer, which is reused.
    conn = Connection(Role.SERVER)
    frame = encode(AppendBlockEnd(WRITER, 4, b"abcd", 1, 1, 1))
    conn.receive_data(frame[:10])
    conn.receive_data(frame[10:] + frame[:5])
    (first,) = drain(conn)
    conn.receive_data(b"\xff" * 100)  # garbage arriving later must not change `first`
    assert isinstance(first, AppendBlockEnd) and bytes(first.data) == b"abcd"


# -- Hello negotiation ---------------------------------------------------------------------------


def test_hello_negotiation() -> None:
    pair = ConnectionPair()
    assert pair.server.peer_version is None and pair.server.negotiated_version == WIRE_VERSION
    pair.to_server(Hello(15, 5))  # what the Rust client sends
    assert pair.server.peer_hello == (15, 5)
    assert pair.server.peer_version == 15
    pair.to_client(Hello(17, 5))
    assert pair.client.peer_hello == (17, 5)
    assert pair.client.peer_version == 17
    assert pair.client.negotiated_version == pair.server.negotiated_version == 15


def test_only_the_first_hello_is_recorded() -> None:
    pair = ConnectionPair()
    pair.to_server(Hello(16, 5))
    assert pair.to_server(Hello(12, 5)) == [Hello(12, 5)]
    assert pair.server.peer_version == 16


def test_peer_version_is_capped_at_ours() -> None:
    pair = ConnectionPair()
    pair.to_client(Hello(99, 5))
    assert pair.client.peer_version == WIRE_VERSION


def test_negotiated_version_selects_the_invalid_event_number_layout() -> None:
    pair = ConnectionPair()
    pair.to_server(Hello(15, 5))
    pair.to_client(Hello(17, 5))
    cmd = InvalidEventNumber(WRITER, 7, "trace", 3)
    frame = pair.server.send(cmd)
    assert frame == encode(cmd, version=15)
    pair.client.receive_data(frame)
    assert drain(pair.client) == [InvalidEventNumber(WRITER, -1, "trace", 3)]  # v15 has no request id

    modern = ConnectionPair()
    modern.to_server(Hello(17, 5))
    modern.to_client(Hello(17, 5))
    assert modern.to_client(cmd) == [cmd]


@pytest.mark.parametrize(
    "high, low, expected",
    [(17, 5, True), (15, 5, True), (5, 5, True), (99, 17, True), (4, 1, False), (99, 18, False), (14, 16, False)],
)
def test_versions_compatible(high: int, low: int, expected: bool) -> None:
    assert versions_compatible(high, low) is expected


# -- EOF -----------------------------------------------------------------------------------------


def test_clean_eof() -> None:
    conn = Connection(Role.SERVER)
    conn.receive_data(encode(KeepAlive()))
    conn.receive_data(b"")
    assert conn.next_event() == KeepAlive()
    assert conn.next_event() is CLOSED
    assert conn.next_event() is CLOSED
    assert conn.state is State.CLOSED
    with pytest.raises(LocalProtocolError):
        conn.receive_data(b"more")


@pytest.mark.parametrize("cut", [1, 7, 8, 20])
def test_eof_in_the_middle_of_a_frame(cut: int) -> None:
    conn = Connection(Role.SERVER)
    conn.receive_data(encode(SetupAppend(1, WRITER, SEGMENT, ""))[:cut])
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b"")
    with pytest.raises(RemoteProtocolError):
        conn.next_event()
    assert conn.state is State.ERROR


# -- malformed input -----------------------------------------------------------------------------


def test_oversized_length_rejected_before_the_payload_arrives() -> None:
    conn = Connection(Role.SERVER)
    conn.receive_data(struct.pack(">ii", 4, MAX_WIRECOMMAND_SIZE - 8 + 1))
    with pytest.raises(RemoteProtocolError, match="too large"):
        conn.next_event()


def test_largest_allowed_length_waits_for_the_payload() -> None:
    conn = Connection(Role.SERVER)
    conn.receive_data(struct.pack(">ii", 4, MAX_WIRECOMMAND_SIZE - 8))
    assert conn.next_event() is NEED_DATA


def test_custom_max_frame_size() -> None:
    frame = encode(SetupAppend(1, WRITER, SEGMENT, ""))
    assert drain(_fed(Connection(Role.SERVER, max_frame_size=len(frame)), frame)) != []
    conn = _fed(Connection(Role.SERVER, max_frame_size=len(frame) - 1), frame[:8])
    with pytest.raises(RemoteProtocolError):
        conn.next_event()


def _fed(conn: Connection, data: bytes) -> Connection:
    conn.receive_data(data)
    return conn


@pytest.mark.parametrize(
    "header",
    [
        struct.pack(">ii", 6, 0),  # unused code
        struct.pack(">ii", 1000, 0),
        struct.pack(">ii", 1, -1),  # negative length
        struct.pack(">ii", 7, 48),  # DataAppended is a reply: a server never receives it
        struct.pack(">ii", 0, 2),  # Event is only valid inside append data
        struct.pack(">ii", -1, 2),  # Padding, likewise
    ],
)
def test_bad_headers_are_rejected_by_the_server(header: bytes) -> None:
    conn = _fed(Connection(Role.SERVER), header)  # the payload never arrives
    with pytest.raises(RemoteProtocolError) as info:
        conn.next_event()
    assert info.value.type_code == struct.unpack(">i", header[:4])[0]


def test_client_rejects_requests() -> None:
    conn = _fed(Connection(Role.CLIENT), encode(SetupAppend(1, WRITER, SEGMENT, "")))
    with pytest.raises(RemoteProtocolError):
        conn.next_event()


def test_bad_utf8_is_rejected() -> None:
    payload = struct.pack(">qQQH", 1, 0, 2, 2) + b"\xc3\x28" + struct.pack(">H", 0)
    conn = _fed(Connection(Role.SERVER), struct.pack(">ii", 1, len(payload)) + payload)
    with pytest.raises(RemoteProtocolError):
        conn.next_event()


def test_truncated_payloads_are_rejected() -> None:
    payload = encode(SetupAppend(1, WRITER, SEGMENT, "tok"))[8:]
    for size in range(len(payload)):
        conn = _fed(Connection(Role.SERVER), struct.pack(">ii", 1, size) + payload[:size])
        with pytest.raises(RemoteProtocolError):
            conn.next_event()


def test_error_state_is_permanent() -> None:
    conn = _fed(Connection(Role.SERVER), struct.pack(">ii", 6, 0))
    with pytest.raises(RemoteProtocolError):
        conn.next_event()
    assert conn.state is State.ERROR
    with pytest.raises(LocalProtocolError):
        conn.next_event()
    with pytest.raises(LocalProtocolError):
        conn.receive_data(encode(KeepAlive()))
    with pytest.raises(LocalProtocolError):
        conn.send(KeepAlive())
    assert conn.state is State.ERROR


# -- sending -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "role, cmd",
    [
        (Role.CLIENT, DataAppended(WRITER, 1)),  # a reply
        (Role.SERVER, SetupAppend(1, WRITER, SEGMENT, "")),  # a request
        (Role.CLIENT, Event(b"x")),  # only inside append data
    ],
)
def test_sending_the_wrong_direction_is_a_local_error(role: Role, cmd: Command) -> None:
    conn = Connection(role)
    with pytest.raises(LocalProtocolError):
        conn.send(cmd)
    assert conn.state is State.ERROR


def test_both_directions_may_send_hello_and_keepalive() -> None:
    pair = ConnectionPair()
    assert pair.to_server(Hello(17, 5), KeepAlive()) == [Hello(17, 5), KeepAlive()]
    assert pair.to_client(Hello(17, 5), KeepAlive()) == [Hello(17, 5), KeepAlive()]


def test_sending_an_oversized_frame_is_a_local_error() -> None:
    conn = Connection(Role.CLIENT)
    with pytest.raises(LocalProtocolError):
        conn.send(AppendBlockEnd(WRITER, 0, bytes(MAX_WIRECOMMAND_SIZE), 0, 0, 0))


# -- large frames --------------------------------------------------------------------------------


def feed_in_chunks(conn: Connection, data: bytes, chunk: int) -> Iterable[Command]:
    view = memoryview(data)
    for i in range(0, len(data), chunk):
        conn.receive_data(view[i : i + chunk])
        yield from drain(conn)


def test_large_frame_in_small_chunks_is_linear() -> None:
    data = bytes(range(256)) * (8 * 1024 * 1024 // 256)
    cmd = AppendBlockEnd(WRITER, len(data), data, 1, 1, 1)
    stream = encode(cmd) + encode(KeepAlive())
    conn = Connection(Role.SERVER)
    started = time.perf_counter()
    # 1 KiB chunks: 8192 appends.  Copying the whole buffer on each one would move ~32 GiB.
    events = list(feed_in_chunks(conn, stream, 1024))
    elapsed = time.perf_counter() - started
    assert events == [cmd, KeepAlive()]
    assert elapsed < 5, f"{elapsed:.2f}s: buffering looks quadratic"


def test_large_frame_in_64k_chunks() -> None:
    data = b"\x01" * (8 * 1024 * 1024)
    reply = SegmentRead(SEGMENT, 0, True, False, data, 9)
    events = list(feed_in_chunks(Connection(Role.CLIENT), encode(reply) * 2, 65536))
    assert events == [reply, reply]
