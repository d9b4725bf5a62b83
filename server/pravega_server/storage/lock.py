"""An exclusive lock on a data directory, so two servers never share one log.

The lock is a ``flock`` on ``DIR/LOCK``, held as long as the process keeps the
file open; the kernel drops it when the process dies (also by SIGKILL), so a stale
lock file never blocks a restart. The file holds the owner's PID for the error message.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_FILE = "LOCK"


class DataDirLocked(OSError):
    """Another process holds the data directory."""


class DataDirLock:
    def __init__(self, fd: int, path: Path) -> None:
        self._fd = fd
        self.path = path

    @classmethod
    def acquire(cls, data_dir: Path) -> DataDirLock:
        path = data_dir / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise DataDirLocked(
                f"data directory {data_dir} is in use by another pravega-server (PID {owner}); "
                "stop it or choose another --data-dir"
            ) from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:
            pass  # a full disk: the lock itself holds, only the PID note is missing
        return cls(fd, path)

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing drops the lock
            self._fd = -1
