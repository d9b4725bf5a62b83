"""Event serializers: how Python objects become event bytes and back.

Any object with ``serialize(obj) -> bytes`` and ``deserialize(bytes) -> obj`` works.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class Serializer(Protocol[T]):
    def serialize(self, value: T) -> bytes: ...

    def deserialize(self, data: bytes) -> T: ...


class BytesSerializer:
    """Events are bytes as they are (the default)."""

    def serialize(self, value: bytes | bytearray | memoryview) -> bytes:
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise TypeError(f"BytesSerializer takes bytes, got {type(value).__name__}")
        return bytes(value)

    def deserialize(self, data: bytes) -> bytes:
        return data


class StringSerializer:
    def __init__(self, encoding: str = "utf-8") -> None:
        self.encoding = encoding

    def serialize(self, value: str) -> bytes:
        if not isinstance(value, str):
            raise TypeError(f"StringSerializer takes str, got {type(value).__name__}")
        return value.encode(self.encoding)

    def deserialize(self, data: bytes) -> str:
        return data.decode(self.encoding)


class JsonSerializer:
    def __init__(self, default: Callable[[Any], Any] | None = None) -> None:
        self._default = default

    def serialize(self, value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":"), default=self._default).encode()

    def deserialize(self, data: bytes) -> Any:
        return json.loads(data)
