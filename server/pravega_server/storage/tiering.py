"""The background task behind infinite retention: tier, checkpoint, trim, collect.

One asyncio task per engine, never on the append path. Each round it

1. **tiers**: for every segment whose durable log data is large enough (a chunk),
   old enough (the flush age) or final (sealed), copies a run of its log extents into
   a new tier-2 chunk (``copy_file_range`` for the file store, in a worker thread) and
   then logs a :class:`~.ops.TierSegment` that swaps the log extents for the chunk;
2. **checkpoints** the engine's state when enough log was written or enough time
   passed (``checkpoint.py``), and then deletes the log files that neither recovery
   (everything before the checkpoint's LSN) nor any untiered extent needs;
3. **collects** chunks that truncation, deletion or a discarded TierSegment left
   unreferenced, once the operation that dropped them is durable.

Failures of tier 2 (down, full, bad credentials) are logged and retried with
exponential backoff; meanwhile appends keep going to the log until ``max_log_size``,
beyond which writers get :class:`~.errors.StorageUnavailable`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import checkpoint, errors
from .lts import FileChunkStore
from .ops import TierSegment
from .segments import Segment
from .wal.reader import list_files
from .wal.writer import WalWriter

if TYPE_CHECKING:
    from .engine import Engine

log = logging.getLogger(__name__)

#: Longest wait between two attempts while tier 2 fails.
MAX_BACKOFF = 10.0
#: Chunks one segment may write per round.
CHUNKS_PER_ROUND = 8


@dataclass
class TieringConfig:
    #: Largest chunk written at once (a single larger append becomes one chunk).
    chunk_size: int = 64 * 1024 * 1024
    #: Log data older than this (seconds) is tiered even if no chunk is full.
    flush_age: float = 30.0
    #: A checkpoint is written after this many seconds ...
    checkpoint_interval: float = 30.0
    #: ... or after this many log bytes, whichever comes first (if anything changed).
    checkpoint_bytes: int = 256 * 1024 * 1024
    #: Bound of the log on disk (bytes); beyond it appends are refused. 0: no bound.
    max_log_size: int = 0
    #: Seconds between two storage-usage log lines.
    usage_interval: float = 60.0
    #: Seconds between two rounds when idle.
    poll: float = 0.25

    def validate(self) -> str | None:
        if self.chunk_size <= 0:
            return "the chunk size must be positive"
        if self.flush_age < 0 or self.checkpoint_interval <= 0 or self.checkpoint_bytes <= 0:
            return "flush age, checkpoint interval and checkpoint bytes must be positive"
        if self.max_log_size < 0:
            return "the log size bound must not be negative"
        return None


class Tiering:
    def __init__(self, engine: Engine, config: TieringConfig) -> None:
        self.engine = engine
        self.config = config
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._garbage: list[str] = []
        self._first_seen: dict[int, float] = {}
        self._ckpt_lsn = engine.checkpoint_lsn
        self._ckpt_time = time.monotonic()
        self._usage_time = 0.0
        self._failures = 0
        self._swept = False
        self.tiered_bytes = 0
        self.deleted_chunks = 0
        engine.on_garbage = self._collect

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self.engine.on_garbage = None

    def _collect(self, chunks: list[str]) -> None:
        self._garbage.extend(chunks)
        self._wake.set()

    # -- the loop ------------------------------------------------------------------

    async def _run(self) -> None:
        next_round = 0.0
        while True:
            if time.monotonic() >= next_round:
                try:
                    await self._round()
                    self._failures = 0
                    next_round = 0.0
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # tier 2 down, disk full, ...: retried with backoff
                    if self.engine.fatal is not None:
                        return
                    self._failures += 1
                    delay = min(MAX_BACKOFF, self.config.poll * 2**self._failures)
                    next_round = time.monotonic() + delay
                    log.warning("tiering failed (attempt %d, retry in %.1f s): %s", self._failures, delay, exc)
            # Checked every poll, also while backing off: writers must hear of a full log.
            self._update_log_bound()
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), self.config.poll)
            except TimeoutError:
                pass

    async def _round(self) -> None:
        if not self._swept:
            await self._sweep()
            self._swept = True
        await self._delete_garbage()
        await self._tier()
        if self._checkpoint_due():
            await self.checkpoint()
        now = time.monotonic()
        if now - self._usage_time >= self.config.usage_interval:
            self._usage_time = now
            await self._log_usage()

    def _where(self) -> str:
        return self.engine.chunks.location if self.engine.chunks is not None else "none"

    # -- tiering -------------------------------------------------------------------

    async def _tier(self) -> None:
        engine = self.engine
        if engine.chunks is None:
            return
        now = time.monotonic()
        for seg in list(engine.segments.values()):
            # A bounded number of chunks per segment and round: under heavy ingest the
            # other segments, checkpoints and log trimming get their turn.
            for _ in range(CHUNKS_PER_ROUND):
                if seg.deleted or engine.fatal is not None:
                    break
                untiered = seg.log_bytes()
                if untiered == 0:
                    self._first_seen.pop(seg.id, None)
                    break
                first = self._first_seen.setdefault(seg.id, now)
                due = untiered >= self.config.chunk_size or seg.durable_sealed or now - first >= self.config.flush_age
                if not due or not await self._tier_one(seg):
                    break
                if seg.log_bytes() < self.config.chunk_size:
                    self._first_seen[seg.id] = time.monotonic()
        for seg_id in [i for i in self._first_seen if i not in engine.by_id]:
            del self._first_seen[seg_id]

    async def _tier_one(self, seg: Segment) -> bool:
        """Move one run of ``seg``'s log extents into a chunk; False if nothing moved."""
        engine = self.engine
        found = seg.log_run(self.config.chunk_size)
        if found is None:
            return False
        start, length, run = found
        chunk = f"{seg.id:x}-{start:x}-{secrets.token_hex(4)}"
        sources = [(engine._read_fd(base), where, n) for base, where, n in run]
        store = engine.chunks
        assert store is not None
        if isinstance(store, FileChunkStore):
            await store.copy_from(chunk, sources)
        else:
            data = await asyncio.to_thread(_gather, sources)
            await store.write(chunk, 0, data)
        try:
            applied = await engine.execute([TierSegment(seg.name, seg.id, start, length, chunk)])
        except (errors.StoreError, RuntimeError):
            await self._delete_quietly([chunk])
            raise
        if applied[0]:
            self.tiered_bytes += length
            return True
        return False  # the segment changed meanwhile; the chunk is garbage already

    # -- checkpoints and log trimming ----------------------------------------------

    def _checkpoint_due(self) -> bool:
        written = self.engine.log.lsn - self._ckpt_lsn
        if written <= 0:
            return False
        if written >= self.config.checkpoint_bytes:
            return True
        return time.monotonic() - self._ckpt_time >= self.config.checkpoint_interval

    async def checkpoint(self) -> None:
        """Write a checkpoint of the current state, then trim the log."""
        engine = self.engine
        assert engine.data_dir is not None
        lsn = engine.log.lsn
        segments = list(engine.segments.values())
        data = checkpoint.encode(lsn, engine.next_id, segments, engine.meta)
        lowest = min((base + where for s in segments for base, where, _ in s.extents if type(base) is int), default=lsn)
        await engine.barrier()  # never checkpoint state that is not durable yet
        if engine.log.durable_lsn < lsn:  # pragma: no cover - the log failed
            return
        await asyncio.to_thread(checkpoint.write, engine.data_dir, lsn, data, fsync=engine.fsync)
        self._ckpt_lsn = lsn
        self._ckpt_time = time.monotonic()
        await self._trim_log(min(lsn, lowest))

    async def _trim_log(self, bound: int) -> None:
        """Delete log files wholly below ``bound`` (never the file being written)."""
        engine = self.engine
        writer = engine.log
        if not isinstance(writer, WalWriter):
            return
        bases = list_files(engine.data_dir / "wal")  # type: ignore[operator]
        doomed = [b for b, nxt in zip(bases, bases[1:]) if nxt <= bound]
        if not doomed:
            return
        engine.release_log_fds(doomed[-1] + 1)
        freed = await asyncio.to_thread(writer.delete_files_before, bound)
        log.debug("deleted %d log files (%d bytes) below LSN %d", len(doomed), freed, bound)

    def _update_log_bound(self) -> None:
        bound = self.config.max_log_size
        if not bound or self.engine.data_dir is None:
            return
        bases = list_files(self.engine.data_dir / "wal")
        used = self.engine.log.lsn - (bases[0] if bases else 0)
        full = used > bound
        if full != self.engine.log_full:
            self.engine.log_full = full
            if full:
                log.warning("the log holds %d bytes (bound %d): refusing appends until tier 2 catches up", used, bound)
            else:
                log.warning("the log is back under its bound: accepting appends")

    # -- garbage -------------------------------------------------------------------

    async def _delete_garbage(self) -> None:
        if not self._garbage:
            return
        batch, self._garbage = self._garbage, []
        try:
            await self._delete(batch)
        except BaseException:
            self._garbage.extend(batch)
            raise

    async def _delete(self, names: Iterable[str]) -> None:
        store = self.engine.chunks
        assert store is not None
        for name in names:
            await store.delete(name)
            if self.engine.read_cache is not None:
                self.engine.read_cache.drop(name)
            self.deleted_chunks += 1

    async def _delete_quietly(self, names: list[str]) -> None:
        try:
            await self._delete(names)
        except OSError:
            self._garbage.extend(names)

    async def _sweep(self) -> None:
        """Delete chunks nothing references (a crash between an operation and the
        deletion of the chunks it dropped, or between a chunk write and its TierSegment)."""
        store = self.engine.chunks
        if store is None:
            return
        referenced: set[str] = set()
        for seg in self.engine.segments.values():
            referenced |= seg.chunks()
        stale = [name for name in await store.list() if name not in referenced]
        if stale:
            log.info("tier 2 (%s): deleting %d unreferenced chunks", store.location, len(stale))
            await self._delete(stale)

    async def _log_usage(self) -> None:
        engine = self.engine
        wal = engine.data_dir / "wal"  # type: ignore[operator]
        files = list_files(wal)
        log_bytes = engine.log.lsn - (files[0] if files else 0)
        tier2 = await engine.chunks.usage() if engine.chunks is not None else 0
        log.info(
            "storage: log %d bytes in %d files; tier 2 (%s) %d bytes; tiered %d bytes, deleted %d chunks so far",
            log_bytes,
            len(files),
            self._where(),
            tier2,
            self.tiered_bytes,
            self.deleted_chunks,
        )


def _gather(sources: list[tuple[int, int, int]]) -> bytes:
    return b"".join(os.pread(fd, n, where) for fd, where, n in sources)
