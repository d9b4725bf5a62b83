"""Tier 2 ("long-term storage"): segment data kept as immutable chunks in a chunk store.

:func:`open_chunk_store` turns a ``--lts`` URL into a store: ``file:///path`` (a
directory) or ``s3://bucket/prefix`` (any S3-compatible object store).
"""

from __future__ import annotations

from pathlib import Path

from .base import ChunkNotFound, ChunkStore
from .file import FileChunkStore

__all__ = ["ChunkNotFound", "ChunkStore", "FileChunkStore", "open_chunk_store"]


def open_chunk_store(url: str, *, endpoint: str | None = None, fsync: bool = True) -> ChunkStore:
    """The chunk store named by ``url`` (``file:///dir`` or ``s3://bucket/prefix``)."""
    if url.startswith("file://"):
        return FileChunkStore(Path(url[len("file://") :]), fsync=fsync)
    if url.startswith("s3://"):
        from .s3 import S3ChunkStore

        store: ChunkStore = S3ChunkStore.from_url(url, endpoint=endpoint)
        return store
    raise ValueError(f"unsupported long-term storage URL {url!r} (use file:///path or s3://bucket/prefix)")
