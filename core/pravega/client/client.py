"""The asyncio entry point: stream management and factories for writers and readers.

>>> async with Client("tcp://127.0.0.1:9090") as client:            # doctest: +SKIP
...     await client.create_scope("sc")
...     await client.create_stream("sc", "st", ScalingPolicy.fixed(2))
...     writer = await client.create_writer("sc", "st", StringSerializer())
...     await writer.write("hello", routing_key="k1")
...     await writer.flush()
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar

from .. import errors, naming
from ..model import RetentionPolicy, ScalingEvent, ScalingPolicy, StreamConfiguration, StreamCut
from ..serializers import Serializer

# >>> transactions, byte streams, batch reads, synchronizers, key-value tables (imports)
from .batch import BatchClient
from .byte_stream import ByteStream
from .connection import ConnectionFactory
from .context import ClientConfig, ClientContext
from .kvt import KeyValueTable
from .segment_reader import SegmentClient
from .synchronizer import StateSynchronizer
from .transaction import TransactionalWriter
from .writer import EventWriter

if TYPE_CHECKING:
    from .reader_group import ReaderGroup

# <<< transactions, byte streams, batch reads, synchronizers, key-value tables (imports)

T = TypeVar("T")


@dataclass(frozen=True)
class StreamInfo:
    """A stream's configuration and extent: ``head`` is the oldest readable position,
    ``tail`` the current end (both as stream cuts), ``sealed`` whether it is closed."""

    scope: str
    stream: str
    config: StreamConfiguration
    head: StreamCut
    tail: StreamCut
    sealed: bool


class Client:
    """``connection_factory`` opens the connections to segment stores (default: TCP; see
    :data:`pravega.client.connection.ConnectionFactory`); ``options`` are
    :class:`ClientConfig` fields."""

    def __init__(
        self,
        controller_uri: str = "tcp://127.0.0.1:9090",
        config: ClientConfig | None = None,
        *,
        connection_factory: ConnectionFactory | None = None,
        **options: Any,
    ) -> None:
        cfg = config or ClientConfig()
        cfg = replace(cfg, controller_uri=controller_uri, **options)
        self.ctx = ClientContext(cfg, connection_factory)
        self.segments = SegmentClient(self.ctx)
        # Objects to close with the client. Weak: a writer made per bundle and closed by
        # its user must not be kept alive by the client.
        self._closeables = _Closeables()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        for obj in self._closeables.drain():
            try:
                await obj.close()
            except errors.PravegaError:
                pass
        await self.ctx.close()

    # -- scopes and streams --------------------------------------------------------

    async def create_scope(self, scope: str) -> bool:
        """Create a scope; False if it already exists."""
        return await self.ctx.controller.create_scope(scope)

    async def delete_scope(self, scope: str) -> bool:
        """Delete an empty scope; False if it does not exist."""
        return await self.ctx.controller.delete_scope(scope)

    async def list_scopes(self) -> list[str]:
        return await self.ctx.controller.list_scopes()

    async def scope_exists(self, scope: str) -> bool:
        return await self.ctx.controller.scope_exists(scope)

    async def create_stream(
        self,
        scope: str,
        stream: str,
        scaling: ScalingPolicy | int | None = None,
        retention: RetentionPolicy | None = None,
        tags: list[str] | tuple[str, ...] = (),
        config: StreamConfiguration | None = None,
    ) -> bool:
        """Create a stream; ``scaling`` may be a segment count. False if it exists."""
        return await self.ctx.controller.create_stream(scope, stream, _config(scaling, retention, tags, config))

    async def update_stream(
        self,
        scope: str,
        stream: str,
        scaling: ScalingPolicy | int | None = None,
        retention: RetentionPolicy | None = None,
        tags: list[str] | tuple[str, ...] | None = None,
        config: StreamConfiguration | None = None,
    ) -> bool:
        if config is None:
            current = await self.ctx.controller.get_stream_configuration(scope, stream)
            config = StreamConfiguration(
                _scaling(scaling) if scaling is not None else current.scaling,
                retention if retention is not None else current.retention,
                tuple(tags) if tags is not None else current.tags,
                current.timestamp_aggregation_timeout_ms,
                current.rollover_size_bytes,
            )
        return await self.ctx.controller.update_stream(scope, stream, config)

    async def seal_stream(self, scope: str, stream: str) -> bool:
        return await self.ctx.controller.seal_stream(scope, stream)

    async def delete_stream(self, scope: str, stream: str) -> bool:
        """Delete a sealed stream; False if it does not exist."""
        return await self.ctx.controller.delete_stream(scope, stream)

    async def truncate_stream(self, cut: StreamCut) -> bool:
        """Drop everything before ``cut``."""
        return await self.ctx.controller.truncate_stream(cut)

    async def list_streams(self, scope: str, tag: str | None = None) -> list[str]:
        return await self.ctx.controller.list_streams(scope, tag)

    async def stream_exists(self, scope: str, stream: str) -> bool:
        return await self.ctx.controller.stream_exists(scope, stream)

    async def get_stream_configuration(self, scope: str, stream: str) -> StreamConfiguration:
        return await self.ctx.controller.get_stream_configuration(scope, stream)

    async def scale_stream(
        self, scope: str, stream: str, sealed_segments: list[int], new_ranges: list[tuple[float, float]]
    ) -> list:
        """Manually split or merge segments; returns the new segments' ranges."""
        return await self.ctx.controller.scale(scope, stream, sealed_segments, new_ranges)

    async def stream_info(self, scope: str, stream: str) -> StreamInfo:
        config = await self.ctx.controller.get_stream_configuration(scope, stream)
        head = await self.ctx.controller.get_segments_at(scope, stream, 0)
        current = await self.ctx.controller.get_current_segments(scope, stream)
        sealed = not current
        tail_ids = [r.segment_id for r in current]
        if sealed:
            # A sealed stream's tail is the end of its last segments: the segments with no successors.
            tail_ids = await self._last_segments(scope, stream, list(head))
        infos = await asyncio.gather(
            *(self.segments.info(naming.qualified_segment_name(scope, stream, sid)) for sid in tail_ids)
        )
        tail = StreamCut(scope, stream, {sid: info.length for sid, info in zip(tail_ids, infos)})
        return StreamInfo(scope, stream, config, StreamCut(scope, stream, head), tail, sealed)

    async def scaling_events(
        self, scope: str, stream: str, from_ms: int = 0, to_ms: int | None = None
    ) -> list[ScalingEvent]:
        """The stream's scaling history, oldest first: its creation (epoch 0), then every
        manual or automatic scale (see the README's auto-scaling section)."""
        return await self.ctx.controller.get_scaling_events(scope, stream, from_ms, to_ms)

    async def _last_segments(self, scope: str, stream: str, start: list[int]) -> list[int]:
        seen, last, todo = set(), set(), list(start)
        while todo:
            sid = todo.pop()
            if sid in seen:
                continue
            seen.add(sid)
            successors = await self.ctx.controller.get_successors(scope, stream, sid)
            if not successors:
                last.add(sid)
            todo.extend(r.segment_id for r in successors)
        return sorted(last)

    # -- factories -------------------------------------------------------------------

    async def create_writer(
        self, scope: str, stream: str, serializer: Serializer[T] | None = None, writer_id: str | None = None
    ) -> EventWriter[T]:
        """An event writer for a stream (see :class:`EventWriter`)."""
        writer = await EventWriter(self.ctx, scope, stream, serializer, writer_id)._start()
        self._closeables.append(writer)
        return writer

    # >>> reader groups (reader_group.py) ----------------------------------------------

    async def create_reader_group(self, name: str, scope: str, config_or_streams: Any, **options: Any) -> ReaderGroup:
        """Create a reader group (see :class:`ReaderGroup`). ``config_or_streams``: a
        :class:`ReaderGroupConfig`, or stream names ("stream" in ``scope``, "scope/stream"
        or (scope, stream)) with ``ReaderGroupConfig`` options as keywords. An existing
        group is opened unchanged."""
        from .reader_group import ReaderGroup, reader_group_config

        config = reader_group_config(config_or_streams, scope, **options)
        return await ReaderGroup.create(self.ctx, scope, name, config, self._closeables.append)

    async def reader_group(self, name: str, scope: str) -> ReaderGroup:
        """Open an existing reader group; raises NoSuchReaderGroupError."""
        from .reader_group import ReaderGroup

        return await ReaderGroup.open(self.ctx, scope, name, self._closeables.append)

    async def delete_reader_group(self, name: str, scope: str) -> bool:
        """Delete a reader group's state; False if it did not exist."""
        from .reader_group import ReaderGroup

        return await ReaderGroup.delete_state(self.ctx, scope, name)

    # <<< reader groups ------------------------------------------------------------------

    # >>> transactions, byte streams, batch reads, synchronizers, key-value tables ------

    async def create_transactional_writer(
        self,
        scope: str,
        stream: str,
        serializer: Serializer[T] | None = None,
        writer_id: str | None = None,
        lease_ms: int | None = None,
        keep_alive: bool = True,
    ) -> TransactionalWriter[T]:
        """A writer of transactions on a stream (see :class:`TransactionalWriter`).
        ``lease_ms`` defaults to ``ClientConfig.transaction_lease_ms``; with ``keep_alive``
        open transactions renew their lease in the background."""
        writer = await TransactionalWriter(
            self.ctx, scope, stream, serializer, writer_id, lease_ms, keep_alive
        )._start()
        self._closeables.append(writer)
        return writer

    async def create_byte_stream(self, scope: str, stream: str) -> ByteStream:
        """A byte stream on an existing single-segment stream (see :class:`ByteStream`)."""
        byte_stream = await ByteStream(self.ctx, scope, stream)._open()
        self._closeables.append(byte_stream)
        return byte_stream

    def batch_client(self) -> BatchClient:
        """Reads of the data between stream cuts, segment by segment (see :class:`BatchClient`)."""
        return BatchClient(self.ctx)

    async def create_synchronizer(
        self,
        scope: str,
        stream: str,
        initial_state: Any,
        serializer: Serializer[Any] | None = None,
        *,
        apply: Any = None,
        update_serializer: Serializer[Any] | None = None,
        create_stream: bool = True,
    ) -> StateSynchronizer:
        """A state synchronizer on a single-segment stream, created if missing (see
        :class:`StateSynchronizer`); its state is fetched before it is returned."""
        if create_stream:
            await self.ctx.controller.create_stream(scope, stream, _config(1, None, (), None))
        sync = await StateSynchronizer(
            self.ctx, scope, stream, initial_state, serializer, apply, update_serializer
        )._start()
        self._closeables.append(sync)
        return sync

    async def create_key_value_table(self, scope: str, name: str, partitions: int = 1) -> bool:
        """Create a key-value table of ``partitions`` table segments; False if it exists."""
        return await self.ctx.controller.create_key_value_table(scope, name, partitions)

    def key_value_table(
        self,
        scope: str,
        name: str,
        key_serializer: Serializer[Any] | None = None,
        value_serializer: Serializer[Any] | None = None,
    ) -> KeyValueTable:
        """A handle on an existing key-value table (see :class:`KeyValueTable`)."""
        return KeyValueTable(self.ctx, scope, name, key_serializer, value_serializer)

    async def delete_key_value_table(self, scope: str, name: str) -> bool:
        """Delete a key-value table and its data; False if it does not exist."""
        return await self.ctx.controller.delete_key_value_table(scope, name)

    # <<< transactions, byte streams, batch reads, synchronizers, key-value tables ------


class _Closeables:
    """A weak set of objects with ``close()`` coroutines, in insertion order."""

    def __init__(self) -> None:
        self._refs: dict[int, weakref.ref] = {}

    def append(self, obj: Any) -> None:
        key = id(obj)
        self._refs[key] = weakref.ref(obj, lambda _: self._refs.pop(key, None))

    def drain(self) -> list[Any]:
        """The live objects, newest first; the set is emptied."""
        objs = [ref() for ref in reversed(list(self._refs.values()))]
        self._refs.clear()
        return [o for o in objs if o is not None]


def _scaling(scaling: ScalingPolicy | int | None) -> ScalingPolicy:
    if scaling is None:
        return ScalingPolicy.fixed(1)
    if isinstance(scaling, int):
        return ScalingPolicy.fixed(scaling)
    return scaling


def _config(
    scaling: ScalingPolicy | int | None,
    retention: RetentionPolicy | None,
    tags: Any,
    config: StreamConfiguration | None,
) -> StreamConfiguration:
    if config is not None:
        if scaling is not None or retention is not None or tags:
            raise errors.InterfaceError("pass either config or scaling/retention/tags, not both")
        return config
    return StreamConfiguration(_scaling(scaling), retention or RetentionPolicy(), tuple(tags))
