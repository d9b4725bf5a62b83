"""Append-only log writer with group commit.

Records are written to the page cache on the event-loop thread (``os.writev``, no
extra copy of the payload) and made durable by one background thread that calls
``fdatasync``. Everything written while one sync runs is covered by the next, so
under load many records share one sync (group commit). Callers register a callback
with the LSN that must be durable; it runs on the event-loop thread once the sync
that covers it has finished.

The tail file is kept zero-filled ahead of the write position (``preallocate``): a
record then overwrites allocated blocks inside the file's size, and ``fdatasync``
flushes data only, without journaling a new size or new extents. Measured here
that cuts the sync's p99 several-fold. Recovery reads an all-zero header as the end.

A failed write or sync is fatal: after ``fsync`` has reported an error the kernel may
have dropped the dirty pages, so nothing can be acknowledged any more. The writer
reports it through ``on_fatal`` and refuses further writes.
"""

from __future__ import annotations

import asyncio
import collections
import os
import threading
from collections.abc import Callable
from pathlib import Path

from . import format as fmt

Callback = Callable[[], None]
_ZEROS = memoryview(bytes(fmt.PREALLOCATE_CHUNK))


class LogClosedError(RuntimeError):
    pass


class WalWriter:
    """Writes records to the tail file of a log directory.

    ``start_lsn`` is the LSN just after the last valid record found by recovery; the
    tail file must already be cut back to it.
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
    ) -> None:
        self._dir = directory
        self._loop = loop
        self._fsync = fsync
        self._file_size = file_size
        self._on_fatal = on_fatal
        self._lsn = start_lsn  # next byte to write
        self._durable = start_lsn
        self._requested = start_lsn  # highest LSN somebody waits for
        self._waiters: collections.deque[tuple[int, Callback]] = collections.deque()
        self._cond = threading.Condition()
        self._closed = False
        self._failed: BaseException | None = None
        self._fd = -1
        self._retired: list[int] = []
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
            self._extend(self._lsn - self._base)
        self._thread = threading.Thread(target=self._sync_loop, name="wal-sync", daemon=True)
        self._thread.start()

    # -- file handling -------------------------------------------------------------

    def _open_new(self, base: int) -> None:
        path = self._dir / fmt.file_name(base)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        if self._fsync:
            _fsync_dir(self._dir)
        self._fd = fd
        self._base = base
        self._allocated = 0
        self._extend(0)

    def _extend(self, position: int) -> None:
        """Keep at least PREALLOCATE_AHEAD zero bytes beyond ``position`` in the tail file."""
        if not self._preallocate:
            return
        # Never beyond the size at which the log moves to a new file.
        while self._allocated - position < fmt.PREALLOCATE_AHEAD and self._allocated < self._file_size:
            chunk = _ZEROS[: self._file_size - self._allocated]
            os.pwrite(self._fd, chunk, self._allocated)
            self._allocated += len(chunk)

    def _roll(self) -> None:
        """Start a new file. The old one is synced here so the sync thread only ever
        has one file to care about."""
        old = self._fd
        with self._cond:
            if self._fsync:
                os.fdatasync(old)
            self._open_new(self._lsn)
        # The sync thread may still hold the old descriptor; it is closed with the log.
        self._retired.append(old)

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
            _fsync_dir(self._dir)
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

    # -- writing -------------------------------------------------------------------

    def write(self, rtype: int, parts: list[bytes | memoryview]) -> tuple[int, int, int]:
        """Write one record; returns (file base LSN, file offset of the payload, end LSN).

        The record is not durable yet: pass the end LSN to :meth:`when_durable`.
        """
        if self._failed is not None or self._closed:
            raise LogClosedError("the log is closed") from self._failed
        if self._lsn - self._base >= self._file_size:
            self._roll()
        head = fmt.header(rtype, parts)
        size = len(head) + sum(len(p) for p in parts)
        if size - fmt.HEADER_SIZE > fmt.MAX_RECORD_SIZE:
            raise ValueError(f"record of {size} bytes exceeds the log's limit")
        offset = self._lsn - self._base
        payload_offset = offset + fmt.HEADER_SIZE
        try:
            vec = [head, *parts]
            written = os.pwritev(self._fd, vec, offset)
            while written < size:  # short writes are rare but legal
                rest = b"".join(bytes(p) for p in vec)[written:]
                written += os.pwrite(self._fd, rest, offset + written)
            self._allocated = max(self._allocated, offset + size)
            if self._allocated - (offset + size) < fmt.PREALLOCATE_AHEAD // 2:
                self._extend(offset + size)
        except OSError as exc:
            self._fail(exc)
            raise LogClosedError("write to the log failed") from exc
        self._lsn += size
        return self._base, payload_offset, self._lsn

    def when_durable(self, lsn: int, callback: Callback) -> None:
        """Run ``callback`` on the loop thread once everything before ``lsn`` is synced."""
        if lsn <= self._durable:
            callback()
            return
        self._waiters.append((lsn, callback))
        if lsn > self._requested:
            with self._cond:
                self._requested = lsn
                self._cond.notify()

    def barrier(self, callback: Callback) -> None:
        """Run ``callback`` once everything written so far is durable."""
        self.when_durable(self._lsn, callback)

    # -- the sync thread -----------------------------------------------------------

    def _sync_loop(self) -> None:
        while True:
            with self._cond:
                while self._requested <= self._durable_seen() and not self._closed:
                    self._cond.wait()
                if self._closed and self._requested <= self._durable_seen():
                    return
                target = self._lsn
                fd = self._fd
            try:
                if self._fsync:
                    os.fdatasync(fd)
            except OSError as exc:
                self._loop.call_soon_threadsafe(self._fail, exc)
                return
            with self._cond:
                self._synced = target
            try:
                self._loop.call_soon_threadsafe(self._on_synced, target)
            except RuntimeError:  # loop closed during shutdown
                return

    _synced = 0

    def _durable_seen(self) -> int:
        return max(self._synced, self._durable)

    def _on_synced(self, target: int) -> None:
        if target <= self._durable:
            return
        self._durable = target
        waiters = self._waiters
        while waiters and waiters[0][0] <= target:
            _, callback = waiters.popleft()
            callback()

    def _fail(self, exc: BaseException) -> None:
        if self._failed is None:
            self._failed = exc
            if self._on_fatal is not None:
                self._on_fatal(exc)

    def close(self) -> None:
        """Sync what was written and stop the sync thread."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout=10)
        if self._fd >= 0:
            if self._fsync and self._failed is None:
                os.fdatasync(self._fd)
            os.close(self._fd)
            self._fd = -1
        for fd in self._retired:
            os.close(fd)
        self._retired.clear()


def _fsync_dir(directory: Path) -> None:
    """Make a file's creation, rename or deletion in ``directory`` durable."""
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
