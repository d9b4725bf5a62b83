"""Which container owns a segment: a stable hash of its stream-level name.

Every segment of a stream (its transaction segments too) and the table segments of a
key-value table or reader group hash by ``scope/stream``, so merges and the tables a
client reads stay inside one container.
"""

from __future__ import annotations

import zlib

from pravega import naming


def stream_key(segment: str) -> str:
    """``scope/stream`` of a qualified segment name (any name: the part before its last ``/``)."""
    try:
        scope, stream, _ = naming.parse_any_segment_name(segment)
    except ValueError:
        return segment.rsplit("/", 1)[0]
    return f"{scope}/{stream}"


def container_of_stream(scope: str, stream: str, count: int) -> int:
    """The container holding the segments of ``scope/stream``."""
    if count <= 1:
        return 0
    return zlib.crc32(f"{scope}/{stream}".encode()) % count


def container_of(segment: str, count: int) -> int:
    """The container holding ``segment``."""
    if count <= 1:
        return 0
    return zlib.crc32(stream_key(segment).encode()) % count
