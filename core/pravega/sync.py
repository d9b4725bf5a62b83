"""The synchronous facade: the asyncio API's names, run on a background loop thread.

Every synchronous call submits a coroutine to one event loop running in a daemon
thread (a *portal*, as in anyio's ``BlockingPortal``) and waits for its result. Calls
made from that loop's own thread are refused instead of deadlocking.

Objects returned by the async API (writers, readers, groups...) come back wrapped, so
their methods are synchronous too. The wrappers are written out per class rather than
generated, so that they carry documentation and type hints.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import concurrent.futures
import threading
import weakref
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Generic, TypeVar

from . import errors
from ._loops import new_event_loop
from .client.client import Client as AsyncClient
from .client.client import StreamInfo
from .client.context import ClientConfig
from .client.writer import EventWriter as AsyncEventWriter
from .model import RetentionPolicy, ScalingEvent, ScalingPolicy, StreamConfiguration, StreamCut
from .serializers import Serializer

T = TypeVar("T")


class Portal:
    """An event loop on a daemon thread that runs coroutines for synchronous callers."""

    def __init__(self) -> None:
        self.loop = new_event_loop()
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.call_soon(started.set)
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, name="pravega-portal", daemon=True)
        self.thread.start()
        started.wait()

    def call(self, make: Callable[[], Awaitable[T]], timeout: float | None = None) -> T:
        if threading.current_thread() is self.thread:
            raise errors.InterfaceError("synchronous Pravega calls cannot be made from the client's own loop thread")
        if not self.loop.is_running():
            raise errors.InterfaceError("the client is closed")

        async def runner() -> T:
            return await make()

        future = asyncio.run_coroutine_threadsafe(runner(), self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise

    def stop(self) -> None:
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
        if not self.loop.is_running() and not self.loop.is_closed():
            self.loop.close()


class EventWriter(Generic[T]):
    """Synchronous :class:`pravega.aio.EventWriter`."""

    def __init__(self, portal: Portal, writer: AsyncEventWriter[T]) -> None:
        self._portal = portal
        self._writer = writer
        # write() queues here from the caller's thread; the loop drains it in order, so
        # a write costs no thread round trip.
        self._queue: collections.deque[tuple[T, str | None, concurrent.futures.Future]] = collections.deque()
        self._scheduled = False
        self._draining: asyncio.Task | None = None

    @property
    def writer_id(self) -> str:
        return self._writer.writer_id

    def write(self, event: T, routing_key: str | None = None) -> concurrent.futures.Future:
        """Queue an event; the returned future completes when it is stored."""
        out: concurrent.futures.Future = concurrent.futures.Future()
        self._queue.append((event, routing_key, out))
        if not self._scheduled:
            self._scheduled = True
            self._portal.loop.call_soon_threadsafe(self._start_drain)
        return out

    def _start_drain(self) -> None:
        if self._draining is None or self._draining.done():
            self._draining = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        queue = self._queue
        while True:
            self._scheduled = False  # before the last look at the queue: see write()
            if not queue:
                return
            while queue:
                event, key, out = queue.popleft()
                try:
                    fut = await self._writer.write(event, key)
                except BaseException as exc:  # reported to the caller through its future
                    out.set_exception(exc)
                    continue
                _chain(fut, out)

    async def _drained(self) -> None:
        while self._queue or (self._draining is not None and not self._draining.done()):
            self._start_drain()
            await asyncio.shield(self._draining)  # type: ignore[arg-type]

    def write_many(self, events: list[tuple[T, str | None]]) -> concurrent.futures.Future:
        """Queue several (event, routing key) pairs in one call (much cheaper per event)."""

        async def go() -> concurrent.futures.Future:
            futures = [await self._writer.write(event, key) for event, key in events]
            return _bridge(asyncio.ensure_future(asyncio.gather(*futures)))

        return self._portal.call(go)

    def flush(self) -> None:
        """Wait until every event written so far is stored."""

        async def go() -> None:
            await self._drained()
            await self._writer.flush()

        self._portal.call(go)

    def note_time(self, timestamp_ms: int | None = None) -> None:
        self._portal.call(lambda: self._writer.note_time(timestamp_ms))

    def close(self) -> None:
        async def go() -> None:
            await self._drained()
            await self._writer.close()

        self._portal.call(go)

    def __enter__(self) -> EventWriter[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _chain(fut: asyncio.Future[Any], out: concurrent.futures.Future) -> None:
    def done(f: asyncio.Future[Any]) -> None:
        if f.cancelled():
            out.cancel()
        elif f.exception() is not None:
            out.set_exception(f.exception())
        else:
            out.set_result(f.result())

    fut.add_done_callback(done)


def _bridge(fut: asyncio.Future[Any]) -> concurrent.futures.Future:
    out: concurrent.futures.Future = concurrent.futures.Future()
    _chain(fut, out)
    return out


class Client:
    """Synchronous entry point: the methods of :class:`pravega.aio.Client`, blocking.

    >>> with pravega.Client("tcp://127.0.0.1:9090") as client:     # doctest: +SKIP
    ...     client.create_scope("sc")
    """

    def __init__(
        self, controller_uri: str = "tcp://127.0.0.1:9090", config: ClientConfig | None = None, **options: Any
    ) -> None:
        self._portal = Portal()

        async def make() -> AsyncClient:
            return AsyncClient(controller_uri, config, **options)

        try:
            self._client: AsyncClient = self._portal.call(make)
        except BaseException:
            self._portal.stop()
            raise
        self._closed = False
        # A client never closed is closed at exit, before the interpreter tears down
        # the modules grpc needs to shut its channels.
        self_ref = weakref.ref(self)

        def close_at_exit() -> None:
            client = self_ref()
            if client is not None:
                client.close()

        self._atexit = close_at_exit
        atexit.register(self._atexit)

    @property
    def aio(self) -> AsyncClient:
        """The underlying async client (use it only from the portal's loop)."""
        return self._client

    def _call(self, make: Callable[[], Awaitable[T]]) -> T:
        return self._portal.call(make)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self._atexit)
        try:
            self._call(self._client.close)
        finally:
            self._portal.stop()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- scopes and streams ----------------------------------------------------------

    def create_scope(self, scope: str) -> bool:
        return self._call(lambda: self._client.create_scope(scope))

    def delete_scope(self, scope: str) -> bool:
        return self._call(lambda: self._client.delete_scope(scope))

    def list_scopes(self) -> list[str]:
        return self._call(self._client.list_scopes)

    def scope_exists(self, scope: str) -> bool:
        return self._call(lambda: self._client.scope_exists(scope))

    def create_stream(
        self,
        scope: str,
        stream: str,
        scaling: ScalingPolicy | int | None = None,
        retention: RetentionPolicy | None = None,
        tags: list[str] | tuple[str, ...] = (),
        config: StreamConfiguration | None = None,
    ) -> bool:
        return self._call(lambda: self._client.create_stream(scope, stream, scaling, retention, tags, config))

    def update_stream(
        self,
        scope: str,
        stream: str,
        scaling: ScalingPolicy | int | None = None,
        retention: RetentionPolicy | None = None,
        tags: list[str] | tuple[str, ...] | None = None,
        config: StreamConfiguration | None = None,
    ) -> bool:
        return self._call(lambda: self._client.update_stream(scope, stream, scaling, retention, tags, config))

    def seal_stream(self, scope: str, stream: str) -> bool:
        return self._call(lambda: self._client.seal_stream(scope, stream))

    def delete_stream(self, scope: str, stream: str) -> bool:
        return self._call(lambda: self._client.delete_stream(scope, stream))

    def truncate_stream(self, cut: StreamCut) -> bool:
        return self._call(lambda: self._client.truncate_stream(cut))

    def list_streams(self, scope: str, tag: str | None = None) -> list[str]:
        return self._call(lambda: self._client.list_streams(scope, tag))

    def stream_exists(self, scope: str, stream: str) -> bool:
        return self._call(lambda: self._client.stream_exists(scope, stream))

    def get_stream_configuration(self, scope: str, stream: str) -> StreamConfiguration:
        return self._call(lambda: self._client.get_stream_configuration(scope, stream))

    def scale_stream(
        self, scope: str, stream: str, sealed_segments: list[int], new_ranges: list[tuple[float, float]]
    ) -> list:
        return self._call(lambda: self._client.scale_stream(scope, stream, sealed_segments, new_ranges))

    def stream_info(self, scope: str, stream: str) -> StreamInfo:
        return self._call(lambda: self._client.stream_info(scope, stream))

    def scaling_events(self, scope: str, stream: str, from_ms: int = 0, to_ms: int | None = None) -> list[ScalingEvent]:
        return self._call(lambda: self._client.scaling_events(scope, stream, from_ms, to_ms))

    # -- factories -------------------------------------------------------------------

    def create_writer(
        self, scope: str, stream: str, serializer: Serializer[T] | None = None, writer_id: str | None = None
    ) -> EventWriter[T]:
        writer = self._call(lambda: self._client.create_writer(scope, stream, serializer, writer_id))
        return EventWriter(self._portal, writer)

    def create_reader_group(self, name: str, scope: str, config_or_streams: Any, **options: Any) -> Any:
        """A reader group (sync view of :class:`pravega.aio.ReaderGroup`)."""
        return _wrap(
            self._portal,
            self._call(lambda: self._client.create_reader_group(name, scope, config_or_streams, **options)),
        )

    def reader_group(self, name: str, scope: str) -> Any:
        return _wrap(self._portal, self._call(lambda: self._client.reader_group(name, scope)))

    def delete_reader_group(self, name: str, scope: str) -> bool:
        return self._call(lambda: self._client.delete_reader_group(name, scope))

    def create_transactional_writer(
        self, scope: str, stream: str, serializer: Serializer[T] | None = None, **options: Any
    ) -> Any:
        """A transactional writer (sync view of :class:`pravega.aio.TransactionalWriter`)."""
        return _wrap(
            self._portal,
            self._call(lambda: self._client.create_transactional_writer(scope, stream, serializer, **options)),
        )

    def create_byte_stream(self, scope: str, stream: str) -> Any:
        return _wrap(self._portal, self._call(lambda: self._client.create_byte_stream(scope, stream)))

    def batch_client(self) -> Any:
        return _wrap(self._portal, self._call(lambda: _run(self._client.batch_client, (), {})))

    def create_synchronizer(
        self, scope: str, stream: str, initial_state: Any, serializer: Any = None, **options: Any
    ) -> Any:
        return _wrap(
            self._portal,
            self._call(lambda: self._client.create_synchronizer(scope, stream, initial_state, serializer, **options)),
        )

    def create_key_value_table(self, scope: str, name: str, partitions: int = 1) -> bool:
        return self._call(lambda: self._client.create_key_value_table(scope, name, partitions))

    def key_value_table(self, scope: str, name: str, key_serializer: Any = None, value_serializer: Any = None) -> Any:
        return _wrap(
            self._portal,
            self._call(lambda: _run(self._client.key_value_table, (scope, name, key_serializer, value_serializer), {})),
        )

    def delete_key_value_table(self, scope: str, name: str) -> bool:
        return self._call(lambda: self._client.delete_key_value_table(scope, name))


class SyncProxy:
    """Synchronous view of any other async client object (reader groups, readers,
    transactions, byte streams, key-value tables, synchronizers, the batch client).

    Coroutine methods block until done; async iterators become iterators; async client
    objects they return come back as proxies too; plain attributes pass through.
    """

    def __init__(self, portal: Portal, target: Any) -> None:
        object.__setattr__(self, "_portal", portal)
        object.__setattr__(self, "_target", target)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if not callable(value):
            return _wrap(self._portal, value)
        portal = self._portal

        def call(*args: Any, **kwargs: Any) -> Any:
            if asyncio.iscoroutinefunction(value):
                return _wrap(portal, portal.call(lambda: value(*args, **kwargs)))
            result = portal.call(lambda: _run(value, args, kwargs))
            return _wrap(portal, result)

        call.__name__ = name
        call.__doc__ = getattr(value, "__doc__", None)
        return call

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._target, name, value)

    def __iter__(self) -> Iterator[Any]:
        return iterate(self._portal, self._target.__aiter__())

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        close = getattr(self, "close", None)
        if close is not None:
            close()

    def __repr__(self) -> str:
        return f"<sync {self._target!r}>"


async def _run(fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    """Call a plain method on the loop thread (client objects are not thread-safe)."""
    return fn(*args, **kwargs)


def _wrap(portal: Portal, value: Any) -> Any:
    if hasattr(value, "__aiter__") and not hasattr(value, "__iter__"):
        return iterate(portal, value.__aiter__())
    module = getattr(type(value), "__module__", "")
    if module.startswith("pravega.client.") and not isinstance(value, BaseException):
        if isinstance(value, AsyncEventWriter):
            return EventWriter(portal, value)
        if _is_active(type(value)):
            return SyncProxy(portal, value)
    return value


_ACTIVE: dict[type, bool] = {}


def _is_active(cls: type) -> bool:
    """Objects with coroutine methods get a proxy; values (checkpoints, versioned
    entries, slices...) are returned as they are."""
    active = _ACTIVE.get(cls)
    if active is None:
        active = _ACTIVE[cls] = any(
            asyncio.iscoroutinefunction(getattr(cls, name, None)) for name in dir(cls) if not name.startswith("_")
        )
    return active


def iterate(portal: Portal, agen: Any) -> Iterator[Any]:
    """Drive an async iterator from synchronous code."""
    while True:
        try:
            yield portal.call(agen.__anext__)
        except StopAsyncIteration:
            return
