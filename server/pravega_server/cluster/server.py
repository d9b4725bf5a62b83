"""The supervisor: controller (gRPC, REST) over its own metadata log, plus containers.

:class:`ClusterServer` has the surface of :class:`~..app.PravegaServer` that the command
line, REST and metrics use, so ``__main__`` runs either.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..app import PravegaServer, ServerConfig
from ..auth import Authenticator
from ..auth.acl import Permission
from ..auth.tokens import new_secret_file, persistent_secret_file
from ..controller.grpc_auth import GrpcGuard
from ..controller.grpc_service import add_to_server
from ..controller.service import ControllerService
from ..metrics.families import add_up, decode
from ..storage.engine import Engine
from ..storage.lts import open_chunk_store
from . import layout
from .control import ask_all
from .placement import container_of_stream
from .processes import ContainerSet
from .steps import ContainerClient, internal_ssl_context
from .store import ClusterStore

if TYPE_CHECKING:
    from prometheus_client.core import Metric

log = logging.getLogger(__name__)


class ClusterServer(PravegaServer):
    """``argv(index, fd)`` builds a container's command line (see ``__main__``)."""

    def __init__(self, config: ServerConfig, containers: int, argv: Callable[[int, int], list[str]]) -> None:
        super().__init__(config)
        self.count = containers
        self._argv = argv
        self.containers: ContainerSet | None = None
        self._key_dir: tempfile.TemporaryDirectory | None = None
        self._pki_dir: tempfile.TemporaryDirectory | None = None
        #: The CA of the controller's client certificate (set when clients must present one).
        self.internal_ca: Path | None = None
        #: The token key file the containers must share (set when authentication is on).
        self.token_key_file: Path | None = None
        self.store: ClusterStore | None = None
        self._store_metrics: list[Metric] = []

    async def start(self) -> None:
        cfg = self.config
        data_dir = Path(cfg.data_dir) if cfg.data_dir is not None else None
        ports = layout.recorded_ports(data_dir)
        if cfg.segment_store_port and (not ports or ports[0] != cfg.segment_store_port):
            ports = [cfg.segment_store_port + i for i in range(self.count)]
        grpc_server = self._bind_controller_and_rest()
        rest_sock = self._rest_sock
        self.containers = ContainerSet(self.count, cfg.host, ports, self._container_argv, cfg.advertised_host)
        self.segment_store_port = self.containers.ports[0]
        if data_dir is not None:
            layout.check_count(data_dir, self.count)
        chunks = None
        meta_dir = layout.controller_dir(data_dir) if data_dir is not None else None
        if meta_dir is not None and cfg.tiering is not None:
            url = cfg.lts or f"file://{data_dir.resolve() / 'lts'}"  # type: ignore[union-attr]
            chunks = open_chunk_store(f"{url.rstrip('/')}/controller", endpoint=cfg.lts_endpoint, fsync=cfg.fsync)
        # The controller's log first: it holds the data directory's lock for the supervisor.
        self.engine = await Engine.open(
            meta_dir,
            fsync=cfg.fsync,
            file_size=cfg.log_file_size,
            chunks=chunks,
            tiering=cfg.tiering if chunks is not None else None,
        )
        layout.record_ports(data_dir, self.containers.ports)
        token = None
        auth = cfg.auth
        if auth is not None:
            # One token key for the controller and every container (they check its tokens).
            if auth.token_key_file is None:
                if data_dir is not None:
                    key_file = persistent_secret_file(data_dir)
                else:
                    self._key_dir = tempfile.TemporaryDirectory(prefix="pravega-key-")
                    key_file = Path(self._key_dir.name) / "auth-token.key"
                    new_secret_file(key_file)
                auth = replace(auth, token_key_file=key_file)
            self.token_key_file = auth.token_key_file
            authenticator = self.authenticator = Authenticator(auth)
            tokens = authenticator.tokens
            token = lambda: tokens.issue("controller", "prn::*", Permission.READ_UPDATE, 600)
        ssl = None
        if cfg.tls is not None:
            client = None
            if cfg.tls.client_ca_file is not None:
                from .internal_pki import make_internal_pki

                self._pki_dir = tempfile.TemporaryDirectory(prefix="pravega-pki-")
                pki = make_internal_pki(Path(self._pki_dir.name))
                self.internal_ca = pki.ca_file
                client = (str(pki.cert_file), str(pki.key_file))
            ssl = internal_ssl_context(str(cfg.tls.cert_file), client)
        await self.containers.start()
        containers = self.containers
        self.store = ClusterStore(self.engine, ContainerClient(containers.endpoints, ssl=ssl, token=token))
        await self.store.recover()
        endpoints = containers.endpoints()

        def locate(scope: str, stream: str) -> tuple[str, int]:
            return endpoints[container_of_stream(scope, stream, len(endpoints))]

        self.controller = ControllerService(
            self.store,  # type: ignore[arg-type]
            segment_store_endpoint=endpoints[0],
            segment_locator=locate,
            controller_endpoint=lambda: (cfg.advertised_host or cfg.host, self.controller_port),
            max_lease_ms=cfg.max_txn_lease_ms,
            autoscale=cfg.autoscale,
            retention=cfg.retention,
        )
        await self.controller.start()
        guard = GrpcGuard(self.authenticator) if self.authenticator is not None else None
        add_to_server(grpc_server, self.controller, guard)
        await grpc_server.start()
        if rest_sock is not None:
            self._rest_sock = None
            await self._start_rest(rest_sock)

    def _container_argv(self, index: int, fd: int) -> list[str]:
        argv = self._argv(index, fd)
        if self.token_key_file is not None:
            argv += ["--auth-token-key-file", str(self.token_key_file)]
        if self.internal_ca is not None:
            argv += ["--internal-client-ca", str(self.internal_ca)]
        return argv

    async def before_scrape(self) -> None:
        """Every container's segment-store families, added up (a container that does not
        answer, e.g. while it restarts, is left out of this scrape)."""
        if self.containers is None:
            return
        answers = await ask_all(self.containers.channels, "metrics")
        self._store_metrics = add_up(decode(a) for a in answers if a is not None)

    def segment_store_metrics(self) -> list[Metric] | None:
        return self._store_metrics

    async def reader_group_tables(self, scope: str) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        if self.containers is not None:
            for answer in await ask_all(self.containers.channels, "reader_groups", scope=scope):
                out.update(answer or {})
        return out

    def health(self) -> dict[str, bool]:
        procs = self.containers.procs if self.containers is not None else []
        return {
            "controller": self._grpc is not None and self.controller is not None,
            "segmentStore": bool(procs) and all(p is not None and p.returncode is None for p in procs),
            "durableLog": self.engine is not None and self.engine.fatal is None,
        }

    def container_endpoints(self) -> list[tuple[str, int]]:
        return self.containers.endpoints() if self.containers is not None else []

    async def stop(self, grace: float = 1.0) -> None:
        if self._rest is not None:
            await self._rest.stop()
            self._rest = None
        if self._rest_sock is not None:
            self._rest_sock.close()
            self._rest_sock = None
        if self._grpc is not None:
            await self._grpc.stop(grace)
            self._grpc = None
        if self.controller is not None:
            await self.controller.stop()
            self.controller = None
        if self.store is not None:
            self.store.close()
            self.store = None
        if self.containers is not None:
            await self.containers.stop()
            self.containers = None
        if self.engine is not None:
            self.engine.close()
            self.engine = None
        for tmp in (self._key_dir, self._pki_dir):
            if tmp is not None:
                tmp.cleanup()
        self._key_dir = self._pki_dir = None
