"""Append-only log writer with group commit that survives full disks and failed syncs.

Records are written to the page cache on the event-loop thread (``os.pwritev``, no
extra copy of the payload) and made durable by one background thread that calls
``fdatasync``. Everything written while one sync runs is covered by the next, so
under load many records share one sync (group commit). Callers register a callback
with the LSN that must be durable; it runs on the event-loop thread once the sync
that covers it has finished.

The records of one pass of the event loop go to the file in one ``pwritev`` (a *batch*,
written by a callback the first record schedules): with many connections, each
delivering one small append per pass, this is one system call instead of one per
record. A record gets its LSN and file position at once; only the sync waits for the
batch to be in the file. A failed batch write is handled like a failed sync (below).

The tail file is kept zero-filled ahead of the write position (``preallocate``): a
record then overwrites allocated blocks inside the file's size, and ``fdatasync``
flushes data only. The preallocated space is also the *reserve*: when the disk is full
(preallocation fails), appends may not use the last :data:`format.RESERVE` bytes, so
control operations that free space can still be logged. Preallocation is retried with
backoff and appends resume by themselves once space is back.

Write errors never stop the server: a failed write is reported to its caller as
:class:`LogUnavailable` (the next write tries again). A failed sync is not retried
blindly (after an fsync error the kernel may have dropped the dirty pages, "fsyncgate"):
every record written since the last good sync is kept in memory until synced, written
again from memory, then synced again, with backoff; nothing is acknowledged meanwhile.

After a sync, if the log stays idle, a small marker record carrying the new durable
LSN is written and synced, so the proof that the last records were synced (and maybe
acknowledged) is itself on disk; recovery relies on it to tell corruption from a torn tail.
"""

from __future__ import annotations

import asyncio
import collections
import errno
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ...stats import StoreStats
from . import format as fmt
from .files import fsync_dir, pwrite_all

log = logging.getLogger(__name__)

Callback = Callable[[], None]
_ZEROS = memoryview(bytes(fmt.PREALLOCATE_CHUNK))
#: An idle log writes its proof-of-sync marker this long after the last sync.
MARKER_DELAY = 0.02
#: A batch is written at once when it reaches this many bytes or buffers (IOV_MAX is 1024).
BATCH_BYTES = 1 << 20
BATCH_BUFFERS = 960
_RETRY_FIRST = 0.05
_RETRY_MAX = 1.0
_SPACE_ERRORS = (errno.ENOSPC, errno.EDQUOT)


class LogClosedError(RuntimeError):
    pass


class LogUnavailable(RuntimeError):
    """The log cannot take this record now (disk full, write or sync error): retry later."""


class WalWriter:
    """Writes records to the tail file of a log directory.

    ``start_lsn`` is the LSN just after the last valid record found by recovery; the
    tail file must already be cut back to it (``tail_base=None`` starts a new file).
    """

    def __init__(
        self,
        directory: Path,
        start_lsn: int,
        *,
        tail_base: int | None,
        loop: asyncio.AbstractEventLoop,
        fsync: bool = True,
        file_size: int = fmt.DEFAULT_FILE_SIZE,
        on_fatal: Callable[[BaseException], None] | None = None,
        preallocate: bool = True,
        durable_lsn: int | None = None,
        stats: StoreStats | None = None,
    ) -> None:
        self._dir = directory
        self.stats = stats if stats is not None else StoreStats()
        self._loop = loop
        self._fsync = fsync
        self._file_size = file_size
        self._on_fatal = on_fatal  # kept for callers; the writer no longer fails for good
        self._lsn = start_lsn  # next byte to write
        self._durable = start_lsn
        self._requested = start_lsn  # highest LSN somebody waits for
        self._wanted = start_lsn  # the same for records still in the batch (requested by its write)
        self._synced = start_lsn  # highest LSN the sync thread has synced
        self._written = start_lsn  # records below this LSN are in the file (the sync's limit)
        # The batch: buffers of records not yet in the file, for one pwritev at this offset.
        self._batch: list[bytes | memoryview] = []
        self._batch_fd = -1
        self._batch_offset = 0
        self._batch_size = 0
        self._batch_end = start_lsn
        self._batch_scheduled = False
        self._proven = start_lsn if durable_lsn is None else durable_lsn  # highest synced_lsn written
        self._data_end = start_lsn  # end of the last non-marker record
        self._waiters: collections.deque[tuple[int, Callback]] = collections.deque()
        # Records written but not known synced: (fd, file offset, parts, end LSN).
        self._unsynced: collections.deque[tuple[int, int, list[bytes | memoryview], int]] = collections.deque()
        self._cond = threading.Condition()
        self._closed = False
        self._paused = False  # the sync thread waits for the loop to re-write after a failed sync
        self._sync_error: OSError | None = None
        self._space_error: OSError | None = None
        self._write_error: OSError | None = None
        self._retry_delay = _RETRY_FIRST
        self._space_retry: asyncio.TimerHandle | None = None
        self._marker_pending = False
        self._fd = -1
        self._old_fds: list[int] = []  # closed files not yet covered by a sync
        self._base = start_lsn
        self._preallocate = preallocate
        self._allocated = 0  # size of the tail file (zeros beyond the write position)
        if tail_base is None:
            self._open_new(start_lsn)
        else:
            self._base = tail_base
            path = directory / fmt.file_name(tail_base)
            self._fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
            self._allocated = os.fstat(self._fd).st_size
        self._try_extend(self._lsn - self._base)
        self._thread = threading.Thread(target=self._sync_loop, name="wal-sync", daemon=True)
        self._thread.start()
        if self._proven < self._data_end:
            self._prove_recovered()

    def _prove_recovered(self) -> None:
        """Recovered records the log does not prove durable (the process died before its
        marker): sync them (they may still be only in the page cache) and write the proof."""
        try:
            if self._fsync:
                os.fdatasync(self._fd)
        except OSError as exc:
            log.error("sync of the recovered log failed (%s)", exc)
            return
        self._loop.call_soon(self._write_marker)

    # -- file handling -------------------------------------------------------------

    def _open_new(self, base: int) -> None:
        path = self._dir / fmt.file_name(base)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        try:
            if self._fsync:
                fsync_dir(self._dir)
        except OSError:
            os.close(fd)
            os.unlink(path)
            raise
        self._fd = fd
        self._base = base
        self._allocated = 0

    def _limit(self) -> int:
        """Preallocation stops here: the file size plus the reserve, so a file that cannot
        be followed by a new one (disk full) still has the reserve."""
        return self._file_size + fmt.RESERVE

    def _extend(self, position: int) -> None:
        """Keep at least PREALLOCATE_AHEAD zero bytes beyond ``position`` in the tail file."""
        if not self._preallocate:
            return
        while self._allocated - position < fmt.PREALLOCATE_AHEAD and self._allocated < self._limit():
            chunk = _ZEROS[: self._limit() - self._allocated]
            written = os.pwrite(self._fd, chunk, self._allocated)
            if written <= 0:
                raise OSError(errno.ENOSPC, "short write while preallocating the log")
            self._allocated += written

    def _try_extend(self, position: int) -> bool:
        try:
            self._extend(position)
        except OSError as exc:
            self._on_space_error(exc)
            return False
        return True

    def _try_roll(self) -> None:
        """Start a new file; on failure (disk full) keep writing into the old one's reserve."""
        old, old_base, old_allocated = self._fd, self._base, self._allocated
        if self._fsync:
            # The old file is complete on disk before the next one exists, so a log file
            # shorter than where the next one starts is never a crash: recovery calls it
            # corruption. On failure the sync thread meets the error too and re-writes.
            try:
                os.fdatasync(old)
            except OSError as exc:
                log.error("sync of a full log file failed (%s): not moving to a new file yet", exc)
                return
        try:
            self._open_new(self._lsn)
        except OSError as exc:
            self._on_space_error(exc)
            return
        try:
            self._extend(0)
        except OSError as exc:
            os.close(self._fd)
            os.unlink(self._dir / fmt.file_name(self._base))
            self._fd, self._base, self._allocated = old, old_base, old_allocated
            self._on_space_error(exc)
            return
        new = self._fd
        with self._cond:
            self._old_fds.append(old)
            self._fd = new
        try:
            os.ftruncate(old, self._lsn - old_base)  # give the old file's unused zeros back
        except OSError:
            pass

    # -- space ---------------------------------------------------------------------

    def _log_files(self) -> list[int]:
        bases = []
        for entry in os.listdir(self._dir):
            base = fmt.parse_file_name(entry)
            if base is not None:
                bases.append(base)
        return sorted(bases)

    def delete_files_before(self, lsn: int) -> int:
        """Delete closed log files whose records all end at or before ``lsn``; returns bytes freed.

        A file's records end where the next file starts, so a closed file goes once the
        next one's base is at or below ``lsn``. The tail file is never deleted.
        """
        bases = self._log_files()
        freed = 0
        deleted = False
        for base, next_base in zip(bases, bases[1:]):
            if next_base > lsn or base == self._base:
                break
            path = self._dir / fmt.file_name(base)
            freed += path.stat().st_size
            path.unlink()
            deleted = True
        if deleted:
            fsync_dir(self._dir)
        return freed

    def disk_usage(self) -> int:
        """Bytes of log files in the directory (preallocated space included)."""
        total = 0
        for base in self._log_files():
            try:
                total += (self._dir / fmt.file_name(base)).stat().st_size
            except FileNotFoundError:
                pass
        return total

    @property
    def lsn(self) -> int:
        """LSN just past the last record written (durable or not)."""
        return self._lsn

    @property
    def durable_lsn(self) -> int:
        return self._durable

    @property
    def current_file(self) -> tuple[int, int]:
        """(base LSN of the tail file, offset of the next record in it)."""
        return self._base, self._lsn - self._base

    @property
    def unavailable(self) -> str | None:
        """Why appends are refused now, or None."""
        if self._sync_error is not None:
            failed = "write" if self._write_error is not None else "sync"
            return f"the log's disk failed a {failed} ({self._sync_error.strerror}); retrying"
        if self._space_error is not None and self._room() < fmt.RESERVE:
            return f"the log's disk is {_state(self._space_error)} ({self._space_error.strerror}); retrying"
        return None

    def _room(self) -> int:
        if not self._preallocate:
            return fmt.RESERVE if self._space_error is None else 0
        return self._allocated - (self._lsn - self._base)

    # -- writing -------------------------------------------------------------------

    def write(self, rtype: int, parts: list[bytes | memoryview], *, reserve_ok: bool = False) -> tuple[int, int, int]:
        """Write one record; returns (file base LSN, file offset of the payload, end LSN).

        The record is not durable yet: pass the end LSN to :meth:`when_durable`. Raises
        :class:`LogUnavailable` when it cannot be written now; ``reserve_ok`` lets it use
        the space kept for control operations (a full disk).
        """
        if self._closed:
            raise LogClosedError("the log is closed")
        if self._sync_error is not None:
            raise LogUnavailable(self.unavailable)
        payload = sum(len(p) for p in parts)
        if payload > fmt.MAX_RECORD_SIZE:
            raise ValueError(f"record of {payload} bytes exceeds the log's limit")
        size = fmt.HEADER_SIZE + payload
        if self._lsn - self._base >= self._file_size and self._space_error is None:
            self.flush()
            if self._sync_error is not None:
                raise LogUnavailable(self.unavailable)
            self._try_roll()
        offset = self._lsn - self._base
        if self._preallocate:
            if self._space_error is None and self._allocated - (offset + size) < fmt.PREALLOCATE_AHEAD // 2:
                self._try_extend(offset + size)
            if self._space_error is not None:
                room = self._allocated - (offset + size)
                if room < (0 if reserve_ok else fmt.RESERVE):
                    raise LogUnavailable(
                        f"the log's disk is {_state(self._space_error)} ({self._space_error.strerror}): "
                        + ("retrying" if reserve_ok else "appends are refused until space is back")
                    )
        elif self._space_error is not None and not reserve_ok:
            raise LogUnavailable(
                f"the log's disk is {_state(self._space_error)} ({self._space_error.strerror}); retrying"
            )
        head = fmt.header(self._lsn, rtype, self._durable, parts)
        vec: list[bytes | memoryview] = [head, *parts]
        batch = self._batch
        if not batch:
            self._batch_fd = self._fd
            self._batch_offset = offset
            if not self._batch_scheduled:
                self._batch_scheduled = True
                self._loop.call_soon(self._write_batch)
        batch += vec
        self._batch_size += size
        self._batch_end = self._lsn + size
        self._allocated = max(self._allocated, offset + size)
        self._proven = max(self._proven, self._durable)
        self._lsn += size
        if rtype != fmt.RecordType.MARKER:
            self._data_end = self._lsn
        self._unsynced.append((self._fd, offset, vec, self._lsn))
        if self._batch_size >= BATCH_BYTES or len(batch) >= BATCH_BUFFERS:
            self.flush()
        return self._base, offset + fmt.HEADER_SIZE, self._lsn

    def _write_batch(self) -> None:
        self._batch_scheduled = False
        self.flush()

    def flush(self) -> None:
        """Write the batch to the file now (the loop does it once per pass by itself).

        A failure is not reported to any caller: the records are kept in memory, written
        again and synced by the retry of a failed sync; nothing is acknowledged meanwhile.
        """
        batch = self._batch
        if not batch:
            return
        self._batch = []
        size, self._batch_size = self._batch_size, 0
        try:
            pwrite_all(self._batch_fd, batch, self._batch_offset, size)
        except OSError as exc:
            if self._write_error is None:
                log.error("write to the log failed (%s)", exc)
            self._write_error = exc
            with self._cond:
                self._paused = True
            self._on_sync_failed(exc)
            return
        if self._write_error is not None:
            log.warning("writes to the log work again")
            self._write_error = None
        with self._cond:
            self._written = self._batch_end
            if self._wanted > self._requested:
                self._requested = self._wanted
            if self._requested > self._synced:
                self._cond.notify()

    def when_durable(self, lsn: int, callback: Callback) -> None:
        """Run ``callback`` on the loop thread once everything before ``lsn`` is synced."""
        if lsn <= self._durable:
            callback()
            return
        self._waiters.append((lsn, callback))
        self._request(lsn)

    def _request(self, lsn: int) -> None:
        if lsn > self._written and self._batch:
            # The write of the batch requests it: one lock round per batch, not per record.
            if lsn > self._wanted:
                self._wanted = lsn
            return
        if lsn > self._requested:
            with self._cond:
                self._requested = lsn
                self._cond.notify()

    def barrier(self, callback: Callback) -> None:
        """Run ``callback`` once everything written so far is durable."""
        self.when_durable(self._lsn, callback)

    # -- errors and retries (loop thread) --------------------------------------------

    def _on_space_error(self, exc: OSError) -> None:
        if self._space_error is None:
            log.error(
                "the log's disk is %s (%s): appends are refused, control operations use the reserve; "
                "retrying until space is back",
                _state(exc),
                exc,
            )
        self._space_error = exc
        self._schedule_space_retry()

    def _schedule_space_retry(self) -> None:
        if self._space_retry is None and not self._closed:
            self._space_retry = self._loop.call_later(self._retry_delay, self._retry_space)
            self._retry_delay = min(self._retry_delay * 2, _RETRY_MAX)

    def _retry_space(self) -> None:
        self._space_retry = None
        if self._closed:
            return
        try:
            # Room for a new file's first chunk, not only for the current file's: the tail
            # file may be preallocated to its end already.
            probe = os.statvfs(self._dir)
            if probe.f_bavail * probe.f_frsize < fmt.PREALLOCATE_CHUNK + fmt.RESERVE:
                raise OSError(errno.ENOSPC, "No space left on device")
            if self._preallocate:
                self._extend(self._lsn - self._base)
        except OSError as exc:
            self._space_error = exc
            self._schedule_space_retry()
            return
        log.warning("the log's disk has space again: appends resume")
        self._space_error = None
        self._retry_delay = _RETRY_FIRST

    def _on_sync_failed(self, exc: OSError) -> None:
        if self._closed:
            return
        if self._sync_error is None:
            log.error(
                "sync or write of the log failed (%s): writing the %d records since the last good sync again "
                "from memory, "
                "then syncing again; nothing is acknowledged meanwhile",
                exc,
                len(self._unsynced),
            )
        self._sync_error = exc
        self._loop.call_later(self._retry_delay, self._resync)
        self._retry_delay = min(self._retry_delay * 2, _RETRY_MAX)

    def _resync(self) -> None:
        if self._closed:
            return
        self._batch = []  # every record of the batch is in _unsynced too
        self._batch_size = 0
        try:
            for fd, offset, vec, end in self._unsynced:
                if end > self._durable:
                    pwrite_all(fd, vec, offset, sum(len(p) for p in vec))
        except OSError as exc:
            self._on_sync_failed(exc)
            return
        if self._write_error is not None:
            log.warning("writes to the log work again")
            self._write_error = None
        with self._cond:
            self._paused = False
            self._written = self._lsn
            self._requested = max(self._requested, self._lsn)
            self._cond.notify()

    # -- the sync thread -----------------------------------------------------------

    def _sync_loop(self) -> None:
        while True:
            with self._cond:
                while not self._closed and self._idle():
                    self._cond.wait()
                if self._closed and self._idle():
                    return
                target = self._written
                fds = [*self._old_fds, self._fd]
            started = time.perf_counter()
            try:
                if self._fsync:
                    for fd in fds:
                        os.fdatasync(fd)
            except OSError as exc:
                with self._cond:
                    self._paused = True
                self._post(self._on_sync_failed, exc)
                continue
            with self._cond:
                self._synced = max(self._synced, target)
                done = fds[:-1]
                self._old_fds = [fd for fd in self._old_fds if fd not in done]
            if not self._post(self._on_synced, target, done, time.perf_counter() - started):
                return

    def _idle(self) -> bool:
        """Nothing to sync: paused, or nothing requested that is in the file and unsynced."""
        return self._paused or min(self._requested, self._written) <= self._synced

    def _post(self, fn: Callable[..., None], *args: object) -> bool:
        try:
            self._loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # loop closed during shutdown
            return False
        return True

    def _on_synced(self, target: int, done_fds: list[int], seconds: float) -> None:
        for fd in done_fds:
            os.close(fd)
        if self._sync_error is not None:
            log.warning("the log syncs again")
            self._sync_error = None
            self._retry_delay = _RETRY_FIRST
        if target <= self._durable:
            return
        stats = self.stats
        stats.sync_latency.observe(seconds * 1000.0)
        stats.sync_bytes.observe(target - self._durable)
        self._durable = target
        unsynced = self._unsynced
        records = 0
        while unsynced and unsynced[0][3] <= target:
            unsynced.popleft()
            records += 1
        stats.sync_records.observe(records)
        waiters = self._waiters
        while waiters and waiters[0][0] <= target:
            _, callback = waiters.popleft()
            callback()
        if self._proven < self._data_end <= self._durable and not self._marker_pending:
            self._marker_pending = True
            self._loop.call_later(MARKER_DELAY, self._write_marker)

    def _write_marker(self) -> None:
        """Put the proof of the last sync on disk if nothing else has (the log went idle)."""
        self._marker_pending = False
        if self._closed or not self._proven < self._data_end <= self._durable:
            return
        try:
            _, _, end = self.write(fmt.RecordType.MARKER, [], reserve_ok=True)
        except (LogUnavailable, LogClosedError):
            return
        self._request(end)

    def close(self) -> None:
        """Sync what was written and stop the sync thread."""
        if self._sync_error is None:
            self.flush()
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout=10)
        if self._space_retry is not None:
            self._space_retry.cancel()
        if self._fd >= 0:
            if self._fsync and self._sync_error is None:
                try:
                    os.fdatasync(self._fd)
                except OSError as exc:
                    log.error("final sync of the log failed: %s", exc)
            os.close(self._fd)
            self._fd = -1
        for fd in self._old_fds:
            os.close(fd)
        self._old_fds.clear()


def _state(exc: OSError) -> str:
    return "full" if exc.errno in _SPACE_ERRORS else "failing"
