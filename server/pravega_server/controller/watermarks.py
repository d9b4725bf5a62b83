"""Watermarks: writers' noted times aggregated into a stream's watermark stream (PDP-33).

Writers call ``noteTimestampFromWriter`` (time, position); the controller keeps each
writer's last mark (``ControllerService.note_writer_timestamp``). This module's
:class:`WatermarkManager` periodically, for every stream with marks:

* takes the *active* writers: those that noted a time within the stream's
  ``timestampAggregationTimeout`` (milliseconds; 0 means ``DEFAULT_TIMEOUT_MS``);
  writers that stop noting times drop out of the aggregation (their marks stay, as in
  Pravega, until the writer is removed);
* if the lowest time of the active writers moved past the last watermark's lower bound,
  appends a watermark record to the stream ``_MARK<stream>`` of the same scope (one
  segment, created on first use).

The record (an event, framed like any other; this project's own format, documented in
the README): UTF-8 JSON ``{"v": 1, "lower": ms, "upper": ms, "cut": {"<segment id>":
offset, ...}}`` — ``lower``/``upper``: the lowest/highest time noted by the active
writers; ``cut``: for each segment, the highest position at which an active writer
noted its time. A reader past ``cut`` in every segment of it reads only events written
after every active writer noted at least ``lower``; a reader before ``cut`` in every
segment it reads has read only events written before the writers noted ``upper``.

Appends go straight to the segment store engine of this process (the controller and
segment store share it) with a writer id of their own, and are durable before the
manager moves on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import TYPE_CHECKING, Any

from pravega import naming
from pravega.protocol.framing import frame_event

from .model import StreamConfig

if TYPE_CHECKING:
    from .service import ControllerService

log = logging.getLogger(__name__)

#: Pravega's default aggregation timeout when a stream sets none.
DEFAULT_TIMEOUT_MS = 120_000
#: Seconds between two aggregation rounds.
DEFAULT_INTERVAL = 0.5
#: The writer id of the controller's appends to watermark streams.
WATERMARK_WRITER_ID = 0x5741_5445_524D_4152_4B53_0000_0000_0001
RECORD_VERSION = 1


def mark_stream(name: str) -> str:
    return f"{naming.MARK_STREAM_PREFIX}{name}"


def encode_record(lower: int, upper: int, cut: dict[int, int]) -> bytes:
    body = {"v": RECORD_VERSION, "lower": lower, "upper": upper, "cut": {str(s): o for s, o in sorted(cut.items())}}
    return json.dumps(body, separators=(",", ":")).encode()


def aggregate(marks: dict[str, Any], noted_at: dict[str, float], now: float, timeout_ms: int) -> Any:
    """(lower, upper, cut) of the marks noted within ``timeout_ms`` of ``now`` (seconds),
    or None when no writer is active. Pure: the tests call it directly."""
    limit = (timeout_ms or DEFAULT_TIMEOUT_MS) / 1000.0
    active = [m for w, m in marks.items() if now - noted_at.get(w, now) <= limit]
    if not active:
        return None
    cut: dict[int, int] = {}
    for mark in active:
        for sid, offset in mark.position.items():
            if offset > cut.get(sid, -1):
                cut[sid] = offset
    return min(m.timestamp for m in active), max(m.timestamp for m in active), cut


class WatermarkManager:
    def __init__(self, service: ControllerService, interval: float = DEFAULT_INTERVAL) -> None:
        self._service = service
        self._interval = interval
        self._task: asyncio.Task | None = None
        #: (scope, stream) -> writer -> monotonic time its last mark arrived.
        self.noted_at: dict[tuple[str, str], dict[str, float]] = {}
        #: (scope, stream) -> lower bound of the last watermark written.
        self._last: dict[tuple[str, str], int] = {}
        self._event_number: dict[str, int] = {}

    def noted(self, scope: str, name: str, writer: str) -> None:
        self.noted_at.setdefault((scope, name), {})[writer] = time.monotonic()

    def forget(self, scope: str, name: str, writer: str) -> None:
        self.noted_at.get((scope, name), {}).pop(writer, None)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.run_once()
            except Exception:  # one bad round must not stop watermarking
                log.exception("watermark round failed")

    async def run_once(self) -> int:
        """One aggregation round; returns the number of watermarks written."""
        written = 0
        now = time.monotonic()
        for scope, name in list(self._service.streams_with_marks()):
            stream = self._service.stream_record(scope, name)
            if stream is None:
                continue
            marks = self._service.writer_marks(scope, name)
            # Marks loaded at start-up count as noted then.
            noted = self.noted_at.setdefault((scope, name), {})
            for writer in marks:
                noted.setdefault(writer, now)
            found = aggregate(marks, noted, now, stream.config.timestamp_aggregation_timeout)
            if found is None:
                continue
            lower, upper, cut = found
            if lower <= self._last.get((scope, name), -(2**63)):
                continue
            await self._append(scope, name, encode_record(lower, upper, cut))
            self._last[(scope, name)] = lower
            written += 1
        return written

    async def _append(self, scope: str, name: str, record: bytes) -> None:
        service = self._service
        marks = mark_stream(name)
        if service.stream_record(scope, marks) is None:
            await service.create_stream(scope, marks, StreamConfig())
        segment_name = naming.qualified_segment_name(scope, marks, 0)
        engine = service.engine
        append_event = getattr(engine, "append_event", None)
        if append_event is not None:  # segments in container processes (cluster/store.py)
            await append_event(segment_name, WATERMARK_WRITER_ID, frame_event(record))
            return
        seg = engine.get(segment_name)
        number = self._event_number.get(segment_name)
        if number is None:
            number = max(seg.writers.get(WATERMARK_WRITER_ID, 0), 0)
        number += 1
        self._event_number[segment_name] = number
        durable = asyncio.get_running_loop().create_future()
        engine.append(seg, WATERMARK_WRITER_ID, number, frame_event(record), lambda: _done(durable))
        await durable


def _done(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)
