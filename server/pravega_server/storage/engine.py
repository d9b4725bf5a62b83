"""The store: segments, table segments and controller metadata over one log.

All state changes happen on the event-loop thread, in log order:

1. an operation is validated against the pending view (nothing is written if any
   operation of a batch fails);
2. its record is written to the log (page cache) and applied to the pending view;
3. when the log reports the record durable, the durable view moves on, waiting
   readers wake up and the caller is answered.

Recovery loads the newest checkpoint (``checkpoint.py``) and replays the log after it
through the same ``_apply`` functions, so a restarted store has exactly the state whose
records were durable. A background task (``tiering.py``) moves segment data from the
log into tier-2 chunks, writes checkpoints and deletes log files nobody needs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..stats import StoreStats
from . import checkpoint, errors
from .lock import DataDirLock
from .lts import ChunkNotFound, ChunkStore
from .ops import (
    APPEND_HEADER,
    NO_VERSION,
    NOT_EXISTS,
    CreateSegment,
    DeleteSegment,
    MergeSegments,
    Op,
    PutMeta,
    SealSegment,
    TableRemove,
    TableUpdate,
    TierSegment,
    TruncateSegment,
    UpdateAttribute,
    decode_batch,
    encode_batch,
)
from .read_cache import ReadCache
from .repair_files import finish_repair
from .segments import MIN_EVENT_NUMBER, Segment, Table
from .wal import format as fmt
from .wal.reader import Record, scan
from .wal.writer import LogClosedError, LogUnavailable, WalWriter

if TYPE_CHECKING:
    from .tiering import Tiering, TieringConfig

log = logging.getLogger(__name__)

_U64 = (1 << 64) - 1


class _MemoryLog:
    """Stand-in for the log in ``--in-memory`` mode: everything is durable at once,
    but callbacks still run after the current step, as with the real log."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.lsn = 0

    @property
    def durable_lsn(self) -> int:
        return self.lsn

    unavailable: str | None = None

    def write(self, rtype: int, parts: list[bytes | memoryview], *, reserve_ok: bool = False) -> tuple[None, Any, int]:
        self.lsn += 1
        return None, None, self.lsn

    def when_durable(self, lsn: int, callback: Callable[[], None]) -> None:
        self._loop.call_soon(callback)

    def barrier(self, callback: Callable[[], None]) -> None:
        self._loop.call_soon(callback)

    def close(self) -> None:
        pass


class Engine:
    """Use :meth:`open`; then every method must be called on the loop's thread."""

    def __init__(self, data_dir: Path | None, loop: asyncio.AbstractEventLoop, fsync: bool) -> None:
        self.data_dir = data_dir
        self.loop = loop
        self.fsync = fsync
        self.segments: dict[str, Segment] = {}
        self.by_id: dict[int, Segment] = {}
        self.meta: dict[str, bytes] = {}
        self.next_id = 0
        self._read_fds: dict[int, int] = {}
        self.log: WalWriter | _MemoryLog
        #: Latencies and group-commit sizes measured as the store serves (see ``stats``).
        self.stats = StoreStats()
        self.fatal: BaseException | None = None
        #: Tier 2, when tiering is on (see tiering.py).
        self.chunks: ChunkStore | None = None
        #: Chunks no longer referenced by the operations being applied; handed to
        #: ``on_garbage`` once those operations are durable.
        self._doomed: list[str] = []
        self.on_garbage: Callable[[list[str]], None] | None = None
        #: LSN of the checkpoint recovery started from (0: none).
        self.checkpoint_lsn = 0
        #: Set by the tiering task while the untiered log exceeds its bound.
        self.log_full = False
        #: Blocks of remote tier-2 chunks (None for local stores: the page cache does it).
        self.read_cache: ReadCache | None = None
        self._tiering: Tiering | None = None
        self._lock: DataDirLock | None = None

    # -- life cycle ----------------------------------------------------------------

    @classmethod
    async def open(
        cls,
        data_dir: Path | None,
        *,
        fsync: bool = True,
        file_size: int = fmt.DEFAULT_FILE_SIZE,
        from_lsn: int = 0,
        on_fatal: Callable[[BaseException], None] | None = None,  # unused: the log no longer fails for good
        preallocate: bool = True,
        lock: bool = True,
        chunks: ChunkStore | None = None,
        tiering: TieringConfig | None = None,
    ) -> Engine:
        """Recover the store from ``data_dir`` (None: in memory).

        Takes the data directory's lock (:class:`~.lock.DataDirLocked` if another process
        holds it) and raises :class:`~.wal.reader.CorruptLogError` without changing
        anything if the log is damaged below what it proves durable (see ``wal.reader``).
        Recovery starts from the newest checkpoint (``checkpoint.py``), if any.

        ``chunks`` is tier 2 and ``tiering`` a :class:`~.tiering.TieringConfig`; with
        both, a background task tiers data, checkpoints and trims the log.
        """
        loop = asyncio.get_running_loop()
        engine = cls(data_dir, loop, fsync)
        if data_dir is None:
            engine.log = _MemoryLog(loop)
            return engine
        data_dir.mkdir(parents=True, exist_ok=True)
        if lock:
            engine._lock = DataDirLock.acquire(data_dir)
        try:
            engine.chunks = chunks
            if chunks is not None and not chunks.local:
                engine.read_cache = ReadCache(chunks)
            engine._recover(data_dir, from_lsn, file_size, preallocate)
        except BaseException:
            engine._release_lock()
            raise
        if tiering is not None and chunks is not None:
            from .tiering import Tiering

            engine._tiering = Tiering(engine, tiering)
            engine._tiering.start()
        return engine

    def _recover(self, data_dir: Path, from_lsn: int, file_size: int, preallocate: bool) -> None:
        wal_dir = data_dir / "wal"
        finish_repair(data_dir)
        wal_dir.mkdir(exist_ok=True)
        started = time.monotonic()
        state = checkpoint.load_newest(data_dir)
        if state is not None:
            self._install(state)
            from_lsn = self.checkpoint_lsn = max(from_lsn, state.lsn)
        recovery = scan(wal_dir, self._replay, from_lsn=from_lsn, report=log.info)
        if recovery.next_lsn < from_lsn:
            raise checkpoint.CorruptCheckpointError(
                f"the checkpoint is at LSN {from_lsn} but the log ends at {recovery.next_lsn}"
            )
        self._doomed.clear()  # the startup sweep of the tiering task deletes them
        if recovery.records or state is not None:
            log.info(
                "recovered from the checkpoint at LSN %d and %d log records (%d segments) in %.3f s",
                from_lsn,
                recovery.records,
                len(self.segments),
                time.monotonic() - started,
            )
        self.log = WalWriter(
            wal_dir,
            recovery.next_lsn,
            # A format-1 tail file is left as it is: new records go to a format-2 file.
            tail_base=None if recovery.tail_is_v1 else recovery.tail_base,
            loop=self.loop,
            fsync=self.fsync,
            file_size=file_size,
            preallocate=preallocate,
            durable_lsn=recovery.durable_lsn,
            stats=self.stats,
        )

    def _install(self, state: checkpoint.State) -> None:
        self.next_id = state.next_id
        self.meta = state.meta
        for seg in state.segments:
            self.segments[seg.name] = seg
            self.by_id[seg.id] = seg

    def close(self) -> None:
        if self._tiering is not None:
            self._tiering.stop()
            self._tiering = None
        self.log.close()
        if self.chunks is not None:
            self.chunks.close()
        for fd in self._read_fds.values():
            os.close(fd)
        self._read_fds.clear()
        self._release_lock()

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    # -- queries (pending view unless stated) --------------------------------------

    def get(self, name: str) -> Segment:
        seg = self.segments.get(name)
        if seg is None:
            raise errors.NoSuchSegment(name, "no such segment")
        return seg

    def exists(self, name: str) -> bool:
        return name in self.segments

    async def refresh(self, names: list[str], rates: bool = False) -> None:
        """Bring the state of ``names`` up to date: a local engine always is (the
        controller's store for segments in containers fetches it, ``cluster/store.py``)."""

    def meta_get(self, key: str) -> bytes | None:
        return self.meta.get(key)

    def meta_scan(self, prefix: str) -> Iterator[tuple[str, bytes]]:
        for key in sorted(k for k in self.meta if k.startswith(prefix)):
            yield key, self.meta[key]

    async def barrier(self) -> None:
        """Wait until everything written so far is durable (a read barrier)."""
        if self.log.durable_lsn >= self.log.lsn:
            return
        fut = self.loop.create_future()
        self.log.barrier(_resolver(fut))
        await fut

    def read(self, seg: Segment, offset: int, max_length: int) -> bytes | None:
        """Up to ``max_length`` durable bytes from ``offset`` (which the caller checked).

        Reads what the loop can read at once (the log, local chunks); a shorter answer
        is fine for a segment read. None: the data is in a remote chunk, use
        :meth:`read_async`.
        """
        end = min(seg.durable_length, offset + max_length)
        if end <= offset:
            return b""
        pieces = []
        remaining = end - offset
        for _, (base, where, length) in seg.extents_from(offset):
            n = min(length, remaining)
            if base is None:
                pieces.append(where[:n])
            elif type(base) is str:
                data = self._read_chunk_sync(base, where, n)
                if data is None:
                    break
                pieces.append(data)
                if len(data) < n:  # the end of a cached block: enough for this read
                    break
            else:
                pieces.append(os.pread(self._read_fd(base), n, where))
            remaining -= n
            if remaining <= 0:
                break
        if not pieces:
            return None
        if len(pieces) == 1:
            return bytes(pieces[0])
        return b"".join(pieces)

    def _read_chunk_sync(self, name: str, where: int, n: int) -> bytes | None:
        if self.read_cache is not None:
            return self.read_cache.get(name, where, n)
        assert self.chunks is not None
        try:
            return self.chunks.read_sync(name, where, n)
        except ChunkNotFound:
            return None

    async def read_async(self, seg: Segment, offset: int, max_length: int) -> bytes:
        """Like :meth:`read`, for data in tier 2 that needs I/O off the loop.

        Raises :class:`errors.SegmentTruncated` if the data went away meanwhile."""
        data = self.read(seg, offset, max_length)
        if data is not None:
            return data
        extents = seg.extents_from(offset)
        if not extents or type(extents[0][1][0]) is not str or self.chunks is None:
            raise errors.SegmentTruncated(seg.name, seg.start_offset)
        name, where, length = extents[0][1]
        n = min(length, max_length, seg.durable_length - offset)
        try:
            if self.read_cache is not None:
                return await self.read_cache.read(name, where, n, chunk_end=where + length)
            return await self.chunks.read(name, where, n)
        except ChunkNotFound:
            raise errors.SegmentTruncated(seg.name, seg.start_offset) from None

    def release_log_fds(self, below: int) -> None:
        """Close read descriptors of log files based below ``below`` (being deleted)."""
        for base in [b for b in self._read_fds if b < below]:
            os.close(self._read_fds.pop(base))

    def _read_fd(self, base: int) -> int:
        fd = self._read_fds.get(base)
        if fd is None:
            assert self.data_dir is not None
            fd = os.open(self.data_dir / "wal" / fmt.file_name(base), os.O_RDONLY | os.O_CLOEXEC)
            self._read_fds[base] = fd
        return fd

    # -- the append hot path ------------------------------------------------------

    def append(
        self,
        seg: Segment,
        writer_id: int,
        last_event_number: int,
        data: bytes | memoryview,
        on_durable: Callable[[], None],
        expected_offset: int | None = None,
        events: int = 1,
    ) -> tuple[int, int]:
        """Append ``data`` (``events`` events ending at ``last_event_number``) for one
        writer; returns (previous event number, new length).

        ``on_durable`` runs once the data and the writer's event number are synced.
        This method alone decides what an append is:

        * a block whose last event number is at most the writer's recorded one was
          stored before (a resend after reconnect): nothing is written and
          ``on_durable`` runs once the recorded state is durable;
        * a block starting at or below the recorded number but ending above it
          overlaps stored events: :class:`errors.EventNumberOverlap`;
        * a deleted segment raises :class:`errors.NoSuchSegment`, a sealed one
          :class:`errors.SegmentSealed`, a log that cannot take the record (full or failing
          disk, closed) :class:`errors.StorageUnavailable`,
          a conditional append at another length :class:`errors.BadOffset`.
        """
        previous = seg.writers.get(writer_id, MIN_EVENT_NUMBER)
        if last_event_number <= previous:
            self.log.barrier(on_durable)
            return previous, seg.length
        if last_event_number - events < previous:
            raise errors.EventNumberOverlap(seg.name, previous, last_event_number - events + 1)
        if seg.deleted:
            raise errors.NoSuchSegment(seg.name, "segment was deleted")
        if seg.sealed:
            raise errors.SegmentSealed(seg.name, "segment is sealed")
        if self.log_full:
            raise errors.StorageUnavailable(seg.name, "the log is full until tier 2 takes data: retry later")
        if expected_offset is not None and expected_offset != seg.length:
            raise errors.BadOffset(seg.name, expected_offset, seg.length)
        head = APPEND_HEADER.pack(seg.id, writer_id >> 64, writer_id & _U64, last_event_number)
        try:
            base, where, end = self.log.write(fmt.RecordType.APPEND, [head, data])
        except (LogUnavailable, LogClosedError) as exc:
            raise errors.StorageUnavailable(seg.name, str(exc)) from exc
        size = len(data)
        extent: tuple[Any, Any, int] | None
        if size == 0:
            extent = None
        elif base is None:
            extent = (None, data, size)
        else:
            extent = (base, where + APPEND_HEADER.size, size)
        self._apply_append(seg, writer_id, last_event_number, extent)
        seg.appended_events += events
        seg.appended_bytes += size
        new_length = seg.length

        def durable() -> None:
            if new_length > seg.durable_length:
                seg.durable_length = new_length
                seg.notify()
            on_durable()

        self.log.when_durable(end, durable)
        return previous, new_length

    @staticmethod
    def _apply_append(seg: Segment, writer_id: int, event_number: int, extent: tuple[Any, Any, int] | None) -> None:
        seg.writers[writer_id] = event_number
        if extent is not None:
            seg.add_extent(extent)

    # -- batches -------------------------------------------------------------------

    async def execute(self, ops: list[Op]) -> list[Any]:
        """Validate, log and apply ``ops`` atomically; returns one result per op once durable."""
        self._validate(ops)
        # Control operations may use the log's reserve (a full disk must not stop a
        # truncate, seal or delete that frees space); table updates carry user data.
        reserve_ok = not any(isinstance(op, TableUpdate) for op in ops)
        try:
            _, _, end = self.log.write(fmt.RecordType.BATCH, encode_batch(ops), reserve_ok=reserve_ok)
        except (LogUnavailable, LogClosedError) as exc:
            raise errors.StorageUnavailable(_op_segment(ops[0]), str(exc)) from exc
        touched = [self._touched(op) for op in ops]
        doomed_from = len(self._doomed)
        results = [self._apply(op) for op in ops]
        doomed = self._doomed[doomed_from:]
        del self._doomed[doomed_from:]
        fut = self.loop.create_future()
        self.log.when_durable(end, _resolver(fut))
        await fut
        for op, seg, result in zip(ops, touched, results):
            self._make_durable(op, seg, result)
        if doomed and self.on_garbage is not None:
            # Only now: the operation that dropped them can no longer be lost.
            self.on_garbage(doomed)
        return results

    def _touched(self, op: Op) -> Segment | None:
        """The segment whose durable view ``op`` moves (merge: the target)."""
        if isinstance(op, (SealSegment, DeleteSegment, TruncateSegment)):
            return self.segments[op.name]
        if isinstance(op, MergeSegments):
            return self.segments[op.target]
        return None

    def _validate(self, ops: list[Op]) -> None:
        created: set[str] = set()
        for op in ops:
            if isinstance(op, CreateSegment):
                if op.name in self.segments or op.name in created:
                    raise errors.SegmentExists(op.name, "segment already exists")
                if not op.name or len(op.name.encode()) > 65535:
                    raise errors.InvalidArgument(op.name, "invalid segment name")
                created.add(op.name)
            elif isinstance(op, SealSegment):
                if self.get(op.name).sealed:
                    raise errors.SegmentSealed(op.name, "segment is already sealed")
            elif isinstance(op, DeleteSegment):
                seg = self.get(op.name)
                if op.must_be_empty and seg.table is not None and seg.table.entries:
                    raise errors.TableNotEmpty(op.name, "table segment is not empty")
            elif isinstance(op, TruncateSegment):
                seg = self.get(op.name)
                if op.offset > seg.length or op.offset < 0:
                    raise errors.BadOffset(op.name, op.offset, seg.length)
            elif isinstance(op, MergeSegments):
                target, source = self.get(op.target), self.get(op.source)
                if target.sealed:
                    raise errors.SegmentSealed(op.target, "target segment is sealed")
                if target.table is not None or source.table is not None:
                    raise errors.InvalidArgument(op.source, "table segments cannot be merged")
                if op.target == op.source:
                    raise errors.InvalidArgument(op.source, "a segment cannot be merged into itself")
            elif isinstance(op, UpdateAttribute):
                self.get(op.name)
            elif isinstance(op, TableUpdate):
                table = self._table(op.name)
                _check_table_offset(op.name, table, op.table_offset)
                for key, version, _ in op.entries:
                    _check_condition(op.name, table, key, version)
            elif isinstance(op, TableRemove):
                table = self._table(op.name)
                _check_table_offset(op.name, table, op.table_offset)
                for key, version in op.keys:
                    _check_condition(op.name, table, key, version)
            elif isinstance(op, (PutMeta, TierSegment)):
                pass  # a TierSegment that no longer fits is a no-op (see _apply)
            else:  # pragma: no cover - a programming error
                raise TypeError(f"unknown operation {op!r}")

    def _table(self, name: str) -> Table:
        seg = self.get(name)
        if seg.table is None:
            raise errors.InvalidArgument(name, "not a table segment")
        return seg.table

    def _apply(self, op: Op) -> Any:
        if isinstance(op, CreateSegment):
            seg = Segment(op.name, self.next_id, op.kind, op.scale_type, op.target_rate)
            self.next_id += 1
            self.segments[op.name] = seg
            self.by_id[seg.id] = seg
            return None
        if isinstance(op, SealSegment):
            seg = self.segments[op.name]
            seg.sealed = True
            return seg.length
        if isinstance(op, DeleteSegment):
            seg = self.segments.pop(op.name)
            self.by_id.pop(seg.id, None)
            seg.deleted = True
            self._doomed.extend(seg.chunks())
            return None
        if isinstance(op, TruncateSegment):
            seg = self.segments[op.name]
            if op.offset > seg.start_offset:
                seg.start_offset = op.offset
                self._doomed.extend(e[0] for e in seg.drop_below(op.offset) if type(e[0]) is str)
            return None
        if isinstance(op, MergeSegments):
            target = self.segments[op.target]
            source = self.segments.pop(op.source)
            self.by_id.pop(source.id, None)
            source.sealed = True
            source.deleted = True
            for _, extent in source.extents_from(source.start_offset):
                target.add_extent(extent)
            target.appended_events += source.appended_events
            target.appended_bytes += source.appended_bytes
            return target.length
        if isinstance(op, UpdateAttribute):
            seg = self.segments[op.name]
            if seg.attribute(op.attribute_id) != op.expected and op.expected != NO_VERSION:
                return False
            seg.attributes[op.attribute_id] = op.value
            return True
        if isinstance(op, TableUpdate):
            table = self._table(op.name)
            return [table.put(key, value) for key, _, value in op.entries]
        if isinstance(op, TableRemove):
            table = self._table(op.name)
            for key, _ in op.keys:
                table.remove(key)
            return None
        if isinstance(op, PutMeta):
            if op.value is None:
                self.meta.pop(op.key, None)
            else:
                self.meta[op.key] = op.value
            return None
        if isinstance(op, TierSegment):
            owner = self.by_id.get(op.segment_id)
            if owner is None or owner.name != op.name or not owner.replace_run(op.start, op.length, op.chunk):
                self._doomed.append(op.chunk)
                return False
            return True
        raise TypeError(f"unknown operation {op!r}")  # pragma: no cover

    @staticmethod
    def _make_durable(op: Op, seg: Segment | None, result: Any) -> None:
        """Move the durable view of the segment ``op`` touched and wake its readers."""
        if seg is None:
            return
        if isinstance(op, SealSegment):
            seg.durable_length = max(seg.durable_length, result)
            seg.durable_sealed = True
        elif isinstance(op, MergeSegments):
            seg.durable_length = max(seg.durable_length, result)
        seg.notify()

    # -- recovery ------------------------------------------------------------------

    def _replay(self, record: Record) -> None:
        if record.rtype == fmt.RecordType.APPEND:
            seg_id, hi, lo, event_number = APPEND_HEADER.unpack_from(record.payload)
            seg = self.by_id.get(seg_id)
            if seg is None:  # deleted later
                return
            size = len(record.payload) - APPEND_HEADER.size
            extent = (record.file_base, record.payload_offset + APPEND_HEADER.size, size) if size else None
            self._apply_append(seg, (hi << 64) | lo, event_number, extent)
            seg.durable_length = seg.length
            return
        if record.rtype == fmt.RecordType.BATCH:
            ops = decode_batch(record.payload)
            touched = [self._touched(op) for op in ops]
            results = [self._apply(op) for op in ops]
            for op, seg, result in zip(ops, touched, results):
                self._make_durable(op, seg, result)
            return
        raise errors.InvalidArgument("wal", f"unknown record type {record.rtype}")


def _resolver(fut: asyncio.Future[None]) -> Callable[[], None]:
    """A callback completing ``fut`` (unless done already)."""

    def resolve() -> None:
        if not fut.done():
            fut.set_result(None)

    return resolve


def _op_segment(op: Op) -> str:
    for attr in ("name", "target", "key"):
        value = getattr(op, attr, None)
        if isinstance(value, str):
            return value
    return "log"


def _check_table_offset(name: str, table: Table, offset: int) -> None:
    if offset != -1 and offset != table.next_position:
        raise errors.BadOffset(name, offset, table.next_position)


def _check_condition(name: str, table: Table, key: bytes, version: int) -> None:
    if version == NO_VERSION:
        return
    current = table.entries.get(key)
    if version == NOT_EXISTS:
        if current is not None:
            raise errors.TableKeyBadVersion(name, "key exists")
        return
    if current is None:
        raise errors.TableKeyDoesNotExist(name, "key does not exist")
    if current[0] != version:
        raise errors.TableKeyBadVersion(name, f"key version is {current[0]}, not {version}")
