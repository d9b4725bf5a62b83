"""File operations the log's writer, reader and repair share."""

from __future__ import annotations

import errno
import os
from pathlib import Path


def fsync_dir(directory: Path) -> None:
    """Make a file's creation, rename or deletion in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def pwrite_all(fd: int, vec: list[bytes | memoryview], offset: int, size: int) -> None:
    """Write the ``size`` bytes of ``vec`` at ``offset``, finishing a short write."""
    written = os.pwritev(fd, vec, offset)
    if written < size:  # short writes are rare but legal
        rest = b"".join(bytes(p) for p in vec)
        while written < size:
            n = os.pwrite(fd, rest[written:], offset + written)
            if n <= 0:
                raise OSError(errno.EIO, "short write to the log")
            written += n
