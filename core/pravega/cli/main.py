"""The ``pravega-cli`` parser and the dispatch of its subcommands."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable

from .. import errors
from ..client.client import Client
from . import FAILED, OK, USAGE, groups, streams, tables
from .output import Output

DEFAULT_CONTROLLER = "tcp://127.0.0.1:9090"

Handler = Callable[[Client, argparse.Namespace, Output], Awaitable[int]]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pravega-cli",
        description="Look at and manage the scopes, streams, reader groups and key-value tables of a Pravega server.",
        epilog="Exit codes: 0 done, 1 not found or failed, 2 wrong usage.",
    )
    p.add_argument(
        "--controller",
        default=os.environ.get("PRAVEGA_CONTROLLER_URI", DEFAULT_CONTROLLER),
        help=f"controller URI (default: $PRAVEGA_CONTROLLER_URI or {DEFAULT_CONTROLLER})",
    )
    p.add_argument(
        "--rest",
        default=os.environ.get("PRAVEGA_REST_URI"),
        help="REST API URI, used to list reader groups (default: $PRAVEGA_REST_URI or the controller host, port 9091)",
    )
    p.add_argument("--username", default=os.environ.get("PRAVEGA_USERNAME"), help="user (default $PRAVEGA_USERNAME)")
    p.add_argument(
        "--password", default=os.environ.get("PRAVEGA_PASSWORD"), help="password (default $PRAVEGA_PASSWORD)"
    )
    p.add_argument(
        "--trust-cert",
        default=os.environ.get("PRAVEGA_TRUST_CERT"),
        help="PEM file of the CA to trust for tls:// and https:// (default $PRAVEGA_TRUST_CERT)",
    )
    p.add_argument("--json", action="store_true", help="print results as JSON")
    sub = p.add_subparsers(dest="group", metavar="{scope,stream,reader-group,kvt}", required=True)
    streams.add_scope_commands(sub)
    streams.add_stream_commands(sub)
    groups.add_commands(sub)
    tables.add_commands(sub)
    return p


async def _run(args: argparse.Namespace, out: Output) -> int:
    handler: Handler = args.handler
    options = {k: getattr(args, k) for k in ("username", "password", "trust_cert") if getattr(args, k)}
    async with Client(args.controller, **options) as client:
        return await handler(client, args, out)


def run(argv: list[str] | None = None) -> int:
    """Parse ``argv``, run the command, return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    out = Output(args.json)
    try:
        return asyncio.run(_run(args, out))
    except KeyboardInterrupt:
        return OK
    except errors.InterfaceError as exc:
        out.error(str(exc))
        return USAGE
    except (errors.PravegaError, OSError) as exc:
        out.error(str(exc) or type(exc).__name__)
        return FAILED


def main() -> None:
    sys.exit(run())
