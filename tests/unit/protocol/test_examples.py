"""The worked byte examples of spec §2.9 (and the two smaller ones in §2.4/§2.5), exactly."""

from __future__ import annotations

import pytest

from pravega.protocol import (
    AppendBlockEnd,
    AppendSetup,
    Command,
    DataAppended,
    Event,
    Hello,
    ReadSegment,
    ReadTable,
    SegmentRead,
    SetupAppend,
    TableEntry,
    TableKey,
    TableRead,
    decode,
    encode,
)

WRITER = 0x0123456789ABCDEF0011223344556677
SEGMENT = "s/t/0.#epoch.0"
EVENT_HI = bytes.fromhex("00000000 00000002 6869")  # "hi" framed as an event
LONG_MIN = -(1 << 63)

EXAMPLES: list[tuple[str, Command, str]] = [
    ("Hello client", Hello(15, 5), "ffffff81 00000008 0000000f 00000005"),
    ("Hello server", Hello(17, 5), "ffffff81 00000008 00000011 00000005"),
    (
        "SetupAppend",
        SetupAppend(1, WRITER, SEGMENT, ""),
        "00000001 0000002a 00000000 00000001 01234567 89abcdef 00112233 44556677 000e732f 742f302e 2365706f"
        " 63682e30 0000",
    ),
    (
        "AppendSetup",
        AppendSetup(1, SEGMENT, WRITER, LONG_MIN),
        "00000002 00000030 00000000 00000001 000e732f 742f302e 2365706f 63682e30 01234567 89abcdef 00112233"
        " 44556677 80000000 00000000",
    ),
    (
        "AppendBlockEnd",
        AppendBlockEnd(WRITER, 10, EVENT_HI, 1, 1, 2),
        "00000004 00000036 01234567 89abcdef 00112233 44556677 0000000a 0000000a 00000000 00000002 68690000"
        " 00010000 00000000 00010000 00000000 0002",
    ),
    (
        "DataAppended",
        DataAppended(WRITER, 1, LONG_MIN, 2, 10),
        "00000007 00000030 01234567 89abcdef 00112233 44556677 00000000 00000001 80000000 00000000 00000000"
        " 00000002 00000000 0000000a",
    ),
    (
        "ReadSegment",
        ReadSegment(SEGMENT, 0, 8 * 1024 * 1024, "", 3),
        "00000009 00000026 000e732f 742f302e 2365706f 63682e30 00000000 00000000 00800000 00000000 00000000 0003",
    ),
    (
        "SegmentRead",
        SegmentRead(SEGMENT, 0, True, False, EVENT_HI, 3),
        "0000000a 00000030 000e732f 742f302e 2365706f 63682e30 00000000 00000000 01000000 000a0000 00000000"
        " 00026869 00000000 00000003",
    ),
]


@pytest.mark.parametrize("cmd, hex_frame", [(c, h) for _, c, h in EXAMPLES], ids=[n for n, _, _ in EXAMPLES])
def test_example_frame(cmd: Command, hex_frame: str) -> None:
    frame = bytes.fromhex(hex_frame)
    assert encode(cmd) == frame
    assert decode(int.from_bytes(frame[:4], "big", signed=True), frame[8:]) == cmd


TABLE_KEY_AB = bytes.fromhex("0000000e 00000002 6162ffff ffffffff ffff")
TABLE_VALUE_XYZ = bytes.fromhex("00000007 00000003 78797a")


def test_table_key_inside_a_command() -> None:
    cmd = ReadTable(4, "t", "", [TableKey(b"ab", -1)])
    frame = encode(cmd)
    assert frame.endswith(b"\x00\x00\x00\x01" + TABLE_KEY_AB)
    assert decode(78, frame[8:]) == cmd


def test_table_entry_inside_a_command() -> None:
    cmd = TableRead(4, "t", [TableEntry(b"ab", -1, b"xyz")])
    frame = encode(cmd)
    assert frame.endswith(b"\x00\x00\x00\x01" + TABLE_KEY_AB + TABLE_VALUE_XYZ)
    assert decode(79, frame[8:]) == cmd


def test_empty_table_value() -> None:
    frame = encode(TableRead(4, "t", [TableEntry(b"ab", -1, b"")]))
    assert frame.endswith(TABLE_KEY_AB + bytes.fromhex("00000004 00000000"))


def test_event_framing_inside_append_data() -> None:
    # §2.5: write_event("hello") appends 00000000 00000005 68656c6c6f.
    assert encode(Event(b"hello")) == bytes.fromhex("00000000 00000005 68656c6c6f")


def test_setup_append_length_from_the_capture() -> None:
    # §2.4: SetupAppend for sc1/st1/0.#epoch.0 with an empty token has payload length 46.
    frame = encode(SetupAppend(1, WRITER, "sc1/st1/0.#epoch.0", ""))
    assert frame[:8] == bytes.fromhex("00000001 0000002e")
