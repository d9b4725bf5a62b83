"""Shared helpers of the benchmarks: paths, percentiles, a results table and a raw wire writer.

Importing this module makes ``core/`` and ``server/`` importable (and visible to child processes
through ``PYTHONPATH``), so the benchmarks run from a plain checkout:
``python benchmarks/write_read.py``.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _p in (ROOT / "server", ROOT / "core"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(ROOT / "core"), str(ROOT / "server")] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
)

from pravega.protocol import (  # noqa: E402
    NEED_DATA,
    AppendBlockEnd,
    AppendSetup,
    Connection,
    DataAppended,
    Hello,
    Role,
    SetupAppend,
)
from pravega.protocol import frame_event as event_frame  # noqa: E402,F401 - used by the benchmarks

MB = 1_000_000


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in [0, 100]) of unsorted ``values``; nan when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return ordered[rank]


@dataclass
class Row:
    name: str
    value: str
    target: str = ""
    note: str = ""


@dataclass
class Table:
    title: str
    rows: list[Row] = field(default_factory=list)

    def add(self, name: str, value: str, target: str = "", note: str = "") -> None:
        self.rows.append(Row(name, value, target, note))
        print(f"  {name}: {value}" + (f"   (target {target})" if target else ""), flush=True)

    def render(self) -> str:
        headers = ("measurement", "result", "target", "how")
        cells = [headers] + [(r.name, r.value, r.target, r.note) for r in self.rows]
        widths = [max(len(c[i]) for c in cells) for i in range(4)]
        line = "+".join("-" * (w + 2) for w in widths)
        out = [self.title, line]
        for i, c in enumerate(cells):
            out.append("|".join(f" {v:<{w}} " for v, w in zip(c, widths)))
            if i == 0:
                out.append(line)
        out.append(line)
        return "\n".join(out)


class RawWriter:
    """One writer id on one connection, appending with our sans-I/O codec over asyncio.

    ``append(data, n)`` sends one AppendBlockEnd of ``n`` pre-framed events and returns a future
    resolved with the ack time (`time.perf_counter`) when the cumulative DataAppended covering it
    arrives.
    """

    def __init__(self, host: str, port: int, segment: str) -> None:
        self.host, self.port, self.segment = host, port, segment
        self.writer_id = uuid.uuid4().int
        self.conn = Connection(Role.CLIENT)
        self.event_number = 0
        self.request_id = 0
        self.inflight: deque[tuple[int, asyncio.Future]] = deque()
        self._reader_task: asyncio.Task | None = None

    async def open(self) -> RawWriter:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            import socket

            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.request_id += 1
        self.writer.write(
            self.conn.send(Hello(15, 5))
            + self.conn.send(SetupAppend(self.request_id, self.writer_id, self.segment, ""))
        )
        hello = await self._next()
        assert isinstance(hello, Hello), hello
        setup = await self._next()
        assert isinstance(setup, AppendSetup), setup
        self._reader_task = asyncio.ensure_future(self._read_acks())
        return self

    async def _next(self):
        while True:
            event = self.conn.next_event()
            if event is not NEED_DATA:
                return event
            data = await self.reader.read(1 << 20)
            self.conn.receive_data(data)

    async def _read_acks(self) -> None:
        while True:
            event = await self._next()
            if not isinstance(event, DataAppended):
                raise RuntimeError(f"unexpected reply {event!r}")
            now = time.perf_counter()
            while self.inflight and self.inflight[0][0] <= event.event_number:
                _, fut = self.inflight.popleft()
                if not fut.done():
                    fut.set_result(now)

    def append(self, data: bytes, n: int) -> asyncio.Future:
        self.event_number += n
        self.request_id += 1
        fut = asyncio.get_running_loop().create_future()
        self.inflight.append((self.event_number, fut))
        self.writer.write(
            self.conn.send(AppendBlockEnd(self.writer_id, len(data), data, n, self.event_number, self.request_id))
        )
        return fut

    async def drain(self) -> None:
        await self.writer.drain()

    async def close(self) -> None:
        if self._reader_task is not None:
            self._reader_task.cancel()
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except Exception:
            pass


def new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop  # type: ignore[import-not-found]

        return uvloop.new_event_loop()
    except ImportError:
        return asyncio.new_event_loop()


def now() -> float:
    return time.perf_counter()
