"""Cost of TLS + authentication: our client's append throughput and paced ack latency
against a plaintext server and a TLS + auth server, in the same run.

    python benchmarks/security_bench.py [--rate 10000] [--seconds 5] [--events 200000] [--size 100]

Throughput: ``--events`` events written as fast as the writer takes them, then flushed.
Latency: events paced at ``--rate``; each event's latency runs from when it was due to
when its write future completed (stored and fsynced). Targets (issue 12): secured
throughput >= 0.8x plaintext, p99 within +1 ms at 10k events/s. Prints numbers only.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from typing import Any

from _common import Table, percentile
from latency_bench import paced
from pravega.aio import Client
from pravega.client.security import uri_with_options
from pravega.testing import ServerProcess
from pravega.testing.secure import make_security_setup


async def throughput(uri: str, events: int, size: int) -> float:
    async with Client(uri) as client:
        await client.create_scope("thr")
        await client.create_stream("thr", "s", 1)
        writer = await client.create_writer("thr", "s")
        payload = b"t" * size
        started = time.perf_counter()
        for _ in range(events):
            await writer.write(payload)
        await writer.flush()
        return events / (time.perf_counter() - started)


def measure(uri: str, args: argparse.Namespace) -> dict[str, Any]:
    rate = asyncio.run(throughput(uri, args.events, args.size))
    lat = asyncio.run(paced(uri, args.rate, args.seconds, args.size))
    return {"throughput": rate, "p50": percentile(lat, 50) * 1e3, "p99": percentile(lat, 99) * 1e3}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--size", type=int, default=100)
    args = parser.parse_args()
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="security-bench-") as tmp:
        setup = make_security_setup(tmp, {"bench": ("bench-pw", "prn::/,READ_UPDATE")})
        with ServerProcess() as plain:
            print("plaintext ...", flush=True)
            results["plaintext"] = measure(plain.controller_uri, args)
        with ServerProcess(extra_args=setup.server_args()) as secure:
            print("TLS + auth ...", flush=True)
            uri = uri_with_options(
                f"tls://localhost:{secure.controller_port}",
                {"trust_cert": str(setup.pki.ca), "username": "bench", "password": "bench-pw"},
            )
            results["tls+auth"] = measure(uri, args)
    table = Table(f"TLS + auth vs plaintext ({args.size} B events, fsync on)")
    for name, r in results.items():
        table.add(f"{name}: throughput", f"{r['throughput']:,.0f} ev/s", note=f"{args.events:,} events, unpaced")
        table.add(f"{name}: ack p50 / p99", f"{r['p50']:.2f} / {r['p99']:.2f} ms", note=f"@{args.rate:,} ev/s")
    ratio = results["tls+auth"]["throughput"] / results["plaintext"]["throughput"]
    table.add("throughput ratio", f"{ratio:.2f}x", target=">= 0.8x")
    table.add(
        "p99 difference", f"{results['tls+auth']['p99'] - results['plaintext']['p99']:+.2f} ms", target="<= +1 ms"
    )
    print(table.render())


if __name__ == "__main__":
    main()
