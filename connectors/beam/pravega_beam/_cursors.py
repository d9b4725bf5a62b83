"""Segment cursors of the read (private; used by ``_sdf``): a segment reader with a read
in flight, the bytes of a partly arrived event, and parsed events not yet emitted."""

from __future__ import annotations

import asyncio
import time
from typing import Any, cast

from pravega import errors, naming
from pravega.client.segment_reader import SegmentReader
from pravega.protocol.errors import RemoteProtocolError
from pravega.protocol.framing import parse_events


class _Cursor:
    """Reading one segment: a reader with a read in flight, the bytes of a partly
    arrived event, and parsed events not yet emitted. ``position`` is the offset of
    the first event not yet emitted; ``parsed`` the offset just past the last parsed."""

    def __init__(self, ctx: Any, scope: str, stream: str, segment_id: int, offset: int, end: int | None) -> None:
        self.segment_id = segment_id
        self.reader = SegmentReader(ctx, naming.qualified_segment_name(scope, stream, segment_id), offset)
        self.parsed = offset
        self._partial = b""
        self.end = end
        self.events: list[tuple[int, bytes]] = []
        self.task: asyncio.Future | None = None
        self.ended = end is not None and offset >= end
        self.empty_since: float | None = None  # monotonic time since it had nothing to emit
        self.used = time.monotonic()

    @property
    def position(self) -> int:
        return self.events[0][0] if self.events else self.parsed

    def absorb(self, result: Any) -> None:
        data = result.data
        if self.end is not None and result.offset + len(data) > self.end:
            data = data[: self.end - result.offset]
        if data:
            self._parse(data)
        pending = len(self._partial)
        reached_bound = self.end is not None and self.parsed + pending >= self.end
        if reached_bound or result.end_of_segment:
            if pending:
                raise errors.ServerError(
                    f"{self.reader.segment}: the segment ends inside an event "
                    f"(at offset {self.parsed}, {pending} bytes left)"
                )
            self.ended = True

    def _parse(self, data: bytes) -> None:
        buf = self._partial + data if self._partial else data
        try:
            offsets, payloads, end = parse_events(buf, 0, self.parsed)
        except RemoteProtocolError as exc:
            raise errors.ServerError(f"{self.reader.segment}: {exc}") from exc
        self._partial = buf[end:]
        self.parsed += end
        # ``buf`` is bytes, so its slices are too.
        parsed = cast("list[tuple[int, bytes]]", list(zip(offsets, payloads)))
        if self.events:
            self.events.extend(parsed)
        else:
            self.events = parsed

    def close(self) -> asyncio.Future | None:
        """Stop reading; returns the cancelled read, if one was in flight."""
        task, self.task = self.task, None
        if task is not None:
            task.cancel()
        self.reader.close()
        return task


async def _fetch(cursors: list[_Cursor], timeout: float) -> None:
    """Start a read on every cursor that needs data; wait up to ``timeout`` for one to
    answer; absorb every answered read."""
    pending = []
    for cur in cursors:
        if cur.events or cur.ended:
            continue
        if cur.task is None:
            cur.task = asyncio.ensure_future(cur.reader.read())
        pending.append(cur.task)
    if not pending:
        return
    if timeout > 0 and not any(t.done() for t in pending):
        await asyncio.wait(pending, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    else:
        await asyncio.sleep(0)
    for cur in cursors:
        if cur.task is not None and cur.task.done():
            task, cur.task = cur.task, None
            cur.absorb(task.result())


async def _close_all(cursors: list[_Cursor]) -> None:
    cancelled = [task for task in (cur.close() for cur in cursors) if task is not None]
    if cancelled:
        await asyncio.gather(*cancelled, return_exceptions=True)
