"""The ``s3`` chunk store: one object per chunk in any S3-compatible store.

Built on ``obstore`` (Python bindings of the Rust ``object_store`` crate, the one
behind arrow-rs/DataFusion/Delta): native asyncio calls, with the HTTP work, signing
and retries in Rust off the event loop, and zero-copy ``bytes`` in and out. boto3 /
aiobotocore are pure-Python, slower per request and need a thread or their own loop.
Credentials and region come from the standard ``AWS_*`` environment variables;
``--lts-endpoint`` points it at MinIO, Ceph RGW or a local emulator.

Objects are immutable: a chunk is one PUT (atomic: it exists whole or not at all).
"""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from .base import ChunkNotFound


class S3ChunkStore:
    def __init__(self, bucket: str, prefix: str = "", *, endpoint: str | None = None) -> None:
        try:
            import obstore
            from obstore.store import S3Store
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise RuntimeError("--lts s3://... needs obstore: pip install 'pravega-native[s3]'") from exc
        self._obs = obstore
        options: dict[str, Any] = {}
        if endpoint:
            options["endpoint"] = endpoint
            if endpoint.startswith("http://"):
                options["client_options"] = {"allow_http": True}
        self._store = S3Store(
            bucket,
            prefix=prefix or None,
            retry_config={"max_retries": 3, "retry_timeout": timedelta(seconds=20)},
            **options,
        )
        self.local = False
        self.location = f"s3://{bucket}/{prefix}" + (f" at {endpoint}" if endpoint else "")

    @classmethod
    def from_url(cls, url: str, *, endpoint: str | None = None) -> S3ChunkStore:
        rest = url[len("s3://") :]
        bucket, _, prefix = rest.partition("/")
        if not bucket:
            raise ValueError(f"no bucket in {url!r} (use s3://bucket/prefix)")
        return cls(bucket, prefix.strip("/"), endpoint=endpoint)

    async def write(self, name: str, offset: int, data: bytes | memoryview) -> None:
        if offset != 0:
            raise ValueError("S3 objects cannot be appended to: write chunks whole")
        with _as_os_error():
            await self._obs.put_async(self._store, name, bytes(data))

    async def read(self, name: str, offset: int, length: int) -> bytes:
        try:
            with _as_os_error():
                return bytes(await self._obs.get_range_async(self._store, name, start=offset, length=length))
        except FileNotFoundError:
            raise ChunkNotFound(name) from None

    def read_sync(self, name: str, offset: int, length: int) -> bytes | None:
        return None  # network I/O: always through read()

    async def delete(self, name: str) -> None:
        try:
            with _as_os_error():
                await self._obs.delete_async(self._store, name)
        except FileNotFoundError:
            pass

    async def list(self, prefix: str = "") -> builtins.list[str]:
        # object_store lists by path segments: filter the name prefix here.
        with _as_os_error():
            entries = await self._obs.list(self._store).collect_async()
        return sorted(name for name in (str(e["path"]) for e in entries) if name.startswith(prefix))

    async def usage(self) -> int:
        with _as_os_error():
            entries = await self._obs.list(self._store).collect_async()
        return sum(int(e["size"]) for e in entries)

    def close(self) -> None:
        pass


@contextlib.contextmanager
def _as_os_error() -> Iterator[None]:
    """obstore's errors (network, credentials, permissions) as ``OSError``, the chunk
    store contract: callers retry those. Missing objects stay ``FileNotFoundError``."""
    try:
        yield
    except OSError:
        raise
    except Exception as exc:
        raise OSError(f"S3: {exc}") from exc
