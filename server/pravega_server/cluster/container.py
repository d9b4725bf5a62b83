"""One container process: the segment-store protocol over its own engine.

Started by the supervisor (``supervisor.py``) as ``pravega-server ... --container-index I``
with its listening socket inherited (``--listen-fd``), so a restarted container serves
on the same port and connections made meanwhile wait in the socket's backlog. It dies
with its supervisor (``PR_SET_PDEATHSIG``) and stops when told (SIGTERM).
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import signal
import socket
import ssl
import sys
from dataclasses import dataclass
from pathlib import Path

from ..app import ServerConfig
from ..metrics.collector import SegmentStoreCollector
from ..metrics.families import encode
from ..service.group_tables import state_groups
from ..service.segment_store import SegmentStore
from ..storage.engine import Engine
from ..storage.lts import open_chunk_store
from ..storage.wal.reader import CorruptLogError
from ..transport.tcp import start_tcp
from . import control
from .guard import PlacementGuard

log = logging.getLogger(__name__)

READY_PREFIX = "pravega-container ready:"


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (a killed supervisor
    leaves no orphan container holding a data directory)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before the call
        os._exit(1)


@dataclass(frozen=True)
class ContainerArgs:
    """What the supervisor tells a container process beyond the server's own options."""

    index: int
    count: int
    #: The listening socket bound by the supervisor (None: bind the configured port).
    listen_fd: int | None = None
    #: This container's tier-2 location.
    lts: str | None = None
    #: The CA of the controller's client certificate (``internal_pki``).
    internal_ca: Path | None = None
    #: This container's end of the supervisor's channel (``control``).
    control_fd: int | None = None


async def run_container(config: ServerConfig, args: ContainerArgs) -> int:
    die_with_parent()
    index, count, lts = args.index, args.count, args.lts
    if args.listen_fd is not None:
        sock = socket.socket(fileno=args.listen_fd)
    else:
        from ..transport.tcp import bind_listener

        sock = bind_listener(config.host, config.segment_store_port)
    chunks = None
    data_dir: Path | None = config.data_dir
    if data_dir is not None and config.tiering is not None and lts is not None:
        chunks = open_chunk_store(lts, endpoint=config.lts_endpoint, fsync=config.fsync)
    engine = await Engine.open(
        data_dir,
        fsync=config.fsync,
        file_size=config.log_file_size,
        chunks=chunks,
        tiering=config.tiering if chunks is not None else None,
    )
    store = SegmentStore(engine, config.store)
    tokens = None
    if config.auth is not None:
        from ..auth import Authenticator
        from ..auth.wire import WireGuard

        tokens = WireGuard(Authenticator(config.auth).tokens)
    server, connections = await start_tcp(
        store,
        config.host,
        0,
        sock=sock,
        ssl_context=_ssl_context(config, args.internal_ca),
        guard=PlacementGuard(index, count, tokens),  # type: ignore[arg-type]
    )
    port = server.sockets[0].getsockname()[1]
    print(f"{READY_PREFIX} index={index} segment-store={config.host}:{port} pid={os.getpid()}", flush=True)
    channel = None
    if args.control_fd is not None:
        collector = SegmentStoreCollector(lambda: engine, lambda: connections)
        handlers: control.Handlers = {
            "metrics": lambda request: encode(collector.collect()),
            "reader_groups": lambda request: state_groups(engine.segments, str(request["scope"])),
        }
        channel = asyncio.ensure_future(control.serve(socket.socket(fileno=args.control_fd), handlers))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    if channel is not None:
        channel.cancel()
    server.close()
    for conn in list(connections):
        conn._close()
    await server.wait_closed()
    engine.close()
    return 0


def _ssl_context(config: ServerConfig, internal_ca: Path | None) -> ssl.SSLContext | None:
    """The server's TLS context; where client certificates are required, those issued by
    the supervisor's ``internal_ca`` are accepted too: the controller presents one
    (``internal_pki``)."""
    if config.tls is None:
        return None
    ctx = config.tls.ssl_context()
    if config.tls.client_ca_file is not None and internal_ca is not None:
        ctx.load_verify_locations(cafile=str(internal_ca))
    return ctx


async def _run_or_explain(config: ServerConfig, args: ContainerArgs) -> int:
    try:
        return await run_container(config, args)
    except (OSError, CorruptLogError) as exc:
        print(f"pravega-server: container {args.index} cannot start: {exc}", file=sys.stderr, flush=True)
        return 1


def main(config: ServerConfig, args: ContainerArgs) -> None:
    try:
        import uvloop
    except ImportError:
        runner = asyncio.run
    else:
        runner = uvloop.run
    sys.exit(runner(_run_or_explain(config, args)))
