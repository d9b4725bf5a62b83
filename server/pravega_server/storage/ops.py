"""Operations on the store, and their binary form inside log records.

Everything except appends travels as a *batch*: a list of operations written as one
log record, so it is applied entirely or not at all (after a crash too). The
controller relies on that: committing a transaction merges every transaction
segment and updates the transaction record in one batch.

Each operation declares its code and its ``LAYOUT`` (field name and layout, in the
order written) once; :func:`encode_batch` and :func:`decode_batch` are generated from
that, as the wire commands in ``pravega.protocol.commands`` are. The controller's
intent record stores its second batch in the same form.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

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
    """Primitive writer (also used by the checkpoint format, ``checkpoint.py``)."""

    __slots__ = ("parts",)

    def __init__(self) -> None:
        self.parts: list[bytes | memoryview] = []

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
        return int(v)

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


# -- field layouts: how one value is written --------------------------------------------


class Field:
    """The binary layout of one field value."""

    def put(self, parts: list[bytes | memoryview], value: Any) -> None:
        raise NotImplementedError

    def get(self, r: _Reader) -> Any:
        raise NotImplementedError


class _I64Field(Field):
    def put(self, parts: list[bytes | memoryview], value: Any) -> None:
        parts.append(_I64.pack(value))

    def get(self, r: _Reader) -> Any:
        return r.i64()


class _U8Field(Field):
    """One unsigned byte, read back through ``convert`` (int, bool, an IntEnum)."""

    def __init__(self, convert: Callable[[int], Any] = int) -> None:
        self.convert = convert

    def put(self, parts: list[bytes | memoryview], value: Any) -> None:
        parts.append(_U8.pack(value))

    def get(self, r: _Reader) -> Any:
        return self.convert(r.u8())


class _BlobField(Field):
    """u32 length, then the bytes."""

    def put(self, parts: list[bytes | memoryview], value: Any) -> None:
        parts.append(_U32.pack(len(value)))
        parts.append(bytes(value))

    def get(self, r: _Reader) -> Any:
        return r.blob()


class _TextField(_BlobField):
    """UTF-8 text as a blob."""

    def put(self, parts: list[bytes | memoryview], value: Any) -> None:
        super().put(parts, value.encode())

    def get(self, r: _Reader) -> Any:
        return r.blob().decode()


class _Id128Field(_BlobField):
    """A 128-bit id as a 16-byte big-endian blob."""

    def put(self, parts: list[bytes | memoryview], value: Any) -> None:
        super().put(parts, value.to_bytes(16, "big"))

    def get(self, r: _Reader) -> Any:
        return int.from_bytes(r.blob(), "big")


class _OptionalBlobField(_BlobField):
    """A presence byte, then the blob if present (None otherwise)."""

    def put(self, parts: list[bytes | memoryview], value: Any) -> None:
        parts.append(_U8.pack(value is not None))
        if value is not None:
            super().put(parts, value)

    def get(self, r: _Reader) -> Any:
        return r.blob() if r.u8() else None


class _TuplesField(Field):
    """An i64 count, then each tuple's elements laid out by ``elements``."""

    def __init__(self, *elements: Field) -> None:
        self.elements = elements

    def put(self, parts: list[bytes | memoryview], value: Any) -> None:
        parts.append(_I64.pack(len(value)))
        for item in value:
            for element, v in zip(self.elements, item):
                element.put(parts, v)

    def get(self, r: _Reader) -> Any:
        return tuple(tuple(element.get(r) for element in self.elements) for _ in range(r.i64()))


I64, BLOB, TEXT = _I64Field(), _BlobField(), _TextField()
U8, BOOL, KIND = _U8Field(), _U8Field(bool), _U8Field(SegmentKind)
ID128, OPTIONAL_BLOB = _Id128Field(), _OptionalBlobField()

#: The fields of an operation in the order they are written.
Layout = tuple[tuple[str, Field], ...]


# -- operations: each declares its code and layout once --------------------------------


@dataclass(frozen=True, slots=True)
class CreateSegment:
    OP: ClassVar[int] = 1
    LAYOUT: ClassVar[Layout] = (("name", TEXT), ("kind", KIND), ("scale_type", U8), ("target_rate", I64))
    name: str
    kind: SegmentKind = SegmentKind.STREAM
    scale_type: int = 0
    target_rate: int = 0


@dataclass(frozen=True, slots=True)
class SealSegment:
    OP: ClassVar[int] = 2
    LAYOUT: ClassVar[Layout] = (("name", TEXT),)
    name: str


@dataclass(frozen=True, slots=True)
class DeleteSegment:
    OP: ClassVar[int] = 3
    LAYOUT: ClassVar[Layout] = (("name", TEXT), ("must_be_empty", BOOL))
    name: str
    must_be_empty: bool = False  # tables only: refuse if the table holds entries


@dataclass(frozen=True, slots=True)
class TruncateSegment:
    OP: ClassVar[int] = 4
    LAYOUT: ClassVar[Layout] = (("name", TEXT), ("offset", I64))
    name: str
    offset: int


@dataclass(frozen=True, slots=True)
class MergeSegments:
    """Append all of ``source`` to ``target`` atomically, then delete ``source``."""

    OP: ClassVar[int] = 5
    LAYOUT: ClassVar[Layout] = (("target", TEXT), ("source", TEXT))
    target: str
    source: str


@dataclass(frozen=True, slots=True)
class UpdateAttribute:
    """Compare-and-set of one segment attribute; ``expected`` NO_VERSION = unconditional."""

    OP: ClassVar[int] = 6
    LAYOUT: ClassVar[Layout] = (("name", TEXT), ("attribute_id", ID128), ("value", I64), ("expected", I64))
    name: str
    attribute_id: int
    value: int
    expected: int = NO_VERSION


@dataclass(frozen=True, slots=True)
class TableUpdate:
    """Conditional batch update of a table segment; ``entries`` = (key, expected version, value)."""

    OP: ClassVar[int] = 7
    LAYOUT: ClassVar[Layout] = (("name", TEXT), ("table_offset", I64), ("entries", _TuplesField(BLOB, I64, BLOB)))
    name: str
    entries: tuple[tuple[bytes, int, bytes], ...]
    table_offset: int = -1


@dataclass(frozen=True, slots=True)
class TableRemove:
    OP: ClassVar[int] = 8
    LAYOUT: ClassVar[Layout] = (("name", TEXT), ("table_offset", I64), ("keys", _TuplesField(BLOB, I64)))
    name: str
    keys: tuple[tuple[bytes, int], ...]
    table_offset: int = -1


@dataclass(frozen=True, slots=True)
class PutMeta:
    """Set (or with ``value=None`` remove) one controller metadata record."""

    OP: ClassVar[int] = 9
    LAYOUT: ClassVar[Layout] = (("key", TEXT), ("value", OPTIONAL_BLOB))
    key: str
    value: bytes | None = field(default=None)


@dataclass(frozen=True, slots=True)
class TierSegment:
    """Segment bytes [start, start + length) now live in tier-2 chunk ``chunk``.

    Written by the tiering task after the chunk is durable. It applies only if the
    segment still exists with ``segment_id`` and the range is still exactly a run of
    log extents; otherwise it is a no-op and the chunk is garbage.
    """

    OP: ClassVar[int] = 10
    LAYOUT: ClassVar[Layout] = (
        ("name", TEXT),
        ("segment_id", I64),
        ("start", I64),
        ("length", I64),
        ("chunk", TEXT),
    )
    name: str
    segment_id: int
    start: int
    length: int
    chunk: str


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

OPS: dict[int, type[Op]] = {
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

for _cls in OPS.values():  # a layout must describe exactly the dataclass's fields
    assert [n for n, _ in _cls.LAYOUT] and {n for n, _ in _cls.LAYOUT} == {f.name for f in fields(_cls)}, _cls


def encode_batch(ops: list[Op]) -> list[bytes | memoryview]:
    """The payload of a BATCH record: u32 count, then per op its code (u8) and fields."""
    parts: list[bytes | memoryview] = [_U32.pack(len(ops))]
    for op in ops:
        parts.append(_U8.pack(op.OP))
        for name, layout in op.LAYOUT:
            layout.put(parts, getattr(op, name))
    return parts


def decode_batch(payload: memoryview) -> list[Op]:
    r = _Reader(payload)
    (count,) = _U32.unpack_from(payload, 0)
    r.pos = 4
    ops = []
    for _ in range(count):
        code = r.u8()
        cls = OPS.get(code)
        if cls is None:
            raise ValueError(f"unknown operation code {code}")
        ops.append(cls(**{name: layout.get(r) for name, layout in cls.LAYOUT}))
    return ops


#: Fixed part of an APPEND record: internal segment id, writer id (two u64),
#: last event number of the block. The appended bytes follow.
APPEND_HEADER = struct.Struct(">QQQq")
