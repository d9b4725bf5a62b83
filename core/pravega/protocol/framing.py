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
    "encode_header",
    "frame_event",
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


def frame_event(payload: bytes | bytearray | memoryview) -> bytes:
    """An event as clients frame it inside append data and segments store it:
    ``type 0: i32``, ``length: i32``, then the payload (spec §2.5)."""
    return HEADER.pack(0, len(payload)) + payload


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
