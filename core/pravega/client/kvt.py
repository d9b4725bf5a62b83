"""Key-value tables: versioned keys spread over table segments (spec §2.8).

>>> await client.create_key_value_table("sc", "users", partitions=4)      # doctest: +SKIP
>>> users = client.key_value_table("sc", "users", StringSerializer(), JsonSerializer())
>>> v1 = await users.put("alice", {"age": 30})
>>> await users.replace("alice", {"age": 31}, expected_version=v1)
>>> (await users.get("alice")).value
{'age': 31}

A table is ``partitions`` table segments (``<scope>/<name>_kvtable/<n>.#epoch.0``),
each owning a part of [0, 1) like a stream's segments. A key goes to the partition
owning the hash of its serialized bytes: MurmurHash3 x64-128 with Pravega's routing
seed (1741865571) over the raw key bytes, the first 64-bit half mapped into [0, 1)
as for routing keys (:func:`hash_key_bytes`). This placement is this client's own; it
is not guaranteed to match the Java client's key-value table partitioning.

Every write gives the key a new version (an int >= 0). Conditional writes name the
version they expect; :data:`NOT_EXISTS` means "the key must be absent". A failed
condition raises :class:`~pravega.errors.BadKeyVersionError` (the key has another
version, or exists when it must not) or :class:`~pravega.errors.KeyDoesNotExistError`.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator, Awaitable, Iterable
from typing import Generic, NamedTuple, TypeVar

import mmh3

from .. import errors, naming
from ..protocol import commands as c
from ..routing import SEED, KeyRanges
from ..serializers import BytesSerializer, Serializer
from .context import ClientContext
from .segment_reader import SegmentClient, _error

K = TypeVar("K")
V = TypeVar("V")
R = TypeVar("R")

#: Condition "the key must not exist".
NOT_EXISTS = -1
#: No condition.
NO_VERSION = -(2**63)

_DOUBLE = struct.Struct(">d")
_U64 = struct.Struct(">Q")
#: Entries or keys asked for per page when iterating.
PAGE_SIZE = 500


def hash_key_bytes(key: bytes) -> float:
    """The position in [0, 1) of a serialized key (see the module docstring)."""
    h1, _ = mmh3.hash64(key, seed=SEED, x64arch=True, signed=False)
    return _DOUBLE.unpack(_U64.pack(0x3FF0000000000000 | (h1 >> 12)))[0] - 1.0


class Versioned(NamedTuple, Generic[V]):
    """A value and the version the key had when it was read or written."""

    value: V
    version: int


class TableEntry(NamedTuple, Generic[K, V]):
    key: K
    value: V
    version: int


class KeyValueTable(Generic[K, V]):
    """Use :meth:`pravega.aio.Client.key_value_table`. Keys and values are bytes unless
    serializers are given. Partition segments are looked up on first use."""

    def __init__(
        self,
        ctx: ClientContext,
        scope: str,
        name: str,
        key_serializer: Serializer[K] | None = None,
        value_serializer: Serializer[V] | None = None,
    ) -> None:
        self.ctx = ctx
        self.scope = scope
        self.name = name
        self.key_serializer: Serializer[K] = key_serializer or BytesSerializer()  # type: ignore[assignment]
        self.value_serializer: Serializer[V] = value_serializer or BytesSerializer()  # type: ignore[assignment]
        self._segments = SegmentClient(ctx)
        self._partitions: KeyRanges[str] | None = None
        self._loading: asyncio.Future | None = None

    def __repr__(self) -> str:
        return f"<KeyValueTable {self.scope}/{self.name}>"

    # -- partitions -------------------------------------------------------------------

    async def partitions(self) -> list[str]:
        """The table segment names, in key-range order."""
        return (await self._ranges()).values()

    async def _ranges(self) -> KeyRanges[str]:
        if self._partitions is not None:
            return self._partitions
        if self._loading is None:
            self._loading = asyncio.ensure_future(self._load())
        try:
            return await asyncio.shield(self._loading)
        except BaseException:
            self._loading = None
            raise

    async def _load(self) -> KeyRanges[str]:
        try:
            ranges = await self.ctx.controller.key_value_table_segments(self.scope, self.name)
        except errors.NoSuchStreamError:
            raise errors.NoSuchKeyValueTableError(f"no key-value table {self.scope}/{self.name}") from None
        if not ranges:
            raise errors.NoSuchKeyValueTableError(f"no key-value table {self.scope}/{self.name}")
        table: KeyRanges[str] = KeyRanges()
        for r in ranges:
            table.add(r.min_key, r.max_key, naming.kvt_segment_name(self.scope, self.name, r.number, r.epoch))
        self._partitions = table
        return table

    async def _segment_of(self, key: bytes) -> str:
        return (await self._ranges()).get(hash_key_bytes(key))

    def _key(self, key: K) -> bytes:
        data = self.key_serializer.serialize(key)
        if not data:
            raise errors.InterfaceError("a key must not serialize to empty bytes")
        return data

    async def _call(self, coro: Awaitable[R]) -> R:
        """Run a table operation; a missing segment means the table was deleted."""
        try:
            return await coro
        except errors.NoSuchSegmentError:
            raise errors.NoSuchKeyValueTableError(f"no key-value table {self.scope}/{self.name}") from None

    # -- reads ------------------------------------------------------------------------

    async def get(self, key: K) -> Versioned[V] | None:
        """The value and version of ``key``, or None if it is absent."""
        data = self._key(key)
        segment = await self._segment_of(data)
        (found,) = await self._call(self._segments.read_table(segment, [data]))
        return None if found is None else Versioned(self.value_serializer.deserialize(found[1]), found[0])

    async def get_all(self, keys: Iterable[K]) -> list[Versioned[V] | None]:
        """:meth:`get` for many keys (one request per partition), in the order given."""
        datas = [self._key(k) for k in keys]
        ranges = await self._ranges()
        by_segment: dict[str, list[int]] = {}
        for i, data in enumerate(datas):
            by_segment.setdefault(ranges.get(hash_key_bytes(data)), []).append(i)
        out: list[Versioned[V] | None] = [None] * len(datas)

        async def fetch(segment: str, indexes: list[int]) -> None:
            found = await self._call(self._segments.read_table(segment, [datas[i] for i in indexes]))
            for i, entry in zip(indexes, found):
                if entry is not None:
                    out[i] = Versioned(self.value_serializer.deserialize(entry[1]), entry[0])

        await asyncio.gather(*(fetch(s, idx) for s, idx in by_segment.items()))
        return out

    # -- writes -----------------------------------------------------------------------

    async def _update(self, key: K, value: V, expected_version: int) -> int:
        data = self._key(key)
        segment = await self._segment_of(data)
        versions = await self._call(
            self._segments.update_table(segment, [(data, expected_version, self.value_serializer.serialize(value))])
        )
        return versions[-1]

    async def put(self, key: K, value: V) -> int:
        """Set ``key`` unconditionally; returns its new version."""
        return await self._update(key, value, NO_VERSION)

    async def put_if_absent(self, key: K, value: V) -> int:
        """Insert ``key``; raises :class:`~pravega.errors.BadKeyVersionError` if it exists."""
        return await self._update(key, value, NOT_EXISTS)

    async def replace(self, key: K, value: V, expected_version: int) -> int:
        """Set ``key`` if its version is ``expected_version``; returns the new version.
        Raises :class:`~pravega.errors.BadKeyVersionError` /
        :class:`~pravega.errors.KeyDoesNotExistError` otherwise."""
        if expected_version < 0:
            raise errors.InterfaceError(f"expected_version must be a version (>= 0), not {expected_version}")
        return await self._update(key, value, expected_version)

    async def put_all(self, entries: Iterable[tuple[K, V, int | None]]) -> list[int]:
        """Write several (key, value, expected version or None) entries that all map to
        one partition, atomically: all conditions hold and all are written, or nothing
        is. Returns the new versions. Keys in different partitions raise
        :class:`~pravega.errors.InterfaceError` (use :meth:`partition_of` to group)."""
        items = [
            (self._key(k), NO_VERSION if v is None else v, self.value_serializer.serialize(val))
            for k, val, v in entries
        ]
        if not items:
            return []
        ranges = await self._ranges()
        segments = {ranges.get(hash_key_bytes(k)) for k, _, _ in items}
        if len(segments) != 1:
            raise errors.InterfaceError("put_all: the keys belong to different partitions")
        return await self._call(self._segments.update_table(segments.pop(), items))

    async def partition_of(self, key: K) -> str:
        """The table segment holding ``key``."""
        return await self._segment_of(self._key(key))

    async def remove(self, key: K, expected_version: int | None = None) -> None:
        """Remove ``key`` (if its version is ``expected_version``, when given). Removing
        an absent key unconditionally does nothing."""
        data = self._key(key)
        segment = await self._segment_of(data)
        version = NO_VERSION if expected_version is None else expected_version
        await self._call(self._segments.remove_table_keys(segment, [(data, version)]))

    # -- iteration --------------------------------------------------------------------

    async def entries(self, page_size: int = PAGE_SIZE) -> AsyncIterator[TableEntry[K, V]]:
        """Every (key, value, version), partition after partition, fetched in pages.
        Entries changed during the iteration may or may not be seen."""
        for segment in await self.partitions():
            token = b""
            while True:
                page, token = await self._call(self._segments.read_table_entries(segment, token, page_size))
                if not page:
                    break
                for key, version, value in page:
                    yield TableEntry(
                        self.key_serializer.deserialize(key), self.value_serializer.deserialize(value), version
                    )

    async def keys(self, page_size: int = PAGE_SIZE) -> AsyncIterator[Versioned[K]]:
        """Every key with its version (values are not transferred), in pages."""
        for segment in await self.partitions():
            token = b""
            while True:
                page, token = await self._call(self._read_keys(segment, token, page_size))
                if not page:
                    break
                for key, version in page:
                    yield Versioned(self.key_serializer.deserialize(key), version)

    async def _read_keys(self, segment: str, token: bytes, count: int) -> tuple[list[tuple[bytes, int]], bytes]:
        def handle(r: c.Command) -> tuple[list[tuple[bytes, int]], bytes]:
            if type(r) is not c.TableKeysRead:
                raise _error(segment, r)
            return [(bytes(k.data), k.version) for k in r.keys], bytes(r.continuation_token)

        return await self._segments.call(segment, lambda rid: c.ReadTableKeys(rid, segment, "", count, token), handle)

    async def close(self) -> None:
        """Nothing to release (requests use the client's shared connections)."""
