"""A bounded cache of tier-2 data for stores the loop cannot read directly (S3).

Chunks are immutable, so cached blocks never go stale; they are only dropped when the
cache is full (least recently used first) or their chunk is deleted. Blocks are
aligned (``block_size``) so neighbouring reads share them. A read of block *k* also
starts fetching the next ``read_ahead`` blocks of the chunk: a catch-up reader going
through history then finds its next reads in memory and they are answered without
waiting (the segment store's synchronous path).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict

from .lts import ChunkStore

log = logging.getLogger(__name__)


class ReadCache:
    def __init__(
        self,
        store: ChunkStore,
        *,
        capacity: int = 256 * 1024 * 1024,
        block_size: int = 1024 * 1024,
        read_ahead: int = 4,
    ) -> None:
        self.store = store
        self.capacity = capacity
        self.block_size = block_size
        self.read_ahead = read_ahead
        self._blocks: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._size = 0
        self._loading: dict[tuple[str, int], asyncio.Future[bytes]] = {}
        self.hits = 0
        self.misses = 0

    def get(self, name: str, offset: int, length: int) -> bytes | None:
        """Cached bytes from ``offset`` (up to the end of their block), or None."""
        index, skip = divmod(offset, self.block_size)
        block = self._blocks.get((name, index))
        if block is None or skip >= len(block):
            return None
        self._blocks.move_to_end((name, index))
        self.hits += 1
        return block[skip : skip + length]

    async def read(self, name: str, offset: int, length: int, chunk_end: int) -> bytes:
        """Bytes from ``offset`` (up to the end of their block), fetching as needed;
        ``chunk_end`` is the chunk's length (read-ahead stops there)."""
        cached = self.get(name, offset, length)
        index, skip = divmod(offset, self.block_size)
        for ahead in range(index + 1, index + 1 + self.read_ahead):
            if ahead * self.block_size >= chunk_end:
                break
            self._load(name, ahead, chunk_end)
        if cached is not None:
            return cached
        self.misses += 1
        block = await self._load(name, index, chunk_end)
        return block[skip : skip + length]

    def _load(self, name: str, index: int, chunk_end: int) -> asyncio.Future[bytes]:
        key = (name, index)
        fut = self._loading.get(key)
        if fut is not None:
            return fut
        block = self._blocks.get(key)
        if block is not None:
            done: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
            done.set_result(block)
            return done
        start = index * self.block_size
        fut = asyncio.ensure_future(self.store.read(name, start, min(self.block_size, chunk_end - start)))
        self._loading[key] = fut

        def loaded(f: asyncio.Future[bytes]) -> None:
            self._loading.pop(key, None)
            if f.cancelled() or f.exception() is not None:
                return
            self._put(key, f.result())

        fut.add_done_callback(loaded)
        return fut

    def _put(self, key: tuple[str, int], block: bytes) -> None:
        old = self._blocks.pop(key, None)
        if old is not None:
            self._size -= len(old)
        self._blocks[key] = block
        self._size += len(block)
        while self._size > self.capacity and self._blocks:
            _, evicted = self._blocks.popitem(last=False)
            self._size -= len(evicted)

    def drop(self, name: str) -> None:
        """Forget a deleted chunk."""
        for key in [k for k in self._blocks if k[0] == name]:
            self._size -= len(self._blocks.pop(key))
