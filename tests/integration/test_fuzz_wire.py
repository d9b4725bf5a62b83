"""Hypothesis-driven fuzzing of the segment store over real sockets.

While a valid writer (the official client, in its own process) keeps writing acknowledged events,
other connections send malformed input: random bytes, headers with negative or oversized lengths,
unknown type codes, append-only commands at top level, truncated payloads, invalid UTF-8 in
strings, reply-type commands sent as requests, a valid Hello followed by garbage, and huge declared
lengths followed by a disconnect.

After every example the server process must be alive and answer a fresh ``Hello`` + ``KeepAlive``
on a new connection; where the input is definitely malformed the server must close that
connection (it may send an ``ErrorMessage`` first).  At the end every acknowledged event of the
valid writer must be read back intact and exactly once.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pravega.protocol import COMMAND_TYPES, MAX_WIRECOMMAND_SIZE, RemoteProtocolError, decode, encode
from pravega.protocol import commands as wc
from pravega.protocol.commands import Direction, Kind

pravega_client = pytest.importorskip("pravega_client")

MAX_EXAMPLES = 400
CLOSE_TIMEOUT = 5.0
HEALTH_TIMEOUT = 5.0
HELLO = encode(wc.Hello(15, 5))
KEEP_ALIVE = encode(wc.KeepAlive())
ERROR_MESSAGE = wc.ErrorMessage.TYPE_CODE
HELLO_CODE = wc.Hello.TYPE_CODE
KNOWN_CODES = frozenset(COMMAND_TYPES)
CRASH_SCRIPT = Path(__file__).with_name("test_crash.py")


# ---------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------


@dataclass
class Case:
    label: str
    data: bytes  # sent after the optional Hello
    hello_first: bool = False
    must_close: bool = False  # the server has to close the connection
    half_close: bool = False  # we shut down our sending side after `data`
    abort: bool = False  # we disconnect right after sending, without waiting for anything
    allowed: frozenset[int] = field(default_factory=frozenset)  # reply types tolerated before the close

    def __repr__(self) -> str:  # readable hypothesis failure reports
        return (
            f"Case({self.label}, hello_first={self.hello_first}, must_close={self.must_close}, "
            f"half_close={self.half_close}, abort={self.abort}, data={self.data[:200].hex()}"
            f"{'...' if len(self.data) > 200 else ''} ({len(self.data)} bytes))"
        )


def frame(type_code: int, payload: bytes, length: int | None = None) -> bytes:
    return struct.pack(">ii", type_code, len(payload) if length is None else length) + payload


def definitely_malformed(data: bytes) -> bool:
    """Whether the first frame in ``data`` is invalid as a request once its bytes are all there."""
    if len(data) < 8:
        return False
    type_code, length = struct.unpack_from(">ii", data)
    if length < 0 or length > MAX_WIRECOMMAND_SIZE - 8:
        return True
    if 8 + length > len(data):
        return False  # incomplete: the server waits for the rest
    cls = COMMAND_TYPES.get(type_code)
    if cls is None or cls.EMBEDDED or cls.DIRECTION is Direction.REPLY:
        return cls is None or cls.TYPE_CODE != wc.Padding.TYPE_CODE
    try:
        decode(type_code, data[8 : 8 + length])
    except RemoteProtocolError:
        return True
    return False


# Valid requests used as templates for truncation.  Names never match the writer's segments.
TEMPLATES: list[wc.Command] = [
    wc.Hello(15, 5),
    wc.SetupAppend(7, 0x0123456789ABCDEF0011223344556677, "fuzz/none/0.#epoch.0", ""),
    wc.AppendBlockEnd(0x0123456789ABCDEF0011223344556677, 10, b"\0\0\0\0\0\0\0\x02hi", 1, 1, 8),
    wc.ReadSegment("fuzz/none/0.#epoch.0", 0, 1024, "", 9),
    wc.GetStreamSegmentInfo(10, "fuzz/none/0.#epoch.0", ""),
    wc.CreateSegment(11, "fuzz/none/1.#epoch.0", 0, 0, "", 0),
    wc.ReadTableEntriesDelta(12, "fuzz/none_kvtable/0.#epoch.0", "", 0, 10),
    wc.ConditionalBlockEnd(0x0123456789ABCDEF0011223344556677, 1, 0, b"abc", 13),
    wc.TruncateSegment(14, "fuzz/none/0.#epoch.0", 0, ""),
    wc.MergeSegments(15, "fuzz/none/0.#epoch.0", "fuzz/none/1.#epoch.0", ""),
]
_FIXED_SIZE = {Kind.I8: 1, Kind.BOOL: 1, Kind.I32: 4, Kind.I64: 8, Kind.UUID: 16}


def required_length(cmd: wc.Command) -> int:
    """Payload bytes up to the end of the last field that is not optional."""
    payload_len = len(encode(cmd)) - 8
    optional_tail = 0
    for f in reversed(cmd.WIRE_FIELDS):
        if not f.optional:
            break
        if f.wire.kind is Kind.LIST and not getattr(cmd, f.name):
            optional_tail += 4
        elif f.wire.kind in _FIXED_SIZE:
            optional_tail += _FIXED_SIZE[f.wire.kind]
        else:
            break
    return payload_len - optional_tail


def _value_strategy(f) -> st.SearchStrategy:
    kind = f.wire.kind
    if kind is Kind.I8:
        return st.integers(-128, 127)
    if kind is Kind.BOOL:
        return st.booleans()
    if kind is Kind.I32:
        return st.integers(-(1 << 31), (1 << 31) - 1)
    if kind is Kind.I64:
        return st.integers(-(1 << 63), (1 << 63) - 1)
    if kind is Kind.UUID:
        return st.integers(0, (1 << 128) - 1)
    if kind is Kind.UTF:
        return st.text(max_size=24)
    if kind in (Kind.BUF, Kind.DATA, Kind.REST, Kind.EVENT):
        return st.binary(max_size=48)
    if kind is Kind.LIST:
        return st.just(())
    raise ValueError(kind)


REPLY_CLASSES = [
    cls
    for cls in COMMAND_TYPES.values()
    if cls.DIRECTION is Direction.REPLY and all(f.wire.kind is not Kind.COLUMN for f in cls.WIRE_FIELDS)
]


@st.composite
def reply_commands(draw) -> bytes:
    cls = draw(st.sampled_from(REPLY_CLASSES))
    values = [draw(_value_strategy(f)) for f in cls.WIRE_FIELDS]
    return encode(cls(*values))


BAD_UTF8 = [b"\xff", b"\xfe", b"\x80", b"\xc3\x28", b"\xbf\xbf", b"\xe2\x82"]


@st.composite
def bad_utf8_frames(draw) -> bytes:
    bad = draw(st.sampled_from(BAD_UTF8))
    prefix = draw(st.text(alphabet="abc/.#0", max_size=12)).encode()
    suffix = b"" if bad == b"\xe2\x82" else draw(st.text(alphabet="xyz", max_size=6)).encode()
    name = prefix + bad + suffix
    utf = struct.pack(">H", len(name)) + name
    empty = struct.pack(">H", 0)
    rid = struct.pack(">q", draw(st.integers(0, 1000)))
    wid = (0x0123456789ABCDEF0011223344556677).to_bytes(16, "big")
    which = draw(st.sampled_from(["info", "read", "setup", "create", "table", "token"]))
    if which == "info":
        return frame(11, rid + utf + empty)
    if which == "read":
        return frame(9, utf + struct.pack(">qi", 0, 100) + empty + rid)
    if which == "setup":
        return frame(1, rid + wid + utf + empty)
    if which == "create":
        return frame(20, rid + utf + struct.pack(">ib", 0, 0) + empty)
    if which == "table":
        return frame(70, rid + utf + empty)
    # a valid segment name but an invalid delegation token
    good = b"fuzz/none/0.#epoch.0"
    return frame(11, rid + struct.pack(">H", len(good)) + good + utf)


@st.composite
def cases(draw) -> Case:
    kind = draw(
        st.sampled_from(
            [
                "random",
                "bad_length",
                "unknown_type",
                "embedded",
                "truncated",
                "short_then_eof",
                "bad_utf8",
                "reply_as_request",
                "huge_then_disconnect",
                "valid_then_garbage",
            ]
        )
    )
    hello_first = draw(st.booleans())
    allowed = frozenset({ERROR_MESSAGE} | ({HELLO_CODE} if hello_first else set()))
    if kind == "random":
        data = draw(st.binary(min_size=1, max_size=300))
        must = definitely_malformed(data)
        return Case(kind, data, hello_first, must_close=must, half_close=not must, allowed=allowed)
    if kind == "bad_length":
        code = draw(st.one_of(st.sampled_from(sorted(KNOWN_CODES)), st.integers(-(1 << 31), (1 << 31) - 1)))
        length = draw(st.one_of(st.integers(-(1 << 31), -1), st.integers(MAX_WIRECOMMAND_SIZE - 7, (1 << 31) - 1)))
        data = frame(code, draw(st.binary(max_size=64)), length)
        return Case(kind, data, hello_first, must_close=True, allowed=allowed)
    if kind == "unknown_type":
        code = draw(st.integers(-(1 << 31), (1 << 31) - 1).filter(lambda c: c not in KNOWN_CODES))
        data = frame(code, draw(st.binary(max_size=128)))
        return Case(kind, data, hello_first, must_close=True, allowed=allowed)
    if kind == "embedded":
        code = draw(st.sampled_from([wc.Event.TYPE_CODE, wc.PartialEvent.TYPE_CODE]))
        data = frame(code, draw(st.binary(max_size=64)))
        return Case(kind, data, hello_first, must_close=True, allowed=allowed)
    if kind == "truncated":
        cmd = draw(st.sampled_from(TEMPLATES))
        payload = encode(cmd)[8:]
        cut = draw(st.integers(0, required_length(cmd) - 1))
        data = frame(cmd.TYPE_CODE, payload[:cut])
        if cmd.TYPE_CODE == HELLO_CODE:
            hello_first = False  # a second Hello would be valid by itself; test the first one
            allowed = frozenset({ERROR_MESSAGE})
        return Case(kind, data, hello_first, must_close=True, allowed=allowed)
    if kind == "short_then_eof":
        cmd = draw(st.sampled_from(TEMPLATES))
        full = encode(cmd)
        cut = draw(st.integers(1, len(full) - 1))
        return Case(kind, full[:cut], hello_first, must_close=True, half_close=True, allowed=allowed)
    if kind == "bad_utf8":
        return Case(kind, draw(bad_utf8_frames()), hello_first, must_close=True, allowed=allowed)
    if kind == "reply_as_request":
        return Case(kind, draw(reply_commands()), hello_first, must_close=True, allowed=allowed)
    if kind == "huge_then_disconnect":
        code = draw(st.sampled_from([1, 4, 9, 74, 89]))
        length = draw(st.integers(1 << 20, MAX_WIRECOMMAND_SIZE - 8))
        data = frame(code, draw(st.binary(max_size=4096)), length)
        return Case(kind, data, hello_first, abort=True)
    # valid_then_garbage: a request the server answers, then an unknown type code.
    code = draw(st.integers(101, 10_000))
    data = encode(wc.KeepAlive()) + frame(code, draw(st.binary(max_size=32)))
    return Case(
        kind, data, True, must_close=True, allowed=frozenset({HELLO_CODE, ERROR_MESSAGE, wc.KeepAlive.TYPE_CODE})
    )


# ---------------------------------------------------------------------------------------------
# Socket helpers
# ---------------------------------------------------------------------------------------------


def split_frames(buf: bytes) -> list[tuple[int, bytes]]:
    out = []
    pos = 0
    while len(buf) - pos >= 8:
        code, length = struct.unpack_from(">ii", buf, pos)
        if length < 0 or len(buf) - pos - 8 < length:
            break
        out.append((code, buf[pos + 8 : pos + 8 + length]))
        pos += 8 + length
    return out


def read_until_closed(sock: socket.socket, timeout: float) -> tuple[bool, bytes]:
    """Read until EOF/reset; returns (closed, bytes received)."""
    received = bytearray()
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False, bytes(received)
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            return False, bytes(received)
        except (ConnectionResetError, BrokenPipeError):
            return True, bytes(received)
        if not chunk:
            return True, bytes(received)
        received += chunk


def run_case(addr: tuple[str, int], case: Case) -> None:
    sock = socket.create_connection(addr, timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        try:
            sock.sendall((HELLO if case.hello_first else b"") + case.data)
            if case.half_close:
                sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            if case.must_close:
                return  # closed while we were still sending: fine
            raise
        if case.abort:
            return
        if case.must_close or case.half_close:
            closed, received = read_until_closed(sock, CLOSE_TIMEOUT)
            frames = split_frames(received)
            assert closed, f"server kept the connection open for {CLOSE_TIMEOUT} s; replies: {[c for c, _ in frames]}"
            if case.must_close:
                unexpected = [c for c, _ in frames if c not in case.allowed]
                assert not unexpected, f"unexpected replies before the close: {unexpected}"
                if case.hello_first and frames:
                    assert frames[0][0] == HELLO_CODE, f"first reply is not Hello: {frames[0][0]}"
    finally:
        sock.close()


def check_health(addr: tuple[str, int]) -> None:
    """A fresh connection gets Hello and a KeepAlive echo."""
    with socket.create_connection(addr, timeout=HEALTH_TIMEOUT) as sock:
        sock.sendall(HELLO + KEEP_ALIVE)
        received = bytearray()
        deadline = time.monotonic() + HEALTH_TIMEOUT
        while True:
            frames = split_frames(bytes(received))
            if len(frames) >= 2:
                break
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no Hello/KeepAlive reply on a fresh connection; got {received.hex()}"
            sock.settimeout(remaining)
            chunk = sock.recv(4096)
            assert chunk, f"fresh connection closed by the server; got {received.hex()}"
            received += chunk
    (c1, p1), (c2, _) = frames[:2]
    assert c1 == HELLO_CODE, f"first reply {c1}"
    high, low = struct.unpack(">ii", p1[:8])
    assert low <= 15 <= high, f"Hello({high}, {low}) does not overlap the client's version 15"
    assert c2 == wc.KeepAlive.TYPE_CODE, f"KeepAlive not echoed, got type {c2}"


# ---------------------------------------------------------------------------------------------
# The test
# ---------------------------------------------------------------------------------------------


def open_fds(server) -> int:
    return len(os.listdir(f"/proc/{server.proc.pid}/fd"))


def segment_store_addr(server) -> tuple[str, int]:
    return server.host, server.segment_store_port


def test_health_check_helper(server) -> None:
    check_health(segment_store_addr(server))


def test_definitely_malformed_classifier() -> None:
    assert definitely_malformed(frame(12345, b""))
    assert definitely_malformed(frame(1, b"", -1))
    assert definitely_malformed(frame(7, encode(wc.SegmentCreated(1, "x"))[8:]))  # reply type
    assert not definitely_malformed(HELLO)
    assert not definitely_malformed(frame(11, b"\0" * 4, 100))  # incomplete
    for cmd in TEMPLATES:
        assert not definitely_malformed(encode(cmd)), cmd
        payload = encode(cmd)[8:]
        for cut in (0, required_length(cmd) - 1):
            assert definitely_malformed(frame(cmd.TYPE_CODE, payload[:cut])), (cmd, cut)


def test_malformed_frames_while_a_writer_writes(server, tmp_path: Path) -> None:
    addr = segment_store_addr(server)
    manager = pravega_client.StreamManager(server.controller_uri)
    scope, stream = "fuzz" + uuid.uuid4().hex[:6], "valid"
    assert manager.create_scope(scope)
    assert manager.create_stream(scope, stream, 2)

    stop_file, out = tmp_path / "stop", tmp_path / "writer.json"
    writer = subprocess.Popen(
        [
            sys.executable,
            str(CRASH_SCRIPT),
            "writer",
            "--uri",
            server.controller_uri,
            "--scope",
            scope,
            "--stream",
            stream,
            "--id",
            "valid",
            "--stop-file",
            str(stop_file),
            "--out",
            str(out),
            "--window",
            "8",
            "--rate",
            "2000",
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "writer.log", "wb"),
    )
    counts: dict[str, int] = {}
    try:
        time.sleep(1.0)
        fds_before = open_fds(server)

        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(case=cases())
        def fuzz(case: Case) -> None:
            counts[case.label] = counts.get(case.label, 0) + 1
            run_case(addr, case)
            assert server.alive(), f"server process died on {case!r}; log: {server._log_tail()}"
            check_health(addr)

        fuzz()
        assert writer.poll() is None, "the valid writer process died"
    finally:
        stop_file.touch()
        try:
            writer.wait(60)
        except subprocess.TimeoutExpired:
            writer.kill()
            writer.wait()
    print("examples per kind:", counts)
    assert server.alive()
    # Every connection the fuzzer opened is gone on the server side too (no leaked sockets).
    deadline = time.monotonic() + 10
    while open_fds(server) > fds_before + 4 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert open_fds(server) <= fds_before + 4, f"server holds {open_fds(server)} fds, {fds_before} before fuzzing"
    assert out.exists(), "writer left no results: " + (tmp_path / "writer.log").read_text(errors="replace")[-2000:]
    result = json.loads(out.read_text())
    assert len(result["acked"]) > 0, "the valid writer got nothing acknowledged"
    assert result["failures"] == [], f"the valid writer saw errors: {result['failures'][:5]}"

    report_path = tmp_path / "report.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(CRASH_SCRIPT),
            "verify",
            "--uri",
            server.controller_uri,
            "--scope",
            scope,
            "--stream",
            stream,
            "--report",
            str(report_path),
            str(out),
        ],
        capture_output=True,
        timeout=180,
    )
    assert report_path.exists(), (
        f"verifier failed (rc {proc.returncode}): {proc.stderr.decode(errors='replace')[-3000:]}"
    )
    report = json.loads(report_path.read_text())
    print("valid writer:", {"issued": result["issued"], "acked": len(result["acked"])}, report)
    assert not report["problems"], "; ".join(report["problems"])
    assert report["retried_and_duplicated"] == 0
