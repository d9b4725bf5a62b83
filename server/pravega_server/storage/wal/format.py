"""On-disk framing of the write-ahead log, shared by the writer and the reader.

A log is a directory of files named by the log sequence number (LSN) of their first
byte, 20 decimal digits plus ``.wal``. LSNs count bytes across all files, so an LSN
names one position in the whole log and orders every record ever written.

Each record (format 2) is::

    magic: u32 | crc32: u32 | length: u32 | type: u8 | synced_lsn: u64 | payload: length bytes

* ``magic`` lets a scan find the next record after damaged bytes (resynchronize);
* ``crc32`` is zlib's CRC-32 over the record's own LSN (not stored: a record copied to
  another place does not verify), length, type, synced_lsn and the payload, so every
  byte that decides what a reader sees is covered;
* ``synced_lsn`` is the LSN the writer knew durable when it wrote the record. A valid
  record therefore *proves* that everything before its ``synced_lsn`` was synced (and
  possibly acknowledged). When the log goes idle after a sync the writer adds a small
  :attr:`RecordType.MARKER` record carrying the new durable LSN, so the proof of the
  last sync is on disk too.

Recovery uses the proof to tell a torn tail from corruption: damage at an LSN below
the highest proven-durable LSN cannot come from a crash.

A header of zeros (the writer's preallocated space) is the end of the data; zeros
followed by valid records are damage (a lost page). Files of format 1 (``crc32 |
length | type``, written by 0.1.0) are still read by the reader; new records always go
to a format-2 file.
"""

from __future__ import annotations

import enum
import struct
import zlib

MAGIC = 0xC0DA10A2
MAGIC_BYTES = MAGIC.to_bytes(4, "big")
HEADER = struct.Struct(">IIIBQ")
HEADER_SIZE = HEADER.size
CRC_HEAD = struct.Struct(">QIBQ")  # lsn, length, type, synced_lsn: the header part of the checksum
#: Format 1 (0.1.0): crc32 over type and payload | length | type.
V1_HEADER = struct.Struct(">IIB")
#: Largest payload of one record. An append carries at most one wire frame (16 MiB).
MAX_RECORD_SIZE = 64 * 1024 * 1024
#: A new log file is started once the current one grows past this.
DEFAULT_FILE_SIZE = 256 * 1024 * 1024
FILE_SUFFIX = ".wal"
#: The writer keeps this much zero-filled space ahead of the tail, extended in chunks.
PREALLOCATE_CHUNK = 4 * 1024 * 1024
PREALLOCATE_AHEAD = 8 * 1024 * 1024
#: Preallocated space that appends may not use: control operations that free space
#: (truncate, delete, seal) can always be logged, even on a full disk.
RESERVE = 1024 * 1024


class RecordType(enum.IntEnum):
    BATCH = 1
    APPEND = 2
    MARKER = 3  # no payload: only carries synced_lsn


def file_name(base_lsn: int) -> str:
    return f"{base_lsn:020d}{FILE_SUFFIX}"


def parse_file_name(name: str) -> int | None:
    if not name.endswith(FILE_SUFFIX) or len(name) != 20 + len(FILE_SUFFIX):
        return None
    stem = name[:20]
    return int(stem) if stem.isdigit() else None


def checksum(lsn: int, rtype: int, synced_lsn: int, parts: list[bytes | memoryview]) -> int:
    length = sum(len(p) for p in parts)
    crc = zlib.crc32(CRC_HEAD.pack(lsn, length, rtype, synced_lsn))
    for part in parts:
        crc = zlib.crc32(part, crc)
    return crc


def header(lsn: int, rtype: int, synced_lsn: int, parts: list[bytes | memoryview]) -> bytes:
    """The header of a record written at ``lsn``."""
    length = sum(len(p) for p in parts)
    return HEADER.pack(MAGIC, checksum(lsn, rtype, synced_lsn, parts), length, rtype, synced_lsn)


def v1_checksum(rtype: int, payload: bytes | memoryview) -> int:
    return zlib.crc32(payload, zlib.crc32(bytes((rtype,))))


class ChecksumError(ValueError):
    """Stored bytes do not match their checksum: they must not be used."""


_TRAILER = struct.Struct(">II")  # magic, crc32


def seal(data: bytes | memoryview) -> bytes:
    """``data`` followed by a checksum trailer (for tier-2 chunks, checkpoints and other
    durable artifacts outside the log); :func:`unseal` verifies it."""
    return bytes(data) + _TRAILER.pack(MAGIC, zlib.crc32(data))


def unseal(blob: bytes | memoryview, what: str) -> memoryview:
    """The data of a :func:`seal` ed blob; raises :class:`ChecksumError` naming ``what``."""
    view = memoryview(blob)
    if len(view) < _TRAILER.size:
        raise ChecksumError(f"{what}: {len(view)} bytes, too short for a checksum trailer")
    magic, crc = _TRAILER.unpack_from(view, len(view) - _TRAILER.size)
    data = view[: len(view) - _TRAILER.size]
    if magic != MAGIC or zlib.crc32(data) != crc:
        raise ChecksumError(f"{what}: checksum mismatch")
    return data
