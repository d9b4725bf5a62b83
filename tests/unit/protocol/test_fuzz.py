"""Property tests: arbitrary input only ever raises RemoteProtocolError; valid commands round-trip."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pravega.protocol import (
    ALL_COMMANDS,
    CLOSED,
    COMMAND_TYPES,
    NEED_DATA,
    Command,
    Connection,
    Direction,
    Kind,
    RemoteProtocolError,
    Role,
    Struct,
    Wire,
    decode,
    encode,
)

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SCALARS: dict[Kind, st.SearchStrategy[Any]] = {
    Kind.I8: st.integers(-(1 << 7), (1 << 7) - 1),
    Kind.BOOL: st.booleans(),
    Kind.I32: st.integers(-(1 << 31), (1 << 31) - 1),
    Kind.I64: st.integers(-(1 << 63), (1 << 63) - 1),
    Kind.UUID: st.integers(0, (1 << 128) - 1),
    Kind.UTF: st.text(max_size=40),
    Kind.BUF: st.binary(max_size=40),
    Kind.DATA: st.binary(max_size=200),
    Kind.REST: st.binary(max_size=200),
    Kind.EVENT: st.binary(max_size=200),
    Kind.PADDING: st.integers(0, 100),
}


def values_of(wire: Wire | type) -> st.SearchStrategy[Any]:
    if isinstance(wire, type):
        return instances(wire)
    if wire.kind is Kind.LIST:
        assert isinstance(wire.item, (Wire, type))
        return st.lists(values_of(wire.item), max_size=4).map(tuple)
    return SCALARS[wire.kind]


@st.composite
def instances(draw: st.DrawFn, cls: type[Struct]) -> Any:
    fields = cls.WIRE_FIELDS
    values: dict[str, Any] = {}
    for i, f in enumerate(fields):
        if f.wire.kind is Kind.COLUMN:
            continue  # filled with its zipped list below
        if f.wire.kind is Kind.LIST and isinstance(f.wire.item, tuple):
            width = len(f.wire.item)
            rows = draw(st.lists(st.tuples(*(values_of(w) for w in f.wire.item)), max_size=4))
            columns = list(zip(*rows)) if rows else [()] * width
            for g, column in zip(fields[i : i + width], columns):
                values[g.name] = tuple(column)
        else:
            values[f.name] = draw(values_of(f.wire))
    return cls(**values)


commands = st.sampled_from(ALL_COMMANDS).flatmap(instances)


def receiver_for(cmd: Command) -> Connection:
    return Connection(Role.CLIENT if cmd.DIRECTION is Direction.REPLY else Role.SERVER)


def feed(conn: Connection, chunks: list[bytes]) -> None:
    """Feed chunks then EOF; only RemoteProtocolError may escape."""
    try:
        for chunk in chunks:
            if chunk:
                conn.receive_data(chunk)
            while conn.next_event() is not NEED_DATA:
                pass
        conn.receive_data(b"")
        while conn.next_event() is not CLOSED:
            pass
    except RemoteProtocolError:
        pass


@FUZZ
@given(commands)
def test_random_commands_roundtrip(cmd: Command) -> None:
    frame = encode(cmd)
    decoded = decode(cmd.TYPE_CODE, frame[8:])
    assert decoded == cmd
    assert encode(decoded) == frame


@FUZZ
@given(st.lists(commands.filter(lambda c: not c.EMBEDDED), max_size=5), st.integers(1, 64))
def test_random_command_streams_through_a_connection(cmds: list[Command], chunk: int) -> None:
    for direction, sender, role in (
        (Direction.REQUEST, Role.CLIENT, Role.SERVER),
        (Direction.REPLY, Role.SERVER, Role.CLIENT),
    ):
        sent = [c for c in cmds if c.DIRECTION in (direction, Direction.BOTH)]
        # Through a Connection: a Hello in the stream changes the version both sides use.
        stream = Connection(sender).send_many(sent)
        conn = Connection(role)
        received = []
        for i in range(0, len(stream), chunk):
            conn.receive_data(stream[i : i + chunk])
            while (event := conn.next_event()) is not NEED_DATA:
                received.append(event)
        assert [type(c) for c in received] == [type(c) for c in sent]
        # Compare bytes: after a Hello with high < 16, InvalidEventNumber's v15 layout drops request_id.
        assert Connection(sender).send_many(received) == stream


@FUZZ
@given(st.lists(st.binary(max_size=300), max_size=6))
def test_random_bytes_only_raise_remote_errors(chunks: list[bytes]) -> None:
    feed(Connection(Role.SERVER), chunks)
    feed(Connection(Role.CLIENT), chunks)


@FUZZ
@given(st.sampled_from(sorted(COMMAND_TYPES)), st.binary(max_size=300), st.sampled_from([15, 17]))
def test_random_payloads_decode_or_raise_remote_errors(type_code: int, payload: bytes, version: int) -> None:
    try:
        cmd = decode(type_code, payload, version)
    except RemoteProtocolError:
        return
    assert type(cmd) is COMMAND_TYPES[type_code]
    encode(cmd)  # anything we decode must be encodable


@FUZZ
@given(commands, st.data())
def test_mutated_frames_only_raise_remote_errors(cmd: Command, data: st.DataObject) -> None:
    frame = bytearray(encode(cmd))
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(frame) - 1))
        action = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if action == "flip":
            frame[position] ^= data.draw(st.integers(1, 255))
        elif action == "cut":
            del frame[position:]
            if not frame:
                break
        else:
            frame[position:position] = data.draw(st.binary(min_size=1, max_size=8))
    split = data.draw(st.integers(0, len(frame)))
    feed(receiver_for(cmd), [bytes(frame[:split]), bytes(frame[split:])])
