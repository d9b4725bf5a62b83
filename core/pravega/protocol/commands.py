"""The segment-store wire commands of spec §2.4, one small immutable class each.

Every class is a frozen, slotted dataclass whose fields are listed **in wire order**, each
annotated with its wire type (``I64``, ``Utf``, ``Uuid``...).  That declaration is the whole
specification of the layout: `pravega.protocol.codec` compiles it into an encoder and a decoder.

Conventions (see the module docs of `codec` for the byte-level details):

* A field with a default is *optional on the wire*: when the payload ends before it, the decoder
  uses the default (the Java readers do the same for older peers).  Encoders always write every
  field, i.e. the full Java v17 layout.
* UUIDs are ints in ``[0, 2**128)``; strings are `str` (at most 65535 UTF-8 bytes); lists are
  tuples (a list passed to the constructor is converted).
* Fields named ``data`` (appends, reads, embedded events) accept any bytes-like object and decode
  as zero-copy `memoryview` slices of the received payload; other byte fields are `bytes`.
* Construction validates types and ranges that would make encoding impossible and raises
  `LocalProtocolError`.  Decoded commands skip that check (the decoder only produces valid values).
"""

import dataclasses
import enum
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, TypeVar, cast

from .errors import LocalProtocolError

# ---------------------------------------------------------------------------------------------
# Wire types
# ---------------------------------------------------------------------------------------------


class Kind(enum.Enum):
    """How one field is laid out on the wire."""

    I8 = "i8"
    BOOL = "bool"
    I32 = "i32"
    I64 = "i64"
    UUID = "uuid"  # two i64s, most significant first
    UTF = "utf"  # u16 byte length + UTF-8
    BUF = "buf"  # i32 length + bytes (decoded as bytes)
    DATA = "data"  # i32 length + bytes (decoded as a memoryview slice)
    REST = "rest"  # all remaining payload bytes, no length prefix
    PADDING = "padding"  # all remaining payload bytes, all zero; the field is their count
    EVENT = "event"  # embedded Event: 0:i32, length:i32, bytes
    LIST = "list"  # i32 count + items; `item` is a Wire, a struct class, or a tuple of Wires
    COLUMN = "column"  # second column of a zipped LIST: no bytes of its own


@dataclass(frozen=True)
class Wire:
    """Wire type of a field; ``item`` describes LIST/COLUMN elements.

    A LIST whose ``item`` is a tuple of n Wires is "zipped": each element is written as n values
    interleaved on the wire, and the list's field is followed by n-1 COLUMN fields that receive the
    other values (Java's ``SegmentsBatchMerged`` layout).
    """

    kind: Kind
    item: "Wire | type | tuple[Wire, ...] | None" = None


BytesLike = bytes | bytearray | memoryview

I8 = Annotated[int, Wire(Kind.I8)]
Bool = Annotated[bool, Wire(Kind.BOOL)]
I32 = Annotated[int, Wire(Kind.I32)]
I64 = Annotated[int, Wire(Kind.I64)]
Uuid = Annotated[int, Wire(Kind.UUID)]
Utf = Annotated[str, Wire(Kind.UTF)]
Buf = Annotated[bytes, Wire(Kind.BUF)]
Data = Annotated[BytesLike, Wire(Kind.DATA)]
Rest = Annotated[BytesLike, Wire(Kind.REST)]

I32_MAX = (1 << 31) - 1
I64_MIN = -(1 << 63)
I64_MAX = (1 << 63) - 1
UUID_MAX = (1 << 128) - 1
#: "attribute not set" / "writer never appended" (Java ``Long.MIN_VALUE``).
NULL_ATTRIBUTE_VALUE = I64_MIN


class Direction(enum.Enum):
    """Who may send a command: the client (REQUEST), the server (REPLY) or both."""

    REQUEST = "request"
    REPLY = "reply"
    BOTH = "both"


@dataclass(frozen=True)
class WireField:
    """One field of a struct or command, as the codec sees it."""

    name: str
    wire: Wire
    default: object = dataclasses.MISSING

    @property
    def optional(self) -> bool:
        return self.default is not dataclasses.MISSING


@dataclass(frozen=True)
class LegacyLayout:
    """An older wire layout of a command, used when the negotiated version is <= ``max_version``.

    ``fields`` are the field names present on the wire in that version, in order; fields not listed
    take the values in ``absent`` on decode.
    """

    max_version: int
    fields: tuple[str, ...]
    absent: Mapping[str, object] = dataclasses.field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Validation (construction time only)
# ---------------------------------------------------------------------------------------------

_Check = Callable[[str, object], object]


def _fail(name: str, expected: str, value: object) -> LocalProtocolError:
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return LocalProtocolError(f"field {name!r} must be {expected}, got {shown}")


def _int_check(lo: int, hi: int) -> _Check:
    def check(name: str, value: object) -> object:
        if isinstance(value, int) and lo <= value <= hi:
            return value
        raise _fail(name, f"an int in [{lo}, {hi}]", value)

    return check


def _check_bool(name: str, value: object) -> object:
    if value is True or value is False:
        return value
    raise _fail(name, "a bool", value)


def _check_utf(name: str, value: object) -> object:
    if isinstance(value, str):
        if value.isascii():  # O(1) in CPython; then bytes == characters
            if len(value) <= 0xFFFF:
                return value
        else:
            try:
                if len(value.encode("utf-8")) <= 0xFFFF:
                    return value
            except UnicodeEncodeError:  # lone surrogates
                pass
    raise _fail(name, "a str of at most 65535 UTF-8 bytes", value)


def _check_buf(name: str, value: object) -> object:
    if type(value) is bytes:
        if len(value) <= I32_MAX:
            return value
    elif isinstance(value, (bytes, bytearray, memoryview)):
        return _check_buf(name, bytes(value))
    raise _fail(name, "bytes-like (at most 2**31-1 bytes)", value)


def _check_data(name: str, value: object) -> object:
    if isinstance(value, memoryview) and (value.ndim != 1 or value.itemsize != 1):
        try:
            value = value.cast("B")
        except TypeError:
            raise _fail(name, "a contiguous buffer", value) from None
    if isinstance(value, (bytes, bytearray, memoryview)) and len(value) <= I32_MAX:
        return value
    raise _fail(name, "bytes, bytearray or memoryview (at most 2**31-1 bytes)", value)


def _instance_check(cls: type) -> _Check:
    def check(name: str, value: object) -> object:
        if isinstance(value, cls):
            return value
        raise _fail(name, f"a {cls.__name__}", value)

    return check


def _sequence_check(item: _Check) -> _Check:
    def check(name: str, value: object) -> object:
        if not isinstance(value, (list, tuple)) or len(value) > I32_MAX:
            raise _fail(name, "a list or tuple", value)
        item_name = f"{name}[]"
        for element in value:
            item(item_name, element)
        return value if type(value) is tuple else tuple(value)

    return check


_SCALAR_CHECKS: dict[Kind, _Check] = {
    Kind.I8: _int_check(-128, 127),
    Kind.BOOL: _check_bool,
    Kind.I32: _int_check(-(1 << 31), I32_MAX),
    Kind.I64: _int_check(I64_MIN, I64_MAX),
    Kind.UUID: _int_check(0, UUID_MAX),
    Kind.UTF: _check_utf,
    Kind.BUF: _check_buf,
    Kind.DATA: _check_data,
    Kind.REST: _check_data,
    Kind.EVENT: _check_data,
    Kind.PADDING: _int_check(0, I32_MAX),
}


def _check_for(wire: "Wire | type") -> _Check:
    if isinstance(wire, type):
        return _instance_check(wire)
    if wire.kind is Kind.LIST:
        item = wire.item
        first = item[0] if isinstance(item, tuple) else item
        assert first is not None
        return _sequence_check(_check_for(first))
    if wire.kind is Kind.COLUMN:
        assert isinstance(wire.item, Wire)
        return _sequence_check(_check_for(wire.item))
    return _SCALAR_CHECKS[wire.kind]


# ---------------------------------------------------------------------------------------------
# Base classes and decorators
# ---------------------------------------------------------------------------------------------


class Struct:
    """Base of every wire structure (commands and composite values such as `TableKey`)."""

    __slots__ = ()

    WIRE_FIELDS: ClassVar[tuple[WireField, ...]]
    _CHECKS: ClassVar[tuple[tuple[str, _Check], ...]]

    def __post_init__(self) -> None:
        for name, check in self._CHECKS:
            value = getattr(self, name)
            checked = check(name, value)
            if checked is not value:  # normalised (list -> tuple, bytearray -> bytes...)
                object.__setattr__(self, name, checked)


class Command(Struct):
    """Base of the top-level wire commands."""

    __slots__ = ()

    TYPE_CODE: ClassVar[int]
    DIRECTION: ClassVar[Direction]
    #: True for Event/Padding/PartialEvent: they only ever appear inside append data.
    EMBEDDED: ClassVar[bool]
    LEGACY_LAYOUTS: ClassVar[tuple[LegacyLayout, ...]]

    if typing.TYPE_CHECKING:
        # A field in most subclasses, a property in the few without one on the wire.  Not
        # defined at runtime: dataclass() would mistake an inherited property for a default.
        @property
        def request_id(self) -> int: ...


_StructT = TypeVar("_StructT", bound=type[Struct])
_CommandT = TypeVar("_CommandT", bound=type[Command])

_REGISTERED: list[type[Command]] = []


def _wire_fields(cls: type) -> tuple[WireField, ...]:
    hints = typing.get_type_hints(cls, include_extras=True)
    result = []
    for f in dataclasses.fields(cls):
        wires = [m for m in getattr(hints[f.name], "__metadata__", ()) if isinstance(m, Wire)]
        if len(wires) != 1:
            raise TypeError(f"{cls.__name__}.{f.name} needs exactly one Wire annotation")
        result.append(WireField(f.name, wires[0], f.default))
    return tuple(result)


@typing.dataclass_transform(frozen_default=True)
def _struct(cls: _StructT) -> _StructT:
    """Make ``cls`` a frozen slotted dataclass and record its wire fields."""
    new: Any = dataclass(frozen=True, slots=True)(cls)  # slots=True returns a new class
    new.WIRE_FIELDS = _wire_fields(new)
    new._CHECKS = tuple((f.name, _check_for(f.wire)) for f in new.WIRE_FIELDS)
    return cast(_StructT, new)


@typing.dataclass_transform(frozen_default=True)
def _command(
    type_code: int,
    direction: Direction,
    *,
    embedded: bool = False,
    legacy: tuple[LegacyLayout, ...] = (),
) -> Callable[[_CommandT], _CommandT]:
    def wrap(cls: _CommandT) -> _CommandT:
        cls = _struct(cls)
        cls.TYPE_CODE = type_code
        cls.DIRECTION = direction
        cls.EMBEDDED = embedded
        cls.LEGACY_LAYOUTS = legacy
        if type_code in {c.TYPE_CODE for c in _REGISTERED}:
            raise TypeError(f"duplicate type code {type_code}")
        _REGISTERED.append(cls)
        return cls

    return wrap


REQUEST, REPLY, BOTH = Direction.REQUEST, Direction.REPLY, Direction.BOTH

# ---------------------------------------------------------------------------------------------
# Composite values (spec §2.3)
# ---------------------------------------------------------------------------------------------


@_struct
class TableKey(Struct):
    """A table key with its version: ``payloadSize:i32, dataLength:i32, data, keyVersion:i64``."""

    NO_VERSION: ClassVar[int] = I64_MIN  # unconditional update / removal
    NOT_EXISTS: ClassVar[int] = -1  # "must not exist" condition / "absent" in replies

    data: Buf
    version: I64


@_struct
class TableEntry(Struct):
    """A TableKey followed by a TableValue (``payloadSize:i32, dataLength:i32, data``)."""

    key: Buf
    version: I64
    value: Buf


@_struct
class ConditionalAttributeUpdate(Struct):
    REPLACE: ClassVar[int] = 1
    REPLACE_IF_EQUALS: ClassVar[int] = 4

    attribute_id: Uuid
    attribute_update_type: I8
    new_value: I64
    old_value: I64


@_struct
class ChunkInfo(Struct):
    length_in_metadata: I64
    length_in_storage: I64
    start_offset: I64
    chunk_name: Utf
    exists_in_storage: Bool


TableKeyList = Annotated[tuple[TableKey, ...], Wire(Kind.LIST, TableKey)]
TableEntryList = Annotated[tuple[TableEntry, ...], Wire(Kind.LIST, TableEntry)]

# ---------------------------------------------------------------------------------------------
# Commands (spec §2.4), in type-code order
# ---------------------------------------------------------------------------------------------


@_command(-127, BOTH)
class Hello(Command):
    high_version: I32
    low_version: I32

    @property
    def request_id(self) -> int:
        return 0


@_command(-6, REPLY)
class StorageChunksListed(Command):
    request_id: I64
    chunks: Annotated[tuple[ChunkInfo, ...], Wire(Kind.LIST, ChunkInfo)]


@_command(-5, REQUEST)
class ListStorageChunks(Command):
    segment: Utf
    delegation_token: Utf
    request_id: I64


@_command(-4, REPLY)
class StorageFlushed(Command):
    request_id: I64


@_command(-3, REQUEST)
class FlushToStorage(Command):
    container_id: I32
    delegation_token: Utf
    request_id: I64


@_command(-2, REQUEST, embedded=True)
class PartialEvent(Command):
    """Fragment of an event that straddles the end of an AppendBlock (only inside its data)."""

    data: Rest

    @property
    def request_id(self) -> int:
        return -1


@_command(-1, REQUEST, embedded=True)
class Padding(Command):
    """``length`` zero bytes filling an AppendBlock that was closed early (only inside its data)."""

    length: Annotated[int, Wire(Kind.PADDING)]

    @property
    def request_id(self) -> int:
        return -1


@_command(0, REQUEST, embedded=True)
class Event(Command):
    """One event as framed inside append data: encodes to ``0:i32, len:i32, data``."""

    data: Rest

    @property
    def request_id(self) -> int:
        return -1


@_command(1, REQUEST)
class SetupAppend(Command):
    request_id: I64
    writer_id: Uuid
    segment: Utf
    delegation_token: Utf


@_command(2, REPLY)
class AppendSetup(Command):
    """``last_event_number`` is `NULL_ATTRIBUTE_VALUE` when the writer never wrote to the segment."""

    request_id: I64
    segment: Utf
    writer_id: Uuid
    last_event_number: I64


@_command(3, REQUEST)
class AppendBlock(Command):
    """Java-client block: the writer id followed by raw event bytes (possibly ending in an
    embedded Padding or PartialEvent); always followed by an AppendBlockEnd."""

    writer_id: Uuid
    data: Rest

    @property
    def request_id(self) -> int:
        return -1


@_command(4, REQUEST)
class AppendBlockEnd(Command):
    writer_id: Uuid
    size_of_whole_events: I32
    data: Data
    num_events: I32
    last_event_number: I64
    request_id: I64 = -1


@_command(5, REQUEST)
class ConditionalAppend(Command):
    """``data`` is the payload of the embedded Event; its 8-byte header is added on the wire."""

    writer_id: Uuid
    event_number: I64
    expected_offset: I64
    data: Annotated[BytesLike, Wire(Kind.EVENT)]
    request_id: I64 = -1


@_command(7, REPLY)
class DataAppended(Command):
    writer_id: Uuid
    event_number: I64
    previous_event_number: I64 = -1
    request_id: I64 = -1
    current_segment_write_offset: I64 = -1


@_command(8, REPLY)
class ConditionalCheckFailed(Command):
    writer_id: Uuid
    event_number: I64
    request_id: I64 = -1


@_command(9, REQUEST)
class ReadSegment(Command):
    segment: Utf
    offset: I64
    suggested_length: I32
    delegation_token: Utf
    request_id: I64 = -1


@_command(10, REPLY)
class SegmentRead(Command):
    segment: Utf
    offset: I64
    at_tail: Bool
    end_of_segment: Bool
    data: Data
    request_id: I64 = -1


@_command(11, REQUEST)
class GetStreamSegmentInfo(Command):
    request_id: I64
    segment_name: Utf
    delegation_token: Utf


@_command(12, REPLY)
class StreamSegmentInfo(Command):
    request_id: I64
    segment_name: Utf
    exists: Bool
    is_sealed: Bool
    is_deleted: Bool
    last_modified: I64
    write_offset: I64
    start_offset: I64 = 0


@_command(20, REQUEST)
class CreateSegment(Command):
    """scale_type: 0 NoScaling, 1 Throughput (KB/s), 2 EventRate.  Note target_rate comes first."""

    NO_SCALE: ClassVar[int] = 0
    IN_KBYTES_PER_SEC: ClassVar[int] = 1
    IN_EVENTS_PER_SEC: ClassVar[int] = 2

    request_id: I64
    segment: Utf
    target_rate: I32
    scale_type: I8
    delegation_token: Utf
    rollover_size_bytes: I64 = 0


@_command(21, REPLY)
class SegmentCreated(Command):
    request_id: I64
    segment: Utf


@_command(28, REQUEST)
class SealSegment(Command):
    request_id: I64
    segment: Utf
    delegation_token: Utf


@_command(29, REPLY)
class SegmentSealed(Command):
    request_id: I64
    segment: Utf


@_command(30, REQUEST)
class DeleteSegment(Command):
    request_id: I64
    segment: Utf
    delegation_token: Utf


@_command(31, REPLY)
class SegmentDeleted(Command):
    request_id: I64
    segment: Utf


@_command(32, REQUEST)
class UpdateSegmentPolicy(Command):
    request_id: I64
    segment: Utf
    target_rate: I32
    scale_type: I8
    delegation_token: Utf


@_command(33, REPLY)
class SegmentPolicyUpdated(Command):
    request_id: I64
    segment: Utf


@_command(34, REQUEST)
class GetSegmentAttribute(Command):
    request_id: I64
    segment_name: Utf
    attribute_id: Uuid
    delegation_token: Utf


@_command(35, REPLY)
class SegmentAttribute(Command):
    """``value`` is `NULL_ATTRIBUTE_VALUE` when the attribute is not set."""

    request_id: I64
    value: I64


@_command(36, REQUEST)
class UpdateSegmentAttribute(Command):
    request_id: I64
    segment_name: Utf
    attribute_id: Uuid
    new_value: I64
    expected_value: I64
    delegation_token: Utf


@_command(37, REPLY)
class SegmentAttributeUpdated(Command):
    request_id: I64
    success: Bool


@_command(38, REQUEST)
class TruncateSegment(Command):
    request_id: I64
    segment: Utf
    truncation_offset: I64
    delegation_token: Utf


@_command(39, REPLY)
class SegmentTruncated(Command):
    request_id: I64
    segment: Utf


@_command(40, REQUEST)
class CreateTransientSegment(Command):
    request_id: I64
    writer_id: Uuid
    parent_segment: Utf
    delegation_token: Utf


@_command(41, REQUEST)
class LocateOffset(Command):
    request_id: I64
    segment: Utf
    target_offset: I64
    delegation_token: Utf


@_command(42, REPLY)
class OffsetLocated(Command):
    request_id: I64
    segment: Utf
    offset: I64


@_command(50, REPLY)
class WrongHost(Command):
    request_id: I64
    segment: Utf
    correct_host: Utf
    server_stack_trace: Utf = ""


@_command(51, REPLY)
class SegmentIsSealed(Command):
    request_id: I64
    segment: Utf
    server_stack_trace: Utf = ""
    offset: I64 = -1


@_command(52, REPLY)
class SegmentAlreadyExists(Command):
    request_id: I64
    segment: Utf
    server_stack_trace: Utf = ""


@_command(53, REPLY)
class NoSuchSegment(Command):
    request_id: I64
    segment: Utf
    server_stack_trace: Utf = ""
    offset: I64 = -1


@_command(
    55,
    REPLY,
    # Up to v15 (what the Rust client decodes) there was no request id and the event number
    # came first.
    legacy=(LegacyLayout(15, ("writer_id", "event_number", "server_stack_trace"), {"request_id": -1}),),
)
class InvalidEventNumber(Command):
    """Layout depends on the negotiated version: see `LEGACY_LAYOUTS`."""

    writer_id: Uuid
    request_id: I64
    server_stack_trace: Utf = ""
    event_number: I64 = -1


@_command(56, REPLY)
class SegmentIsTruncated(Command):
    request_id: I64
    segment: Utf
    start_offset: I64
    server_stack_trace: Utf = ""
    offset: I64 = -1


@_command(57, REPLY)
class OperationUnsupported(Command):
    request_id: I64
    operation_name: Utf
    server_stack_trace: Utf = ""


@_command(58, REQUEST)
class MergeSegments(Command):
    request_id: I64
    target: Utf
    source: Utf
    delegation_token: Utf
    attribute_updates: Annotated[
        tuple[ConditionalAttributeUpdate, ...], Wire(Kind.LIST, ConditionalAttributeUpdate)
    ] = ()


@_command(59, REPLY)
class SegmentsMerged(Command):
    request_id: I64
    target: Utf
    source: Utf
    new_target_write_offset: I64 = -1


@_command(60, REPLY)
class AuthTokenCheckFailed(Command):
    """error_code: -1 UNSPECIFIED, 0 TOKEN_CHECK_FAILED, 1 TOKEN_EXPIRED."""

    UNSPECIFIED: ClassVar[int] = -1
    TOKEN_CHECK_FAILED: ClassVar[int] = 0
    TOKEN_EXPIRED: ClassVar[int] = 1

    request_id: I64
    server_stack_trace: Utf = ""
    error_code: I32 = -1


@_command(61, REPLY)
class ErrorMessage(Command):
    """error_code: -1 UNSPECIFIED, 0 ILLEGAL_ARGUMENT_EXCEPTION."""

    UNSPECIFIED: ClassVar[int] = -1
    ILLEGAL_ARGUMENT_EXCEPTION: ClassVar[int] = 0

    request_id: I64
    segment: Utf
    message: Utf
    error_code: I32


@_command(68, REQUEST)
class GetTableSegmentInfo(Command):
    request_id: I64
    segment_name: Utf
    delegation_token: Utf


@_command(69, REPLY)
class TableSegmentInfo(Command):
    request_id: I64
    segment_name: Utf
    start_offset: I64
    length: I64
    entry_count: I64
    key_length: I32


@_command(70, REQUEST)
class CreateTableSegment(Command):
    request_id: I64
    segment: Utf
    delegation_token: Utf
    sorted_deprecated: Bool = False
    key_length: I32 = 0
    rollover_size_bytes: I64 = 0


@_command(71, REQUEST)
class DeleteTableSegment(Command):
    request_id: I64
    segment: Utf
    must_be_empty: Bool
    delegation_token: Utf


@_command(72, REQUEST)
class MergeTableSegments(Command):
    """Obsolete (removed from Java); only the Rust CLI sends it."""

    request_id: I64
    target: Utf
    source: Utf
    delegation_token: Utf


@_command(73, REQUEST)
class SealTableSegment(Command):
    """Obsolete (removed from Java); only the Rust CLI sends it."""

    request_id: I64
    segment: Utf
    delegation_token: Utf


@_command(74, REQUEST)
class UpdateTableEntries(Command):
    """``table_segment_offset`` -1 means unconditional."""

    request_id: I64
    segment: Utf
    delegation_token: Utf
    table_entries: TableEntryList
    table_segment_offset: I64 = -1


@_command(75, REPLY)
class TableEntriesUpdated(Command):
    request_id: I64
    updated_versions: Annotated[tuple[int, ...], Wire(Kind.LIST, Wire(Kind.I64))]


@_command(76, REQUEST)
class RemoveTableKeys(Command):
    request_id: I64
    segment: Utf
    delegation_token: Utf
    keys: TableKeyList
    table_segment_offset: I64 = -1


@_command(77, REPLY)
class TableKeysRemoved(Command):
    request_id: I64
    segment: Utf


@_command(78, REQUEST)
class ReadTable(Command):
    request_id: I64
    segment: Utf
    delegation_token: Utf
    keys: TableKeyList


@_command(79, REPLY)
class TableRead(Command):
    request_id: I64
    segment: Utf
    entries: TableEntryList


@_command(80, REPLY)
class TableSegmentNotEmpty(Command):
    request_id: I64
    segment: Utf
    server_stack_trace: Utf


@_command(81, REPLY)
class TableKeyDoesNotExist(Command):
    request_id: I64
    segment: Utf
    server_stack_trace: Utf


@_command(82, REPLY)
class TableKeyBadVersion(Command):
    request_id: I64
    segment: Utf
    server_stack_trace: Utf


@_command(83, REQUEST)
class ReadTableKeys(Command):
    """The last four fields are Java's TableIteratorArgs; the Rust client sends only the token."""

    request_id: I64
    segment: Utf
    delegation_token: Utf
    suggested_key_count: I32
    continuation_token: Buf = b""
    prefix_filter: Buf = b""
    from_key: Buf = b""
    to_key: Buf = b""


@_command(84, REPLY)
class TableKeysRead(Command):
    request_id: I64
    segment: Utf
    keys: TableKeyList
    continuation_token: Buf


@_command(85, REQUEST)
class ReadTableEntries(Command):
    """The last four fields are Java's TableIteratorArgs; the Rust client sends only the token."""

    request_id: I64
    segment: Utf
    delegation_token: Utf
    suggested_entry_count: I32
    continuation_token: Buf = b""
    prefix_filter: Buf = b""
    from_key: Buf = b""
    to_key: Buf = b""


@_command(86, REPLY)
class TableEntriesRead(Command):
    request_id: I64
    segment: Utf
    entries: TableEntryList
    continuation_token: Buf


@_command(87, REPLY)
class TableEntriesDeltaRead(Command):
    request_id: I64
    segment: Utf
    entries: TableEntryList
    should_clear: Bool
    reached_end: Bool
    last_position: I64


@_command(88, REQUEST)
class ReadTableEntriesDelta(Command):
    request_id: I64
    segment: Utf
    delegation_token: Utf
    from_position: I64
    suggested_entry_count: I32


@_command(89, REQUEST)
class ConditionalBlockEnd(Command):
    writer_id: Uuid
    event_number: I64
    expected_offset: I64
    data: Data
    request_id: I64


@_command(90, REQUEST)
class MergeSegmentsBatch(Command):
    request_id: I64
    target_segment_id: Utf
    source_segment_ids: Annotated[tuple[str, ...], Wire(Kind.LIST, Wire(Kind.UTF))]
    delegation_token: Utf


@_command(91, REPLY)
class SegmentsBatchMerged(Command):
    """Java layout: ``count:i32`` then ``count`` x (source:UTF, newTargetWriteOffset:i64)."""

    request_id: I64
    target: Utf
    sources: Annotated[tuple[str, ...], Wire(Kind.LIST, (Wire(Kind.UTF), Wire(Kind.I64)))]
    new_target_write_offset: Annotated[tuple[int, ...], Wire(Kind.COLUMN, Wire(Kind.I64))]

    def __post_init__(self) -> None:
        Struct.__post_init__(self)
        if len(self.sources) != len(self.new_target_write_offset):
            raise LocalProtocolError("sources and new_target_write_offset must have the same length")


@_command(100, BOTH)
class KeepAlive(Command):
    @property
    def request_id(self) -> int:
        return -1


#: Every command class, in type-code order.
ALL_COMMANDS: tuple[type[Command], ...] = tuple(sorted(_REGISTERED, key=lambda cls: cls.TYPE_CODE))


__all__ = [
    "Kind",
    "Wire",
    "WireField",
    "LegacyLayout",
    "Direction",
    "Struct",
    "Command",
    "ALL_COMMANDS",
    "NULL_ATTRIBUTE_VALUE",
    "TableKey",
    "TableEntry",
    "ConditionalAttributeUpdate",
    "ChunkInfo",
    *(cls.__name__ for cls in ALL_COMMANDS),
]
