"""A minimal CBOR (RFC 8949) encoder and decoder, sans I/O: the subset serde_cbor writes.

The official client keeps its reader-group state as CBOR (serde_cbor): text-string
keys, and values that are maps of text, unsigned and negative integers, arrays, maps
(also with maps as keys), null and booleans. This module covers exactly that, plus
byte strings and floats for completeness of the decoder; no tags, no indefinite
lengths on output (indefinite lengths are accepted on input).

Encoding follows serde_cbor: the shortest head for every length and integer, maps in
the order given. Decoding returns ``dict`` for maps; a map used as a key becomes a
:class:`FrozenMap` (a hashable, read-only dict), arrays used as keys become tuples.
"""

from __future__ import annotations

import struct
from typing import Any

__all__ = ["CborError", "FrozenMap", "dumps", "loads"]


class CborError(ValueError):
    """Bytes that are not the CBOR this module reads."""


class FrozenMap(dict):  # type: ignore[type-arg]
    """A CBOR map used as a map key: hashable by its items (nested maps and arrays are
    frozen too)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__((_frozen(k), _frozen(v)) for k, v in dict(*args, **kwargs).items())

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(self.items()))

    def __copy__(self) -> FrozenMap:
        return self  # immutable

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenMap:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenMap, (dict(self),))

    def _readonly(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("a FrozenMap is read-only")

    __setitem__ = __delitem__ = update = pop = popitem = clear = setdefault = _readonly  # type: ignore[assignment]


def _head(major: int, n: int) -> bytes:
    if n < 24:
        return bytes((major << 5 | n,))
    if n < 0x100:
        return bytes((major << 5 | 24, n))
    if n < 0x10000:
        return bytes((major << 5 | 25,)) + n.to_bytes(2, "big")
    if n < 0x100000000:
        return bytes((major << 5 | 26,)) + n.to_bytes(4, "big")
    if n < 1 << 64:
        return bytes((major << 5 | 27,)) + n.to_bytes(8, "big")
    raise CborError(f"integer {n} does not fit in 64 bits")


def _encode(value: Any, out: bytearray) -> None:
    if value is None:
        out.append(0xF6)
    elif value is True:
        out.append(0xF5)
    elif value is False:
        out.append(0xF4)
    elif isinstance(value, int):
        out += _head(0, value) if value >= 0 else _head(1, -1 - value)
    elif isinstance(value, str):
        raw = value.encode()
        out += _head(3, len(raw))
        out += raw
    elif isinstance(value, (bytes, bytearray, memoryview)):
        out += _head(2, len(value))
        out += value
    elif isinstance(value, (list, tuple)):
        out += _head(4, len(value))
        for item in value:
            _encode(item, out)
    elif isinstance(value, dict):
        out += _head(5, len(value))
        for k, v in value.items():
            _encode(k, out)
            _encode(v, out)
    elif isinstance(value, float):
        out.append(0xFB)
        out += struct.pack(">d", value)
    else:
        raise CborError(f"cannot encode {type(value).__name__} as CBOR")


def dumps(value: Any) -> bytes:
    """The CBOR encoding of ``value``."""
    out = bytearray()
    _encode(value, out)
    return bytes(out)


def _frozen(value: Any) -> Any:
    if isinstance(value, FrozenMap):
        return value
    if isinstance(value, dict):
        return FrozenMap(value)
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value


class _Decoder:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            raise CborError("CBOR data ends early")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def length(self, info: int) -> int | None:
        if info < 24:
            return info
        if info == 31:
            return None  # indefinite
        if info > 27:
            raise CborError(f"reserved CBOR additional information {info}")
        return int.from_bytes(self.take(1 << (info - 24)), "big")

    def at_break(self) -> bool:
        if self.pos < len(self.data) and self.data[self.pos] == 0xFF:
            self.pos += 1
            return True
        return False

    def value(self) -> Any:
        initial = self.take(1)[0]
        major, info = initial >> 5, initial & 0x1F
        if major == 7:
            return self.simple(info)
        n = self.length(info)
        if major == 0:
            return n
        if major == 1:
            assert n is not None
            return -1 - n
        if major in (2, 3):
            raw = self.string(major, n)
            if major == 2:
                return raw
            try:
                return raw.decode()
            except UnicodeDecodeError:
                raise CborError("a CBOR text string is not UTF-8") from None
        if major == 4:
            if n is not None:
                small = self.small_ints(n)
                if small is not None:
                    return small
            items: list[Any] = []
            while (len(items) < n) if n is not None else not self.at_break():
                items.append(self.value())
            return items
        if major == 5:
            out: dict[Any, Any] = {}
            count = 0
            while (count < n) if n is not None else not self.at_break():
                key = self.value()
                if isinstance(key, (dict, list)):
                    key = _frozen(key)
                out[key] = self.value()
                count += 1
            return out
        if major == 6:
            return self.value()  # a tag: the tagged value itself
        raise CborError(f"unknown CBOR major type {major}")

    def small_ints(self, n: int) -> list[int] | None:
        """An array of ``n`` integers below 256 (serde_cbor's ``Vec<u8>``), decoded in one
        pass; None (and nothing consumed) if the array holds anything else."""
        data, pos, end = self.data, self.pos, len(self.data)
        out = []
        for _ in range(n):
            if pos >= end:
                return None
            b = data[pos]
            if b < 0x18:
                out.append(b)
                pos += 1
            elif b == 0x18 and pos + 1 < end:
                out.append(data[pos + 1])
                pos += 2
            else:
                return None
        self.pos = pos
        return out

    def string(self, major: int, n: int | None) -> bytes:
        if n is not None:
            return self.take(n)
        parts = []
        while not self.at_break():
            initial = self.take(1)[0]
            if initial >> 5 != major or initial & 0x1F == 31:
                raise CborError("bad chunk in an indefinite-length CBOR string")
            size = self.length(initial & 0x1F)
            assert size is not None
            parts.append(self.take(size))
        return b"".join(parts)

    def simple(self, info: int) -> Any:
        if info == 20:
            return False
        if info == 21:
            return True
        if info in (22, 23):
            return None
        if info == 25:
            return _half(self.take(2))
        if info == 26:
            return struct.unpack(">f", self.take(4))[0]
        if info == 27:
            return struct.unpack(">d", self.take(8))[0]
        raise CborError(f"unsupported CBOR simple value {info}")


def _half(raw: bytes) -> float:
    return float(struct.unpack(">e", raw)[0])


def loads(data: bytes) -> Any:
    """The value encoded in ``data`` (which must hold exactly one CBOR item)."""
    decoder = _Decoder(bytes(data))
    value = decoder.value()
    if decoder.pos != len(decoder.data):
        raise CborError(f"{len(decoder.data) - decoder.pos} bytes after the CBOR item")
    return value
