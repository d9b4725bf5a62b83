"""The controller's logic, independent of gRPC.

Every mutating operation is one :meth:`Engine.execute` batch holding all its segment
operations plus the metadata records it changes, so a crash never leaves half an
operation behind. The in-memory model is updated only after the batch is durable;
edits are made on copies, so a failed batch leaves the model untouched.

Operations are serialized per stream (and, where they change what a scope holds, per
scope) with asyncio locks. Lock order: at most one scope lock, then stream locks in
name order; holders of a stream lock never take a scope lock.

One exception to "one batch": a rolling transaction runs as two batches tied together
by a durable intent (``intents.py``); :meth:`ControllerService.start` completes (or,
failing that, undoes) a leftover intent.

The gRPC layer talks to this object. Transactions (``transactions.py``, delegated
to), key-value tables (``kv_tables.py``, ``self.kvts``) and reader groups with their
subscriptions (``reader_groups.py``, ``self.reader_groups``) are their own components,
holding their part of the model and locking through this object.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable

from ..storage.engine import Engine
from ..storage.ops import (
    CreateSegment,
    DeleteSegment,
    Op,
    PutMeta,
    SealSegment,
    SegmentKind,
    TruncateSegment,
)
from . import model, naming, scaling_history
from .autoscale import AutoScaleConfig, AutoScaler
from .intents import resolve_intents
from .kv_tables import KeyValueTables
from .model import (
    Scope,
    SegmentRecord,
    Stream,
    StreamConfig,
    Transaction,
    WriterMark,
)
from .reader_groups import ReaderGroups
from .retention import RetentionConfig, RetentionManager
from .scaling_history import ScaleEvent
from .status import InvalidArgument, NotFound, Status
from .transactions import Transactions, txn_key
from .watermarks import WatermarkManager, mark_stream
from .writers import WriterMarks

log = logging.getLogger(__name__)

Endpoint = tuple[str, int]
EndpointSource = Endpoint | Callable[[], Endpoint]


class ControllerService:
    def __init__(
        self,
        engine: Engine,
        *,
        segment_store_endpoint: EndpointSource,
        controller_endpoint: EndpointSource | None = None,
        max_lease_ms: int = 600_000,
        completed_txn_ttl_ms: int = 86_400_000,
        clock: Callable[[], float] = time.time,
        page_size: int = 1000,
        reaper_interval: float = 0.5,
        restart_grace_ms: int = 120_000,
        autoscale: AutoScaleConfig | None = None,
        retention: RetentionConfig | None = None,
        segment_locator: Callable[[str, str], Endpoint] | None = None,
    ) -> None:
        self.engine = engine
        #: Where the segments of (scope, stream) live, when they do not all live in one place.
        self._locate = segment_locator
        self.restart_grace_ms = restart_grace_ms
        self._segment_store = segment_store_endpoint
        self._controller = controller_endpoint
        self.max_lease_ms = max_lease_ms
        self.completed_txn_ttl_ms = completed_txn_ttl_ms
        self._clock = clock
        self.page_size = page_size
        self._scopes: dict[str, Scope] = {}
        self._streams: dict[str, dict[str, Stream]] = {}
        self.kvts = KeyValueTables(self)
        self.reader_groups = ReaderGroups(self)
        self.writers = WriterMarks(self)
        self._locks: dict[str, asyncio.Lock] = {}
        self.transactions = Transactions(self, reaper_interval)
        self.autoscaler = AutoScaler(self, autoscale or AutoScaleConfig())
        self.retention = RetentionManager(self, retention or RetentionConfig())
        self.watermarks = WatermarkManager(self)

    # == life cycle ===============================================================

    async def start(self) -> None:
        """Finish interrupted two-phase operations, load the model, start the reaper."""
        await resolve_intents(self.engine)
        self._load()
        self.transactions.start()
        self.autoscaler.start()
        self.retention.start()
        self.watermarks.start()

    async def stop(self) -> None:
        await self.autoscaler.stop()
        await self.retention.stop()
        await self.watermarks.stop()
        await self.transactions.stop()

    def _load(self) -> None:
        meta = self.engine
        for _, value in meta.meta_scan("scope/"):
            scope = Scope.from_json(value)
            self._scopes[scope.name] = scope
        for _, value in meta.meta_scan("stream/"):
            stream = Stream.from_json(value)
            self._streams.setdefault(stream.scope, {})[stream.name] = stream
        self.transactions.load()
        self.kvts.load()
        self.reader_groups.load()
        self.writers.load()

    # == helpers ==================================================================

    def now_ms(self) -> int:
        return int(self._clock() * 1000)

    def _lock(self, key: str) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    @contextlib.asynccontextmanager
    async def locked(self, scope: str | None = None, streams: Iterable[tuple[str, str]] = ()) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            if scope is not None:
                await stack.enter_async_context(self._lock(f"scope:{scope}"))
            for s, n in sorted(set(streams)):
                await stack.enter_async_context(self._lock(f"stream:{s}/{n}"))
            yield

    async def _execute(self, ops: list[Op]) -> list:
        return await self.engine.execute(ops)

    def _stream(self, scope: str, name: str) -> Stream | None:
        return self._streams.get(scope, {}).get(name)

    def _existing_stream(self, scope: str, name: str) -> Stream | Status:
        """The stream, or the status saying which of scope and stream is missing."""
        if scope not in self._scopes:
            return Status.SCOPE_NOT_FOUND
        stream = self._stream(scope, name)
        return Status.STREAM_NOT_FOUND if stream is None else stream

    def require_stream(self, scope: str, name: str) -> Stream:
        stream = self._stream(scope, name)
        if stream is None:
            raise NotFound(f"stream {scope}/{name} does not exist")
        return stream

    def put_stream(self, stream: Stream) -> None:
        self._streams.setdefault(stream.scope, {})[stream.name] = stream

    @staticmethod
    def stream_key(scope: str, name: str) -> str:
        return f"stream/{scope}/{name}"

    def page(self, names: Iterable[str], token: str) -> tuple[list[str], str]:
        """A page of ``names`` (sorted) after ``token``; the token is the last name
        returned, so a page after the end is empty and keeps the token."""
        ordered = sorted(names)
        start = bisect.bisect_right(ordered, token) if token else 0
        page = ordered[start : start + self.page_size]
        return page, (page[-1] if page else token)

    def seal_ops(self, names: Iterable[str]) -> list[Op]:
        """Seal the named segments that exist and are not sealed yet."""
        ops: list[Op] = []
        for name in names:
            if self.engine.exists(name) and not self.engine.get(name).sealed:
                ops.append(SealSegment(name))
        return ops

    def delete_ops(self, names: Iterable[str]) -> list[Op]:
        return [DeleteSegment(name) for name in names if self.engine.exists(name)]

    @staticmethod
    def create_ops(stream: Stream, segments: Iterable[SegmentRecord]) -> list[Op]:
        cfg = stream.config
        return [
            CreateSegment(stream.segment_name(s.id), SegmentKind.STREAM, cfg.scale_type, max(cfg.target_rate, 0))
            for s in segments
        ]

    def _start_offset(self, stream: Stream, sid: int) -> int:
        name = stream.segment_name(sid)
        return self.engine.get(name).start_offset if self.engine.exists(name) else 0

    # == scopes ===================================================================

    async def create_scope(self, scope: str) -> Status:
        if not naming.is_valid_scope_name(scope):
            return Status.INVALID_SCOPE_NAME
        async with self.locked(scope):
            if scope in self._scopes:
                return Status.SCOPE_EXISTS
            record = Scope(scope, self.now_ms())
            await self._execute([PutMeta(f"scope/{scope}", record.to_json())])
            self._scopes[scope] = record
        return Status.SUCCESS

    def scope_exists(self, scope: str) -> bool:
        return scope in self._scopes

    def scope_count(self) -> int:
        return len(self._scopes)

    def list_scopes(self, token: str = "") -> tuple[list[str], str]:
        return self.page(self._scopes, token)

    async def delete_scope(self, scope: str) -> Status:
        async with self.locked(scope):
            if scope not in self._scopes:
                return Status.SCOPE_NOT_FOUND
            if self._streams.get(scope) or self.kvts.by_scope.get(scope) or self.reader_groups.by_scope.get(scope):
                return Status.SCOPE_NOT_EMPTY
            await self._execute([PutMeta(f"scope/{scope}", None)])
            self._forget_scope(scope)
        return Status.SUCCESS

    async def delete_scope_recursive(self, scope: str) -> Status:
        """Delete a scope with all its streams (sealed or not), tables and reader groups."""
        async with self.locked(scope):
            if scope not in self._scopes:
                return Status.SCOPE_NOT_FOUND
            streams = list(self._streams.get(scope, {}).values())
            async with self.locked(streams=[(scope, s.name) for s in streams]):
                ops: list[Op] = []
                for stream in streams:
                    ops += self.drop_stream_ops(stream)
                for kvt in self.kvts.by_scope.get(scope, {}).values():
                    ops += self.delete_ops(kvt.segment_names())
                    ops.append(PutMeta(f"kvt/{scope}/{kvt.name}", None))
                for rg in self.reader_groups.by_scope.get(scope, {}).values():
                    ops.append(PutMeta(f"rg/{scope}/{rg.name}", None))
                ops.append(PutMeta(f"scope/{scope}", None))
                await self._execute(ops)
                for stream in streams:
                    self.forget_stream(stream)
                self._forget_scope(scope)
        return Status.SUCCESS

    def _forget_scope(self, scope: str) -> None:
        self._scopes.pop(scope, None)
        self._streams.pop(scope, None)
        self.kvts.by_scope.pop(scope, None)
        self.reader_groups.by_scope.pop(scope, None)

    # == streams ==================================================================

    async def create_stream(self, scope: str, name: str, config: StreamConfig) -> Status:
        if not naming.is_valid_stream_name(name):
            return Status.INVALID_STREAM_NAME
        problem = config.validate()
        if problem:
            raise InvalidArgument(f"invalid stream configuration for {scope}/{name}: {problem}")
        async with self.locked(scope, [(scope, name)]):
            if scope not in self._scopes:
                return Status.SCOPE_NOT_FOUND
            if self._stream(scope, name) is not None:
                return Status.STREAM_EXISTS
            stream = self.new_stream(scope, name, config)
            ops = self.create_ops(stream, stream.current.segments)
            ops.append(PutMeta(self.stream_key(scope, name), stream.to_json()))
            await self._execute(ops)
            self.put_stream(stream)
        return Status.SUCCESS

    def new_stream(self, scope: str, name: str, config: StreamConfig) -> Stream:
        now = self.now_ms()
        n = config.min_segments
        # Segments are numbered 0..n-1 unless segments of that name are still around
        # (created outside the controller); then numbering starts after them.
        base = 0
        while any(self.engine.exists(naming.qualified_segment_name(scope, name, base + i)) for i in range(n)):
            base += n
        stream = Stream(scope, name, config, now, [], base)
        stream.add_epoch(now, stream.allocate(0, model.equal_ranges(n)))
        return stream

    def stream_exists(self, scope: str, name: str) -> bool:
        return self._stream(scope, name) is not None

    def list_streams(self, scope: str, token: str = "", tag: str | None = None) -> tuple[Status, list[str], str]:
        """User streams of ``scope`` (internal ``_`` streams are hidden), optionally only
        those carrying ``tag``."""
        if scope not in self._scopes:
            return Status.SCOPE_NOT_FOUND, [], token
        names = [
            s.name
            for s in self._streams.get(scope, {}).values()
            if not s.name.startswith(naming.INTERNAL_PREFIX) and (tag is None or tag in s.config.tags)
        ]
        page, token = self.page(names, token)
        return Status.SUCCESS, page, token

    def get_stream_config(self, scope: str, name: str) -> StreamConfig:
        return self.require_stream(scope, name).config

    def scaling_events(self, scope: str, name: str, from_ms: int = 0, to_ms: int | None = None) -> list[ScaleEvent]:
        return scaling_history.scaling_events(self.require_stream(scope, name), from_ms, to_ms)

    def all_streams(self) -> list[Stream]:
        return [stream for streams in self._streams.values() for stream in streams.values()]

    def get_stream(self, scope: str, name: str) -> Stream | None:
        """The stream's current record (read only)."""
        return self._stream(scope, name)

    async def update_stream(self, scope: str, name: str, config: StreamConfig) -> Status:
        problem = config.validate()
        if problem:
            raise InvalidArgument(f"invalid stream configuration for {scope}/{name}: {problem}")
        async with self.locked(streams=[(scope, name)]):
            stream = self._existing_stream(scope, name)
            if isinstance(stream, Status):
                return stream
            if stream.sealed:
                # UpdateStreamStatus.STREAM_SEALED is unknown to the Rust client, which
                # would read it as SUCCESS; refuse with a gRPC error instead.
                raise InvalidArgument(f"stream {scope}/{name} is sealed; its configuration cannot change")
            new = stream.copy()
            new.config = config
            ops: list[Op] = []
            active = new.current.segments
            if config.min_segments > len(active):
                ops += self._scale_ops(new, [s.id for s in active], model.equal_ranges(config.min_segments))
            ops.append(PutMeta(self.stream_key(scope, name), new.to_json()))
            await self._execute(ops)
            self.put_stream(new)
        return Status.SUCCESS

    def _scale_ops(self, new: Stream, sealed: list[int], ranges: list[tuple[float, float]]) -> list[Op]:
        """Edit ``new`` to the next epoch (``sealed`` replaced by segments for ``ranges``);
        returns the segment operations doing the same."""
        epoch = new.current_epoch + 1
        created = new.allocate(epoch, ranges)
        gone = set(sealed)
        kept = [s for s in new.current.segments if s.id not in gone]
        new.add_epoch(self.now_ms(), kept + created)
        return self.create_ops(new, created) + self.seal_ops(new.segment_name(sid) for sid in sealed)

    async def seal_stream(self, scope: str, name: str) -> Status:
        async with self.locked(streams=[(scope, name)]):
            stream = self._existing_stream(scope, name)
            if isinstance(stream, Status):
                return stream
            if stream.sealed:
                return Status.SUCCESS
            new = stream.copy()
            new.state = model.SEALED
            ops = self.seal_ops(new.segment_name(s.id) for s in new.current.segments)
            aborted = []
            # Open transactions cannot commit into a sealed stream: abort them.
            for txn in self.transactions.of_stream(scope, name):
                if txn.state == model.TXN_OPEN:
                    txn_ops, done = self.transactions.abort_ops(stream, txn)
                    ops += txn_ops
                    aborted.append(done)
            ops.append(PutMeta(self.stream_key(scope, name), new.to_json()))
            await self._execute(ops)
            self.put_stream(new)
            for done in aborted:
                self.transactions.remember(done)
        return Status.SUCCESS

    async def delete_stream(self, scope: str, name: str) -> Status:
        async with self.locked(scope, [(scope, name)]):
            stream = self._stream(scope, name)
            if stream is None:
                return Status.STREAM_NOT_FOUND
            if not stream.sealed:
                return Status.STREAM_NOT_SEALED
            await self._execute(self.drop_stream_ops(stream))
            self.forget_stream(stream)
            marks = self.get_stream(scope, mark_stream(name))
            if marks is not None:  # its watermark stream goes with it
                await self._execute(self.drop_stream_ops(marks))
                self.forget_stream(marks)
        return Status.SUCCESS

    def drop_stream_ops(self, stream: Stream) -> list[Op]:
        """Delete every remaining segment and metadata record of ``stream``."""
        key = (stream.scope, stream.name)
        names = [stream.segment_name(s.id) for s in stream.all_segments()]
        txns = self.transactions.of_stream(*key)
        names += [n for t in txns if t.state == model.TXN_OPEN for n in self.transactions.segment_names(stream, t)]
        ops: list[Op] = self.delete_ops(names)
        ops += [PutMeta(txn_key(t), None) for t in txns]
        ops += self.writers.drop_ops(*key)
        ops.append(PutMeta(self.stream_key(stream.scope, stream.name), None))
        return ops

    def forget_stream(self, stream: Stream) -> None:
        key = (stream.scope, stream.name)
        self._streams.get(stream.scope, {}).pop(stream.name, None)
        self.transactions.forget_stream(*key)
        self.writers.forget_stream(*key)

    async def truncate_stream(self, scope: str, name: str, cut: dict[int, int]) -> Status:
        async with self.locked(streams=[(scope, name)]):
            stream = self._existing_stream(scope, name)
            if isinstance(stream, Status):
                return stream
            problem = stream.validate_cut(cut)
            if problem:
                raise InvalidArgument(f"invalid stream cut for {scope}/{name}: {problem}")
            if stream.head is not None and stream.is_before(cut, stream.head):
                raise InvalidArgument(f"the stream cut lies before the current head of {scope}/{name}")
            await self.engine.refresh([stream.segment_name(sid) for sid in cut])
            ops: list[Op] = []
            head: dict[int, int] = {}
            for sid, offset in sorted(cut.items()):
                seg_name = stream.segment_name(sid)
                if not self.engine.exists(seg_name):
                    raise InvalidArgument(f"segment {seg_name} of the stream cut no longer exists")
                seg = self.engine.get(seg_name)
                if offset > seg.length:
                    raise InvalidArgument(f"offset {offset} is beyond the end ({seg.length}) of {seg_name}")
                if offset > seg.start_offset:
                    ops.append(TruncateSegment(seg_name, offset))
                head[sid] = max(offset, seg.start_offset)
            ops += self.delete_ops(stream.segment_name(sid) for sid in sorted(stream.ancestors(set(cut))))
            new = stream.copy()
            new.head = head
            ops.append(PutMeta(self.stream_key(scope, name), new.to_json()))
            await self._execute(ops)
            self.put_stream(new)
        return Status.SUCCESS

    # == segment queries ==========================================================

    def current_segments(self, scope: str, name: str) -> list[SegmentRecord]:
        """The active segments; none once the stream is sealed (that is how clients
        learn a stream is sealed)."""
        stream = self.require_stream(scope, name)
        return [] if stream.sealed else list(stream.current.segments)

    def epoch_segments(self, scope: str, name: str, epoch: int) -> list[SegmentRecord]:
        stream = self.require_stream(scope, name)
        if not 0 <= epoch <= stream.current_epoch:
            raise InvalidArgument(f"stream {scope}/{name} has no epoch {epoch} (current: {stream.current_epoch})")
        return list(stream.epochs[epoch].segments)

    def head(self, scope: str, name: str) -> list[tuple[int, int]]:
        return self._head(self.require_stream(scope, name))

    def _head(self, stream: Stream) -> list[tuple[int, int]]:
        if stream.head is not None:
            return [(sid, max(off, self._start_offset(stream, sid))) for sid, off in sorted(stream.head.items())]
        return [(s.id, self._start_offset(stream, s.id)) for s in stream.epochs[0].segments]

    def segments_at(self, scope: str, name: str, timestamp: int) -> list[tuple[int, int]]:
        """(segment id, offset) where reading from ``timestamp`` (ms) starts; timestamp 0
        (or any time before the stream) means the head of the stream."""
        stream = self.require_stream(scope, name)
        if timestamp <= 0 or timestamp < stream.epochs[0].created_ms:
            return self._head(stream)
        segments = stream.epochs[stream.epoch_at(timestamp)].segments
        if stream.head is not None:
            truncated = stream.ancestors(set(stream.head))
            if any(s.id in truncated for s in segments):
                return self._head(stream)
        return [(s.id, self._start_offset(stream, s.id)) for s in segments]

    async def settled_successors(self, scope: str, name: str, sid: int) -> list[tuple[SegmentRecord, list[int]]]:
        """:meth:`successors` once a scale of the stream in progress is done. A scale seals
        segments in the store before the new epoch is durable and in the model, and a writer
        or reader told "sealed" in between asks at once; under the stream lock it sees the
        new epoch instead of "no successors" (which means: the stream is sealed)."""
        async with self.locked(streams=[(scope, name)]):
            return self.successors(scope, name, sid)

    def successors(self, scope: str, name: str, sid: int) -> list[tuple[SegmentRecord, list[int]]]:
        stream = self.require_stream(scope, name)
        if stream.segment(sid) is None:
            raise InvalidArgument(f"segment {sid} is not part of stream {scope}/{name}")
        return stream.successors(sid)

    def segments_between(self, scope: str, name: str, start: dict[int, int], end: dict[int, int]) -> list[int]:
        """Ids of the segments from cut ``start`` (empty: the head) up to and including
        cut ``end`` (empty: no end)."""
        stream = self.require_stream(scope, name)
        for label, cut in (("from", start), ("to", end)):
            if cut:
                problem = stream.validate_cut(cut)
                if problem:
                    raise InvalidArgument(f"invalid '{label}' stream cut: {problem}")
        start_ids = set(start) if start else {sid for sid, _ in self._head(stream)}
        if end and stream.is_before(end, start or dict(self._head(stream))):
            raise InvalidArgument("the 'to' stream cut lies before the 'from' stream cut")
        found = set(start_ids) | stream.descendants(start_ids)
        if end:
            found -= stream.descendants(set(end))
        return sorted(found)

    def is_segment_valid(self, scope: str, name: str, sid: int) -> bool:
        stream = self._stream(scope, name)
        return stream is not None and not stream.sealed and sid in stream.current.ids()

    def is_stream_cut_valid(self, scope: str, name: str, cut: dict[int, int]) -> bool:
        stream = self._stream(scope, name)
        return stream is not None and stream.validate_cut(cut) is None

    def segment_store_endpoint(self) -> Endpoint:
        """Where every segment lives (one segment store; existence is never checked)."""
        source = self._segment_store
        return source() if callable(source) else source

    def segment_endpoint(self, scope: str, stream: str) -> Endpoint:
        """The segment store (container) holding the segments of ``scope/stream``."""
        if self._locate is not None:
            return self._locate(scope, stream)
        return self.segment_store_endpoint()

    def controller_endpoints(self) -> list[Endpoint]:
        source = self._controller
        if source is None:
            return []
        return [source() if callable(source) else source]

    # == scaling ==================================================================

    async def scale(
        self,
        scope: str,
        name: str,
        sealed: list[int],
        ranges: list[tuple[float, float]],
        timestamp: int = 0,
    ) -> tuple[Status, list[SegmentRecord], int]:
        """Replace the ``sealed`` segments by new ones for ``ranges``, at once.

        Returns (STARTED, new segments, epoch the scale started from) — as in Java, that
        epoch is what ``checkScale`` is then asked about."""
        async with self.locked(streams=[(scope, name)]):
            stream = self._stream(scope, name)
            if stream is None or stream.sealed:
                return Status.FAILURE, [], 0
            active = {s.id: s for s in stream.current.segments}
            if not sealed or len(set(sealed)) != len(sealed) or any(sid not in active for sid in sealed):
                return Status.PRECONDITION_FAILED, [], 0
            old = model.merge_ranges([(active[sid].min_key, active[sid].max_key) for sid in sealed])
            new_union = model.merge_ranges(list(ranges))
            if new_union is None or new_union != old:
                return Status.PRECONDITION_FAILED, [], 0
            new = stream.copy()
            started_from = new.current_epoch
            ops = self._scale_ops(new, list(sealed), sorted(ranges))
            ops.append(PutMeta(self.stream_key(scope, name), new.to_json()))
            await self._execute(ops)
            self.put_stream(new)
            created = [s for s in new.current.segments if s.epoch == new.current_epoch]
        return Status.STARTED, created, started_from

    def check_scale(self, scope: str, name: str, epoch: int) -> Status:
        """Java semantics: SUCCESS once the stream moved past ``epoch``."""
        stream = self._stream(scope, name)
        if stream is None or epoch > stream.current_epoch:
            return Status.INVALID_INPUT
        if epoch == stream.current_epoch:
            return Status.IN_PROGRESS
        return Status.SUCCESS

    # == transactions (see transactions.py) =====================================

    def get_transaction(self, scope: str, name: str, high: int, low: int) -> Transaction | None:
        return self.transactions.get(scope, name, high, low)

    async def create_transaction(self, scope: str, name: str, lease: int) -> tuple[Transaction, list[SegmentRecord]]:
        return await self.transactions.create(scope, name, lease)

    async def ping_transaction(self, scope: str, name: str, high: int, low: int, lease: int) -> Status:
        return await self.transactions.ping(scope, name, high, low, lease)

    def transaction_state(self, scope: str, name: str, high: int, low: int) -> Status:
        return self.transactions.state(scope, name, high, low)

    def list_completed_transactions(self, scope: str, name: str) -> list[Transaction]:
        return self.transactions.list_completed(scope, name)

    async def commit_transaction(
        self, scope: str, name: str, high: int, low: int, writer_id: str = "", timestamp: int | None = None
    ) -> Status:
        return await self.transactions.commit(scope, name, high, low, writer_id, timestamp)

    async def abort_transaction(self, scope: str, name: str, high: int, low: int) -> Status:
        return await self.transactions.abort(scope, name, high, low)

    async def reap(self) -> None:
        """One round of the transaction reaper (expired leases, old completed transactions)."""
        await self.transactions.reap()

    # == writers (see writers.py) ================================================

    def writer_marks(self, scope: str, name: str) -> dict[str, WriterMark]:
        return self.writers.marks(scope, name)

    def streams_with_marks(self) -> list[tuple[str, str]]:
        return [key for key, marks in self.writers.by_stream.items() if marks]

    def stream_record(self, scope: str, name: str) -> Stream | None:
        return self.get_stream(scope, name)

    # == cluster ==================================================================

    def delegation_token(self, scope: str, name: str) -> str:
        """Authorization is not enabled: the empty token (which the client accepts)."""
        return ""

    def bucket_mapping(self, service_type: int) -> dict[str, list[int]]:
        """This single controller owns every bucket (Java defaults: 1 retention bucket,
        100 watermarking buckets)."""
        endpoints = self.controller_endpoints()
        owner = f"{endpoints[0][0]}:{endpoints[0][1]}" if endpoints else "controller"
        return {owner: [0] if service_type == 0 else list(range(100))}
