"""Command line: ``pravega-server`` (or ``python -m pravega_server``)."""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from .app import PravegaServer, ServerConfig
from .auth import AuthConfig, Authenticator
from .auth.tls import TlsConfig
from .cluster import layout as cluster_layout
from .controller.autoscale import AutoScaleConfig
from .controller.retention import RetentionConfig
from .service.segment_store import StoreConfig
from .storage import repair
from .storage.rates import DEFAULT_WINDOWS
from .storage.tiering import TieringConfig
from .storage.wal.format import DEFAULT_FILE_SIZE
from .storage.wal.reader import CorruptLogError

READY_PREFIX = "pravega-server ready:"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="pravega-server",
        description="A durable Pravega-compatible server: controller (gRPC) and segment store (TCP) in one process.",
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("PRAVEGA_DATA_DIR", "data")),
        help="directory of the durable log (default: ./data or $PRAVEGA_DATA_DIR)",
    )
    where.add_argument("--in-memory", action="store_true", help="keep everything in memory (lost on exit)")
    p.add_argument(
        "--host", default=os.environ.get("PRAVEGA_HOST", "127.0.0.1"), help="address to bind (default 127.0.0.1)"
    )
    p.add_argument(
        "--controller-port",
        type=_port,
        default=int(os.environ.get("PRAVEGA_CONTROLLER_PORT", 9090)),
        help="controller gRPC port (default 9090; 0 picks a free port)",
    )
    p.add_argument(
        "--segment-store-port",
        type=_port,
        default=int(os.environ.get("PRAVEGA_SEGMENT_STORE_PORT", 12345)),
        help="segment store port (default 12345; 0 picks a free port)",
    )
    p.add_argument(
        "--advertised-host",
        default=os.environ.get("PRAVEGA_ADVERTISED_HOST"),
        help="host name clients are told to use for the segment store (default: --host)",
    )
    p.add_argument(
        "--advertised-port",
        type=_port,
        default=_env_int("PRAVEGA_ADVERTISED_PORT"),
        help="segment-store port clients are told to use (default: the bound port)",
    )
    p.add_argument(
        "--no-fsync",
        action="store_true",
        help="do not fsync before acknowledging (faster, loses data on power failure)",
    )
    p.add_argument(
        "--log-file-size",
        type=int,
        default=int(os.environ.get("PRAVEGA_LOG_FILE_SIZE", DEFAULT_FILE_SIZE)),
        metavar="BYTES",
        help=f"size at which the log moves to a new file (default {DEFAULT_FILE_SIZE} or $PRAVEGA_LOG_FILE_SIZE)",
    )
    p.add_argument(
        "--tail-read-wait",
        type=float,
        default=2.0,
        help="seconds a read at the tail of a segment waits for data (default 2)",
    )
    p.add_argument("--max-txn-lease-ms", type=int, default=600_000, help="largest transaction lease (default 600000)")
    scaling = p.add_argument_group("auto-scaling (streams with a by_event_rate / by_data_rate policy)")
    scaling.add_argument("--no-autoscale", action="store_true", help="never scale streams automatically")
    scaling.add_argument(
        "--autoscale-windows",
        type=_windows,
        default=DEFAULT_WINDOWS,
        metavar="S,S,S,S",
        help="lengths in seconds of the rate windows Pravega calls 2, 5, 10 and 20 minutes (default 120,300,600,1200)",
    )
    scaling.add_argument(
        "--autoscale-cooldown",
        type=float,
        default=600.0,
        metavar="S",
        help="seconds a stream is not scaled again after a scale (default 600)",
    )
    scaling.add_argument(
        "--autoscale-mute",
        type=float,
        default=600.0,
        metavar="S",
        help="seconds a new segment is not scaled (default 600)",
    )
    scaling.add_argument(
        "--autoscale-interval",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds between two rate checks (default 10)",
    )
    keep = p.add_argument_group("retention (streams with a by_time / by_size policy)")
    keep.add_argument("--no-retention", action="store_true", help="never truncate streams by their retention policy")
    keep.add_argument(
        "--retention-interval",
        type=float,
        default=1800.0,
        metavar="S",
        help="seconds between two retention cycles: record a tail cut, truncate (default 1800, as Pravega)",
    )
    tier = p.add_argument_group("long-term storage (tier 2), checkpoints and the log's bound")
    tier.add_argument(
        "--lts",
        default=os.environ.get("PRAVEGA_LTS"),
        metavar="URL",
        help="tier 2: file:///path or s3://bucket/prefix (default: file://DATA_DIR/lts); "
        "S3 credentials from the standard AWS_* environment variables",
    )
    tier.add_argument(
        "--lts-endpoint",
        default=os.environ.get("PRAVEGA_LTS_ENDPOINT"),
        metavar="URL",
        help="endpoint of an S3-compatible store (MinIO, Ceph RGW, ...; default: AWS)",
    )
    tier.add_argument("--no-tiering", action="store_true", help="keep all data in the log (no tier 2)")
    tier.add_argument(
        "--chunk-size",
        type=_size,
        default=os.environ.get("PRAVEGA_CHUNK_SIZE", TieringConfig.chunk_size),
        help="largest tier-2 chunk (default 64M or $PRAVEGA_CHUNK_SIZE)",
    )
    tier.add_argument(
        "--flush-age",
        type=float,
        default=float(os.environ.get("PRAVEGA_FLUSH_AGE", TieringConfig.flush_age)),
        metavar="S",
        help="seconds after which log data is tiered even if no chunk is full (default 30 or $PRAVEGA_FLUSH_AGE)",
    )
    tier.add_argument(
        "--checkpoint-interval",
        type=float,
        default=float(os.environ.get("PRAVEGA_CHECKPOINT_INTERVAL", TieringConfig.checkpoint_interval)),
        metavar="S",
        help="seconds between two metadata checkpoints (default 30 or $PRAVEGA_CHECKPOINT_INTERVAL)",
    )
    tier.add_argument(
        "--checkpoint-bytes",
        type=_size,
        default=TieringConfig.checkpoint_bytes,
        help="log bytes after which a checkpoint is written early (default 256M)",
    )
    tier.add_argument(
        "--max-log-size",
        type=_size,
        default=0,
        help="bound of the log on disk: beyond it appends are refused until tier 2 catches up (default: none)",
    )
    web = p.add_argument_group("REST API, health and metrics (HTTP)")
    web.add_argument(
        "--rest-port",
        type=_port,
        default=int(os.environ.get("PRAVEGA_REST_PORT", 9091)),
        help="REST API / health / metrics port (default 9091 or $PRAVEGA_REST_PORT; 0 picks a free port)",
    )
    web.add_argument("--no-rest", action="store_true", help="no HTTP listener (no REST API, health or metrics)")
    web.add_argument("--no-metrics", action="store_true", help="do not serve Prometheus metrics at /metrics")
    sec = p.add_argument_group("security (TLS on both ports, users and permissions)")
    sec.add_argument("--tls-cert", type=Path, default=_env_path("PRAVEGA_TLS_CERT"), help="server certificate, PEM")
    sec.add_argument("--tls-key", type=Path, default=_env_path("PRAVEGA_TLS_KEY"), help="its private key, PEM")
    sec.add_argument(
        "--tls-client-ca",
        type=Path,
        default=_env_path("PRAVEGA_TLS_CLIENT_CA"),
        help="require client certificates signed by this CA (PEM)",
    )
    sec.add_argument(
        "--auth-password-file",
        type=Path,
        default=_env_path("PRAVEGA_AUTH_PASSWORD_FILE"),
        help="turn authentication on: users, hashed passwords and ACLs (see 'pravega-server passwd')",
    )
    sec.add_argument(
        "--auth-token-key-file",
        type=Path,
        default=_env_path("PRAVEGA_AUTH_TOKEN_KEY_FILE"),
        help="key signing delegation tokens (default: auth-token.key in the data directory; random with --in-memory)",
    )
    sec.add_argument(
        "--auth-token-ttl",
        type=float,
        default=float(os.environ.get("PRAVEGA_AUTH_TOKEN_TTL", 600)),
        metavar="S",
        help="seconds a delegation token is valid (default 600)",
    )
    p.add_argument(
        "--containers",
        type=_container_count,
        default=_container_count(os.environ.get("PRAVEGA_CONTAINERS", "auto")),
        metavar="N",
        help="segment containers: N > 1 runs the controller here and N container processes, each with its own "
        "log and port; 1 is one process. Fixed when the data directory is created. Default 'auto': the count "
        "the data directory was created with, else the number of cores this process may use (1 with --in-memory)",
    )
    # Internal: how the supervisor starts a container process (see cluster/processes.py).
    p.add_argument("--container-index", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--listen-fd", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--container-lts", default=None, help=argparse.SUPPRESS)
    p.add_argument("--internal-client-ca", type=Path, default=None, help=argparse.SUPPRESS)
    p.add_argument("--control-fd", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument(
        "--log-level",
        default=os.environ.get("PRAVEGA_LOG_LEVEL", "WARNING"),
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log level (default WARNING)",
    )
    args = p.parse_args(argv)
    if args.containers is None:
        args.containers = default_containers(None if args.in_memory else args.data_dir)
    if not 1 <= args.containers <= 256:
        p.error("--containers must be between 1 and 256")
    if not 0 < args.tail_read_wait < 30:
        p.error("--tail-read-wait must be between 0 and 30 seconds (clients time out after 30 s)")
    if args.log_file_size < 4096:
        p.error("--log-file-size must be at least 4096 bytes")
    if args.max_txn_lease_ms <= 0:
        p.error("--max-txn-lease-ms must be positive")
    if args.retention_interval <= 0:
        p.error("--retention-interval must be positive")
    problem = autoscale_config(args).validate()
    if problem:
        p.error(f"auto-scaling: {problem}")
    problem = tiering_config(args).validate()
    if problem:
        p.error(f"tiering: {problem}")
    if args.lts and not args.lts.startswith(("file://", "s3://")):
        p.error("--lts must be file:///path or s3://bucket/prefix")
    if (args.tls_cert is None) != (args.tls_key is None):
        p.error("--tls-cert and --tls-key go together")
    tls = tls_config(args)
    if tls is not None and (problem := tls.validate()):
        p.error(problem)
    if args.tls_client_ca is not None and tls is None:
        p.error("--tls-client-ca needs --tls-cert and --tls-key")
    if args.auth_password_file is None and args.auth_token_key_file is not None:
        p.error("--auth-token-key-file needs --auth-password-file")
    if args.auth_token_ttl <= 0:
        p.error("--auth-token-ttl must be positive")
    auth = auth_config(args)
    if auth is not None:
        try:
            Authenticator(auth)  # a bad file is refused now, not at the first call
        except ValueError as exc:
            p.error(str(exc))
    return args


def tls_config(args: argparse.Namespace) -> TlsConfig | None:
    if args.tls_cert is None:
        return None
    return TlsConfig(args.tls_cert, args.tls_key, args.tls_client_ca)


def auth_config(args: argparse.Namespace) -> AuthConfig | None:
    if args.auth_password_file is None:
        return None
    return AuthConfig(args.auth_password_file, args.auth_token_key_file, args.auth_token_ttl)


def _container_count(text: str) -> int | None:
    """``--containers``: a count, or ``auto`` (None: resolved by :func:`default_containers`)."""
    if text.strip().lower() == "auto":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a container count or 'auto': {text!r}") from None


def default_containers(data_dir: Path | None) -> int:
    """The count a data directory was created with; for a new one, the cores this process
    may run on (one container per core); 1 in memory."""
    if data_dir is None:
        return 1
    stored = cluster_layout.stored_count(data_dir) if data_dir.exists() else None
    if stored is not None:
        return stored
    return max(1, min(256, len(os.sched_getaffinity(0))))


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


def _windows(text: str) -> tuple[float, float, float, float]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not four numbers separated by commas: {text!r}") from None
    if len(values) != 4 or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"four positive window lengths are needed, got {text!r}")
    return values


def autoscale_config(args: argparse.Namespace) -> AutoScaleConfig:
    return AutoScaleConfig(
        enabled=not args.no_autoscale,
        windows=args.autoscale_windows,
        cooldown=args.autoscale_cooldown,
        mute=args.autoscale_mute,
        interval=args.autoscale_interval,
    )


def tiering_config(args: argparse.Namespace) -> TieringConfig:
    return TieringConfig(
        chunk_size=args.chunk_size,
        flush_age=args.flush_age,
        checkpoint_interval=args.checkpoint_interval,
        checkpoint_bytes=args.checkpoint_bytes,
        max_log_size=args.max_log_size,
    )


_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def _size(text: str) -> int:
    """A byte count: 1048576, 64M, 2G, 512K."""
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = t[-1:] if t[-1:] in _UNITS else ""
    try:
        value = float(t[: len(t) - len(unit)]) * _UNITS[unit]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 1048576, 512K, 64M, 2G)") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"negative size: {text!r}")
    return int(value)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range 0-65535: {value}")
    return value


def _env_int(name: str) -> int | None:
    value = os.environ.get(name)
    return int(value) if value else None


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    return ServerConfig(
        data_dir=None if args.in_memory else args.data_dir,
        host=args.host,
        controller_port=args.controller_port,
        segment_store_port=args.segment_store_port,
        advertised_host=args.advertised_host,
        advertised_port=args.advertised_port,
        fsync=not args.no_fsync,
        log_file_size=args.log_file_size,
        store=StoreConfig(tail_read_wait=args.tail_read_wait),
        max_txn_lease_ms=args.max_txn_lease_ms,
        autoscale=autoscale_config(args),
        retention=RetentionConfig(enabled=not args.no_retention, interval=args.retention_interval),
        tiering=None if args.no_tiering else tiering_config(args),
        lts=args.lts,
        lts_endpoint=args.lts_endpoint,
        rest_port=None if args.no_rest else args.rest_port,
        metrics=not args.no_metrics,
        tls=tls_config(args),
        auth=auth_config(args),
    )


def container_argv(argv: list[str], config: ServerConfig, count: int) -> Callable[[int, int], list[str]]:
    """The command line of container ``index`` (listening on inherited ``fd``): the
    supervisor's own arguments, then what is the container's alone."""
    data_dir = config.data_dir

    def make(index: int, fd: int) -> list[str]:
        own = ["--containers", str(count), "--container-index", str(index), "--listen-fd", str(fd), "--no-rest"]
        if data_dir is not None:
            own += ["--data-dir", str(cluster_layout.container_dir(Path(data_dir), index))]
            url = config.lts or f"file://{Path(data_dir).resolve() / 'lts'}"
            own += ["--container-lts", cluster_layout.lts_of_container(url, index)]
        return [*argv, *own]

    return make


async def run(config: ServerConfig, containers: int = 1, argv: list[str] | None = None) -> int:
    if containers > 1:
        from .cluster.server import ClusterServer

        server: PravegaServer = ClusterServer(config, containers, container_argv(argv or [], config, containers))
    else:
        server = PravegaServer(config)
    try:
        await server.start()
    except (OSError, CorruptLogError) as exc:
        print(f"pravega-server: cannot start: {exc}", file=sys.stderr)
        await server.stop(0)
        return 1
    where = "in memory" if config.data_dir is None else f"data-dir={config.data_dir}"
    rest = "" if config.rest_port is None else f" rest={config.host}:{server.rest_port}"
    if config.tls is not None:
        where += " tls"
    if config.auth is not None:
        where += " auth"
    print(
        f"{READY_PREFIX} controller={config.host}:{server.controller_port} "
        f"segment-store={config.host}:{server.segment_store_port} {where}{rest}{_containers(server)}",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    fatal = asyncio.ensure_future(server.wait_fatal())
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait([fatal, stopped], return_when=asyncio.FIRST_COMPLETED)
    code = 2 if fatal.done() else 0
    fatal.cancel()
    stopped.cancel()
    await server.stop()
    return code


def _containers(server: PravegaServer) -> str:
    endpoints = getattr(server, "container_endpoints", None)
    if endpoints is None:
        return ""
    return " containers=" + ",".join(f"{host}:{port}" for host, port in endpoints())


def _prefixed(where: Path, line: str) -> None:
    print(f"{where}: {line}")


def repair_main(argv: list[str]) -> None:
    """``pravega-server repair --data-dir DIR``: salvage a damaged log (see storage/repair.py)."""
    p = argparse.ArgumentParser(
        prog="pravega-server repair",
        description="Salvage every valid record of a damaged log, report what was lost and keep the damaged "
        "log under DIR/damaged/. Run it while the server is stopped.",
    )
    p.add_argument("--data-dir", type=Path, required=True, help="the server's data directory")
    args = p.parse_args(argv)
    logging.basicConfig(level="WARNING", format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    count = cluster_layout.stored_count(args.data_dir) if args.data_dir.exists() else None
    if count is not None and count > 1:
        # Several logs: the controller's and one per container.
        dirs = [cluster_layout.controller_dir(args.data_dir)]
        dirs += [cluster_layout.container_dir(args.data_dir, i) for i in range(count)]
        sys.exit(max(repair.main(d, out=functools.partial(_prefixed, d)) for d in dirs))
    sys.exit(repair.main(args.data_dir))


#: Young-generation size that starts a garbage collection (CPython's default is 700).
GC_YOUNG = 50_000


def tune_gc() -> None:
    """Collect cyclic garbage less often than CPython's default.

    A server process holds many long-lived objects (segment indexes, tables, connections)
    and allocates a few short-lived ones per append; with the default thresholds the
    collector ran so often that it took about a fifth of the server's CPU per small append
    (``benchmarks/fanin.py``: 43 vs 32-34 us). Almost nothing the append path allocates is
    cyclic, so reference counting frees it either way; this only delays the rest a little.
    Only the command line does this (an embedded server leaves its host process alone).
    """
    gc.set_threshold(GC_YOUNG, 20, 20)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    tune_gc()
    if argv[:1] == ["repair"]:
        repair_main(argv[1:])
    if argv[:1] == ["passwd"]:
        from .auth.cli import passwd_main

        sys.exit(passwd_main(argv[1:]))
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        import uvloop
    except ImportError:
        runner = asyncio.run
    else:
        runner = uvloop.run
    if args.container_index is not None:
        from .cluster.container import ContainerArgs
        from .cluster.container import main as container_main

        container_main(
            config_from_args(args),
            ContainerArgs(
                args.container_index,
                args.containers,
                args.listen_fd,
                args.container_lts,
                args.internal_client_ca,
                args.control_fd,
            ),
        )
    sys.exit(runner(run(config_from_args(args), args.containers, argv)))


if __name__ == "__main__":
    main()
