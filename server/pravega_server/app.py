"""Wiring: the store, the segment store's TCP listener and the controller's gRPC server.

:class:`PravegaServer` starts and stops them in order and can be embedded in a
program (``async with PravegaServer(ServerConfig(...)) as server``) or run from the
command line (``pravega-server``, see ``__main__``).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from .controller.autoscale import AutoScaleConfig
from .controller.grpc_service import add_to_server
from .controller.retention import RetentionConfig
from .controller.service import ControllerService
from .service.segment_store import SegmentStore, StoreConfig
from .storage.engine import Engine
from .storage.wal.format import DEFAULT_FILE_SIZE
from .transport.tcp import bind_listener, start_tcp

log = logging.getLogger(__name__)


@dataclass
class ServerConfig:
    data_dir: Path | None = None  # None: in memory, nothing survives a restart
    host: str = "127.0.0.1"
    controller_port: int = 9090
    segment_store_port: int = 12345
    #: Address handed to clients by ``getURI`` (defaults to host and the bound port).
    advertised_host: str | None = None
    advertised_port: int | None = None
    fsync: bool = True
    store: StoreConfig = field(default_factory=StoreConfig)
    max_txn_lease_ms: int = 600_000
    autoscale: AutoScaleConfig = field(default_factory=AutoScaleConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    #: Size at which the log moves to a new file.
    log_file_size: int = DEFAULT_FILE_SIZE


class PravegaServer:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.engine: Engine | None = None
        self.controller: ControllerService | None = None
        self._tcp: asyncio.AbstractServer | None = None
        self._connections: set = set()
        self._grpc: grpc.aio.Server | None = None
        self.controller_port = 0
        self.segment_store_port = 0
        self._fatal = asyncio.Event()
        self._sock: socket.socket | None = None

    async def start(self) -> None:
        cfg = self.config
        # Ports first, exclusively: a second server on a taken port fails here, before it
        # touches the data directory.
        self._sock = bind_listener(cfg.host, cfg.segment_store_port)
        self._grpc = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", 64 * 1024 * 1024),
                ("grpc.max_send_message_length", 64 * 1024 * 1024),
                ("grpc.so_reuseport", 0),  # gRPC shares ports by default: two controllers would alternate
            ]
        )
        where = f"{cfg.host}:{cfg.controller_port}"
        try:
            self.controller_port = self._grpc.add_insecure_port(f"{_grpc_host(cfg.host)}:{cfg.controller_port}")
        except RuntimeError as exc:
            raise OSError(errno.EADDRINUSE, f"cannot bind the controller to {where}: {exc}") from None
        if self.controller_port == 0:
            raise OSError(errno.EADDRINUSE, f"cannot bind the controller to {where} (address already in use?)")
        self.engine = await Engine.open(
            cfg.data_dir, fsync=cfg.fsync, file_size=cfg.log_file_size, on_fatal=lambda exc: self._fatal.set()
        )
        store = SegmentStore(self.engine, cfg.store)
        sock, self._sock = self._sock, None
        self._tcp, self._connections = await start_tcp(store, cfg.host, cfg.segment_store_port, sock=sock)
        self.segment_store_port = self._tcp.sockets[0].getsockname()[1]
        self.controller = ControllerService(
            self.engine,
            segment_store_endpoint=(
                cfg.advertised_host or cfg.host,
                cfg.advertised_port or self.segment_store_port,
            ),
            controller_endpoint=lambda: (cfg.advertised_host or cfg.host, self.controller_port),
            max_lease_ms=cfg.max_txn_lease_ms,
            autoscale=cfg.autoscale,
            retention=cfg.retention,
        )
        await self.controller.start()
        add_to_server(self._grpc, self.controller)
        await self._grpc.start()

    async def stop(self, grace: float = 1.0) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._grpc is not None:
            await self._grpc.stop(grace)
            self._grpc = None
        if self.controller is not None:
            await self.controller.stop()
        if self._tcp is not None:
            self._tcp.close()
            for conn in list(self._connections):
                conn._close()
            await self._tcp.wait_closed()
            self._tcp = None
        if self.engine is not None:
            self.engine.close()
            self.engine = None

    async def wait_fatal(self) -> None:
        await self._fatal.wait()

    @property
    def controller_uri(self) -> str:
        return f"tcp://{self.config.host}:{self.controller_port}"

    async def __aenter__(self) -> PravegaServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def _grpc_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
