"""The ``file`` chunk store: one file per chunk in a directory (local disk or a mount).

A chunk is written to a temporary name, fsynced, renamed into place and the directory
fsynced, so after a crash a chunk either exists whole or not at all. Blocking calls
run in a worker thread; reads of a local chunk are plain ``pread`` calls on a cached
descriptor (page-cache speed, like reads of the log), so the loop can serve them
directly (:meth:`read_sync`).
"""

from __future__ import annotations

import asyncio
import builtins
import os
from collections import OrderedDict
from pathlib import Path

from .base import ChunkNotFound

_TMP = ".tmp"
_MAX_FDS = 256


class FileChunkStore:
    def __init__(self, directory: Path, *, fsync: bool = True) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.location = f"file://{self.directory}"
        self.local = True
        self._fsync = fsync
        self._fds: OrderedDict[str, int] = OrderedDict()
        for entry in os.listdir(self.directory):  # leftovers of a crash mid-write
            if entry.endswith(_TMP):
                os.unlink(self.directory / entry)

    def _path(self, name: str) -> Path:
        if not name or "/" in name or name.startswith(".") or name.endswith(_TMP):
            raise ValueError(f"invalid chunk name {name!r}")
        return self.directory / name

    # -- writing -------------------------------------------------------------------

    async def write(self, name: str, offset: int, data: bytes | memoryview) -> None:
        await asyncio.to_thread(self._write, name, offset, bytes(data))

    def _write(self, name: str, offset: int, data: bytes) -> None:
        path = self._path(name)
        if offset == 0:
            tmp = path.with_name(path.name + _TMP)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
            try:
                _write_all(fd, data, 0)
                if self._fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(tmp, path)
            self._sync_dir()
            return
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            size = os.fstat(fd).st_size
            if size != offset:
                raise ValueError(f"chunk {name}: write at {offset}, chunk has {size} bytes")
            _write_all(fd, data, offset)
            if self._fsync:
                os.fsync(fd)
        finally:
            os.close(fd)

    async def copy_from(self, name: str, sources: list[tuple[int, int, int]]) -> None:
        """Create chunk ``name`` from (fd, offset, length) ranges of open files, with
        ``copy_file_range`` (no copy through Python; falls back to pread/write)."""
        await asyncio.to_thread(self._copy_from, name, sources)

    def _copy_from(self, name: str, sources: list[tuple[int, int, int]]) -> None:
        path = self._path(name)
        tmp = path.with_name(path.name + _TMP)
        out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            pos = 0
            for src, offset, length in sources:
                done = 0
                while done < length:
                    n = _copy_range(src, offset + done, out, pos, length - done)
                    if n <= 0:
                        raise OSError(f"short copy into chunk {name}")
                    done += n
                    pos += n
            if self._fsync:
                os.fsync(out)
        finally:
            os.close(out)
        os.rename(tmp, path)
        self._sync_dir()

    def _sync_dir(self) -> None:
        if not self._fsync:
            return
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # -- reading -------------------------------------------------------------------

    def read_sync(self, name: str, offset: int, length: int) -> bytes:
        fd = self._fds.get(name)
        if fd is None:
            try:
                fd = os.open(self._path(name), os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                raise ChunkNotFound(name) from None
            self._fds[name] = fd
            if len(self._fds) > _MAX_FDS:
                _, old = self._fds.popitem(last=False)
                os.close(old)
        else:
            self._fds.move_to_end(name)
        return os.pread(fd, length, offset)

    async def read(self, name: str, offset: int, length: int) -> bytes:
        return self.read_sync(name, offset, length)

    # -- deleting and listing ------------------------------------------------------

    async def delete(self, name: str) -> None:
        fd = self._fds.pop(name, None)
        if fd is not None:
            os.close(fd)
        await asyncio.to_thread(self._delete, name)

    def _delete(self, name: str) -> None:
        try:
            os.unlink(self._path(name))
        except FileNotFoundError:
            return
        self._sync_dir()

    async def list(self, prefix: str = "") -> builtins.list[str]:
        return await asyncio.to_thread(self._list, prefix)

    def _list(self, prefix: str) -> builtins.list[str]:
        return sorted(e for e in os.listdir(self.directory) if e.startswith(prefix) and not e.endswith(_TMP))

    async def usage(self) -> int:
        return await asyncio.to_thread(self._usage)

    def _usage(self) -> int:
        total = 0
        with os.scandir(self.directory) as it:
            for entry in it:
                try:
                    total += int(entry.stat().st_blocks) * 512
                except FileNotFoundError:
                    pass
        return total

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()


def _write_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        view = view[n:]
        offset += n


def _copy_range(src: int, src_offset: int, dst: int, dst_offset: int, length: int) -> int:
    copy = getattr(os, "copy_file_range", None)
    if copy is not None:
        try:
            return int(copy(src, dst, length, src_offset, dst_offset))
        except OSError:
            pass  # e.g. EXDEV on old kernels, or a file system without support
    data = os.pread(src, min(length, 8 * 1024 * 1024), src_offset)
    _write_all(dst, data, dst_offset)
    return len(data)
