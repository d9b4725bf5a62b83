"""Byte streams: a single-segment stream used as an append-only file (spec §3.4).

>>> bs = await client.create_byte_stream("sc", "file")     # doctest: +SKIP
>>> await bs.write(b"hello ")
>>> await bs.write(b"world")
>>> await bs.flush()
>>> await bs.seek(0)
>>> await bs.read()
b'hello world'

Writes are raw bytes (no event headers), appended with ``ConditionalBlockEnd`` at the
writer's own offset, so two writers never interleave silently: a writer that finds
the segment longer than it expected fails with
:class:`~pravega.errors.ConditionalCheckFailedError`. Unlike the official client, the
writer starts at the stream's current tail, so a byte stream opened on a non-empty
stream appends to it.

Reading has its own position (``tell``/``seek``), independent of where writes go.
"""

from __future__ import annotations

import asyncio

from .. import errors
from .conditional import MAX_APPEND_SIZE, ConditionalAppender
from .context import ClientContext
from .segment_reader import SegmentClient, SegmentReader
from .single_segment import close_segment_io, open_single_segment

#: Bytes asked for per read request (the Rust byte reader's size).
READ_SIZE = 512 * 1024

SEEK_SET, SEEK_CUR, SEEK_END = 0, 1, 2


class ByteStream:
    """Use :meth:`pravega.aio.Client.create_byte_stream`.

    ``write`` buffers and returns at once (it waits only when much is unacknowledged);
    ``flush`` waits until everything written is stored. A failed write (another writer
    appended in between, the stream was sealed) is raised by the next ``write`` or
    ``flush``; the unsent bytes are dropped, and the writer continues at the then
    current tail.
    """

    def __init__(self, ctx: ClientContext, scope: str, stream: str) -> None:
        self.ctx = ctx
        self.scope = scope
        self.stream = stream
        self.segment = ""
        self.segment_id = -1
        self._segments = SegmentClient(ctx)
        self._appender: ConditionalAppender | None = None
        # writing
        self._write_offset: int | None = None
        self._pending = bytearray()
        self._sender: asyncio.Task | None = None
        self._failure: BaseException | None = None
        # reading
        self._pos = 0
        self._reader: SegmentReader | None = None
        self._buf = b""
        self._buf_offset = 0
        self._closed = False

    async def _open(self) -> ByteStream:
        self.segment, self.segment_id, head_offset = await open_single_segment(
            self.ctx, self.scope, self.stream, "a byte stream"
        )
        current = await self.ctx.controller.get_current_segments(self.scope, self.stream)
        if current and [r.segment_id for r in current] != [self.segment_id]:
            raise errors.InterfaceError(f"{self.scope}/{self.stream} was scaled; a byte stream needs one segment")
        info = await self._segments.info(self.segment)
        self._pos = max(head_offset, info.start_offset)
        self._write_offset = info.length
        self._appender = ConditionalAppender(self.ctx, self.segment)
        return self

    async def __aenter__(self) -> ByteStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- writing ------------------------------------------------------------------

    async def write(self, data: bytes | bytearray | memoryview) -> int:
        """Append ``data`` (after everything written before); returns its length."""
        self._check_open()
        self._raise_failure()
        if not data:
            return 0
        self._pending += data
        if self._sender is None:
            self._sender = asyncio.ensure_future(self._send())
        if len(self._pending) >= self.ctx.config.max_buffered_bytes:
            await self._wait_sent()
            self._raise_failure()
        return len(data)

    async def _send(self) -> None:
        assert self._appender is not None
        try:
            while self._pending:
                if self._write_offset is None:
                    self._write_offset = (await self._segments.info(self.segment)).length
                chunk = bytes(self._pending[:MAX_APPEND_SIZE])
                del self._pending[:MAX_APPEND_SIZE]
                self._write_offset = await self._appender.append(chunk, self._write_offset)
        except errors.PravegaError as exc:
            self._failure = exc
            self._pending.clear()
            self._write_offset = None
        finally:
            self._sender = None

    async def _wait_sent(self) -> None:
        while self._sender is not None:
            await asyncio.shield(self._sender)

    def _raise_failure(self) -> None:
        exc, self._failure = self._failure, None
        if exc is not None:
            if isinstance(exc, errors.StreamSealedError):
                self._failure = exc  # permanent
            raise exc

    async def flush(self) -> None:
        """Wait until every byte written so far is stored."""
        await self._wait_sent()
        self._raise_failure()

    # -- reading --------------------------------------------------------------------

    def tell(self) -> int:
        """The read position (an absolute offset in the segment)."""
        return self._pos

    async def seek(self, offset: int, whence: int = SEEK_SET) -> int:
        """Move the read position: from the start (0), the current position (1) or the
        current tail (2); returns the new position."""
        if whence == SEEK_SET:
            pos = offset
        elif whence == SEEK_CUR:
            pos = self._pos + offset
        elif whence == SEEK_END:
            pos = await self.tail_offset() + offset
        else:
            raise errors.InterfaceError(f"whence must be 0, 1 or 2, not {whence}")
        if pos < 0:
            raise errors.InterfaceError(f"cannot seek to a negative offset ({pos})")
        self._pos = pos
        if not self._buf_offset <= pos <= self._buf_offset + len(self._buf):
            self._buf = b""
            self._buf_offset = pos
            if self._reader is not None:
                self._reader.seek(pos)
        return pos

    async def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes from the read position.

        With ``n > 0`` it waits until at least one byte is there, and returns ``b""``
        only at the end of a sealed stream. With ``n < 0`` it returns everything up to
        the current tail without waiting (``b""`` at the tail).
        Raises :class:`~pravega.errors.SegmentTruncatedError` below the head.
        """
        self._check_open()
        if n == 0:
            return b""
        if n > 0:
            return await self._read_some(n)
        tail = await self.tail_offset()
        out = bytearray()
        while self._pos < tail:
            chunk = await self._read_some(tail - self._pos)
            if not chunk:
                break
            out += chunk
        return bytes(out)

    async def readinto(self, buf: bytearray | memoryview) -> int:
        """Read up to ``len(buf)`` bytes into ``buf`` (as :meth:`read` with n > 0)."""
        data = await self.read(len(buf))
        memoryview(buf)[: len(data)] = data
        return len(data)

    async def _read_some(self, n: int) -> bytes:
        while True:
            start = self._pos - self._buf_offset
            if 0 <= start < len(self._buf):
                data = self._buf[start : start + n]
                self._pos += len(data)
                return data
            reader = self._reader
            if reader is None:
                reader = self._reader = SegmentReader(self.ctx, self.segment, self._pos, READ_SIZE)
            elif reader.offset != self._pos:
                reader.seek(self._pos)
            result = await reader.read()
            if result.data:
                self._buf, self._buf_offset = result.data, result.offset
            elif result.end_of_segment:
                return b""

    # -- segment metadata -------------------------------------------------------------

    async def head_offset(self) -> int:
        """The first readable offset (moves forward with :meth:`truncate`)."""
        return (await self._segments.info(self.segment)).start_offset

    async def tail_offset(self) -> int:
        """The current length of the stream (bytes stored, including truncated ones)."""
        return (await self._segments.info(self.segment)).length

    async def truncate(self, offset: int) -> None:
        """Drop the bytes before ``offset`` (``TruncateSegment``); offsets stay absolute."""
        self._check_open()
        await self._segments.truncate(self.segment, offset)

    async def seal(self) -> None:
        """Flush, then seal the segment: no more writes, readers see the end."""
        self._check_open()
        await self.flush()
        await self._segments.seal(self.segment)

    async def close(self) -> None:
        """Flush and release the connections."""
        if self._closed:
            return
        try:
            await self._wait_sent()
            self._raise_failure()
        except errors.StreamSealedError:
            pass
        finally:
            self._closed = True
            reader, self._reader = self._reader, None
            await close_segment_io(reader, self._appender)

    def _check_open(self) -> None:
        if self._closed:
            raise errors.InterfaceError("the byte stream is closed")
