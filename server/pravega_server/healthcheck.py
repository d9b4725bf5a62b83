"""``python -m pravega_server.healthcheck``: exit 0 when both the controller and the segment
store of a local server answer, 1 otherwise (the container image's HEALTHCHECK).

Ports and host come from the options, else from the same environment variables the server
reads (``PRAVEGA_HOST``, ``PRAVEGA_CONTROLLER_PORT``, ``PRAVEGA_SEGMENT_STORE_PORT``), else
the defaults 9090 and 12345. A wildcard bind address is checked on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import sys

WILDCARDS = {"", "0.0.0.0", "::", "[::]"}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pravega_server.healthcheck", description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default=os.environ.get("PRAVEGA_HOST", "127.0.0.1"))
    p.add_argument("--controller-port", type=int, default=int(os.environ.get("PRAVEGA_CONTROLLER_PORT") or 9090))
    p.add_argument("--segment-store-port", type=int, default=int(os.environ.get("PRAVEGA_SEGMENT_STORE_PORT") or 12345))
    p.add_argument("--timeout", type=float, default=2.0, help="seconds per ping (default 2)")
    p.add_argument(
        "--tls",
        action="store_true",
        default=bool(os.environ.get("PRAVEGA_TLS_CERT")),
        help="ping over TLS (default: when PRAVEGA_TLS_CERT is set)",
    )
    args = p.parse_args(argv)
    host = "127.0.0.1" if args.host in WILDCARDS else args.host

    from pravega.testing.ping import ping_controller, ping_segment_store

    try:
        version = ping_segment_store(host, args.segment_store_port, args.timeout, tls=args.tls)
        ping_controller(host, args.controller_port, args.timeout, tls=args.tls)
    except Exception as exc:
        print(f"unhealthy: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(
        f"healthy: controller={host}:{args.controller_port} "
        f"segment-store={host}:{args.segment_store_port} wire-version={version}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
