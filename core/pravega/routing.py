"""Routing keys to segments exactly as Pravega's clients do.

A routing key is hashed with MurmurHash3 x64-128 (seed 1741865571) over its UTF-16
little-endian code units; the first 64-bit half, shifted into a double's mantissa,
gives a position in [0, 1). The segment whose key range holds that position gets the
event, so a key lands in the same segment as with the Java and Rust clients.
"""

from __future__ import annotations

import bisect
import random
import struct
from typing import Generic, TypeVar

import mmh3

SEED = 1741865571
_DOUBLE = struct.Struct(">d")
_U64 = struct.Struct(">Q")

T = TypeVar("T")


def hash_routing_key(key: str) -> float:
    h1, _ = mmh3.hash64(key.encode("utf-16-le"), seed=SEED, x64arch=True, signed=False)
    return _DOUBLE.unpack(_U64.pack(0x3FF0000000000000 | (h1 >> 12)))[0] - 1.0


def key_position(routing_key: str | None) -> float:
    """The key's position in [0, 1); an event without a key gets a random one."""
    if routing_key is None:
        return random.random()
    return hash_routing_key(routing_key)


class KeyRanges(Generic[T]):
    """Maps positions in [0, 1) to values by half-open ranges [low, high)."""

    def __init__(self) -> None:
        self._highs: list[float] = []
        self._lows: list[float] = []
        self._values: list[T] = []

    def add(self, low: float, high: float, value: T) -> None:
        i = bisect.bisect_left(self._highs, high)
        self._highs.insert(i, high)
        self._lows.insert(i, low)
        self._values.insert(i, value)

    def remove(self, value: T) -> tuple[float, float]:
        """Remove the range holding ``value``; returns it."""
        i = self._values.index(value)
        low, high = self._lows[i], self._highs[i]
        del self._highs[i], self._lows[i], self._values[i]
        return low, high

    def ranges_of(self, value: T) -> list[tuple[float, float]]:
        return [(lo, hi) for lo, hi, v in zip(self._lows, self._highs, self._values) if v == value]

    def get(self, position: float) -> T:
        i = bisect.bisect_right(self._highs, position)
        if i == len(self._highs):  # position 1.0 or rounding at the top
            i -= 1
        return self._values[i]

    def values(self) -> list[T]:
        return list(self._values)

    def __len__(self) -> int:
        return len(self._values)
