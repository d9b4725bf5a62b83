"""Segment-store request handling: one wire command in, one reply out.

Handlers receive a decoded command and either return the reply at once, or return
an awaitable (for work that must wait for the log: batches, read barriers, parked
tail reads). The connection (``transport/tcp.py``) sends replies strictly in request
order.

Appends are the hot path and are handled per connection (``service/appends.py``).
Store errors are answered through the one mapping in ``service/replies.py``.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from time import perf_counter
from typing import Any

from pravega.protocol import commands as c

from ..storage import errors
from ..storage.engine import Engine
from ..storage.ops import (
    NO_VERSION,
    CreateSegment,
    DeleteSegment,
    MergeSegments,
    SealSegment,
    SegmentKind,
    TableRemove,
    TableUpdate,
    TruncateSegment,
    UpdateAttribute,
)
from ..storage.segments import MIN_EVENT_NUMBER, Segment, Table
from .replies import ILLEGAL_ARGUMENT, UNSPECIFIED, closes_connection, error_reply

log = logging.getLogger(__name__)

Reply = c.Command | None
Result = Reply | Awaitable[Reply]


@dataclass
class StoreConfig:
    #: How long a read at the tail of an open segment waits for data (< the client's 30 s).
    tail_read_wait: float = 2.0
    #: Largest data returned by one read (a reply frame must stay under 16 MiB).
    max_read_size: int = 8 * 1024 * 1024
    #: Largest number of entries or keys one table read returns.
    max_table_page: int = 1000


class SegmentStore:
    """Stateless request handlers over the engine (state lives in the engine)."""

    def __init__(self, engine: Engine, config: StoreConfig | None = None) -> None:
        self.engine = engine
        self.config = config or StoreConfig()
        self.loop = engine.loop
        # Each handler takes the command type it is registered for.
        self._handlers: dict[type[c.Command], Callable[[Any], Result]] = {
            c.ReadSegment: self.read_segment,
            c.GetStreamSegmentInfo: self.get_info,
            c.CreateSegment: self.create_segment,
            c.CreateTableSegment: self.create_table_segment,
            c.CreateTransientSegment: self.create_transient_segment,
            c.SealSegment: self.seal_segment,
            c.SealTableSegment: self.seal_segment,
            c.DeleteSegment: self.delete_segment,
            c.DeleteTableSegment: self.delete_table_segment,
            c.TruncateSegment: self.truncate_segment,
            c.MergeSegments: self.merge_segments,
            c.MergeSegmentsBatch: self.merge_segments_batch,
            c.UpdateSegmentPolicy: self.update_policy,
            c.GetSegmentAttribute: self.get_attribute,
            c.UpdateSegmentAttribute: self.update_attribute,
            c.GetTableSegmentInfo: self.get_table_info,
            c.UpdateTableEntries: self.update_table,
            c.RemoveTableKeys: self.remove_table_keys,
            c.ReadTable: self.read_table,
            c.ReadTableKeys: self.read_table_keys,
            c.ReadTableEntries: self.read_table_entries,
            c.ReadTableEntriesDelta: self.read_table_delta,
            c.FlushToStorage: self.flush_to_storage,
            c.KeepAlive: lambda cmd: c.KeepAlive(),
        }

    def handler(self, cmd_type: type[c.Command]) -> Callable[[Any], Result] | None:
        return self._handlers.get(cmd_type)

    # -- errors --------------------------------------------------------------------

    async def _execute(self, cmd: c.Command, ops: list, ok: Callable[[list], c.Command]) -> c.Command:
        try:
            results = await self.engine.execute(ops)
        except errors.StoreError as exc:
            if closes_connection(exc):
                raise  # answered by the connection, which then closes
            return error_reply(cmd.request_id, exc)
        return ok(results)

    def _segment(self, cmd: c.Command, name: str) -> Segment | c.Command:
        seg = self.engine.segments.get(name)
        if seg is None:
            return c.NoSuchSegment(cmd.request_id, name, "", -1)
        return seg

    async def _after_barrier(self, make: Callable[[], c.Command]) -> c.Command:
        await self.engine.barrier()
        return make()

    def _durable(self, make: Callable[[], c.Command]) -> Result:
        """Answer from state that may include writes not yet synced: wait for them."""
        if self.engine.log.durable_lsn >= self.engine.log.lsn:
            return make()
        return self._after_barrier(make)

    # -- reads ---------------------------------------------------------------------

    def read_segment(self, cmd: c.ReadSegment) -> Result:
        seg = self._segment(cmd, cmd.segment)
        if not isinstance(seg, Segment):
            return c.NoSuchSegment(cmd.request_id, cmd.segment, "", cmd.offset)
        reply = self._try_read(seg, cmd, perf_counter())
        if reply is not None:
            return reply
        return self._park_read(seg, cmd)

    def _try_read(
        self, seg: Segment, cmd: c.ReadSegment, started: float | None = None
    ) -> c.Command | Awaitable[c.Command] | None:
        """The reply for a read (or an awaitable of it), or None if it must wait for data.

        Data served is counted; the latency is recorded when ``started`` is given (not for
        reads that waited at the tail: they measure the writers, not the store)."""
        offset = cmd.offset
        if seg.deleted:
            return c.NoSuchSegment(cmd.request_id, cmd.segment, "", offset)
        if offset < seg.start_offset:
            return c.SegmentIsTruncated(cmd.request_id, cmd.segment, seg.start_offset, "", offset)
        end = seg.durable_length
        if offset < end:
            size = max(0, min(cmd.suggested_length, self.config.max_read_size))
            data = self.engine.read(seg, offset, size or 1)
            if data is None:  # in a remote tier-2 chunk
                return self._read_tier2(seg, cmd, size or 1, started)
            self._served(seg, len(data), started)
            return c.SegmentRead(cmd.segment, offset, offset + len(data) >= end, False, data, cmd.request_id)
        if seg.durable_sealed:
            if offset > end:
                return c.ErrorMessage(
                    cmd.request_id,
                    cmd.segment,
                    f"read offset {offset} is beyond the end {end} of a sealed segment",
                    ILLEGAL_ARGUMENT,
                )
            return c.SegmentRead(cmd.segment, offset, True, True, b"", cmd.request_id)
        return None

    def _served(self, seg: Segment, size: int, started: float | None) -> None:
        seg.read_bytes += size
        if started is not None:
            self.engine.stats.read_latency.observe((perf_counter() - started) * 1000.0)

    async def _read_tier2(self, seg: Segment, cmd: c.ReadSegment, size: int, started: float | None) -> c.Command:
        try:
            data = await self.engine.read_async(seg, cmd.offset, size)
        except errors.SegmentTruncated as exc:
            return c.SegmentIsTruncated(cmd.request_id, cmd.segment, exc.start_offset, "", cmd.offset)
        except OSError as exc:
            # Tier 2 unreachable: an empty read makes the client ask again, as after a
            # tail wait; nothing is lost and the reader is not failed.
            log.warning("%s: reading tier 2 at offset %d failed: %s", cmd.segment, cmd.offset, exc)
            data = b""
        self._served(seg, len(data), started)
        end = seg.durable_length
        return c.SegmentRead(cmd.segment, cmd.offset, cmd.offset + len(data) >= end, False, data, cmd.request_id)

    def _park_read(self, seg: Segment, cmd: c.ReadSegment) -> Awaitable[c.Command]:
        """Hold a read at the tail until data arrives, the segment ends, or a timeout."""
        fut: asyncio.Future[c.Command] = self.loop.create_future()

        def timeout() -> None:
            if not fut.done():
                try:
                    seg.waiters.remove(wake)
                except ValueError:
                    pass
                fut.set_result(c.SegmentRead(cmd.segment, cmd.offset, True, False, b"", cmd.request_id))

        def wake() -> None:
            if fut.done():
                return
            reply = self._try_read(seg, cmd)
            if reply is None:
                seg.waiters.append(wake)
                return
            timer.cancel()
            if isinstance(reply, c.Command):
                fut.set_result(reply)
            else:  # tiered meanwhile: read it from tier 2
                task = asyncio.ensure_future(reply)
                task.add_done_callback(lambda t: _pass_on(t, fut))

        timer = self.loop.call_later(self.config.tail_read_wait, timeout)
        seg.waiters.append(wake)
        return fut

    def get_info(self, cmd: c.GetStreamSegmentInfo) -> Result:
        seg = self._segment(cmd, cmd.segment_name)
        if not isinstance(seg, Segment):
            return seg
        return c.StreamSegmentInfo(
            cmd.request_id,
            cmd.segment_name,
            True,
            seg.durable_sealed,
            False,
            seg.last_modified,
            seg.durable_length,
            seg.start_offset,
        )

    # -- segment life cycle --------------------------------------------------------

    def create_segment(self, cmd: c.CreateSegment) -> Result:
        op = CreateSegment(cmd.segment, SegmentKind.STREAM, cmd.scale_type, cmd.target_rate)
        return self._execute(cmd, [op], lambda _: c.SegmentCreated(cmd.request_id, cmd.segment))

    def create_table_segment(self, cmd: c.CreateTableSegment) -> Result:
        op = CreateSegment(cmd.segment, SegmentKind.TABLE)
        return self._execute(cmd, [op], lambda _: c.SegmentCreated(cmd.request_id, cmd.segment))

    def create_transient_segment(self, cmd: c.CreateTransientSegment) -> Result:
        parent = self._segment(cmd, cmd.parent_segment)
        if not isinstance(parent, Segment):
            return parent
        name = f"{cmd.parent_segment}#transient.{cmd.writer_id:032x}.{uuid.uuid4().hex}"
        op = CreateSegment(name, SegmentKind.TRANSIENT)
        return self._execute(cmd, [op], lambda _: c.SegmentCreated(cmd.request_id, name))

    def seal_segment(self, cmd: c.SealSegment) -> Result:
        return self._execute(cmd, [SealSegment(cmd.segment)], lambda _: c.SegmentSealed(cmd.request_id, cmd.segment))

    def delete_segment(self, cmd: c.DeleteSegment) -> Result:
        return self._execute(cmd, [DeleteSegment(cmd.segment)], lambda _: c.SegmentDeleted(cmd.request_id, cmd.segment))

    def delete_table_segment(self, cmd: c.DeleteTableSegment) -> Result:
        op = DeleteSegment(cmd.segment, must_be_empty=cmd.must_be_empty)
        return self._execute(cmd, [op], lambda _: c.SegmentDeleted(cmd.request_id, cmd.segment))

    def truncate_segment(self, cmd: c.TruncateSegment) -> Result:
        op = TruncateSegment(cmd.segment, cmd.truncation_offset)
        return self._execute(cmd, [op], lambda _: c.SegmentTruncated(cmd.request_id, cmd.segment))

    def merge_segments(self, cmd: c.MergeSegments) -> Result:
        ops: list = [MergeSegments(cmd.target, cmd.source)]
        for update in cmd.attribute_updates:
            ops.append(UpdateAttribute(cmd.target, update.attribute_id, update.new_value, NO_VERSION))
        return self._execute(
            cmd, ops, lambda results: c.SegmentsMerged(cmd.request_id, cmd.target, cmd.source, results[0])
        )

    def merge_segments_batch(self, cmd: c.MergeSegmentsBatch) -> Result:
        ops = [MergeSegments(cmd.target_segment_id, source) for source in cmd.source_segment_ids]
        return self._execute(
            cmd,
            ops,
            lambda results: c.SegmentsBatchMerged(
                cmd.request_id, cmd.target_segment_id, tuple(cmd.source_segment_ids), tuple(results)
            ),
        )

    def update_policy(self, cmd: c.UpdateSegmentPolicy) -> Result:
        seg = self._segment(cmd, cmd.segment)
        if not isinstance(seg, Segment):
            return seg
        # Only used for auto-scaling hints; kept in memory.
        seg.scale_type, seg.target_rate = cmd.scale_type, cmd.target_rate
        return c.SegmentPolicyUpdated(cmd.request_id, cmd.segment)

    # -- attributes ----------------------------------------------------------------

    def get_attribute(self, cmd: c.GetSegmentAttribute) -> Result:
        seg = self._segment(cmd, cmd.segment_name)
        if not isinstance(seg, Segment):
            return seg
        return self._durable(lambda: c.SegmentAttribute(cmd.request_id, seg.attribute(cmd.attribute_id)))

    def update_attribute(self, cmd: c.UpdateSegmentAttribute) -> Result:
        seg = self._segment(cmd, cmd.segment_name)
        if not isinstance(seg, Segment):
            return seg
        # Compare-and-set; Long.MIN_VALUE as expected value means "not set".
        if seg.attribute(cmd.attribute_id) != cmd.expected_value:
            return self._durable(lambda: c.SegmentAttributeUpdated(cmd.request_id, False))
        op = UpdateAttribute(cmd.segment_name, cmd.attribute_id, cmd.new_value, NO_VERSION)
        return self._execute(cmd, [op], lambda _: c.SegmentAttributeUpdated(cmd.request_id, True))

    # -- tables --------------------------------------------------------------------

    def _table(self, cmd: c.Command, name: str) -> Table | c.Command:
        """The table of segment ``name``, or the reply saying why there is none."""
        seg = self._segment(cmd, name)
        if not isinstance(seg, Segment):
            return seg
        if seg.table is None:
            return c.ErrorMessage(cmd.request_id, name, "not a table segment", ILLEGAL_ARGUMENT)
        return seg.table

    def get_table_info(self, cmd: c.GetTableSegmentInfo) -> Result:
        table = self._table(cmd, cmd.segment_name)
        if not isinstance(table, Table):
            return table
        return self._durable(
            lambda: c.TableSegmentInfo(cmd.request_id, cmd.segment_name, 0, table.next_position, len(table.entries), 0)
        )

    def update_table(self, cmd: c.UpdateTableEntries) -> Result:
        entries = tuple((e.key, e.version, e.value) for e in cmd.table_entries)
        op = TableUpdate(cmd.segment, entries, cmd.table_segment_offset)
        return self._execute(cmd, [op], lambda results: c.TableEntriesUpdated(cmd.request_id, results[0]))

    def remove_table_keys(self, cmd: c.RemoveTableKeys) -> Result:
        op = TableRemove(cmd.segment, tuple((k.data, k.version) for k in cmd.keys), cmd.table_segment_offset)
        return self._execute(cmd, [op], lambda _: c.TableKeysRemoved(cmd.request_id, cmd.segment))

    def read_table(self, cmd: c.ReadTable) -> Result:
        table = self._table(cmd, cmd.segment)
        if not isinstance(table, Table):
            return table

        def make() -> c.Command:
            out = []
            for key in cmd.keys:
                found = table.entries.get(key.data)
                if found is None:
                    out.append(c.TableEntry(key.data, -1, b""))
                else:
                    out.append(c.TableEntry(key.data, found[0], found[1]))
            return c.TableRead(cmd.request_id, cmd.segment, tuple(out))

        return self._durable(make)

    def _page(
        self, table: Table, token: bytes, count: int, prefix: bytes
    ) -> tuple[list[tuple[bytes, int, bytes]], bytes]:
        """Live entries in write order from a continuation token (the next position)."""
        start = int.from_bytes(token, "big") if token else 0
        count = max(1, min(count, self.config.max_table_page))
        out: list[tuple[bytes, int, bytes]] = []
        position = start
        while len(out) < count:
            page, position = table.delta(position, count)
            out.extend(e for e in page if e[0].startswith(prefix))
            if not page or position >= table.next_position:
                break
        return out, position.to_bytes(8, "big")

    def read_table_keys(self, cmd: c.ReadTableKeys) -> Result:
        table = self._table(cmd, cmd.segment)
        if not isinstance(table, Table):
            return table

        def make() -> c.Command:
            page, token = self._page(table, cmd.continuation_token, cmd.suggested_key_count, cmd.prefix_filter)
            keys = tuple(c.TableKey(k, v) for k, v, _ in page)
            return c.TableKeysRead(cmd.request_id, cmd.segment, keys, token)

        return self._durable(make)

    def read_table_entries(self, cmd: c.ReadTableEntries) -> Result:
        table = self._table(cmd, cmd.segment)
        if not isinstance(table, Table):
            return table

        def make() -> c.Command:
            page, token = self._page(table, cmd.continuation_token, cmd.suggested_entry_count, cmd.prefix_filter)
            entries = tuple(c.TableEntry(k, v, val) for k, v, val in page)
            return c.TableEntriesRead(cmd.request_id, cmd.segment, entries, token)

        return self._durable(make)

    def read_table_delta(self, cmd: c.ReadTableEntriesDelta) -> Result:
        table = self._table(cmd, cmd.segment)
        if not isinstance(table, Table):
            return table

        def make() -> c.Command:
            if cmd.from_position > table.next_position or cmd.from_position < 0:
                return c.ErrorMessage(
                    cmd.request_id,
                    cmd.segment,
                    f"fromPosition {cmd.from_position} is beyond the table's length {table.next_position}",
                    ILLEGAL_ARGUMENT,
                )
            count = max(1, min(cmd.suggested_entry_count, self.config.max_table_page))
            page, last = table.delta(cmd.from_position, count)
            entries = tuple(c.TableEntry(k, v, val) for k, v, val in page)
            return c.TableEntriesDeltaRead(
                cmd.request_id, cmd.segment, entries, False, last >= table.next_position, last
            )

        return self._durable(make)

    def flush_to_storage(self, cmd: c.FlushToStorage) -> Result:
        return self._after_barrier(lambda: c.StorageFlushed(cmd.request_id))


def _pass_on(task: asyncio.Future[c.Command], fut: asyncio.Future[c.Command]) -> None:
    """Resolve ``fut`` with the outcome of ``task`` (unless it is done already)."""
    if fut.done():
        return
    if task.cancelled():
        fut.cancel()
    elif (exc := task.exception()) is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(task.result())


__all__ = ["SegmentStore", "StoreConfig", "MIN_EVENT_NUMBER", "UNSPECIFIED", "ILLEGAL_ARGUMENT"]
