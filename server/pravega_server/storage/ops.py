"""Operations on the store, and their binary form inside log records.

Everything except appends travels as a *batch*: a list of operations written as one
log record, so it is applied entirely or not at all (after a crash too). The
controller relies on that: committing a transaction merges every transaction
segment and updates the transaction record in one batch.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field
from typing import ClassVar

_I64 = struct.Struct(">q")
_U32 = struct.Struct(">I")
_U8 = struct.Struct(">B")

NO_VERSION = -(2**63)  # unconditional table update / removal
NOT_EXISTS = -1  # table condition "key must not exist"


class SegmentKind(enum.IntEnum):
    STREAM = 0
    TABLE = 1
    TRANSIENT = 2


class _Writer:
    __slots__ = ("parts",)

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def i64(self, v: int) -> None:
        self.parts.append(_I64.pack(v))

    def u8(self, v: int) -> None:
        self.parts.append(_U8.pack(v))

    def blob(self, v: bytes | memoryview) -> None:
        self.parts.append(_U32.pack(len(v)))
        self.parts.append(bytes(v))

    def text(self, v: str) -> None:
        self.blob(v.encode())


class _Reader:
    __slots__ = ("buf", "pos")

    def __init__(self, buf: memoryview) -> None:
        self.buf = buf
        self.pos = 0

    def i64(self) -> int:
        (v,) = _I64.unpack_from(self.buf, self.pos)
        self.pos += 8
        return v

    def u8(self) -> int:
        v = self.buf[self.pos]
        self.pos += 1
        return v

    def blob(self) -> bytes:
        (n,) = _U32.unpack_from(self.buf, self.pos)
        start = self.pos + 4
        self.pos = start + n
        return bytes(self.buf[start : self.pos])

    def text(self) -> str:
        return self.blob().decode()


@dataclass(frozen=True, slots=True)
class CreateSegment:
    OP: ClassVar[int] = 1
    name: str
    kind: SegmentKind = SegmentKind.STREAM
    scale_type: int = 0
    target_rate: int = 0

    def encode(self, w: _Writer) -> None:
        w.text(self.name)
        w.u8(self.kind)
        w.u8(self.scale_type)
        w.i64(self.target_rate)

    @classmethod
    def decode(cls, r: _Reader) -> CreateSegment:
        return cls(r.text(), SegmentKind(r.u8()), r.u8(), r.i64())


@dataclass(frozen=True, slots=True)
class SealSegment:
    OP: ClassVar[int] = 2
    name: str

    def encode(self, w: _Writer) -> None:
        w.text(self.name)

    @classmethod
    def decode(cls, r: _Reader) -> SealSegment:
        return cls(r.text())


@dataclass(frozen=True, slots=True)
class DeleteSegment:
    OP: ClassVar[int] = 3
    name: str
    must_be_empty: bool = False  # tables only: refuse if the table holds entries

    def encode(self, w: _Writer) -> None:
        w.text(self.name)
        w.u8(self.must_be_empty)

    @classmethod
    def decode(cls, r: _Reader) -> DeleteSegment:
        return cls(r.text(), bool(r.u8()))


@dataclass(frozen=True, slots=True)
class TruncateSegment:
    OP: ClassVar[int] = 4
    name: str
    offset: int

    def encode(self, w: _Writer) -> None:
        w.text(self.name)
        w.i64(self.offset)

    @classmethod
    def decode(cls, r: _Reader) -> TruncateSegment:
        return cls(r.text(), r.i64())


@dataclass(frozen=True, slots=True)
class MergeSegments:
    """Append all of ``source`` to ``target`` atomically, then delete ``source``."""

    OP: ClassVar[int] = 5
    target: str
    source: str

    def encode(self, w: _Writer) -> None:
        w.text(self.target)
        w.text(self.source)

    @classmethod
    def decode(cls, r: _Reader) -> MergeSegments:
        return cls(r.text(), r.text())


@dataclass(frozen=True, slots=True)
class UpdateAttribute:
    """Compare-and-set of one segment attribute; ``expected`` NO_VERSION = unconditional."""

    OP: ClassVar[int] = 6
    name: str
    attribute_id: int
    value: int
    expected: int = NO_VERSION

    def encode(self, w: _Writer) -> None:
        w.text(self.name)
        w.blob(self.attribute_id.to_bytes(16, "big"))
        w.i64(self.value)
        w.i64(self.expected)

    @classmethod
    def decode(cls, r: _Reader) -> UpdateAttribute:
        return cls(r.text(), int.from_bytes(r.blob(), "big"), r.i64(), r.i64())


@dataclass(frozen=True, slots=True)
class TableUpdate:
    """Conditional batch update of a table segment; ``entries`` = (key, expected version, value)."""

    OP: ClassVar[int] = 7
    name: str
    entries: tuple[tuple[bytes, int, bytes], ...]
    table_offset: int = -1

    def encode(self, w: _Writer) -> None:
        w.text(self.name)
        w.i64(self.table_offset)
        w.i64(len(self.entries))
        for key, version, value in self.entries:
            w.blob(key)
            w.i64(version)
            w.blob(value)

    @classmethod
    def decode(cls, r: _Reader) -> TableUpdate:
        name, offset, n = r.text(), r.i64(), r.i64()
        return cls(name, tuple((r.blob(), r.i64(), r.blob()) for _ in range(n)), offset)


@dataclass(frozen=True, slots=True)
class TableRemove:
    OP: ClassVar[int] = 8
    name: str
    keys: tuple[tuple[bytes, int], ...]
    table_offset: int = -1

    def encode(self, w: _Writer) -> None:
        w.text(self.name)
        w.i64(self.table_offset)
        w.i64(len(self.keys))
        for key, version in self.keys:
            w.blob(key)
            w.i64(version)

    @classmethod
    def decode(cls, r: _Reader) -> TableRemove:
        name, offset, n = r.text(), r.i64(), r.i64()
        return cls(name, tuple((r.blob(), r.i64()) for _ in range(n)), offset)


@dataclass(frozen=True, slots=True)
class PutMeta:
    """Set (or with ``value=None`` remove) one controller metadata record."""

    OP: ClassVar[int] = 9
    key: str
    value: bytes | None = field(default=None)

    def encode(self, w: _Writer) -> None:
        w.text(self.key)
        w.u8(self.value is not None)
        if self.value is not None:
            w.blob(self.value)

    @classmethod
    def decode(cls, r: _Reader) -> PutMeta:
        key = r.text()
        return cls(key, r.blob() if r.u8() else None)


@dataclass(frozen=True, slots=True)
class TierSegment:
    """Segment bytes [start, start + length) now live in tier-2 chunk ``chunk``.

    Written by the tiering task after the chunk is durable. It applies only if the
    segment still exists with ``segment_id`` and the range is still exactly a run of
    log extents; otherwise it is a no-op and the chunk is garbage.
    """

    OP: ClassVar[int] = 10
    name: str
    segment_id: int
    start: int
    length: int
    chunk: str

    def encode(self, w: _Writer) -> None:
        w.text(self.name)
        w.i64(self.segment_id)
        w.i64(self.start)
        w.i64(self.length)
        w.text(self.chunk)

    @classmethod
    def decode(cls, r: _Reader) -> TierSegment:
        return cls(r.text(), r.i64(), r.i64(), r.i64(), r.text())


Op = (
    CreateSegment
    | SealSegment
    | DeleteSegment
    | TruncateSegment
    | MergeSegments
    | UpdateAttribute
    | TableUpdate
    | TableRemove
    | PutMeta
    | TierSegment
)

OPS: dict[int, type] = {
    cls.OP: cls
    for cls in (
        CreateSegment,
        SealSegment,
        DeleteSegment,
        TruncateSegment,
        MergeSegments,
        UpdateAttribute,
        TableUpdate,
        TableRemove,
        PutMeta,
        TierSegment,
    )
}


def encode_batch(ops: list[Op]) -> list[bytes]:
    w = _Writer()
    w.parts.append(_U32.pack(len(ops)))
    for op in ops:
        w.u8(op.OP)
        op.encode(w)
    return w.parts


def decode_batch(payload: memoryview) -> list[Op]:
    r = _Reader(payload)
    (count,) = _U32.unpack_from(payload, 0)
    r.pos = 4
    ops = []
    for _ in range(count):
        ops.append(OPS[r.u8()].decode(r))
    return ops


#: Fixed part of an APPEND record: internal segment id, writer id (two u64),
#: last event number of the block. The appended bytes follow.
APPEND_HEADER = struct.Struct(">QQQq")
