"""Encoder/decoder registry for the wire commands (spec §2.1-§2.4).

Each structure's declarative field list (`Struct.WIRE_FIELDS`) is compiled once, at import time,
into two straight-line Python functions, generated as source the way `dataclasses` generates
``__init__`` (a generic field-by-field interpreter costs several times more per command):

* the *reader* merges every run of fixed-size fields, together with the length prefix of the
  variable-size field that follows the run, into a single ``struct.Struct.unpack_from`` call, and
  builds the instance through its slot descriptors, skipping constructor validation (every value
  it produces is valid by construction);
* the *writer* encodes the variable-size parts first, then packs the frame header with the first
  run of fixed fields and joins all parts with one copy.

Tables keyed by type code (`COMMAND_TYPES`) and by class select the compiled functions.

Decoded byte fields: fields of kind DATA, REST and EVENT (the ``data`` of AppendBlockEnd,
SegmentRead, ConditionalBlockEnd, ConditionalAppend, AppendBlock, Event and PartialEvent) are
**zero-copy memoryview slices** of the payload given to `decode` (read-only when the payload is
`bytes`; they alias it when it is a mutable buffer).  `bytes(cmd.data)` always works.  Every
other byte field (table keys and values, continuation tokens) is decoded to `bytes`.

Decoding tolerates bytes after the last known field (the Rust client's decoder does too), and a
field with a default may be missing at the end of the payload (see `commands`).
"""

from __future__ import annotations

import linecache
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from .commands import ALL_COMMANDS, Command, Kind, Struct, TableEntry, TableKey, Wire, WireField
from .errors import LocalProtocolError, RemoteProtocolError
from .framing import MAX_WIRECOMMAND_SIZE, WIRE_VERSION

__all__ = ["COMMAND_TYPES", "decode", "encode", "encode_many"]

#: read(payload, offset, end) -> (value, new offset)
Reader = Callable[[memoryview, int, int], tuple[Any, int]]
#: write(value) -> bytes (a whole frame for commands)
Writer = Callable[[Any], bytes]

_FIXED_FORMAT = {Kind.I8: "b", Kind.BOOL: "?", Kind.I32: "i", Kind.I64: "q", Kind.UUID: "QQ"}
# Fixed-size prefix in front of each variable-size kind (lengths, counts, the embedded event header).
_PREFIX_FORMAT = {Kind.UTF: "H", Kind.BUF: "i", Kind.DATA: "i", Kind.EVENT: "ii", Kind.LIST: "i"}
_U64_MASK = (1 << 64) - 1

_U16 = struct.Struct(">H")
_I64 = struct.Struct(">q")
_II = struct.Struct(">ii")
_QII = struct.Struct(">qii")


def _bad(field: str, why: str = "truncated or invalid length") -> RemoteProtocolError:
    return RemoteProtocolError(f"field {field!r}: {why}")


def _size(fmt: str) -> int:
    return struct.calcsize(">" + fmt)


def _trusted(cls: type[Struct]) -> Callable[..., Any]:
    """Instance factory for a slotted dataclass that bypasses ``__init__`` and validation."""
    setters = tuple(cls.__dict__[f.name].__set__ for f in cls.WIRE_FIELDS)
    new = object.__new__

    def make(*values: Any) -> Any:
        obj: Any = new(cls)
        for set_field, value in zip(setters, values):
            set_field(obj, value)
        return obj

    return make


# ---------------------------------------------------------------------------------------------
# List items: scalars, the hand-written table structures (spec §2.3) and compiled structs
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ItemCodec:
    read: Reader
    write: Writer
    min_size: int  # smallest encoding; bounds a declared count before looping over it


def _read_utf(mv: memoryview, o: int, end: int) -> tuple[str, int]:
    (n,) = _U16.unpack_from(mv, o)
    o += 2
    if o + n > end:
        raise _bad("string")
    return str(mv[o : o + n], "utf-8"), o + n


def _write_utf(value: str) -> bytes:
    data = value.encode()
    return _U16.pack(len(data)) + data


def _read_i64(mv: memoryview, o: int, end: int) -> tuple[int, int]:
    return _I64.unpack_from(mv, o)[0], o + 8


def _read_table_key_parts(mv: memoryview, o: int, end: int) -> tuple[bytes, int, int]:
    payload_size, n = _II.unpack_from(mv, o)
    o += 8
    if n < 0 or o + n > end:
        raise _bad("table key")
    if n == 0 and payload_size < 12:
        # An empty key whose payloadSize does not count a version: written without one.
        return b"", TableKey.NO_VERSION, o
    data = mv[o : o + n].tobytes()
    (version,) = _I64.unpack_from(mv, o + n)
    return data, version, o + n + 8


_new_table_key = _trusted(TableKey)
_new_table_entry = _trusted(TableEntry)


def _read_table_key(mv: memoryview, o: int, end: int) -> tuple[TableKey, int]:
    data, version, o = _read_table_key_parts(mv, o, end)
    return _new_table_key(data, version), o


def _write_table_key(key: TableKey) -> bytes:
    # The version is written even for an empty key: the Rust client always expects it.
    data = key.data
    return b"".join((_II.pack(12 + len(data), len(data)), data, _I64.pack(key.version)))


def _read_table_entry(mv: memoryview, o: int, end: int) -> tuple[TableEntry, int]:
    key, version, o = _read_table_key_parts(mv, o, end)
    _, n = _II.unpack_from(mv, o)  # TableValue: payloadSize (ignored), dataLength
    o += 8
    if n < 0 or o + n > end:
        raise _bad("table value")
    return _new_table_entry(key, version, mv[o : o + n].tobytes()), o + n


def _write_table_entry(entry: TableEntry) -> bytes:
    key, value = entry.key, entry.value
    return b"".join(
        (_II.pack(12 + len(key), len(key)), key, _QII.pack(entry.version, 4 + len(value), len(value)), value)
    )


_ITEM_CODECS: dict[object, _ItemCodec] = {
    Kind.I64: _ItemCodec(_read_i64, _I64.pack, 8),
    Kind.UTF: _ItemCodec(_read_utf, _write_utf, 2),
    TableKey: _ItemCodec(_read_table_key, _write_table_key, 8),
    TableEntry: _ItemCodec(_read_table_entry, _write_table_entry, 16),
}


def _item_codec(item: Wire | type) -> _ItemCodec:
    key: object = item.kind if isinstance(item, Wire) else item
    codec = _ITEM_CODECS.get(key)
    if codec is None:
        assert isinstance(item, type) and issubclass(item, Struct), f"unsupported list item {item!r}"
        fields = item.WIRE_FIELDS
        codec = _ItemCodec(_compile_reader(item, fields), _compile_writer(fields), _min_size(fields))
        _ITEM_CODECS[key] = codec
    return codec


def _min_size(fields: Sequence[WireField]) -> int:
    kinds = [f.wire.kind for f in fields]
    return sum(_size(_FIXED_FORMAT.get(k) or _PREFIX_FORMAT.get(k, "")) for k in kinds)


def _check_count(count: int, min_size: int, available: int) -> None:
    if count < 0 or count * min_size > available:
        raise _bad("list", f"count {count} does not fit in {available} bytes")


def _list_reader(items: tuple[_ItemCodec, ...]) -> Callable[..., Any]:
    """read(mv, o, end, count) -> (tuple, o), or (column, column, ..., o) for a zipped list."""
    min_size = sum(c.min_size for c in items)
    if len(items) == 1 and items[0] is _ITEM_CODECS[Kind.I64]:

        def read_i64s(mv: memoryview, o: int, end: int, count: int) -> tuple[Any, int]:
            _check_count(count, 8, end - o)
            return struct.unpack_from(f">{count}q", mv, o), o + 8 * count

        return read_i64s

    reads = tuple(c.read for c in items)

    def read_list(mv: memoryview, o: int, end: int, count: int) -> tuple[Any, ...]:
        _check_count(count, min_size, end - o)
        columns: tuple[list[Any], ...] = tuple([] for _ in reads)
        for _ in range(count):
            for column, read in zip(columns, reads):
                value, o = read(mv, o, end)
                column.append(value)
        return (*map(tuple, columns), o)

    return read_list


def _list_writer(items: tuple[_ItemCodec, ...]) -> Callable[..., bytes]:
    """write(column, ...) -> bytes of the elements (the count is written by the caller)."""
    if len(items) == 1 and items[0] is _ITEM_CODECS[Kind.I64]:
        return lambda values: struct.pack(f">{len(values)}q", *values)
    if len(items) == 1:
        write = items[0].write
        return lambda values: b"".join(map(write, values))
    writes = tuple(c.write for c in items)
    return lambda *columns: b"".join(w(v) for row in zip(*columns) for w, v in zip(writes, row))


def _list_items(wire: Wire) -> tuple[_ItemCodec, ...]:
    assert wire.item is not None
    items = wire.item if isinstance(wire.item, tuple) else (wire.item,)
    return tuple(_item_codec(item) for item in items)


# ---------------------------------------------------------------------------------------------
# Code generation
# ---------------------------------------------------------------------------------------------


class _Source:
    """Lines of one generated function plus the objects its source refers to by name."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.namespace: dict[str, Any] = {"_bad": _bad, "_str": str, "_new": object.__new__}

    def ref(self, obj: object) -> str:
        name = f"_k{len(self.namespace)}"
        self.namespace[name] = obj
        return name

    def emit(self, indent: int, *lines: str) -> None:
        self.lines.extend("    " * indent + line for line in lines)

    def build(self, filename: str) -> Callable[..., Any]:
        source = "\n".join(self.lines) + "\n"
        # Register the source so tracebacks through generated code show the failing line.
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        exec(compile(source, filename, "exec"), self.namespace)
        generated: Callable[..., Any] = self.namespace["generated"]
        return generated


class _FixedRun:
    """Consecutive fixed-size values to unpack with one struct call, and what to do after."""

    def __init__(self) -> None:
        self.fmt = ""
        self.targets: list[str] = []
        self.after: list[str] = []

    def flush(self, src: _Source) -> None:
        if self.fmt:
            unpack = src.ref(struct.Struct(">" + self.fmt).unpack_from)
            src.emit(1, f"{', '.join(self.targets)}, = {unpack}(mv, o)", f"o += {_size(self.fmt)}")
            src.emit(1, *self.after)
        self.fmt, self.targets, self.after = "", [], []


def _prefix_targets(f: WireField) -> list[str]:
    v = "v_" + f.name
    return [f"{v}_t", f"{v}_n"] if f.wire.kind is Kind.EVENT else [f"{v}_n"]


def _read_body(src: _Source, f: WireField, columns: Sequence[WireField]) -> list[str]:
    """Lines decoding a variable-size field once its prefix (``v_<name>_n``...) is unpacked."""
    v, what, kind = "v_" + f.name, repr(f.name), f.wire.kind
    n = f"{v}_n"
    check_len = f"if {n} < 0 or o + {n} > end: raise _bad({what})"
    if kind is Kind.UTF:
        return [f"if o + {n} > end: raise _bad({what})", f"{v} = _str(mv[o:o + {n}], 'utf-8')", f"o += {n}"]
    if kind is Kind.BUF:
        return [check_len, f"{v} = mv[o:o + {n}].tobytes()", f"o += {n}"]
    if kind is Kind.DATA:
        return [check_len, f"{v} = mv[o:o + {n}]", f"o += {n}"]
    if kind is Kind.EVENT:
        type_check = f"if {v}_t != 0: raise _bad({what}, 'embedded event must have type 0')"
        return [type_check, check_len, f"{v} = mv[o:o + {n}]", f"o += {n}"]
    if kind is Kind.REST:
        return [f"{v} = mv[o:end]", "o = end"]
    if kind is Kind.PADDING:
        return [f"{v} = end - o", "o = end"]
    if kind is Kind.LIST:
        read = src.ref(_list_reader(_list_items(f.wire)))
        targets = ", ".join([v, *("v_" + c.name for c in columns)])
        return [f"{targets}, o = {read}(mv, o, end, {n})"]
    raise AssertionError(kind)


def _columns_after(fields: Sequence[WireField], i: int) -> list[WireField]:
    columns = []
    for f in fields[i + 1 :]:
        if f.wire.kind is not Kind.COLUMN:
            break
        columns.append(f)
    return columns


def _compile_reader(
    cls: type[Struct], layout: Sequence[WireField], absent: Mapping[str, object] | None = None
) -> Reader:
    src = _Source()
    src.emit(0, "def generated(mv, o, end):")
    run = _FixedRun()
    i = 0
    while i < len(layout):
        f = layout[i]
        v, kind = "v_" + f.name, f.wire.kind
        if f.optional and kind in _FIXED_FORMAT:
            run.flush(src)
            group = [f]
            while i + len(group) < len(layout):
                g = layout[i + len(group)]
                if not (g.optional and g.wire.kind in _FIXED_FORMAT):
                    break
                group.append(g)
            _read_optional_fixed(src, group)
            i += len(group)
            continue
        if f.optional:
            assert kind in _PREFIX_FORMAT and not isinstance(f.wire.item, tuple), f"unsupported optional {f}"
            run.flush(src)
            prefix = _PREFIX_FORMAT[kind]
            unpack = src.ref(struct.Struct(">" + prefix).unpack_from)
            src.emit(1, f"if end - o >= {_size(prefix)}:")
            src.emit(2, f"{', '.join(_prefix_targets(f))}, = {unpack}(mv, o)", f"o += {_size(prefix)}")
            src.emit(2, *_read_body(src, f, ()))
            src.emit(1, "else:")
            src.emit(2, f"{v} = {src.ref(f.default)}")
        elif kind is Kind.UUID:
            run.fmt += "QQ"
            run.targets += [f"{v}_hi", f"{v}_lo"]
            run.after.append(f"{v} = {v}_hi << 64 | {v}_lo")
        elif kind in _FIXED_FORMAT:
            run.fmt += _FIXED_FORMAT[kind]
            run.targets.append(v)
        elif kind is not Kind.COLUMN:  # COLUMN values come from the zipped LIST before them
            if kind in _PREFIX_FORMAT:
                run.fmt += _PREFIX_FORMAT[kind]
                run.targets += _prefix_targets(f)
            run.flush(src)
            src.emit(1, *_read_body(src, f, _columns_after(layout, i)))
        i += 1
    run.flush(src)
    for name, value in (absent or {}).items():
        src.emit(1, f"v_{name} = {src.ref(value)}")
    src.emit(1, f"obj = _new({src.ref(cls)})")
    for f in cls.WIRE_FIELDS:
        src.emit(1, f"{src.ref(cls.__dict__[f.name].__set__)}(obj, v_{f.name})")
    src.emit(1, "return obj, o")
    return src.build(f"<pravega.protocol read {cls.__name__} {len(layout)}>")


def _read_optional_fixed(src: _Source, group: list[WireField]) -> None:
    """Each field is read only if enough bytes remain (Java: ``in.available() >= size``)."""
    assert all(f.wire.kind is not Kind.UUID for f in group), "optional UUIDs are not supported"
    fmts = [_FIXED_FORMAT[f.wire.kind] for f in group]
    indent = 1
    if len(group) > 1:  # fast path: all present
        total = _size("".join(fmts))
        unpack = src.ref(struct.Struct(">" + "".join(fmts)).unpack_from)
        src.emit(1, f"if end - o >= {total}:")
        src.emit(2, f"{', '.join('v_' + f.name for f in group)}, = {unpack}(mv, o)", f"o += {total}")
        src.emit(1, "else:")
        indent = 2
    for f, fmt in zip(group, fmts):
        unpack = src.ref(struct.Struct(">" + fmt).unpack_from)
        src.emit(indent, f"if end - o >= {_size(fmt)}:")
        src.emit(indent + 1, f"v_{f.name}, = {unpack}(mv, o)", f"o += {_size(fmt)}")
        src.emit(indent, "else:")
        src.emit(indent + 1, f"v_{f.name} = {src.ref(f.default)}")


def _compile_writer(layout: Sequence[WireField], type_code: int | None = None) -> Writer:
    """Writer of a struct's bytes, or of a whole frame (header included) if ``type_code`` is given."""
    src = _Source()
    src.emit(0, "def generated(obj):")
    chunks: list[tuple[str, list[str]]] = []  # (struct format, expressions); format "" = raw bytes
    lengths: list[str] = []  # expressions for the sizes of raw chunks

    def fixed(fmt: str, *exprs: str) -> None:
        if chunks and chunks[-1][0]:
            chunks[-1] = (chunks[-1][0] + fmt, chunks[-1][1] + list(exprs))
        else:
            chunks.append((fmt, list(exprs)))

    def raw(expr: str, length: str) -> None:
        chunks.append(("", [expr]))
        lengths.append(length)

    for i, f in enumerate(layout):
        a, v, kind = f"obj.{f.name}", "v_" + f.name, f.wire.kind
        if kind is Kind.UUID:
            src.emit(1, f"{v} = {a}")
            fixed("QQ", f"{v} >> 64", f"{v} & {_U64_MASK:#x}")
        elif kind in _FIXED_FORMAT:
            fixed(_FIXED_FORMAT[kind], a)
        elif kind is Kind.UTF:
            src.emit(1, f"{v} = {a}.encode()", f"{v}_n = len({v})")
            fixed("H", f"{v}_n")
            raw(v, f"{v}_n")
        elif kind in (Kind.BUF, Kind.DATA, Kind.EVENT, Kind.REST):
            src.emit(1, f"{v} = {a}", f"{v}_n = len({v})")
            if kind is Kind.EVENT:
                fixed("ii", "0", f"{v}_n")
            elif kind is not Kind.REST:
                fixed("i", f"{v}_n")
            raw(v, f"{v}_n")
        elif kind is Kind.PADDING:
            src.emit(1, f"{v}_n = {a}", f"{v} = bytes({v}_n)")
            raw(v, f"{v}_n")
        elif kind is Kind.LIST:
            write = src.ref(_list_writer(_list_items(f.wire)))
            columns = [a, *(f"obj.{c.name}" for c in _columns_after(layout, i))]
            src.emit(1, f"{v} = {write}({', '.join(columns)})")
            fixed("i", f"len({a})")
            raw(v, f"len({v})")
        else:
            assert kind is Kind.COLUMN  # written by the zipped LIST before it
    if type_code is not None:
        size = sum(_size(fmt) for fmt, _ in chunks if fmt)
        src.emit(1, f"n = {' + '.join([str(size), *lengths])}")
        chunks.insert(0, ("ii", [str(type_code), "n"]))
        if len(chunks) > 1 and chunks[1][0]:  # merge the header into the first fixed run
            chunks[:2] = [("ii" + chunks[1][0], chunks[0][1] + chunks[1][1])]
    parts = [
        f"{src.ref(struct.Struct('>' + fmt).pack)}({', '.join(exprs)})" if fmt else exprs[0] for fmt, exprs in chunks
    ]
    if len(parts) == 1:
        src.emit(1, f"return {parts[0]}" if chunks[0][0] else f"return bytes({parts[0]})")
    else:
        src.emit(1, f"return b''.join(({', '.join(parts)}))")
    name = f"code {type_code}" if type_code is not None else "struct"
    return src.build(f"<pravega.protocol write {name} {len(layout)}>")


# ---------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _CommandCodec:
    cls: type[Command]
    read: Reader
    write: Writer
    #: (max_version, read, write) of older layouts, ascending.
    legacy: tuple[tuple[int, Reader, Writer], ...]

    def for_version(self, version: int) -> tuple[Reader, Writer]:
        for max_version, read, write in self.legacy:
            if version <= max_version:
                return read, write
        return self.read, self.write


def _compile_command(cls: type[Command]) -> _CommandCodec:
    fields = cls.WIRE_FIELDS
    by_name = {f.name: f for f in fields}
    legacy = []
    for layout in sorted(cls.LEGACY_LAYOUTS, key=lambda layout: layout.max_version):
        assert set(layout.fields) | set(layout.absent) == set(by_name), cls
        old = [by_name[name] for name in layout.fields]
        read, write = _compile_reader(cls, old, layout.absent), _compile_writer(old, cls.TYPE_CODE)
        legacy.append((layout.max_version, read, write))
    return _CommandCodec(cls, _compile_reader(cls, fields), _compile_writer(fields, cls.TYPE_CODE), tuple(legacy))


_BY_CODE: dict[int, _CommandCodec] = {cls.TYPE_CODE: _compile_command(cls) for cls in ALL_COMMANDS}
_BY_CLASS: dict[type, _CommandCodec] = {codec.cls: codec for codec in _BY_CODE.values()}

#: Every known command class by type code.
COMMAND_TYPES: Mapping[int, type[Command]] = MappingProxyType({code: c.cls for code, c in _BY_CODE.items()})


def encode(cmd: Command, version: int = WIRE_VERSION) -> bytes:
    """Return the whole frame (8-byte header + payload) of ``cmd``.

    ``version`` is the negotiated protocol version; it only matters for commands whose layout
    changed (InvalidEventNumber before v16).
    """
    codec = _BY_CLASS.get(type(cmd))
    if codec is None:
        raise LocalProtocolError(f"not a wire command: {type(cmd).__name__}")
    write = codec.for_version(version)[1] if codec.legacy and version < WIRE_VERSION else codec.write
    try:
        frame = write(cmd)
    except (struct.error, UnicodeEncodeError, TypeError, OverflowError) as e:
        # Only reachable if validation was bypassed (e.g. object.__setattr__ on a command).
        raise LocalProtocolError(f"cannot encode {type(cmd).__name__}: {e}", type_code=cmd.TYPE_CODE) from e
    if len(frame) > MAX_WIRECOMMAND_SIZE:
        raise LocalProtocolError(
            "frame too large", type_code=cmd.TYPE_CODE, detail=f"{len(frame)} bytes > {MAX_WIRECOMMAND_SIZE}"
        )
    return frame


def encode_many(cmds: Iterable[Command], version: int = WIRE_VERSION) -> bytes:
    """Concatenated frames of ``cmds``."""
    return b"".join([encode(cmd, version) for cmd in cmds])


def decode(type_code: int, payload: bytes | bytearray | memoryview, version: int = WIRE_VERSION) -> Command:
    """Decode the payload of one frame (header already removed).

    Raises `RemoteProtocolError` for an unknown type code or a malformed payload.  Bytes after the
    last known field are ignored.  See the module docstring for which fields alias ``payload``.
    """
    codec = _BY_CODE.get(type_code)
    if codec is None:
        raise RemoteProtocolError("unknown command type", type_code=type_code)
    mv = memoryview(payload)
    if type(payload) is not bytes and (mv.itemsize != 1 or mv.ndim != 1):
        mv = mv.cast("B")
    read = codec.for_version(version)[0] if codec.legacy and version < WIRE_VERSION else codec.read
    try:
        cmd, _ = read(mv, 0, len(mv))
    except RemoteProtocolError as e:
        e.type_code = type_code
        e.detail = e.detail or codec.cls.__name__
        raise
    except (struct.error, UnicodeDecodeError) as e:
        raise RemoteProtocolError(f"malformed {codec.cls.__name__}: {e}", type_code=type_code) from e
    return cmd  # type: ignore[no-any-return]
