"""The controller's store when segments live in container processes.

:class:`ClusterStore` gives the controller the part of the :class:`~..storage.engine.Engine`
interface it uses (``execute``, ``exists``, ``get``, ``segments``, ``meta_get``,
``meta_scan``), with the controller metadata in a local engine of its own and the
segments in the containers.

A single engine runs a batch atomically; across processes that is gone, so a batch
holding segment operations runs as a recorded operation:

1. its whole batch (segment steps and metadata) is written as an *intent* to the
   controller's log and made durable;
2. each segment step is sent to its container (per container in order, containers in
   parallel); every step is idempotent (``steps.py``);
3. the metadata, the controller's view of the segments and the intent's removal are
   one batch of the controller's log.

A crash anywhere leaves either no intent (nothing happened, or everything did) or an
intent, which :meth:`recover` runs again from the start at the next start. A step that
a container refuses for good (not "already done") undoes the segments the batch created
and fails the operation; nothing of its metadata is written.

The controller's view of each segment it created (kind, sealed, start offset) is kept
in its own log (``cseg/`` records), so ``exists``/``get`` answer without asking the
containers; lengths are fetched on demand (:meth:`refresh`).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import itertools
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pravega.client.connection import next_request_id
from pravega.protocol import commands as c

from ..storage import errors as store_errors
from ..storage import ops
from ..storage.engine import Engine
from ..storage.ops import Op, PutMeta
from ..storage.segments import APPENDED_BYTES_ATTRIBUTE, APPENDED_EVENTS_ATTRIBUTE
from .placement import container_of
from .steps import ContainerClient, StepFailed, run_step

log = logging.getLogger(__name__)

INTENT_PREFIX = "cintent/"
SEGMENT_PREFIX = "cseg/"


@dataclass
class SegmentView:
    """What the controller knows of a segment in a container."""

    name: str
    kind: int = int(ops.SegmentKind.STREAM)
    sealed: bool = False
    start_offset: int = 0
    #: Filled by :meth:`ClusterStore.refresh` (0 until then).
    length: int = 0
    writers: dict[int, int] = field(default_factory=dict)
    #: Append counters for auto-scaling (:meth:`ClusterStore.refresh` with ``rates``):
    #: monotonic here, even when a restarted container starts counting from zero.
    appended_events: int = 0
    appended_bytes: int = 0
    reported: tuple[int, int] = (0, 0)

    def count(self, events: int, size: int) -> None:
        last_events, last_bytes = self.reported
        self.appended_events += events - last_events if events >= last_events else events
        self.appended_bytes += size - last_bytes if size >= last_bytes else size
        self.reported = (events, size)

    @property
    def durable_length(self) -> int:
        return self.length

    @property
    def durable_sealed(self) -> bool:
        return self.sealed

    def to_json(self) -> bytes:
        return json.dumps({"k": self.kind, "s": self.sealed, "o": self.start_offset}).encode()

    @classmethod
    def from_json(cls, name: str, raw: bytes) -> SegmentView:
        d = json.loads(raw)
        return cls(name, int(d["k"]), bool(d["s"]), int(d["o"]))


class ClusterStore:
    def __init__(self, meta: Engine, client: ContainerClient) -> None:
        self.meta = meta
        self.client = client
        self.segments: dict[str, SegmentView] = {}
        self._seq = itertools.count()
        self.fatal = None
        for key, value in meta.meta_scan(SEGMENT_PREFIX):
            name = key[len(SEGMENT_PREFIX) :]
            self.segments[name] = SegmentView.from_json(name, value)

    # -- the Engine interface the controller uses ------------------------------------

    def exists(self, name: str) -> bool:
        return name in self.segments

    def get(self, name: str) -> SegmentView:
        seg = self.segments.get(name)
        if seg is None:
            raise store_errors.NoSuchSegment(name, "no such segment")
        return seg

    def meta_get(self, key: str) -> bytes | None:
        return self.meta.meta_get(key)

    def meta_scan(self, prefix: str) -> Iterator[tuple[str, bytes]]:
        return self.meta.meta_scan(prefix)

    async def refresh(self, names: list[str], rates: bool = False) -> None:
        """Fetch the current length, start offset and seal of ``names`` from their
        containers (with ``rates``: their append counters instead)."""

        async def one(name: str) -> None:
            seg = self.segments.get(name)
            if seg is None:
                return
            if rates:
                counters = []
                for attribute in (APPENDED_EVENTS_ATTRIBUTE, APPENDED_BYTES_ATTRIBUTE):
                    reply = await self.client.request(name, functools.partial(_get_attribute, name, attribute))
                    if not isinstance(reply, c.SegmentAttribute):
                        return
                    counters.append(reply.value)
                seg.count(counters[0], counters[1])
                return
            reply = await self.client.request(name, lambda rid: c.GetStreamSegmentInfo(rid, name, ""))
            if isinstance(reply, c.StreamSegmentInfo) and reply.exists:
                seg.length = reply.write_offset
                seg.start_offset = max(seg.start_offset, reply.start_offset)
                seg.sealed = seg.sealed or reply.is_sealed

        await asyncio.gather(*(one(n) for n in names))

    async def execute(self, batch: list[Op]) -> list[Any]:
        steps = [op for op in batch if not isinstance(op, PutMeta)]
        if not steps:
            return await self.meta.execute(batch)
        key = f"{INTENT_PREFIX}{time.time_ns():020d}-{next(self._seq)}"
        await self.meta.execute([PutMeta(key, _encode(batch))])
        return await self._finish(key, batch)

    async def recover(self) -> None:
        """Finish (or undo) every operation a crash interrupted."""
        for key, value in list(self.meta.meta_scan(INTENT_PREFIX)):
            batch = _decode(value)
            try:
                await self._finish(key, batch)
                log.info("completed interrupted operation %s", key)
            except StepFailed:
                log.exception("cannot complete interrupted operation %s; undone", key)

    async def append_event(self, segment: str, writer_id: int, framed: bytes) -> None:
        """Append one framed event as ``writer_id`` (the controller's own writes: watermarks)."""
        conn = await self.client.pool.dedicated(self.client.endpoint_of(segment))
        try:
            setup = await conn.request(self.client.sign(c.SetupAppend(next_request_id(), writer_id, segment, "")))
            if not isinstance(setup, c.AppendSetup):
                raise StepFailed(segment, f"append refused: {type(setup).__name__}")
            number = max(setup.last_event_number, 0) + 1
            block = c.AppendBlockEnd(writer_id, len(framed), framed, 1, number, next_request_id())
            reply = await conn.request(block)
            if not isinstance(reply, c.DataAppended):
                raise StepFailed(segment, f"append refused: {type(reply).__name__}")
        finally:
            conn.close()

    def close(self) -> None:
        self.client.close()

    # -- running a recorded batch ----------------------------------------------------

    async def _finish(self, key: str, batch: list[Op]) -> list[Any]:
        steps: list[Op] = [op for op in batch if not isinstance(op, PutMeta)]
        by_container: dict[int, list[tuple[int, Op]]] = {}
        for i, op in enumerate(steps):
            by_container.setdefault(self._container(op), []).append((i, op))
        results: list[Any] = [None] * len(steps)

        async def run(queue: list[tuple[int, Op]]) -> None:
            for i, op in queue:
                results[i] = await run_step(self.client, op)

        outcomes = await asyncio.gather(*(run(q) for q in by_container.values()), return_exceptions=True)
        failure = next((o for o in outcomes if isinstance(o, BaseException)), None)
        if isinstance(failure, StepFailed):
            await self._undo(key, steps)
            raise failure
        if failure is not None:
            # Unavailable container: the intent stays and the next start finishes it.
            raise failure
        views = self._views_after(steps)
        record: list[Op] = [op for op in batch if isinstance(op, PutMeta)]
        record += [PutMeta(SEGMENT_PREFIX + n, None if v is None else v.to_json()) for n, v in views.items()]
        record.append(PutMeta(key, None))
        await self.meta.execute(record)
        for name, view in views.items():
            if view is None:
                self.segments.pop(name, None)
            else:
                self.segments[name] = view
        return results

    async def _undo(self, key: str, steps: list[Op]) -> None:
        created = [op.name for op in steps if isinstance(op, ops.CreateSegment) and op.name not in self.segments]
        for name in created:
            try:
                await run_step(self.client, ops.DeleteSegment(name))
            except store_errors.StoreError:
                log.exception("cannot undo the creation of %s", name)
        await self.meta.execute([PutMeta(key, None)])

    def _container(self, op: Op) -> int:
        name = op.source if isinstance(op, ops.MergeSegments) else op.name  # type: ignore[union-attr]
        return container_of(name, self.client.count)

    def _views_after(self, steps: list[Op]) -> dict[str, SegmentView | None]:
        """The controller's segment views changed by ``steps`` (None: gone)."""
        views: dict[str, SegmentView | None] = {}

        def current(name: str) -> SegmentView | None:
            if name in views:
                return views[name]
            seg = self.segments.get(name)
            return None if seg is None else SegmentView(seg.name, seg.kind, seg.sealed, seg.start_offset)

        for op in steps:
            if isinstance(op, ops.CreateSegment):
                views[op.name] = current(op.name) or SegmentView(op.name, int(op.kind))
            elif isinstance(op, ops.SealSegment):
                seg = current(op.name)
                if seg is not None:
                    seg.sealed = True
                    views[op.name] = seg
            elif isinstance(op, ops.DeleteSegment):
                views[op.name] = None
            elif isinstance(op, ops.TruncateSegment):
                seg = current(op.name)
                if seg is not None:
                    seg.start_offset = max(seg.start_offset, op.offset)
                    views[op.name] = seg
            elif isinstance(op, ops.MergeSegments):
                views[op.source] = None
        return views


def _get_attribute(name: str, attribute: int, request_id: int) -> c.Command:
    return c.GetSegmentAttribute(request_id, name, attribute, "")


def _encode(batch: list[Op]) -> bytes:
    return base64.b64encode(b"".join(ops.encode_batch(batch)))


def _decode(value: bytes) -> list[Op]:
    return ops.decode_batch(memoryview(base64.b64decode(value)))
