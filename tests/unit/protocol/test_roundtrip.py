"""One round trip per command class, plus the layout rules that round trips alone do not show."""

from __future__ import annotations

import struct
from typing import Any

import pytest

from pravega.protocol import (
    ALL_COMMANDS,
    COMMAND_TYPES,
    AppendBlockEnd,
    AppendSetup,
    Command,
    ConditionalAppend,
    CreateTableSegment,
    DataAppended,
    Direction,
    Event,
    Hello,
    InvalidEventNumber,
    KeepAlive,
    Kind,
    LocalProtocolError,
    MergeSegments,
    Padding,
    ReadTable,
    ReadTableKeys,
    RemoteProtocolError,
    SegmentsBatchMerged,
    SetupAppend,
    StreamSegmentInfo,
    Struct,
    TableEntry,
    TableKey,
    TableRead,
    UpdateTableEntries,
    Wire,
    decode,
    encode,
    encode_many,
)

U128_MAX = (1 << 128) - 1
I64_MIN, I64_MAX = -(1 << 63), (1 << 63) - 1

# Three representative values per wire kind: variant 0 = extremes/empties, 1 = typical, 2 = unicode/other extreme.
SAMPLES: dict[Kind, tuple[Any, Any, Any]] = {
    Kind.I8: (-128, 2, 127),
    Kind.BOOL: (False, True, True),
    Kind.I32: (-(1 << 31), 500, (1 << 31) - 1),
    Kind.I64: (I64_MIN, -1, I64_MAX),
    Kind.UUID: (0, 0x0123456789ABCDEF0011223344556677, U128_MAX),
    Kind.UTF: ("", "scope/stream/0.#epoch.0", "sc\u00f6pe/\u540d\u524d/\U0001f600\x00"),
    Kind.BUF: (b"", b"\x00\xffkey", bytes(range(256))),
    Kind.DATA: (b"", b"\x00\x00\x00\x00\x00\x00\x00\x02hi", bytes(range(256)) * 40),
    Kind.REST: (b"", b"\x00\x00\x00\x00\x00\x00\x00\x02hi", bytes(range(256)) * 40),
    Kind.EVENT: (b"", b"hello", bytes(range(256)) * 40),
    Kind.PADDING: (0, 7, 1000),
}
VARIANTS = (0, 1, 2)


def sample(wire: Wire | type, variant: int) -> Any:
    if isinstance(wire, type):
        return build(wire, variant)
    if wire.kind in (Kind.LIST, Kind.COLUMN):
        item = wire.item[0] if isinstance(wire.item, tuple) else wire.item
        assert item is not None
        # Zipped columns use the same variant, so they get the same length.
        return () if variant == 0 else tuple(sample(item, v) for v in (variant, 0, 2))
    return SAMPLES[wire.kind][variant]


def build(cls: type[Struct], variant: int) -> Any:
    return cls(**{f.name: sample(f.wire, variant) for f in cls.WIRE_FIELDS})


def frame_parts(frame: bytes) -> tuple[int, bytes]:
    type_code, length = struct.unpack_from(">ii", frame)
    assert length == len(frame) - 8
    return type_code, frame[8:]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("cls", ALL_COMMANDS, ids=lambda cls: cls.__name__)
def test_roundtrip(cls: type[Command], variant: int) -> None:
    cmd = build(cls, variant)
    frame = encode(cmd)
    type_code, payload = frame_parts(frame)
    assert type_code == cls.TYPE_CODE
    decoded = decode(type_code, payload)
    assert type(decoded) is cls
    assert decoded == cmd
    assert encode(decoded) == frame
    assert isinstance(decoded.request_id, int)


def test_registry_covers_every_code_of_the_spec() -> None:
    expected = {-127, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12, 20, 21}
    expected |= set(range(28, 43)) | {50, 51, 52, 53} | set(range(55, 62)) | set(range(68, 92)) | {100}
    assert set(COMMAND_TYPES) == expected
    assert all(COMMAND_TYPES[cls.TYPE_CODE] is cls for cls in ALL_COMMANDS)
    assert {cls.DIRECTION for cls in ALL_COMMANDS} == set(Direction)
    assert Hello.DIRECTION is KeepAlive.DIRECTION is Direction.BOTH


def test_implicit_request_ids() -> None:
    assert Hello(17, 5).request_id == 0
    assert KeepAlive().request_id == -1
    assert Event(b"x").request_id == -1
    assert Padding(3).request_id == -1
    assert AppendSetup(7, "s", 1, 0).request_id == 7


def test_commands_are_immutable_and_hashable() -> None:
    cmd = SetupAppend(1, 2, "s", "")
    with pytest.raises(AttributeError):
        cmd.segment = "t"  # type: ignore[misc]
    assert hash(cmd) == hash(SetupAppend(1, 2, "s", ""))


# -- construction-time validation -------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: SetupAppend(1 << 63, 1, "s", ""),  # i64 overflow
        lambda: SetupAppend(1, -1, "s", ""),  # negative UUID
        lambda: SetupAppend(1, 1 << 128, "s", ""),  # UUID overflow
        lambda: SetupAppend(1, 1, "x" * 65536, ""),  # UTF too long
        lambda: SetupAppend(1, 1, "\u00e9" * 32768, ""),  # 65536 UTF-8 bytes
        lambda: SetupAppend(1, 1, "\ud800", ""),  # lone surrogate: not encodable
        lambda: SetupAppend(1, 1, b"s", ""),  # wrong type
        lambda: SetupAppend(1.0, 1, "s", ""),  # float is not an int
        lambda: Hello(1 << 31, 5),  # i32 overflow
        lambda: StreamSegmentInfo(1, "s", 1, False, False, 0, 0),  # bool field given an int
        lambda: AppendBlockEnd(1, 0, "text", 0, 0),  # data must be bytes-like
        lambda: ReadTable(1, "s", "", [b"key"]),  # list items must be TableKey
        lambda: Padding(-1),
        lambda: SegmentsBatchMerged(1, "t", ["a", "b"], [1]),  # zipped columns differ in length
    ],
)
def test_invalid_construction_raises_local_error(make: Any) -> None:
    with pytest.raises(LocalProtocolError):
        make()


def test_construction_normalises_lists_and_buffers() -> None:
    cmd = ReadTable(1, "s", "", [TableKey(bytearray(b"k"), 3)])
    assert cmd.keys == (TableKey(b"k", 3),)
    assert type(cmd.keys) is tuple and type(cmd.keys[0].data) is bytes
    assert encode(cmd) == encode(ReadTable(1, "s", "", (TableKey(b"k", 3),)))


def test_encode_rejects_non_commands() -> None:
    with pytest.raises(LocalProtocolError):
        encode(TableKey(b"k", 1))  # type: ignore[arg-type]


def test_encode_many_concatenates_frames() -> None:
    cmds = [Hello(17, 5), KeepAlive(), SetupAppend(1, 2, "s", "")]
    assert encode_many(cmds) == b"".join(encode(c) for c in cmds)


# -- byte fields --------------------------------------------------------------------------------


def test_data_fields_are_zero_copy_memoryviews() -> None:
    data = bytes(range(200))
    payload = encode(AppendBlockEnd(5, 200, data, 1, 1, 9))[8:]
    cmd = decode(4, payload)
    assert isinstance(cmd, AppendBlockEnd)
    assert isinstance(cmd.data, memoryview) and cmd.data.readonly
    assert cmd.data.obj is payload  # a slice of the payload, not a copy
    assert bytes(cmd.data) == data


def test_other_byte_fields_are_bytes() -> None:
    cmd = decode(78, encode(ReadTable(1, "s", "", [TableKey(b"k", 1)]))[8:])
    assert isinstance(cmd, ReadTable)
    assert type(cmd.keys[0].data) is bytes


def test_decode_accepts_bytearray_and_memoryview() -> None:
    frame = encode(SetupAppend(1, 2, "s", "t"))
    assert decode(1, bytearray(frame[8:])) == decode(1, memoryview(frame)[8:]) == SetupAppend(1, 2, "s", "t")


# -- optional trailing fields and tolerance -------------------------------------------------------


def payload_of(cmd: Command) -> bytes:
    return encode(cmd)[8:]


@pytest.mark.parametrize(
    "full, cut, expected",
    [
        # Rust sends CreateTableSegment without the last three fields.
        (CreateTableSegment(1, "t", "", True, 16, 99), 13, CreateTableSegment(1, "t", "")),
        (DataAppended(1, 2, 3, 4, 5), 24, DataAppended(1, 2)),
        (DataAppended(1, 2, 3, 4, 5), 8, DataAppended(1, 2, 3, 4)),
        (AppendBlockEnd(1, 2, b"ab", 1, 1, 7), 8, AppendBlockEnd(1, 2, b"ab", 1, 1)),
        (
            StreamSegmentInfo(1, "s", True, False, False, 5, 6, 7),
            8,
            StreamSegmentInfo(1, "s", True, False, False, 5, 6),
        ),
        # Rust sends MergeSegments without the attribute-update list.
        (MergeSegments(1, "t", "s", "", ()), 4, MergeSegments(1, "t", "s", "")),
        # Rust sends only the continuation token of TableIteratorArgs.
        (ReadTableKeys(1, "t", "", 10, b"tok", b"", b"", b""), 12, ReadTableKeys(1, "t", "", 10, b"tok")),
        (UpdateTableEntries(1, "t", "", (), 42), 8, UpdateTableEntries(1, "t", "", ())),
    ],
)
def test_missing_optional_fields_take_defaults(full: Command, cut: int, expected: Command) -> None:
    payload = payload_of(full)
    assert decode(full.TYPE_CODE, payload[: len(payload) - cut]) == expected


def test_trailing_bytes_are_ignored() -> None:
    for cls in ALL_COMMANDS:
        if any(f.wire.kind in (Kind.REST, Kind.PADDING) for f in cls.WIRE_FIELDS):
            continue  # these consume the rest of the payload by definition
        cmd = build(cls, 1)
        assert decode(cls.TYPE_CODE, payload_of(cmd) + b"\x00junk\xff\xff\xff") == cmd


def test_required_field_missing_is_a_remote_error() -> None:
    payload = payload_of(SetupAppend(1, 2, "seg", "tok"))
    for cut in range(len(payload)):
        with pytest.raises(RemoteProtocolError) as info:
            decode(1, payload[:cut])
        assert info.value.type_code == 1


def test_invalid_utf8_is_a_remote_error() -> None:
    payload = struct.pack(">qQQH", 1, 0, 2, 2) + b"\xff\xfe" + struct.pack(">H", 0)
    with pytest.raises(RemoteProtocolError):
        decode(1, payload)


def test_unknown_type_code_is_a_remote_error() -> None:
    with pytest.raises(RemoteProtocolError) as info:
        decode(6, b"")
    assert info.value.type_code == 6


# -- special layouts ------------------------------------------------------------------------------


def test_invalid_event_number_layouts() -> None:
    cmd = InvalidEventNumber(writer_id=7, request_id=9, server_stack_trace="st", event_number=5)
    v17 = struct.pack(">QQq", 0, 7, 9) + b"\x00\x02st" + struct.pack(">q", 5)
    v15 = struct.pack(">QQq", 0, 7, 5) + b"\x00\x02st"
    assert payload_of(cmd) == v17
    assert encode(cmd, version=16)[8:] == v17
    assert encode(cmd, version=15)[8:] == v15
    assert decode(55, v17) == cmd
    assert decode(55, v15, version=15) == InvalidEventNumber(7, -1, "st", 5)


def test_conditional_append_embeds_an_event_header() -> None:
    payload = payload_of(ConditionalAppend(1, 2, 3, b"hey", 4))
    assert payload == struct.pack(">QQqqii", 0, 1, 2, 3, 0, 3) + b"hey" + struct.pack(">q", 4)
    bad_type = payload[:32] + struct.pack(">i", 1) + payload[36:]
    with pytest.raises(RemoteProtocolError):
        decode(5, bad_type)


def test_event_and_padding_frames() -> None:
    assert encode(Event(b"hello")) == bytes.fromhex("00000000 00000005 68656c6c6f")
    assert encode(Padding(3)) == bytes.fromhex("ffffffff 00000003 000000")
    assert decode(-1, b"\x00" * 3) == Padding(3)


def test_segments_batch_merged_interleaves_sources_and_offsets() -> None:
    cmd = SegmentsBatchMerged(1, "t", ["a", "bc"], [10, 20])
    expected = struct.pack(">qH", 1, 1) + b"t" + struct.pack(">iH", 2, 1) + b"a" + struct.pack(">qH", 10, 2)
    expected += b"bc" + struct.pack(">q", 20)
    assert payload_of(cmd) == expected
    assert decode(91, expected) == cmd


def test_empty_table_key_always_encodes_its_version() -> None:
    payload = payload_of(ReadTable(1, "s", "", [TableKey(b"", -1)]))
    assert payload.endswith(struct.pack(">iiiq", 1, 12, 0, -1))


def test_empty_table_key_decodes_with_or_without_version() -> None:
    head = struct.pack(">qH", 1, 1) + b"s" + struct.pack(">iiiq", 1, 12, 0, 5)
    value = struct.pack(">ii", 4, 0)
    assert decode(79, head + value) == TableRead(1, "s", (TableEntry(b"", 5, b""),))
    # payloadSize 4: the key is just the two ints, no version (Java omits it for empty keys).
    bare = struct.pack(">qH", 1, 1) + b"s" + struct.pack(">iii", 1, 4, 0)
    assert decode(79, bare + value) == TableRead(1, "s", (TableEntry(b"", TableKey.NO_VERSION, b""),))


@pytest.mark.parametrize("count", [-1, 1 << 30, (1 << 31) - 1])
def test_list_counts_are_bounded_by_the_payload(count: int) -> None:
    payload = struct.pack(">qi", 1, count) + b"\x00" * 64  # TableEntriesUpdated
    with pytest.raises(RemoteProtocolError):
        decode(75, payload)


def test_negative_buffer_length_is_a_remote_error() -> None:
    payload = struct.pack(">QQii", 0, 1, 0, -5) + b"\x00" * 40  # AppendBlockEnd
    with pytest.raises(RemoteProtocolError):
        decode(4, payload)
