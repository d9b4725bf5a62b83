"""Run a server inside the current process, on a background thread with its own loop.

>>> with EmbeddedServer() as server:                 # doctest: +SKIP
...     print(server.controller_uri)
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from pravega._loops import new_event_loop

from .app import PravegaServer, ServerConfig


class EmbeddedServer:
    def __init__(
        self,
        data_dir: Path | str | None = None,
        *,
        controller_port: int = 0,
        segment_store_port: int = 0,
        host: str = "127.0.0.1",
        fsync: bool = True,
    ) -> None:
        self.config = ServerConfig(
            data_dir=Path(data_dir) if data_dir is not None else None,
            host=host,
            controller_port=controller_port,
            segment_store_port=segment_store_port,
            fsync=fsync,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: PravegaServer | None = None
        self._stopped: asyncio.Event | None = None

    @property
    def controller_uri(self) -> str:
        assert self._server is not None, "not started"
        return self._server.controller_uri

    @property
    def segment_store_port(self) -> int:
        assert self._server is not None, "not started"
        return self._server.segment_store_port

    def start(self, timeout: float = 30.0) -> EmbeddedServer:
        ready = threading.Event()
        failure: list[BaseException] = []

        async def main() -> None:
            self._stopped = asyncio.Event()
            self._server = PravegaServer(self.config)
            try:
                await self._server.start()
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
                ready.set()
                await self._server.stop(0)
                return
            ready.set()
            await self._stopped.wait()
            await self._server.stop()

        def run() -> None:
            self._loop = new_event_loop()
            try:
                self._loop.run_until_complete(main())
            finally:
                self._loop.close()

        self._thread = threading.Thread(target=run, name="pravega-server", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise TimeoutError("embedded server did not start")
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stopped is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
            self._thread.join(30)
            self._thread = None

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
