"""Wiring: the store, the segment store's TCP listener and the controller's gRPC server.

:class:`PravegaServer` starts and stops them in order and can be embedded in a
program (``async with PravegaServer(ServerConfig(...)) as server``) or run from the
command line (``pravega-server``, see ``__main__``).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc

from .auth import AuthConfig, Authenticator
from .auth.tls import TlsConfig
from .auth.tokens import persistent_secret_file
from .auth.wire import WireGuard
from .controller.autoscale import AutoScaleConfig
from .controller.grpc_auth import GrpcGuard
from .controller.grpc_service import add_to_server
from .controller.retention import RetentionConfig
from .controller.service import ControllerService
from .rest import Authenticator as RestAuthenticator
from .rest import RestServer, build_app, start_rest
from .service.group_tables import state_groups
from .service.segment_store import SegmentStore, StoreConfig
from .storage.engine import Engine
from .storage.lts import open_chunk_store
from .storage.tiering import TieringConfig
from .storage.wal.format import DEFAULT_FILE_SIZE
from .transport.tcp import WireConnection, bind_listener, start_tcp

if TYPE_CHECKING:
    from prometheus_client.core import Metric

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
    #: Tiering to long-term storage (None: off; the log keeps everything).
    tiering: TieringConfig | None = field(default_factory=TieringConfig)
    #: Tier 2: ``file:///path`` or ``s3://bucket/prefix`` (default: DATA_DIR/lts).
    lts: str | None = None
    lts_endpoint: str | None = None
    #: TLS on both ports (None: plaintext).
    tls: TlsConfig | None = None
    #: Authentication and authorization (None: everybody may do everything).
    auth: AuthConfig | None = None
    #: REST API, health and metrics port (None: no HTTP listener; 0: a free port).
    rest_port: int | None = None
    #: Checks REST requests' ``Authorization`` header (see ``rest.app.auth_middleware``).
    rest_authenticator: RestAuthenticator | None = None
    #: Serve Prometheus metrics at ``/metrics`` on the REST port.
    metrics: bool = True


class PravegaServer:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.engine: Engine | None = None
        self.controller: ControllerService | None = None
        self._tcp: asyncio.AbstractServer | None = None
        self._connections: set[WireConnection] = set()
        self._grpc: grpc.aio.Server | None = None
        self.controller_port = 0
        self.segment_store_port = 0
        self._fatal = asyncio.Event()
        self._rest: RestServer | None = None
        self.rest_port = 0
        self._sock: socket.socket | None = None
        self._rest_sock: socket.socket | None = None
        #: Checks credentials and permissions (None: authentication off); for other APIs
        #: of the server (e.g. HTTP) to share.
        self.authenticator: Authenticator | None = None

    def _bind_controller_and_rest(self) -> grpc.aio.Server:
        """Bind the controller's gRPC port (no port sharing) and the REST port, or raise
        ``OSError(EADDRINUSE)`` naming the address."""
        cfg = self.config
        server = self._grpc = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", 64 * 1024 * 1024),
                ("grpc.max_send_message_length", 64 * 1024 * 1024),
                ("grpc.so_reuseport", 0),  # gRPC shares ports by default: two controllers would alternate
            ]
        )
        where = f"{cfg.host}:{cfg.controller_port}"
        try:
            address = f"{_grpc_host(cfg.host)}:{cfg.controller_port}"
            if cfg.tls is not None:
                self.controller_port = server.add_secure_port(address, cfg.tls.grpc_credentials())
            else:
                self.controller_port = server.add_insecure_port(address)
        except RuntimeError as exc:
            raise OSError(errno.EADDRINUSE, f"cannot bind the controller to {where}: {exc}") from None
        if self.controller_port == 0:
            raise OSError(errno.EADDRINUSE, f"cannot bind the controller to {where} (address already in use?)")
        if cfg.rest_port is not None:
            self._rest_sock = _bind_rest(cfg.host, cfg.rest_port)
        return server

    async def start(self) -> None:
        cfg = self.config
        # Ports first, exclusively: a second server on a taken port fails here, before it
        # touches the data directory.
        self._sock = bind_listener(cfg.host, cfg.segment_store_port)
        grpc_server = self._bind_controller_and_rest()
        if cfg.data_dir is not None:
            from .cluster.layout import check_count

            check_count(Path(cfg.data_dir), 1)  # a directory made with several containers is refused
        chunks = None
        if cfg.data_dir is not None and cfg.tiering is not None:
            url = cfg.lts or f"file://{Path(cfg.data_dir).resolve() / 'lts'}"
            chunks = open_chunk_store(url, endpoint=cfg.lts_endpoint, fsync=cfg.fsync)
        self.engine = await Engine.open(
            cfg.data_dir,
            fsync=cfg.fsync,
            on_fatal=lambda exc: self._fatal.set(),
            file_size=cfg.log_file_size,
            chunks=chunks,
            tiering=cfg.tiering if chunks is not None else None,
        )
        store = SegmentStore(self.engine, cfg.store)
        auth = cfg.auth
        if auth is not None and auth.token_key_file is None and cfg.data_dir is not None:
            # After Engine.open, which holds the data directory's lock.
            auth = replace(auth, token_key_file=persistent_secret_file(cfg.data_dir))
        authenticator = self.authenticator = Authenticator(auth) if auth is not None else None
        sock, self._sock = self._sock, None
        self._tcp, self._connections = await start_tcp(
            store,
            cfg.host,
            cfg.segment_store_port,
            sock=sock,
            ssl_context=cfg.tls.ssl_context() if cfg.tls is not None else None,
            guard=WireGuard(authenticator.tokens) if authenticator is not None else None,
        )
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
        add_to_server(grpc_server, self.controller, GrpcGuard(authenticator) if authenticator is not None else None)
        await grpc_server.start()
        if self._rest_sock is not None:
            rest_sock, self._rest_sock = self._rest_sock, None
            await self._start_rest(rest_sock)

    async def _start_rest(self, sock: socket.socket) -> None:
        assert self.controller is not None
        metrics, timing = None, None
        if self.config.metrics:
            from .metrics import rest_metrics

            metrics, timing = rest_metrics(self)
        cfg = self.config
        authenticate = cfg.rest_authenticator
        authorize = None
        if authenticate is None and self.authenticator is not None:
            from .rest.security import authorize_principal

            authenticate, authorize = self.authenticator.authenticate, authorize_principal
        app = build_app(
            self.controller,
            self.health,
            authenticator=authenticate,
            authorizer=authorize,
            metrics_handler=metrics,
            middlewares=[timing] if timing is not None else [],
            reader_group_tables=self.reader_group_tables,
        )
        ssl_context = cfg.tls.ssl_context() if cfg.tls is not None else None
        self._rest = await start_rest(app, sock, ssl_context)
        self.rest_port = self._rest.port

    async def before_scrape(self) -> None:
        """Fetch what the metrics collector cannot read in this process (see the containers' server)."""

    def segment_store_metrics(self) -> list[Metric] | None:
        """The segment store's metric families gathered from elsewhere by :meth:`before_scrape`;
        None: the collector reads this process's engine."""
        return None

    async def reader_group_tables(self, scope: str) -> dict[str, dict[str, Any]]:
        """The scope's reader groups found in their state tables (see ``service.group_tables``)."""
        return state_groups(self.engine.segments, scope) if self.engine is not None else {}

    def health(self) -> dict[str, bool]:
        """Whether each part serves (the REST ``/health`` endpoints)."""
        return {
            "controller": self._grpc is not None and self.controller is not None,
            "segmentStore": self._tcp is not None and self._tcp.is_serving(),
            "durableLog": self.engine is not None and self.engine.fatal is None,
        }

    @property
    def connections(self) -> set[WireConnection]:
        """The open segment-store connections."""
        return self._connections

    async def stop(self, grace: float = 1.0) -> None:
        if self._rest is not None:
            await self._rest.stop()
            self._rest = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._rest_sock is not None:
            self._rest_sock.close()
            self._rest_sock = None
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
        scheme = "tls" if self.config.tls is not None else "tcp"
        return f"{scheme}://{self.config.host}:{self.controller_port}"

    async def __aenter__(self) -> PravegaServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def _bind_rest(host: str, port: int) -> socket.socket:
    try:
        return bind_listener(host, port)
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise OSError(exc.errno, f"cannot bind the REST API to {host}:{port}: {reason}") from None


def _grpc_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
