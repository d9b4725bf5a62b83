"""Reading one segment, and the request/reply segment operations.

:class:`SegmentReader` keeps a dedicated connection (the server parks tail reads, which
would hold up other requests on a shared connection) and one read ahead in flight,
so the next chunk is on its way while the caller parses the current one.

:class:`SegmentClient` wraps the short request/reply commands (info, seal, truncate,
create, delete, table operations) over the pool's shared connections, turning error
replies into exceptions and retrying on lost connections.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from .. import errors
from ..protocol import commands as c
from ..protocol.errors import RemoteProtocolError
from ..protocol.framing import parse_events
from .connection import SegmentStoreConnection, next_request_id
from .context import ClientContext

log = logging.getLogger(__name__)
T = TypeVar("T")

READ_SIZE = 4 * 1024 * 1024


@dataclass
class ReadResult:
    offset: int
    data: bytes
    at_tail: bool
    end_of_segment: bool


class SegmentReader:
    """Sequential reads of one segment from ``offset``, with one read ahead."""

    def __init__(self, ctx: ClientContext, segment: str, offset: int = 0, read_size: int = READ_SIZE) -> None:
        self.ctx = ctx
        self.segment = segment
        self.offset = offset  # next offset to request
        self.read_size = read_size
        self._conn: SegmentStoreConnection | None = None
        self._ahead: asyncio.Task | None = None
        self._ahead_offset = -1

    async def _connection(self) -> SegmentStoreConnection:
        if self._conn is None or self._conn.closed:
            endpoint = await self.ctx.endpoint_of(self.segment)
            self._conn = await self.ctx.pool.dedicated(endpoint)
        return self._conn

    async def _request(self, offset: int) -> c.Command:
        for attempt in range(5):
            try:
                conn = await self._connection()
                return await conn.request(
                    c.ReadSegment(self.segment, offset, self.read_size, "", next_request_id()),
                    self.ctx.config.request_timeout,
                )
            except errors.ConnectionLostError:
                self.ctx.forget_endpoint(self.segment)
                if attempt == 4:
                    raise
                await asyncio.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")

    def seek(self, offset: int) -> None:
        self.offset = offset
        self._cancel_ahead()

    def _cancel_ahead(self) -> None:
        if self._ahead is not None:
            self._ahead.cancel()
            self._ahead = None

    async def read(self) -> ReadResult:
        """The next chunk from the current offset; waits (long-poll) at the tail."""
        if self._ahead is not None and self._ahead_offset == self.offset:
            task, self._ahead = self._ahead, None
            reply = await task
        else:
            self._cancel_ahead()
            reply = await self._request(self.offset)
        result = self._result(reply)
        self.offset += len(result.data)
        if result.data and not result.end_of_segment and not result.at_tail:
            self._ahead_offset = self.offset
            self._ahead = asyncio.ensure_future(self._request(self.offset))
        return result

    def _result(self, reply: c.Command) -> ReadResult:
        if isinstance(reply, c.SegmentRead):
            if reply.offset != self.offset:
                raise errors.ServerError(f"{self.segment}: read at {self.offset} answered for {reply.offset}")
            return ReadResult(reply.offset, bytes(reply.data), reply.at_tail, reply.end_of_segment)
        if isinstance(reply, c.SegmentIsTruncated):
            raise errors.SegmentTruncatedError(
                f"{self.segment}: offset {self.offset} is truncated (head at {reply.start_offset})", reply.start_offset
            )
        kind = type(reply)
        if kind is c.NoSuchSegment:
            raise errors.NoSuchSegmentError(f"no segment {self.segment}")
        if kind is c.SegmentIsSealed:
            return ReadResult(self.offset, b"", True, True)
        raise errors.ServerError(f"{self.segment}: read answered with {reply!r}")

    def close(self) -> None:
        self._cancel_ahead()
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class EventParser:
    """Splits a segment's bytes into events; keeps a partial event between chunks."""

    def __init__(self, offset: int) -> None:
        self.offset = offset  # segment offset of the first unparsed byte
        self._buf = b""

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """(offset of the event header, payload) for every complete event."""
        offsets, payloads = self.feed_lists(data)
        return list(zip(offsets, payloads))

    def feed_lists(self, data: bytes) -> tuple[list[int], list[bytes]]:
        """Like :meth:`feed`, as two parallel lists (event offsets, payloads): the
        cheapest form for readers that hand out events in batches."""
        buf = self._buf + data if self._buf else data
        try:
            offsets, payloads, pos = parse_events(buf, 0, self.offset)
        except RemoteProtocolError as exc:
            raise errors.ServerError(str(exc)) from None
        self._buf = buf[pos:]
        self.offset += pos
        return offsets, payloads  # type: ignore[return-value]  # slices of bytes are bytes

    @property
    def pending(self) -> int:
        return len(self._buf)


@dataclass
class SegmentInfo:
    segment: str
    length: int
    start_offset: int
    sealed: bool
    last_modified_ms: int


class SegmentClient:
    """Request/reply operations on segments, over shared pooled connections."""

    def __init__(self, ctx: ClientContext) -> None:
        self.ctx = ctx

    async def call(self, segment: str, make: Callable[[int], c.Command], handle: Callable[[c.Command], T]) -> T:
        last: BaseException | None = None
        for attempt in range(6):
            try:
                endpoint = await self.ctx.endpoint_of(segment)
                reply = await self.ctx.pool.request(endpoint, make(next_request_id()), self.ctx.config.request_timeout)
            except errors.ConnectionLostError as exc:
                last = exc
                self.ctx.forget_endpoint(segment)
                await asyncio.sleep(0.05 * 2**attempt)
                continue
            if type(reply) is c.WrongHost:
                self.ctx.forget_endpoint(segment)
                await asyncio.sleep(0.05)
                continue
            return handle(reply)
        raise errors.RetriesExhaustedError(f"{segment}: segment store unreachable: {last}") from last

    async def info(self, segment: str) -> SegmentInfo:
        def handle(r: c.Command) -> SegmentInfo:
            if type(r) is c.StreamSegmentInfo:
                if not r.exists:
                    raise errors.NoSuchSegmentError(f"no segment {segment}")
                return SegmentInfo(segment, r.write_offset, r.start_offset, r.is_sealed, r.last_modified)
            raise _error(segment, r)

        return await self.call(segment, lambda rid: c.GetStreamSegmentInfo(rid, segment, ""), handle)

    async def seal(self, segment: str) -> None:
        def handle(r: c.Command) -> None:
            if type(r) not in (c.SegmentSealed, c.SegmentIsSealed):
                raise _error(segment, r)

        await self.call(segment, lambda rid: c.SealSegment(rid, segment, ""), handle)

    async def truncate(self, segment: str, offset: int) -> None:
        def handle(r: c.Command) -> None:
            if type(r) is not c.SegmentTruncated:
                raise _error(segment, r)

        await self.call(segment, lambda rid: c.TruncateSegment(rid, segment, offset, ""), handle)

    async def create_table(self, segment: str) -> bool:
        def handle(r: c.Command) -> bool:
            if type(r) is c.SegmentCreated:
                return True
            if type(r) is c.SegmentAlreadyExists:
                return False
            raise _error(segment, r)

        return await self.call(segment, lambda rid: c.CreateTableSegment(rid, segment, ""), handle)

    async def delete_table(self, segment: str, must_be_empty: bool = False) -> bool:
        def handle(r: c.Command) -> bool:
            if type(r) is c.SegmentDeleted:
                return True
            if type(r) is c.NoSuchSegment:
                return False
            raise _error(segment, r)

        return await self.call(segment, lambda rid: c.DeleteTableSegment(rid, segment, must_be_empty, ""), handle)

    async def update_table(self, segment: str, entries: list[tuple[bytes, int, bytes]]) -> list[int]:
        """Conditional update: (key, expected version, value); returns the new versions."""
        table_entries = tuple(c.TableEntry(k, v, val) for k, v, val in entries)

        def handle(r: c.Command) -> list[int]:
            if type(r) is c.TableEntriesUpdated:
                return list(r.updated_versions)
            raise _error(segment, r)

        return await self.call(segment, lambda rid: c.UpdateTableEntries(rid, segment, "", table_entries, -1), handle)

    async def remove_table_keys(self, segment: str, keys: list[tuple[bytes, int]]) -> None:
        table_keys = tuple(c.TableKey(k, v) for k, v in keys)

        def handle(r: c.Command) -> None:
            if type(r) is not c.TableKeysRemoved:
                raise _error(segment, r)

        await self.call(segment, lambda rid: c.RemoveTableKeys(rid, segment, "", table_keys, -1), handle)

    async def read_table(self, segment: str, keys: list[bytes]) -> list[tuple[int, bytes] | None]:
        """(version, value) per key, None where the key is absent."""
        table_keys = tuple(c.TableKey(k, c.TableKey.NO_VERSION) for k in keys)

        def handle(r: c.Command) -> list[tuple[int, bytes] | None]:
            if type(r) is not c.TableRead:
                raise _error(segment, r)
            return [None if e.version < 0 else (e.version, bytes(e.value)) for e in r.entries]

        return await self.call(segment, lambda rid: c.ReadTable(rid, segment, "", table_keys), handle)

    async def read_table_entries(
        self, segment: str, token: bytes = b"", count: int = 1000
    ) -> tuple[list[tuple[bytes, int, bytes]], bytes]:
        def handle(r: c.Command) -> tuple[list[tuple[bytes, int, bytes]], bytes]:
            if type(r) is not c.TableEntriesRead:
                raise _error(segment, r)
            return [(bytes(e.key), e.version, bytes(e.value)) for e in r.entries], bytes(r.continuation_token)

        return await self.call(segment, lambda rid: c.ReadTableEntries(rid, segment, "", count, token), handle)

    async def read_table_delta(
        self, segment: str, from_position: int, count: int = 1000
    ) -> tuple[list[tuple[bytes, int, bytes]], int, bool]:
        """(entries, next position, reached end) of the changes since ``from_position``."""

        def handle(r: c.Command) -> tuple[list[tuple[bytes, int, bytes]], int, bool]:
            if type(r) is not c.TableEntriesDeltaRead:
                raise _error(segment, r)
            return [(bytes(e.key), e.version, bytes(e.value)) for e in r.entries], r.last_position, r.reached_end

        return await self.call(
            segment, lambda rid: c.ReadTableEntriesDelta(rid, segment, "", from_position, count), handle
        )


def _error(segment: str, reply: Any) -> Exception:
    kind = type(reply)
    if kind is c.NoSuchSegment:
        return errors.NoSuchSegmentError(f"no segment {segment}")
    if kind is c.SegmentIsSealed:
        return errors.StreamSealedError(f"segment {segment} is sealed")
    if kind is c.SegmentIsTruncated:
        return errors.SegmentTruncatedError(f"{segment}: truncated at {reply.start_offset}", reply.start_offset)
    if kind is c.TableKeyBadVersion:
        return errors.BadKeyVersionError(f"{segment}: a key has another version")
    if kind is c.TableKeyDoesNotExist:
        return errors.KeyDoesNotExistError(f"{segment}: a key does not exist")
    if kind is c.SegmentAlreadyExists:
        return errors.PravegaError(f"segment {segment} already exists")
    return errors.ServerError(f"{segment}: unexpected reply {reply!r}")
