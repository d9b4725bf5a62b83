"""Metadata checkpoints: the engine's whole state at one log position, in one file.

Recovery loads the newest checkpoint and replays only the log records after its LSN,
so restart time depends on the log tail, not on the data retained. A checkpoint
holds every segment (lengths, start offset, seal, writer event numbers, attributes,
and its index: tier-2 chunk extents and the log extents not yet tiered), every table
segment's entries, the controller metadata and the next segment id. Table segments
and controller metadata therefore "tier" through the checkpoint: once one covers
their log records, those records are no longer needed.

File: ``checkpoint-<lsn>.ckpt`` = magic | body | CRC-32 of the body. It is written to
a temporary name, fsynced, renamed and the directory fsynced, and only once the log
is durable up to its LSN, so a checkpoint never holds unacknowledged state.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from .ops import SegmentKind, _Reader, _Writer
from .segments import Segment, Table

MAGIC = b"PRVCKPT1"
_SUFFIX = ".ckpt"
_PREFIX = "checkpoint-"
_U32 = struct.Struct(">I")
_LOG, _CHUNK = 0, 1


class CorruptCheckpointError(RuntimeError):
    pass


@dataclass
class State:
    lsn: int = 0
    next_id: int = 0
    segments: list[Segment] = field(default_factory=list)
    meta: dict[str, bytes] = field(default_factory=dict)


def file_name(lsn: int) -> str:
    return f"{_PREFIX}{lsn:020d}{_SUFFIX}"


def list_checkpoints(directory: Path) -> list[int]:
    out = []
    for entry in os.listdir(directory):
        if entry.startswith(_PREFIX) and entry.endswith(_SUFFIX):
            stem = entry[len(_PREFIX) : -len(_SUFFIX)]
            if stem.isdigit():
                out.append(int(stem))
    return sorted(out)


# -- encoding ------------------------------------------------------------------------


def encode(lsn: int, next_id: int, segments: list[Segment], meta: dict[str, bytes]) -> bytes:
    """Serialize a consistent view (call on the loop thread, between two operations)."""
    w = _Writer()
    w.i64(lsn)
    w.i64(next_id)
    w.i64(len(segments))
    for seg in segments:
        _encode_segment(w, seg)
    w.i64(len(meta))
    for key, value in meta.items():
        w.text(key)
        w.blob(value)
    body = b"".join(w.parts)
    return MAGIC + body + _U32.pack(zlib.crc32(body))


def _encode_segment(w: _Writer, seg: Segment) -> None:
    w.text(seg.name)
    w.i64(seg.id)
    w.u8(seg.kind)
    w.u8(seg.scale_type)
    w.i64(seg.target_rate)
    w.i64(seg.length)
    w.i64(seg.start_offset)
    w.u8(seg.sealed)
    w.i64(seg.created)
    w.i64(seg.last_modified)
    w.i64(len(seg.writers))
    for writer, number in seg.writers.items():
        w.blob(writer.to_bytes(16, "big"))
        w.i64(number)
    w.i64(len(seg.attributes))
    for attribute, attr_value in seg.attributes.items():
        w.blob(attribute.to_bytes(16, "big"))
        w.i64(attr_value)
    w.i64(len(seg.extents))
    for start, (base, where, length) in zip(seg.starts, seg.extents):
        w.i64(start)
        if type(base) is str:
            w.u8(_CHUNK)
            w.text(base)
        elif type(base) is int:
            w.u8(_LOG)
            w.i64(base)
        else:  # pragma: no cover - the in-memory store never checkpoints
            raise ValueError("in-memory extents cannot be checkpointed")
        w.i64(where)
        w.i64(length)
    table = seg.table
    w.u8(table is not None)
    if table is not None:
        w.i64(table.next_position)
        w.i64(len(table.entries))
        for key, (version, entry) in table.entries.items():
            w.blob(key)
            w.i64(version)
            w.blob(entry)


def decode(data: bytes) -> State:
    if len(data) < len(MAGIC) + 4 or not data.startswith(MAGIC):
        raise CorruptCheckpointError("not a checkpoint")
    body = memoryview(data)[len(MAGIC) : -4]
    (crc,) = _U32.unpack_from(data, len(data) - 4)
    if zlib.crc32(body) != crc:
        raise CorruptCheckpointError("checksum mismatch")
    r = _Reader(body)
    state = State(lsn=r.i64(), next_id=r.i64())
    for _ in range(r.i64()):
        state.segments.append(_decode_segment(r))
    for _ in range(r.i64()):
        key = r.text()
        state.meta[key] = r.blob()
    return state


def _decode_segment(r: _Reader) -> Segment:
    name, seg_id, kind, scale_type, target_rate = r.text(), r.i64(), SegmentKind(r.u8()), r.u8(), r.i64()
    seg = Segment(name, seg_id, kind, scale_type, target_rate)
    seg.length = seg.durable_length = r.i64()
    seg.start_offset = r.i64()
    seg.sealed = seg.durable_sealed = bool(r.u8())
    seg.created = r.i64()
    seg.last_modified = r.i64()
    for _ in range(r.i64()):
        writer = int.from_bytes(r.blob(), "big")
        seg.writers[writer] = r.i64()
    for _ in range(r.i64()):
        attribute = int.from_bytes(r.blob(), "big")
        seg.attributes[attribute] = r.i64()
    for _ in range(r.i64()):
        start = r.i64()
        base: int | str = r.text() if r.u8() == _CHUNK else r.i64()
        seg.restore_extent(start, (base, r.i64(), r.i64()))
    if r.u8():
        table = seg.table if seg.table is not None else Table()
        table.next_position = r.i64()
        for _ in range(r.i64()):
            key = r.blob()
            version = r.i64()
            table.entries[key] = (version, r.blob())
        table.positions = sorted(v for v, _ in table.entries.values())
        table.key_at = {v: k for k, (v, _) in table.entries.items()}
        seg.table = table
    return seg


# -- files ---------------------------------------------------------------------------


def write(directory: Path, lsn: int, data: bytes, *, fsync: bool = True) -> Path:
    """Put a checkpoint in place atomically, then delete the older ones (blocking)."""
    path = directory / file_name(lsn)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)
    _sync_dir(directory, fsync)
    for older in list_checkpoints(directory):
        if older < lsn:
            os.unlink(directory / file_name(older))
    return path


def load_newest(directory: Path) -> State | None:
    """The newest checkpoint, or None if there is none.

    Only the newest one is kept (the log before it may be gone), so a damaged
    checkpoint cannot be skipped: it raises :class:`CorruptCheckpointError`.
    """
    for entry in os.listdir(directory):
        if entry.startswith(_PREFIX) and entry.endswith(".tmp"):  # a crash mid-write
            os.unlink(directory / entry)
    found = list_checkpoints(directory)
    if not found:
        return None
    path = directory / file_name(found[-1])
    try:
        state = decode(path.read_bytes())
    except (CorruptCheckpointError, struct.error, ValueError, IndexError) as exc:
        raise CorruptCheckpointError(f"{path.name}: {exc}") from exc
    if state.lsn != found[-1]:
        raise CorruptCheckpointError(f"{path.name}: holds LSN {state.lsn}")
    return state


def _sync_dir(directory: Path, fsync: bool) -> None:
    if not fsync:
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
