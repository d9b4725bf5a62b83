"""What a Prometheus scrape of ``/metrics`` costs as the server holds more segments, and
what the REST API answers in (list scopes / get stream).

    python benchmarks/metrics_bench.py [--streams N] [--segments K] [--quick]

The metrics are computed at scrape time by walking the engine's segments, so the cost
grows with the number of segments; this prints it (median and p99 of the requests).
"""

from __future__ import annotations

import argparse
import asyncio
import time

import requests

from _common import percentile
from pravega.aio import Client
from pravega.testing import ServerProcess


async def populate(uri: str, streams: int, segments: int) -> None:
    async with Client(uri) as client:
        await client.create_scope("mb")
        for i in range(streams):
            await client.create_stream("mb", f"s{i}", segments)
        writer = await client.create_writer("mb", "s0")
        for i in range(1000):
            await writer.write(b"m" * 100, routing_key=str(i))
        await writer.flush()


def timed(session: requests.Session, url: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        session.get(url, timeout=60).raise_for_status()
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--streams", type=int, default=250)
    p.add_argument("--segments", type=int, default=4)
    p.add_argument("--requests", type=int, default=50)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    if args.quick:
        args.streams, args.requests = 50, 20
    with ServerProcess(in_memory=True) as server:
        asyncio.run(populate(server.controller_uri, args.streams, args.segments))
        with requests.Session() as session:
            base = server.rest_uri
            for name, url in (
                ("scrape /metrics", f"{base}/metrics"),
                ("GET /v1/scopes", f"{base}/v1/scopes"),
                ("GET stream", f"{base}/v1/scopes/mb/streams/s0"),
                ("GET /health", f"{base}/health"),
            ):
                lat = timed(session, url, args.requests)
                print(
                    f"{name:<16} {args.streams * args.segments:>6} segments: "
                    f"p50 {percentile(lat, 50) * 1000:7.2f} ms  p99 {percentile(lat, 99) * 1000:7.2f} ms"
                )


if __name__ == "__main__":
    main()
