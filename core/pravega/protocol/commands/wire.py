"""Wire types, validation and the base classes of every wire structure and command.

A field's annotation (``I64``, ``Utf``, ``Uuid``, ``Annotated[..., Wire(...)]``) is the
whole specification of its layout; `pravega.protocol.codec` compiles the declarations into
encoders and decoders. `_struct` and `_command` make a class a frozen slotted dataclass, record
its wire fields and (for commands) register its type code.
"""

import dataclasses
import enum
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, TypeVar, cast

from ..errors import LocalProtocolError

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


def registered() -> list[type[Command]]:
    """Every command class defined so far, in definition order."""
    return list(_REGISTERED)


__all__ = [
    "Kind",
    "Wire",
    "BytesLike",
    "I8",
    "Bool",
    "I32",
    "I64",
    "Uuid",
    "Utf",
    "Buf",
    "Data",
    "Rest",
    "I32_MAX",
    "I64_MIN",
    "I64_MAX",
    "UUID_MAX",
    "NULL_ATTRIBUTE_VALUE",
    "Direction",
    "WireField",
    "LegacyLayout",
    "Struct",
    "Command",
    "REQUEST",
    "REPLY",
    "BOTH",
    "registered",
]
