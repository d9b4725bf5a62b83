"""The event framing inside append data and segment bytes (framing.frame_event / parse_events)."""

import pytest

from pravega.protocol.errors import RemoteProtocolError
from pravega.protocol.framing import EVENT_HEADER_SIZE, frame_event, parse_events


def test_round_trip_and_partial_tail() -> None:
    data = frame_event(b"ab") + frame_event(b"") + frame_event(b"xyz")
    for cut in range(len(data) + 1):
        offsets, payloads, end = parse_events(data[:cut], base=100)
        whole = [p for p, stop in ((b"ab", 10), (b"", 18), (b"xyz", 29)) if stop <= cut]
        assert [bytes(p) for p in payloads] == whole
        assert offsets == [100, 110, 118][: len(whole)]
        assert end == [0, 10, 18, 29][len(whole)]


def test_memoryview_payloads_are_slices() -> None:
    view = memoryview(frame_event(b"hello"))
    _, payloads, _ = parse_events(view)
    assert isinstance(payloads[0], memoryview) and payloads[0] == b"hello"


def test_start_offset() -> None:
    data = frame_event(b"a") + frame_event(b"bc")
    offsets, payloads, end = parse_events(data, start=EVENT_HEADER_SIZE + 1, base=7)
    assert offsets == [16] and payloads == [b"bc"] and end == len(data)


@pytest.mark.parametrize("header", [b"\x00\x00\x00\x01\x00\x00\x00\x00", b"\x00\x00\x00\x00\xff\xff\xff\xff"])
def test_bad_header_names_the_offset(header: bytes) -> None:
    with pytest.raises(RemoteProtocolError, match="at offset 42"):
        parse_events(header, base=42)
