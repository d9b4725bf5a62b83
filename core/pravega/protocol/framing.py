"""Frame header and size limits (spec §2.1).

A frame is ``type: i32`` + ``length: i32`` + ``payload[length]``, big-endian.  ``length`` counts
only the payload; the whole frame (8-byte header + payload) must fit in `MAX_WIRECOMMAND_SIZE`,
which mirrors the Java server's Netty frame decoder.
"""

from __future__ import annotations

import struct

from .errors import RemoteProtocolError

__all__ = [
    "WIRE_VERSION",
    "OLDEST_COMPATIBLE_VERSION",
    "MAX_WIRECOMMAND_SIZE",
    "HEADER",
    "HEADER_SIZE",
    "EVENT_HEADER",
    "EVENT_HEADER_SIZE",
    "EVENT_TYPE",
    "encode_header",
    "frame_event",
    "parse_events",
    "parse_header",
]

#: Protocol version we speak (the current Java server's); sent as Hello.high_version.
WIRE_VERSION = 17
#: Oldest version we still understand; sent as Hello.low_version.
OLDEST_COMPATIBLE_VERSION = 5
#: Largest allowed frame, header included.
MAX_WIRECOMMAND_SIZE = 0x00FFFFFF

HEADER = struct.Struct(">ii")
HEADER_SIZE = HEADER.size


#: An event inside append data and segment bytes: ``type: i32`` (always `EVENT_TYPE`),
#: ``length: i32``, then the payload (spec §2.5). Same layout as a frame header.
EVENT_HEADER = HEADER
EVENT_HEADER_SIZE = HEADER_SIZE
EVENT_TYPE = 0

_Bytes = bytes | bytearray | memoryview


def frame_event(payload: _Bytes) -> bytes:
    """Frame one event payload (the inverse of `parse_events`)."""
    return EVENT_HEADER.pack(EVENT_TYPE, len(payload)) + payload


def parse_events(data: _Bytes, start: int = 0, base: int = 0) -> tuple[list[int], list[_Bytes], int]:
    """Decode the complete events in ``data[start:]``.

    Returns ``(offsets, payloads, end)``: the offset of each event's header (``base`` + its
    position in ``data``), its payload as a slice of ``data`` (a ``memoryview`` slices as one), and
    the position just past the last complete event; ``data[end:]`` is the start of an event
    whose bytes have not all arrived yet. A header whose type is not `EVENT_TYPE` or whose length
    is negative raises `RemoteProtocolError` naming its offset: such bytes are not events.
    """
    offsets: list[int] = []
    payloads: list[_Bytes] = []
    add_offset, add_payload = offsets.append, payloads.append
    unpack = EVENT_HEADER.unpack_from
    pos, end = start, len(data)
    while end - pos >= EVENT_HEADER_SIZE:
        kind, length = unpack(data, pos)
        if kind != EVENT_TYPE or length < 0:
            raise RemoteProtocolError(
                "corrupt event header", detail=f"type {kind}, length {length} at offset {base + pos}"
            )
        stop = pos + EVENT_HEADER_SIZE + length
        if stop > end:
            break
        add_offset(base + pos)
        add_payload(data[pos + EVENT_HEADER_SIZE : stop])
        pos = stop
    return offsets, payloads, pos


def encode_header(type_code: int, payload_length: int) -> bytes:
    """Return the 8-byte header of a frame."""
    return HEADER.pack(type_code, payload_length)


def parse_header(
    data: bytes | bytearray | memoryview,
    offset: int = 0,
    *,
    max_frame_size: int = MAX_WIRECOMMAND_SIZE,
) -> tuple[int, int]:
    """Parse the header at ``data[offset:offset + 8]`` and return ``(type_code, payload_length)``.

    The declared length is checked here, before anyone waits for (or buffers) the payload, so a
    peer cannot make us allocate more than ``max_frame_size``.  Raises `RemoteProtocolError` for a
    negative or oversized length; the caller must ensure 8 bytes are available.
    """
    type_code, length = HEADER.unpack_from(data, offset)
    if length < 0:
        raise RemoteProtocolError("negative frame length", type_code=type_code, detail=f"length {length}")
    if length > max_frame_size - HEADER_SIZE:
        raise RemoteProtocolError(
            "frame too large",
            type_code=type_code,
            detail=f"{HEADER_SIZE + length} bytes > limit {max_frame_size}",
        )
    return type_code, length
