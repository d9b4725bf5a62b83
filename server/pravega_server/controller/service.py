"""The controller's logic, independent of gRPC.

Every mutating operation is one :meth:`Engine.execute` batch holding all its segment
operations plus the metadata records it changes, so a crash never leaves half an
operation behind. The in-memory model is updated only after the batch is durable;
edits are made on copies, so a failed batch leaves the model untouched.

Operations are serialized per stream (and, where they change what a scope holds, per
scope) with asyncio locks. Lock order: at most one scope lock, then stream locks in
name order; holders of a stream lock never take a scope lock.

One exception to "one batch": a rolling transaction has to merge into segments it
creates, and the engine validates a batch against the state before it, so it runs as
two batches tied together by a durable *intent* record that holds the second batch;
:meth:`ControllerService.start` completes (or, failing that, undoes) a leftover intent.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import contextlib
import enum
import heapq
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable

from ..storage import errors as store_errors
from ..storage.engine import Engine
from ..storage.ops import (
    CreateSegment,
    DeleteSegment,
    MergeSegments,
    Op,
    PutMeta,
    SealSegment,
    SegmentKind,
    TruncateSegment,
)
from . import model, naming, scaling_history
from .autoscale import AutoScaleConfig, AutoScaler
from .model import (
    KeyValueTable,
    ReaderGroup,
    Scope,
    SegmentRecord,
    Stream,
    StreamConfig,
    Subscriber,
    Transaction,
    WriterMark,
)
from .retention import RetentionConfig, RetentionManager
from .scaling_history import ScaleEvent
from .watermarks import WatermarkManager, mark_stream

log = logging.getLogger(__name__)

Endpoint = tuple[str, int]
EndpointSource = Endpoint | Callable[[], Endpoint]

_COUNTER_KEY = "ctl/txn-counter"


class Status(str, enum.Enum):
    """Reply statuses; each name is the value of the same name in the reply's proto enum."""

    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    OK = "OK"
    SCOPE_EXISTS = "SCOPE_EXISTS"
    SCOPE_NOT_FOUND = "SCOPE_NOT_FOUND"
    SCOPE_NOT_EMPTY = "SCOPE_NOT_EMPTY"
    INVALID_SCOPE_NAME = "INVALID_SCOPE_NAME"
    STREAM_EXISTS = "STREAM_EXISTS"
    STREAM_NOT_FOUND = "STREAM_NOT_FOUND"
    STREAM_NOT_SEALED = "STREAM_NOT_SEALED"
    INVALID_STREAM_NAME = "INVALID_STREAM_NAME"
    TRANSACTION_NOT_FOUND = "TRANSACTION_NOT_FOUND"
    LEASE_TOO_LARGE = "LEASE_TOO_LARGE"
    OPEN = "OPEN"
    COMMITTED = "COMMITTED"
    ABORTED = "ABORTED"
    UNKNOWN = "UNKNOWN"
    STARTED = "STARTED"
    PRECONDITION_FAILED = "PRECONDITION_FAILED"
    IN_PROGRESS = "IN_PROGRESS"
    INVALID_INPUT = "INVALID_INPUT"
    TABLE_EXISTS = "TABLE_EXISTS"
    TABLE_NOT_FOUND = "TABLE_NOT_FOUND"
    INVALID_TABLE_NAME = "INVALID_TABLE_NAME"
    RG_NOT_FOUND = "RG_NOT_FOUND"
    INVALID_RG_NAME = "INVALID_RG_NAME"
    INVALID_CONFIG = "INVALID_CONFIG"
    SUBSCRIBER_NOT_FOUND = "SUBSCRIBER_NOT_FOUND"
    STREAM_CUT_NOT_VALID = "STREAM_CUT_NOT_VALID"
    GENERATION_MISMATCH = "GENERATION_MISMATCH"
    UNKNOWN_WRITER = "UNKNOWN_WRITER"
    STREAM_DOES_NOT_EXIST = "STREAM_DOES_NOT_EXIST"
    INVALID_TIME = "INVALID_TIME"
    INVALID_POSITION = "INVALID_POSITION"


class ControllerError(Exception):
    """A request the controller refuses without a status enum to say so; ``code`` names
    the gRPC status code the API layer replies with."""

    code = "INTERNAL"


class InvalidArgument(ControllerError):
    code = "INVALID_ARGUMENT"


class NotFound(ControllerError):
    code = "NOT_FOUND"


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
    ) -> None:
        self.engine = engine
        self.restart_grace_ms = restart_grace_ms
        self._segment_store = segment_store_endpoint
        self._controller = controller_endpoint
        self.max_lease_ms = max_lease_ms
        self.completed_txn_ttl_ms = completed_txn_ttl_ms
        self._clock = clock
        self.page_size = page_size
        self._reaper_interval = reaper_interval
        self._scopes: dict[str, Scope] = {}
        self._streams: dict[str, dict[str, Stream]] = {}
        self._txns: dict[tuple[str, str], dict[tuple[int, int], Transaction]] = {}
        self._kvts: dict[str, dict[str, KeyValueTable]] = {}
        self._rgs: dict[str, dict[str, ReaderGroup]] = {}
        self._marks: dict[tuple[str, str], dict[str, WriterMark]] = {}
        self._txn_counter = 0
        # (deadline or completion time, scope, stream, high, low); stale entries are
        # skipped when popped, so the reaper never scans every transaction.
        self._lease_heap: list[tuple[int, str, str, int, int]] = []
        self._done_heap: list[tuple[int, str, str, int, int]] = []
        self._locks: dict[str, asyncio.Lock] = {}
        self._reaper: asyncio.Task | None = None
        self.autoscaler = AutoScaler(self, autoscale or AutoScaleConfig())
        self.retention = RetentionManager(self, retention or RetentionConfig())
        self.watermarks = WatermarkManager(self)

    # == life cycle ===============================================================

    async def start(self) -> None:
        """Finish interrupted two-phase operations, load the model, start the reaper."""
        for key, value in list(self.engine.meta_scan("intent/")):
            await self._resolve_intent(key, value)
        self._load()
        if self._reaper is None:
            self._reaper = asyncio.get_running_loop().create_task(self._reap_forever())
        self.autoscaler.start()
        self.retention.start()
        self.watermarks.start()

    async def stop(self) -> None:
        await self.autoscaler.stop()
        await self.retention.stop()
        await self.watermarks.stop()
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
            self._reaper = None

    def _load(self) -> None:
        meta = self.engine
        for _, value in meta.meta_scan("scope/"):
            scope = Scope.from_json(value)
            self._scopes[scope.name] = scope
        for _, value in meta.meta_scan("stream/"):
            stream = Stream.from_json(value)
            self._streams.setdefault(stream.scope, {})[stream.name] = stream
        # Leases are wall-clock deadlines, but nobody could ping while the server was
        # down: open transactions get at least a fresh grace period (in memory; the next
        # ping stores a new deadline), as a controller re-arms its timers on takeover.
        grace_deadline = self.now_ms() + min(self.restart_grace_ms, self.max_lease_ms)
        for _, value in meta.meta_scan("txn/"):
            txn = Transaction.from_json(value)
            if txn.state == model.TXN_OPEN:
                txn.lease_deadline_ms = max(txn.lease_deadline_ms, grace_deadline)
            self._remember_txn(txn)
        for _, value in meta.meta_scan("kvt/"):
            kvt = KeyValueTable.from_json(value)
            self._kvts.setdefault(kvt.scope, {})[kvt.name] = kvt
        for _, value in meta.meta_scan("rg/"):
            rg = ReaderGroup.from_json(value)
            self._rgs.setdefault(rg.scope, {})[rg.name] = rg
        for key, value in meta.meta_scan("wmark/"):
            _, scope, stream, writer = key.split("/", 3)
            self._marks.setdefault((scope, stream), {})[writer] = WriterMark.from_json(value)
        counter = meta.meta_get(_COUNTER_KEY)
        self._txn_counter = int(counter) if counter else 0

    # == helpers ==================================================================

    def now_ms(self) -> int:
        return int(self._clock() * 1000)

    def _lock(self, key: str) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    @contextlib.asynccontextmanager
    async def _locked(self, scope: str | None = None, streams: Iterable[tuple[str, str]] = ()) -> AsyncIterator[None]:
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

    def _require_stream(self, scope: str, name: str) -> Stream:
        stream = self._stream(scope, name)
        if stream is None:
            raise NotFound(f"stream {scope}/{name} does not exist")
        return stream

    def _put_stream(self, stream: Stream) -> None:
        self._streams.setdefault(stream.scope, {})[stream.name] = stream

    @staticmethod
    def _stream_key(scope: str, name: str) -> str:
        return f"stream/{scope}/{name}"

    @staticmethod
    def _txn_key(txn: Transaction) -> str:
        return f"txn/{txn.scope}/{txn.stream}/{txn.hex}"

    def _page(self, names: Iterable[str], token: str) -> tuple[list[str], str]:
        """A page of ``names`` (sorted) after ``token``; the token is the last name
        returned, so a page after the end is empty and keeps the token."""
        ordered = sorted(names)
        start = bisect.bisect_right(ordered, token) if token else 0
        page = ordered[start : start + self.page_size]
        return page, (page[-1] if page else token)

    def _seal_ops(self, names: Iterable[str]) -> list[Op]:
        """Seal the named segments that exist and are not sealed yet."""
        ops: list[Op] = []
        for name in names:
            if self.engine.exists(name) and not self.engine.get(name).sealed:
                ops.append(SealSegment(name))
        return ops

    def _delete_ops(self, names: Iterable[str]) -> list[Op]:
        return [DeleteSegment(name) for name in names if self.engine.exists(name)]

    @staticmethod
    def _create_ops(stream: Stream, segments: Iterable[SegmentRecord]) -> list[Op]:
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
        async with self._locked(scope):
            if scope in self._scopes:
                return Status.SCOPE_EXISTS
            record = Scope(scope, self.now_ms())
            await self._execute([PutMeta(f"scope/{scope}", record.to_json())])
            self._scopes[scope] = record
        return Status.SUCCESS

    def scope_exists(self, scope: str) -> bool:
        return scope in self._scopes

    def list_scopes(self, token: str = "") -> tuple[list[str], str]:
        return self._page(self._scopes, token)

    async def delete_scope(self, scope: str) -> Status:
        async with self._locked(scope):
            if scope not in self._scopes:
                return Status.SCOPE_NOT_FOUND
            if self._streams.get(scope) or self._kvts.get(scope) or self._rgs.get(scope):
                return Status.SCOPE_NOT_EMPTY
            await self._execute([PutMeta(f"scope/{scope}", None)])
            self._forget_scope(scope)
        return Status.SUCCESS

    async def delete_scope_recursive(self, scope: str) -> Status:
        """Delete a scope with all its streams (sealed or not), tables and reader groups."""
        async with self._locked(scope):
            if scope not in self._scopes:
                return Status.SCOPE_NOT_FOUND
            streams = list(self._streams.get(scope, {}).values())
            async with self._locked(streams=[(scope, s.name) for s in streams]):
                ops: list[Op] = []
                for stream in streams:
                    ops += self._drop_stream_ops(stream)
                for kvt in self._kvts.get(scope, {}).values():
                    ops += self._delete_ops(kvt.segment_names())
                    ops.append(PutMeta(f"kvt/{scope}/{kvt.name}", None))
                for rg in self._rgs.get(scope, {}).values():
                    ops.append(PutMeta(f"rg/{scope}/{rg.name}", None))
                ops.append(PutMeta(f"scope/{scope}", None))
                await self._execute(ops)
                for stream in streams:
                    self._forget_stream(stream)
                self._forget_scope(scope)
        return Status.SUCCESS

    def _forget_scope(self, scope: str) -> None:
        self._scopes.pop(scope, None)
        self._streams.pop(scope, None)
        self._kvts.pop(scope, None)
        self._rgs.pop(scope, None)

    # == streams ==================================================================

    async def create_stream(self, scope: str, name: str, config: StreamConfig) -> Status:
        if not naming.is_valid_stream_name(name):
            return Status.INVALID_STREAM_NAME
        problem = config.validate()
        if problem:
            raise InvalidArgument(f"invalid stream configuration for {scope}/{name}: {problem}")
        async with self._locked(scope, [(scope, name)]):
            if scope not in self._scopes:
                return Status.SCOPE_NOT_FOUND
            if self._stream(scope, name) is not None:
                return Status.STREAM_EXISTS
            stream = self._new_stream(scope, name, config)
            ops = self._create_ops(stream, stream.current.segments)
            ops.append(PutMeta(self._stream_key(scope, name), stream.to_json()))
            await self._execute(ops)
            self._put_stream(stream)
        return Status.SUCCESS

    def _new_stream(self, scope: str, name: str, config: StreamConfig) -> Stream:
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
        page, token = self._page(names, token)
        return Status.SUCCESS, page, token

    def get_stream_config(self, scope: str, name: str) -> StreamConfig:
        return self._require_stream(scope, name).config

    def scaling_events(self, scope: str, name: str, from_ms: int = 0, to_ms: int | None = None) -> list[ScaleEvent]:
        return scaling_history.scaling_events(self._require_stream(scope, name), from_ms, to_ms)

    def all_streams(self) -> list[Stream]:
        return [stream for streams in self._streams.values() for stream in streams.values()]

    def get_stream(self, scope: str, name: str) -> Stream | None:
        """The stream's current record (read only)."""
        return self._stream(scope, name)

    async def update_stream(self, scope: str, name: str, config: StreamConfig) -> Status:
        problem = config.validate()
        if problem:
            raise InvalidArgument(f"invalid stream configuration for {scope}/{name}: {problem}")
        async with self._locked(streams=[(scope, name)]):
            if scope not in self._scopes:
                return Status.SCOPE_NOT_FOUND
            stream = self._stream(scope, name)
            if stream is None:
                return Status.STREAM_NOT_FOUND
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
            ops.append(PutMeta(self._stream_key(scope, name), new.to_json()))
            await self._execute(ops)
            self._put_stream(new)
        return Status.SUCCESS

    def _scale_ops(self, new: Stream, sealed: list[int], ranges: list[tuple[float, float]]) -> list[Op]:
        """Edit ``new`` to the next epoch (``sealed`` replaced by segments for ``ranges``);
        returns the segment operations doing the same."""
        epoch = new.current_epoch + 1
        created = new.allocate(epoch, ranges)
        gone = set(sealed)
        kept = [s for s in new.current.segments if s.id not in gone]
        new.add_epoch(self.now_ms(), kept + created)
        return self._create_ops(new, created) + self._seal_ops(new.segment_name(sid) for sid in sealed)

    async def seal_stream(self, scope: str, name: str) -> Status:
        async with self._locked(streams=[(scope, name)]):
            if scope not in self._scopes:
                return Status.SCOPE_NOT_FOUND
            stream = self._stream(scope, name)
            if stream is None:
                return Status.STREAM_NOT_FOUND
            if stream.sealed:
                return Status.SUCCESS
            new = stream.copy()
            new.state = model.SEALED
            ops = self._seal_ops(new.segment_name(s.id) for s in new.current.segments)
            aborted = []
            # Open transactions cannot commit into a sealed stream: abort them.
            for txn in self._txns.get((scope, name), {}).values():
                if txn.state == model.TXN_OPEN:
                    txn_ops, done = self._abort_ops(stream, txn)
                    ops += txn_ops
                    aborted.append(done)
            ops.append(PutMeta(self._stream_key(scope, name), new.to_json()))
            await self._execute(ops)
            self._put_stream(new)
            for done in aborted:
                self._remember_txn(done)
        return Status.SUCCESS

    async def delete_stream(self, scope: str, name: str) -> Status:
        async with self._locked(scope, [(scope, name)]):
            stream = self._stream(scope, name)
            if stream is None:
                return Status.STREAM_NOT_FOUND
            if not stream.sealed:
                return Status.STREAM_NOT_SEALED
            await self._execute(self._drop_stream_ops(stream))
            self._forget_stream(stream)
            marks = self._stream(scope, mark_stream(name))
            if marks is not None:  # its watermark stream goes with it
                await self._execute(self._drop_stream_ops(marks))
                self._forget_stream(marks)
        return Status.SUCCESS

    def _drop_stream_ops(self, stream: Stream) -> list[Op]:
        """Delete every remaining segment and metadata record of ``stream``."""
        key = (stream.scope, stream.name)
        names = [stream.segment_name(s.id) for s in stream.all_segments()]
        for txn in self._txns.get(key, {}).values():
            if txn.state == model.TXN_OPEN:
                names += self._txn_segment_names(stream, txn)
        ops: list[Op] = self._delete_ops(names)
        ops += [PutMeta(self._txn_key(t), None) for t in self._txns.get(key, {}).values()]
        ops += [PutMeta(f"wmark/{stream.scope}/{stream.name}/{w}", None) for w in self._marks.get(key, {})]
        ops.append(PutMeta(self._stream_key(stream.scope, stream.name), None))
        return ops

    def _forget_stream(self, stream: Stream) -> None:
        key = (stream.scope, stream.name)
        self._streams.get(stream.scope, {}).pop(stream.name, None)
        self._txns.pop(key, None)
        self._marks.pop(key, None)

    async def truncate_stream(self, scope: str, name: str, cut: dict[int, int]) -> Status:
        async with self._locked(streams=[(scope, name)]):
            if scope not in self._scopes:
                return Status.SCOPE_NOT_FOUND
            stream = self._stream(scope, name)
            if stream is None:
                return Status.STREAM_NOT_FOUND
            problem = stream.validate_cut(cut)
            if problem:
                raise InvalidArgument(f"invalid stream cut for {scope}/{name}: {problem}")
            if stream.head is not None and stream.is_before(cut, stream.head):
                raise InvalidArgument(f"the stream cut lies before the current head of {scope}/{name}")
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
            ops += self._delete_ops(stream.segment_name(sid) for sid in sorted(stream.ancestors(set(cut))))
            new = stream.copy()
            new.head = head
            ops.append(PutMeta(self._stream_key(scope, name), new.to_json()))
            await self._execute(ops)
            self._put_stream(new)
        return Status.SUCCESS

    # == segment queries ==========================================================

    def current_segments(self, scope: str, name: str) -> list[SegmentRecord]:
        """The active segments; none once the stream is sealed (that is how clients
        learn a stream is sealed)."""
        stream = self._require_stream(scope, name)
        return [] if stream.sealed else list(stream.current.segments)

    def epoch_segments(self, scope: str, name: str, epoch: int) -> list[SegmentRecord]:
        stream = self._require_stream(scope, name)
        if not 0 <= epoch <= stream.current_epoch:
            raise InvalidArgument(f"stream {scope}/{name} has no epoch {epoch} (current: {stream.current_epoch})")
        return list(stream.epochs[epoch].segments)

    def head(self, scope: str, name: str) -> list[tuple[int, int]]:
        return self._head(self._require_stream(scope, name))

    def _head(self, stream: Stream) -> list[tuple[int, int]]:
        if stream.head is not None:
            return [(sid, max(off, self._start_offset(stream, sid))) for sid, off in sorted(stream.head.items())]
        return [(s.id, self._start_offset(stream, s.id)) for s in stream.epochs[0].segments]

    def segments_at(self, scope: str, name: str, timestamp: int) -> list[tuple[int, int]]:
        """(segment id, offset) where reading from ``timestamp`` (ms) starts; timestamp 0
        (or any time before the stream) means the head of the stream."""
        stream = self._require_stream(scope, name)
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
        async with self._locked(streams=[(scope, name)]):
            return self.successors(scope, name, sid)

    def successors(self, scope: str, name: str, sid: int) -> list[tuple[SegmentRecord, list[int]]]:
        stream = self._require_stream(scope, name)
        if stream.segment(sid) is None:
            raise InvalidArgument(f"segment {sid} is not part of stream {scope}/{name}")
        return stream.successors(sid)

    def segments_between(self, scope: str, name: str, start: dict[int, int], end: dict[int, int]) -> list[int]:
        """Ids of the segments from cut ``start`` (empty: the head) up to and including
        cut ``end`` (empty: no end)."""
        stream = self._require_stream(scope, name)
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
        async with self._locked(streams=[(scope, name)]):
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
            ops.append(PutMeta(self._stream_key(scope, name), new.to_json()))
            await self._execute(ops)
            self._put_stream(new)
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

    # == transactions =============================================================

    def _txn(self, scope: str, name: str, high: int, low: int) -> Transaction | None:
        return self._txns.get((scope, name), {}).get((high, low))

    def get_transaction(self, scope: str, name: str, high: int, low: int) -> Transaction | None:
        return self._txn(scope, name, high, low)

    def _txn_segment_names(self, stream: Stream, txn: Transaction) -> list[str]:
        if not 0 <= txn.epoch < len(stream.epochs):
            return []
        return [
            naming.transaction_segment_name(stream.segment_name(s.id), txn.high, txn.low)
            for s in stream.epochs[txn.epoch].segments
        ]

    def _remember_txn(self, txn: Transaction) -> None:
        """Put ``txn`` (durably stored already) into the model and the reaper's queues."""
        self._txns.setdefault((txn.scope, txn.stream), {})[txn.key] = txn
        entry = (txn.scope, txn.stream, txn.high, txn.low)
        if txn.state == model.TXN_OPEN:
            heapq.heappush(self._lease_heap, (txn.lease_deadline_ms, *entry))
        else:
            heapq.heappush(self._done_heap, (txn.completed_ms or 0, *entry))

    def _check_lease(self, lease: int) -> None:
        if lease <= 0:
            raise InvalidArgument(f"transaction lease must be positive, not {lease}")
        if lease > self.max_lease_ms:
            raise InvalidArgument(f"transaction lease {lease} ms exceeds the maximum of {self.max_lease_ms} ms")

    async def create_transaction(self, scope: str, name: str, lease: int) -> tuple[Transaction, list[SegmentRecord]]:
        """Open a transaction; its segments exist once this returns."""
        self._check_lease(lease)
        async with self._locked(streams=[(scope, name)]):
            stream = self._require_stream(scope, name)
            if stream.sealed:
                raise InvalidArgument(f"stream {scope}/{name} is sealed; no transaction can start")
            self._txn_counter += 1
            counter = self._txn_counter
            high, low = naming.make_txn_id(stream.current_epoch, counter)
            now = self.now_ms()
            txn = Transaction(scope, name, high, low, stream.current_epoch, model.TXN_OPEN, now + lease, now)
            ops: list[Op] = [CreateSegment(n) for n in self._txn_segment_names(stream, txn)]
            ops.append(PutMeta(self._txn_key(txn), txn.to_json()))
            ops.append(PutMeta(_COUNTER_KEY, str(counter).encode()))
            await self._execute(ops)
            self._remember_txn(txn)
            return txn, list(stream.current.segments)

    async def ping_transaction(self, scope: str, name: str, high: int, low: int, lease: int) -> Status:
        async with self._locked(streams=[(scope, name)]):
            stream, txn = self._stream(scope, name), self._txn(scope, name, high, low)
            if stream is None or txn is None:
                return Status.UNKNOWN
            if txn.state != model.TXN_OPEN:
                return Status.COMMITTED if txn.state == model.TXN_COMMITTED else Status.ABORTED
            if lease > self.max_lease_ms:
                return Status.LEASE_TOO_LARGE
            if lease <= 0:
                raise InvalidArgument(f"transaction lease must be positive, not {lease}")
            now = self.now_ms()
            if now > txn.lease_deadline_ms:
                await self._abort_locked(stream, txn)
                return Status.ABORTED
            new = txn.copy()
            new.lease_deadline_ms = now + lease
            await self._execute([PutMeta(self._txn_key(new), new.to_json())])
            self._remember_txn(new)
        return Status.OK

    def transaction_state(self, scope: str, name: str, high: int, low: int) -> Status:
        txn = self._txn(scope, name, high, low)
        if txn is None or self._stream(scope, name) is None:
            return Status.UNKNOWN
        return {model.TXN_OPEN: Status.OPEN, model.TXN_COMMITTED: Status.COMMITTED}.get(txn.state, Status.ABORTED)

    def list_completed_transactions(self, scope: str, name: str) -> list[Transaction]:
        return sorted(
            (t for t in self._txns.get((scope, name), {}).values() if t.state != model.TXN_OPEN),
            key=lambda t: (t.completed_ms or 0, t.high, t.low),
        )

    async def commit_transaction(
        self,
        scope: str,
        name: str,
        high: int,
        low: int,
        writer_id: str = "",
        timestamp: int | None = None,
    ) -> Status:
        """Merge the transaction's segments into the stream (synchronously)."""
        async with self._locked(streams=[(scope, name)]):
            stream = self._stream(scope, name)
            if stream is None:
                return Status.STREAM_NOT_FOUND
            txn = self._txn(scope, name, high, low)
            if txn is None:
                return Status.TRANSACTION_NOT_FOUND
            if txn.state == model.TXN_COMMITTED:
                return Status.SUCCESS
            if txn.state == model.TXN_ABORTED:
                return Status.FAILURE
            if self.now_ms() > txn.lease_deadline_ms:
                await self._abort_locked(stream, txn)
                return Status.FAILURE
            if stream.sealed or not 0 <= txn.epoch <= stream.current_epoch:
                return Status.FAILURE
            done = txn.copy()
            done.state = model.TXN_COMMITTED
            done.completed_ms = self.now_ms()
            done.writer_id = writer_id
            done.commit_timestamp = timestamp
            if txn.epoch == stream.current_epoch:
                ops: list[Op] = []
                for parent in stream.current.segments:
                    parent_name = stream.segment_name(parent.id)
                    source = naming.transaction_segment_name(parent_name, high, low)
                    if self.engine.exists(source):
                        ops.append(MergeSegments(parent_name, source))
                    else:
                        log.warning("transaction segment %s is missing; committing without it", source)
                ops.append(PutMeta(self._txn_key(done), done.to_json()))
                await self._execute(ops)
            else:
                new = await self._rolling_commit(stream, txn, done)
                self._put_stream(new)
            self._remember_txn(done)
        return Status.SUCCESS

    async def _rolling_commit(self, stream: Stream, txn: Transaction, done: Transaction) -> Stream:
        """Commit a transaction begun before the stream's last scale (its parents are
        sealed): epoch c+1 duplicates the transaction epoch's segments and receives the
        transaction's data, sealed at once; epoch c+2 duplicates the active segments,
        which are sealed. Readers see the current data, then the transaction, then new
        data; per routing key, order holds through the successor relation."""
        new = stream.copy()
        txn_parents = stream.epochs[txn.epoch].segments
        active = stream.current.segments
        now = self.now_ms()
        dup_txn = new.allocate(new.current_epoch + 1, [(s.min_key, s.max_key) for s in txn_parents])
        new.add_epoch(now, dup_txn)
        dup_active = new.allocate(new.current_epoch + 1, [(s.min_key, s.max_key) for s in active])
        new.add_epoch(now, dup_active)
        phase1 = self._create_ops(new, dup_txn) + self._create_ops(new, dup_active)
        phase2: list[Op] = []
        for parent, dup in zip(txn_parents, dup_txn):
            source = naming.transaction_segment_name(stream.segment_name(parent.id), txn.high, txn.low)
            if self.engine.exists(source):
                phase2.append(MergeSegments(new.segment_name(dup.id), source))
            else:
                log.warning("transaction segment %s is missing; committing without it", source)
        phase2 += [SealSegment(new.segment_name(dup.id)) for dup in dup_txn]
        phase2 += self._seal_ops(stream.segment_name(s.id) for s in active)
        phase2.append(PutMeta(self._stream_key(new.scope, new.name), new.to_json()))
        phase2.append(PutMeta(self._txn_key(done), done.to_json()))
        await self._execute_two_phase(f"intent/{stream.scope}/{stream.name}", phase1, phase2)
        return new

    async def abort_transaction(self, scope: str, name: str, high: int, low: int) -> Status:
        async with self._locked(streams=[(scope, name)]):
            stream = self._stream(scope, name)
            if stream is None:
                return Status.STREAM_NOT_FOUND
            txn = self._txn(scope, name, high, low)
            if txn is None:
                return Status.TRANSACTION_NOT_FOUND
            if txn.state == model.TXN_ABORTED:
                return Status.SUCCESS
            if txn.state == model.TXN_COMMITTED:
                return Status.FAILURE
            await self._abort_locked(stream, txn)
        return Status.SUCCESS

    def _abort_ops(self, stream: Stream, txn: Transaction) -> tuple[list[Op], Transaction]:
        done = txn.copy()
        done.state = model.TXN_ABORTED
        done.completed_ms = self.now_ms()
        ops = self._delete_ops(self._txn_segment_names(stream, txn))
        ops.append(PutMeta(self._txn_key(done), done.to_json()))
        return ops, done

    async def _abort_locked(self, stream: Stream, txn: Transaction) -> None:
        ops, done = self._abort_ops(stream, txn)
        await self._execute(ops)
        self._remember_txn(done)

    async def reap(self) -> None:
        """Abort open transactions whose lease expired; forget completed transactions
        older than the retention time."""
        now = self.now_ms()
        expired: dict[tuple[str, str], list[tuple[int, int]]] = {}
        while self._lease_heap and self._lease_heap[0][0] < now:
            deadline, scope, name, high, low = heapq.heappop(self._lease_heap)
            txn = self._txn(scope, name, high, low)
            if txn is not None and txn.state == model.TXN_OPEN and txn.lease_deadline_ms == deadline:
                expired.setdefault((scope, name), []).append(txn.key)
        old: dict[tuple[str, str], list[tuple[int, int]]] = {}
        while self._done_heap and self._done_heap[0][0] + self.completed_txn_ttl_ms <= now:
            completed, scope, name, high, low = heapq.heappop(self._done_heap)
            txn = self._txn(scope, name, high, low)
            if txn is not None and txn.state != model.TXN_OPEN and (txn.completed_ms or 0) == completed:
                old.setdefault((scope, name), []).append(txn.key)
        for scope, name in sorted(set(expired) | set(old)):
            try:
                await self._reap_stream(scope, name, expired.get((scope, name), []), old.get((scope, name), []))
            except Exception:
                # requeue, so the next round tries again
                for key in expired.get((scope, name), []) + old.get((scope, name), []):
                    txn = self._txn(scope, name, *key)
                    if txn is not None:
                        self._remember_txn(txn)
                raise

    async def _reap_stream(
        self,
        scope: str,
        name: str,
        expired: list[tuple[int, int]],
        old: list[tuple[int, int]],
    ) -> None:
        async with self._locked(streams=[(scope, name)]):
            stream = self._stream(scope, name)
            current = self._txns.get((scope, name), {})
            if stream is None:
                return
            for key in expired:
                txn = current.get(key)
                if txn is not None and txn.state == model.TXN_OPEN and txn.lease_deadline_ms < self.now_ms():
                    log.info("transaction %s on %s/%s expired; aborting it", txn.hex, scope, name)
                    await self._abort_locked(stream, txn)
            drop = [current[k] for k in old if k in current and current[k].state != model.TXN_OPEN]
            if drop:
                await self._execute([PutMeta(self._txn_key(t), None) for t in drop])
                for t in drop:
                    current.pop(t.key, None)

    async def _reap_forever(self) -> None:
        while True:
            await asyncio.sleep(self._reaper_interval)
            try:
                await self.reap()
            except asyncio.CancelledError:
                raise
            except Exception:  # keep reaping; the next round retries
                log.exception("transaction reaper failed")

    # == two-phase operations =====================================================

    async def _execute_two_phase(self, intent_key: str, phase1: list[Op], phase2: list[Op]) -> None:
        """Run ``phase1`` together with a durable intent holding ``phase2``, then
        ``phase2`` with the intent's removal. Phase 1 may only create segments."""
        intent = model.dumps({"ops": [_encode_op(op) for op in phase2], "undo": [op.name for op in phase1]})
        await self._execute(phase1 + [PutMeta(intent_key, intent)])
        try:
            await self._execute(phase2 + [PutMeta(intent_key, None)])
        except store_errors.StoreError:
            log.exception("second phase of %s failed; undoing the first", intent_key)
            await self._execute(self._delete_ops(op.name for op in phase1) + [PutMeta(intent_key, None)])
            raise

    async def _resolve_intent(self, key: str, value: bytes) -> None:
        intent = model.loads(value)
        try:
            await self._execute([_decode_op(op) for op in intent["ops"]] + [PutMeta(key, None)])
            log.info("completed interrupted operation %s", key)
        except store_errors.StoreError:
            log.exception("cannot complete interrupted operation %s; undoing it", key)
            await self._execute(self._delete_ops(intent["undo"]) + [PutMeta(key, None)])

    # == key-value tables =========================================================

    async def create_kvt(
        self,
        scope: str,
        name: str,
        partitions: int,
        primary_key_length: int = 0,
        secondary_key_length: int = 0,
        rollover_size_bytes: int = 0,
    ) -> Status:
        if not naming.is_valid_table_name(name):
            return Status.INVALID_TABLE_NAME
        if partitions < 1:
            raise InvalidArgument(f"partitionCount must be at least 1, not {partitions}")
        if partitions > 100_000:
            raise InvalidArgument(f"partitionCount {partitions} is too large")
        if primary_key_length < 0 or secondary_key_length < 0 or rollover_size_bytes < 0:
            raise InvalidArgument("key lengths and rolloverSizeBytes must not be negative")
        async with self._locked(scope):
            if scope not in self._scopes:
                return Status.SCOPE_NOT_FOUND
            if name in self._kvts.get(scope, {}):
                return Status.TABLE_EXISTS
            kvt = KeyValueTable(
                scope,
                name,
                partitions,
                primary_key_length,
                secondary_key_length,
                rollover_size_bytes,
                self.now_ms(),
            )
            names = kvt.segment_names()
            if any(self.engine.exists(n) for n in names):
                # e.g. the table of a (client-side) reader group of the same name
                return Status.TABLE_EXISTS
            ops: list[Op] = [CreateSegment(n, SegmentKind.TABLE) for n in names]
            ops.append(PutMeta(f"kvt/{scope}/{name}", kvt.to_json()))
            await self._execute(ops)
            self._kvts.setdefault(scope, {})[name] = kvt
        return Status.SUCCESS

    def get_kvt(self, scope: str, name: str) -> KeyValueTable | None:
        return self._kvts.get(scope, {}).get(name)

    def kvt_segments(self, scope: str, name: str) -> list[SegmentRecord]:
        kvt = self.get_kvt(scope, name)
        if kvt is None:
            raise NotFound(f"key-value table {scope}/{name} does not exist")
        return kvt.segments()

    def list_kvts(self, scope: str, token: str = "") -> tuple[Status, list[str], str]:
        if scope not in self._scopes:
            return Status.SCOPE_NOT_FOUND, [], token
        page, token = self._page(self._kvts.get(scope, {}), token)
        return Status.SUCCESS, page, token

    async def delete_kvt(self, scope: str, name: str) -> Status:
        async with self._locked(scope):
            kvt = self.get_kvt(scope, name)
            if kvt is None:
                return Status.TABLE_NOT_FOUND
            ops = self._delete_ops(kvt.segment_names())
            ops.append(PutMeta(f"kvt/{scope}/{name}", None))
            await self._execute(ops)
            self._kvts[scope].pop(name, None)
        return Status.SUCCESS

    # == reader groups (Java client) ==============================================

    def get_reader_group(self, scope: str, name: str) -> ReaderGroup | None:
        return self._rgs.get(scope, {}).get(name)

    async def create_reader_group(self, rg: ReaderGroup) -> tuple[Status, ReaderGroup | None]:
        """Store the configuration (generation 0) and create the ``_RG<group>`` state
        stream. An existing group is returned unchanged."""
        if not naming.is_valid_reader_group_name(rg.name):
            return Status.INVALID_RG_NAME, None
        if rg.retention_type not in (0, 1, 2):
            raise InvalidArgument(f"unknown reader group retention type {rg.retention_type}")
        rg_stream = naming.reader_group_stream(rg.name)
        async with self._locked(rg.scope, [(rg.scope, rg_stream)]):
            if rg.scope not in self._scopes:
                return Status.SCOPE_NOT_FOUND, None
            existing = self.get_reader_group(rg.scope, rg.name)
            if existing is not None:
                return Status.SUCCESS, existing
            rg = ReaderGroup(**{**rg.__dict__})
            rg.generation = 0
            rg.reader_group_id = rg.reader_group_id or str(uuid.uuid4())
            ops: list[Op] = []
            stream = None
            if self._stream(rg.scope, rg_stream) is None:
                stream = self._new_stream(rg.scope, rg_stream, StreamConfig(min_segments=1))
                ops += self._create_ops(stream, stream.current.segments)
                ops.append(PutMeta(self._stream_key(rg.scope, rg_stream), stream.to_json()))
            ops.append(PutMeta(f"rg/{rg.scope}/{rg.name}", rg.to_json()))
            await self._execute(ops)
            if stream is not None:
                self._put_stream(stream)
            self._rgs.setdefault(rg.scope, {})[rg.name] = rg
        return Status.SUCCESS, rg

    async def update_reader_group(self, rg: ReaderGroup) -> tuple[Status, int]:
        """Replace the configuration; ``rg.generation`` must be the current generation.
        Returns the new generation."""
        async with self._locked(rg.scope):
            existing = self.get_reader_group(rg.scope, rg.name)
            if existing is None:
                return Status.RG_NOT_FOUND, 0
            if rg.reader_group_id and rg.reader_group_id != existing.reader_group_id:
                return Status.INVALID_CONFIG, existing.generation
            if rg.generation != existing.generation or rg.retention_type not in (0, 1, 2):
                return Status.INVALID_CONFIG, existing.generation
            new = ReaderGroup(**{**rg.__dict__})
            new.reader_group_id = existing.reader_group_id
            new.generation = existing.generation + 1
            await self._execute([PutMeta(f"rg/{rg.scope}/{rg.name}", new.to_json())])
            self._rgs[rg.scope][rg.name] = new
        return Status.SUCCESS, new.generation

    async def delete_reader_group(self, scope: str, name: str, reader_group_id: str = "") -> Status:
        rg_stream = naming.reader_group_stream(name)
        async with self._locked(scope, [(scope, rg_stream)]):
            rg = self.get_reader_group(scope, name)
            if rg is None or (reader_group_id and reader_group_id != rg.reader_group_id):
                return Status.RG_NOT_FOUND
            stream = self._stream(scope, rg_stream)
            ops: list[Op] = self._drop_stream_ops(stream) if stream is not None else []
            ops.append(PutMeta(f"rg/{scope}/{name}", None))
            await self._execute(ops)
            if stream is not None:
                self._forget_stream(stream)
            self._rgs[scope].pop(name, None)
        return Status.SUCCESS

    def _subscribers(self, scope: str, stream: str) -> list[ReaderGroup]:
        return [
            rg
            for groups in self._rgs.values()
            for rg in groups.values()
            if rg.retention_type != 0 and (scope, stream) in rg.streams()
        ]

    def subscriber_cuts(self, scope: str, name: str) -> list[dict[int, int] | None] | None:
        """The published cut of every subscriber group of the stream (None for a group that
        has published none), or None when the stream has no subscribers."""
        stream = self._stream(scope, name)
        groups = self._subscribers(scope, name)
        if stream is None or not groups:
            return None
        out: list[dict[int, int] | None] = []
        for rg in groups:
            sub = stream.subscribers.get(rg.scoped_name)
            out.append(dict(sub.cut) if sub is not None and sub.generation == rg.generation else None)
        return out

    def list_subscribers(self, scope: str, name: str) -> tuple[Status, list[str]]:
        if self._stream(scope, name) is None:
            return Status.STREAM_NOT_FOUND, []
        return Status.SUCCESS, sorted(rg.scoped_name for rg in self._subscribers(scope, name))

    async def update_subscriber_cut(
        self,
        scope: str,
        name: str,
        subscriber: str,
        generation: int,
        reader_group_id: str,
        cut: dict[int, int],
    ) -> Status:
        """Record a subscribing reader group's position (used for retention)."""
        async with self._locked(streams=[(scope, name)]):
            stream = self._stream(scope, name)
            if stream is None:
                return Status.STREAM_NOT_FOUND
            rg_scope, _, rg_name = subscriber.rpartition("/")
            rg = self.get_reader_group(rg_scope or scope, rg_name)
            if rg is None or rg.retention_type == 0 or (scope, name) not in rg.streams():
                return Status.SUBSCRIBER_NOT_FOUND
            if reader_group_id and reader_group_id != rg.reader_group_id:
                return Status.SUBSCRIBER_NOT_FOUND
            if generation != rg.generation:
                return Status.GENERATION_MISMATCH
            if stream.validate_cut(cut) is not None:
                return Status.STREAM_CUT_NOT_VALID
            previous = stream.subscribers.get(rg.scoped_name)
            if previous is not None and previous.generation == generation and stream.is_before(cut, previous.cut):
                return Status.STREAM_CUT_NOT_VALID
            new = stream.copy()
            new.subscribers[rg.scoped_name] = Subscriber(generation, dict(cut))
            await self._execute([PutMeta(self._stream_key(scope, name), new.to_json())])
            self._put_stream(new)
        return Status.SUCCESS

    # == writers (watermarking) ===================================================

    def writer_marks(self, scope: str, name: str) -> dict[str, WriterMark]:
        return dict(self._marks.get((scope, name), {}))

    def streams_with_marks(self) -> list[tuple[str, str]]:
        return [key for key, marks in self._marks.items() if marks]

    def stream_record(self, scope: str, name: str) -> Stream | None:
        return self._stream(scope, name)

    async def note_writer_timestamp(
        self,
        scope: str,
        name: str,
        writer: str,
        timestamp: int,
        position: dict[int, int],
    ) -> Status:
        async with self._locked(streams=[(scope, name)]):
            stream = self._stream(scope, name)
            if stream is None or not writer or any(stream.segment(sid) is None for sid in position):
                return Status.INVALID_POSITION
            previous = self._marks.get((scope, name), {}).get(writer)
            if previous is not None and timestamp < previous.timestamp:
                return Status.INVALID_TIME
            mark = WriterMark(timestamp, dict(position))
            await self._execute([PutMeta(f"wmark/{scope}/{name}/{writer}", mark.to_json())])
            self._marks.setdefault((scope, name), {})[writer] = mark
            self.watermarks.noted(scope, name, writer)
        return Status.SUCCESS

    async def remove_writer(self, scope: str, name: str, writer: str) -> Status:
        async with self._locked(streams=[(scope, name)]):
            if self._stream(scope, name) is None:
                return Status.STREAM_DOES_NOT_EXIST
            marks = self._marks.get((scope, name), {})
            if writer not in marks:
                return Status.UNKNOWN_WRITER
            await self._execute([PutMeta(f"wmark/{scope}/{name}/{writer}", None)])
            marks.pop(writer, None)
            self.watermarks.forget(scope, name, writer)
        return Status.SUCCESS

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


# -- intent (second phase) serialization -------------------------------------------


def _encode_op(op: Op) -> list:
    if isinstance(op, MergeSegments):
        return ["merge", op.target, op.source]
    if isinstance(op, SealSegment):
        return ["seal", op.name]
    if isinstance(op, DeleteSegment):
        return ["delete", op.name]
    if isinstance(op, CreateSegment):
        return ["create", op.name, int(op.kind), op.scale_type, op.target_rate]
    if isinstance(op, PutMeta):
        return ["meta", op.key, None if op.value is None else base64.b64encode(op.value).decode()]
    raise TypeError(f"cannot record {op!r} in an intent")


def _decode_op(d: list) -> Op:
    kind = d[0]
    if kind == "merge":
        return MergeSegments(d[1], d[2])
    if kind == "seal":
        return SealSegment(d[1])
    if kind == "delete":
        return DeleteSegment(d[1])
    if kind == "create":
        return CreateSegment(d[1], SegmentKind(d[2]), d[3], d[4])
    if kind == "meta":
        return PutMeta(d[1], None if d[2] is None else base64.b64decode(d[2]))
    raise ValueError(f"unknown intent operation {kind!r}")
