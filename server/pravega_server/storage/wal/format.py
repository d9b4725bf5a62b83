"""On-disk framing of the write-ahead log, shared by the writer and the reader.

A log is a directory of files named by the log sequence number (LSN) of their first
byte, 20 decimal digits plus ``.wal``. LSNs count bytes across all files, so an LSN
names one position in the whole log and orders every record ever written.

Each record is::

    crc32: u32 | length: u32 | type: u8 | payload: length bytes

``crc32`` is zlib's CRC-32 over the type byte and the payload. A header of zeros
(the writer's preallocated space) marks the end of the log; it can never be a
record, since type 0 does not exist and its checksum would not be zero. A record whose header
or payload is cut short at the end of the last file, or whose checksum does not
match there, is a torn tail: the writer died in the middle of it, nothing in it was
acknowledged, and recovery cuts the file back to the record's start.
"""

from __future__ import annotations

import enum
import struct
import zlib

HEADER = struct.Struct(">IIB")
HEADER_SIZE = HEADER.size
#: Largest payload of one record. An append carries at most one wire frame (16 MiB).
MAX_RECORD_SIZE = 64 * 1024 * 1024
#: A new log file is started once the current one grows past this.
DEFAULT_FILE_SIZE = 256 * 1024 * 1024
FILE_SUFFIX = ".wal"
#: The writer keeps this much zero-filled space ahead of the tail, extended in chunks.
PREALLOCATE_CHUNK = 4 * 1024 * 1024
PREALLOCATE_AHEAD = 8 * 1024 * 1024


class RecordType(enum.IntEnum):
    BATCH = 1
    APPEND = 2


def file_name(base_lsn: int) -> str:
    return f"{base_lsn:020d}{FILE_SUFFIX}"


def parse_file_name(name: str) -> int | None:
    if not name.endswith(FILE_SUFFIX) or len(name) != 20 + len(FILE_SUFFIX):
        return None
    stem = name[:20]
    return int(stem) if stem.isdigit() else None


def checksum(rtype: int, parts: list[bytes | memoryview]) -> int:
    crc = zlib.crc32(bytes((rtype,)))
    for part in parts:
        crc = zlib.crc32(part, crc)
    return crc


def header(rtype: int, parts: list[bytes | memoryview]) -> bytes:
    length = sum(len(p) for p in parts)
    return HEADER.pack(checksum(rtype, parts), length, rtype)
