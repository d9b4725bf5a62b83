"""The Flink connector's Java wire codec (``org.pravega.flink.client.WireCommands``, a second
Pravega client speaking wire version 15) against golden frames made by the Python codec
(``pravega.protocol``), for every command the Java client encodes or decodes.

Replies: the Python codec encodes a frame (in the v15 layout the Java client negotiates); the
Java test program ``WireGolden`` decodes it, re-encodes what it decoded, and reports the fields
it kept. The re-encoded bytes must equal the golden frame, and the fields the Python values.
Requests: the Java client encodes from the same values; its bytes must equal the Python
codec's, and the Python codec must decode them back to the same command.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

import pravega_flink
from pravega.protocol import codec
from pravega.protocol import commands as c
from pravega.protocol.framing import HEADER_SIZE, frame_event
from pravega_flink import _jar

JAVA_VERSION = 15  # the version the Java client announces in its Hello
WRITER = (0x0123456789ABCDEF << 64) | 0xFEDCBA9876543210  # both halves negative as Java longs
SEGMENT = "scope-1/stream.a/3.#epoch.2"
TEXT = "déjà vu: tab\tand ümlauts"  # any Unicode of the Basic Multilingual Plane


class Golden:
    """One ``java org.pravega.flink.client.WireGolden`` process; one line in, one line out."""

    def __init__(self, cmd: list[str]) -> None:
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(self, line: str) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().rstrip("\n")
        assert answer and not answer.startswith("ERROR"), f"{line[:80]!r} -> {answer!r}"
        return answer

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        assert self.proc.wait(30) == 0


@pytest.fixture(scope="module")
def golden() -> Iterator[Golden]:
    java = shutil.which("java")
    assert java is not None, "the Flink connector needs a JDK (java on PATH)"
    classpath = [str(_jar.test_jar_path()), str(pravega_flink.jar_path())]
    g = Golden([java, "-cp", ":".join(classpath), "org.pravega.flink.client.WireGolden"])
    try:
        yield g
    finally:
        g.close()


def _signed(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def _halves(writer_id: int) -> tuple[int, int]:
    return _signed(writer_id >> 64), _signed(writer_id & ((1 << 64) - 1))


def _pair(writer_id: int) -> str:
    high, low = _halves(writer_id)
    return f"{high},{low}"


def _hex(text: str) -> str:
    return text.encode().hex()


def _java_reply(golden: Golden, cmd: Any) -> tuple[bytes, bytes, dict[str, str]]:
    frame = codec.encode(cmd, JAVA_VERSION)
    answer = golden.ask("reply " + frame.hex())
    hex_frame, *pairs = answer.split("\t")
    fields = dict(p.split("=", 1) for p in pairs)
    for key in ("segment", "message", "data"):
        fields[key] = bytes.fromhex(fields[key])  # type: ignore[assignment]
    return frame, bytes.fromhex(hex_frame), fields


# Every reply the Java client decodes, with the fields it keeps (values as WireGolden prints them).
# Fields the Java client ignores are left at their defaults here, so that its re-encoding can be
# compared byte for byte; test_ignored_fields_do_not_disturb_the_kept_ones covers other values.
REPLIES: list[tuple[Any, dict[str, Any]]] = [
    (c.Hello(17, 5), {"highVersion": "17", "lowVersion": "5", "error": "false"}),
    (
        c.AppendSetup(42, SEGMENT, WRITER, 1234567890123),
        {
            "requestId": "42",
            "segment": SEGMENT.encode(),
            "writerId": _pair(WRITER),
            "eventNumber": "1234567890123",
        },
    ),
    (
        c.DataAppended(WRITER, 99, 98, 7, 1 << 40),
        {"eventNumber": "99", "previousEventNumber": "98", "requestId": "7", "writeOffset": str(1 << 40)},
    ),
    (c.ConditionalCheckFailed(WRITER, 5, 8), {"eventNumber": "5", "requestId": "8", "error": "true"}),
    (
        c.SegmentRead(SEGMENT, 4096, True, False, bytes(range(256)) * 3, 11),
        {"offset": "4096", "atTail": "true", "endOfSegment": "false", "data": bytes(range(256)) * 3, "requestId": "11"},
    ),
    (c.SegmentRead(SEGMENT, 0, False, True, b"", 12), {"endOfSegment": "true", "data": b"", "requestId": "12"}),
    (
        c.StreamSegmentInfo(13, SEGMENT, True, True, False, 0, 8192, 1024),
        {"exists": "true", "sealed": "true", "deleted": "false", "writeOffset": "8192", "startOffset": "1024"},
    ),
    (c.WrongHost(14, SEGMENT, "127.0.0.1:6000", ""), {"message": b"wrong host; correct host: 127.0.0.1:6000"}),
    (c.SegmentIsSealed(15, SEGMENT, TEXT, 777), {"requestId": "15", "message": TEXT.encode(), "offset": "777"}),
    (c.NoSuchSegment(16, SEGMENT, TEXT, -1), {"requestId": "16", "message": TEXT.encode(), "offset": "-1"}),
    (c.SegmentAlreadyExists(17, SEGMENT, TEXT), {"requestId": "17", "segment": SEGMENT.encode(), "error": "true"}),
    (c.InvalidEventNumber(WRITER, -1, "", -1), {"writerId": _pair(WRITER), "error": "true"}),
    (
        c.SegmentIsTruncated(18, SEGMENT, 2048, TEXT, 100),
        {"startOffset": "2048", "message": TEXT.encode(), "offset": "100"},
    ),
    (c.OperationUnsupported(19, "mergeSegments", ""), {"message": b"operation unsupported: mergeSegments"}),
    (c.AuthTokenCheckFailed(20, TEXT, -1), {"requestId": "20", "message": ("authentication failed: " + TEXT).encode()}),
    (c.ErrorMessage(21, SEGMENT, TEXT, 0), {"requestId": "21", "message": TEXT.encode(), "errorCode": "0"}),
    (c.KeepAlive(), {"type": "KeepAlive", "error": "false"}),
]


@pytest.mark.parametrize("cmd,kept", REPLIES, ids=lambda v: type(v).__name__ if isinstance(v, c.Command) else "")
def test_java_decodes_python_replies(golden: Golden, cmd: Any, kept: dict[str, Any]) -> None:
    frame, reencoded, fields = _java_reply(golden, cmd)
    assert fields["type"] == type(cmd).__name__
    for key, value in kept.items():
        assert fields[key] == value, key
    assert reencoded == frame, "the Java client lost or changed a field"
    # And the Python codec reads the Java re-encoding as the same command.
    assert codec.decode(cmd.TYPE_CODE, reencoded[HEADER_SIZE:], JAVA_VERSION) == cmd


def test_ignored_fields_do_not_disturb_the_kept_ones(golden: Golden) -> None:
    """Fields the Java client skips (stack traces, last-modified, v15 event numbers, auth error
    codes) may hold anything: what it keeps is still read right."""
    cases: list[tuple[Any, dict[str, Any]]] = [
        (c.WrongHost(1, SEGMENT, "h:1", "java.lang.Exception\n\tat x"), {"message": b"wrong host; correct host: h:1"}),
        (
            c.StreamSegmentInfo(2, SEGMENT, True, False, True, 1700000000000, 5, 0),
            {"writeOffset": "5", "deleted": "true"},
        ),
        (c.InvalidEventNumber(WRITER, 3, "trace", 77), {"writerId": _pair(WRITER)}),
        (c.OperationUnsupported(4, "op", "trace"), {"requestId": "4", "message": b"operation unsupported: op"}),
        (c.AuthTokenCheckFailed(5, "expired", 1), {"requestId": "5", "message": b"authentication failed: expired"}),
    ]
    for cmd, kept in cases:
        _, _, fields = _java_reply(golden, cmd)
        for key, value in kept.items():
            assert fields[key] == value, (type(cmd).__name__, key)


def _requests() -> list[tuple[Any, str]]:
    high, low = _halves(WRITER)
    data = b"".join(frame_event(b"payload-%d" % i) for i in range(3))  # a block of whole events
    return [
        (c.Hello(JAVA_VERSION, 5), "Hello"),
        (c.SetupAppend(31, WRITER, SEGMENT, ""), f"SetupAppend 31 {high} {low} {_hex(SEGMENT)}"),
        (c.ReadSegment(SEGMENT, 1 << 33, 1048576, "", 32), f"ReadSegment {_hex(SEGMENT)} {1 << 33} 1048576 32"),
        (c.GetStreamSegmentInfo(33, SEGMENT, ""), f"GetStreamSegmentInfo 33 {_hex(SEGMENT)}"),
        (c.AppendBlockEnd(WRITER, len(data), data, 3, 1002, 34), f"AppendBlockEnd {high} {low} 3 1002 34 {data.hex()}"),
    ]


@pytest.mark.parametrize("cmd,line", _requests(), ids=lambda v: type(v).__name__ if isinstance(v, c.Command) else "")
def test_java_requests_match_the_python_codec(golden: Golden, cmd: Any, line: str) -> None:
    java = bytes.fromhex(golden.ask("request " + line))
    assert java == codec.encode(cmd, JAVA_VERSION)
    type_code = int.from_bytes(java[:4], "big", signed=True)
    assert codec.decode(type_code, java[HEADER_SIZE:], JAVA_VERSION) == cmd
