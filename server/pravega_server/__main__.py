"""Command line: ``pravega-server`` (or ``python -m pravega_server``)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from .app import PravegaServer, ServerConfig
from .controller.autoscale import AutoScaleConfig
from .controller.retention import RetentionConfig
from .service.segment_store import StoreConfig
from .storage import repair
from .storage.rates import DEFAULT_WINDOWS
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
        default=DEFAULT_FILE_SIZE,
        metavar="BYTES",
        help=f"size at which the log moves to a new file (default {DEFAULT_FILE_SIZE})",
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
    p.add_argument(
        "--log-level",
        default=os.environ.get("PRAVEGA_LOG_LEVEL", "WARNING"),
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log level (default WARNING)",
    )
    args = p.parse_args(argv)
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
    return args


def _windows(text: str) -> tuple[float, float, float, float]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not four numbers separated by commas: {text!r}") from None
    if len(values) != 4 or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"four positive window lengths are needed, got {text!r}")
    return values  # type: ignore[return-value]


def autoscale_config(args: argparse.Namespace) -> AutoScaleConfig:
    return AutoScaleConfig(
        enabled=not args.no_autoscale,
        windows=args.autoscale_windows,
        cooldown=args.autoscale_cooldown,
        mute=args.autoscale_mute,
        interval=args.autoscale_interval,
    )


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
    )


async def run(config: ServerConfig) -> int:
    server = PravegaServer(config)
    try:
        await server.start()
    except (OSError, CorruptLogError) as exc:
        print(f"pravega-server: cannot start: {exc}", file=sys.stderr)
        await server.stop(0)
        return 1
    where = "in memory" if config.data_dir is None else f"data-dir={config.data_dir}"
    print(
        f"{READY_PREFIX} controller={config.host}:{server.controller_port} "
        f"segment-store={config.host}:{server.segment_store_port} {where}",
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
    sys.exit(repair.main(args.data_dir))


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["repair"]:
        repair_main(argv[1:])
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        import uvloop  # type: ignore[import-not-found]
    except ImportError:
        runner = asyncio.run
    else:
        runner = uvloop.run
    sys.exit(runner(run(config_from_args(args))))


if __name__ == "__main__":
    main()
