"""Ack latency of our client's writer at a paced rate (default 10,000 events/s, 100 B).

    python benchmarks/latency_bench.py [--rate N] [--seconds S]

Each event's latency is the time from when it was due (by the pacing schedule) to
when its write future completed, i.e. when the server had fsynced it.
"""

from __future__ import annotations

import argparse
import asyncio

from _common import percentile
from pravega.aio import Client
from pravega.testing import ServerProcess


async def paced(uri: str, rate: int, seconds: float, size: int) -> list[float]:
    async with Client(uri) as client:
        await client.create_scope("lat")
        await client.create_stream("lat", "s", 1)
        writer = await client.create_writer("lat", "s")
        payload = b"l" * size
        latencies: list[float] = []
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.2
        warmup = start + min(1.0, seconds / 4)
        n = int(rate * seconds)
        for i in range(n):
            due = start + i / rate
            delay = due - loop.time()
            if delay > 0.0005:
                await asyncio.sleep(delay)
            fut = await writer.write(payload)
            if due >= warmup:
                fut.add_done_callback(lambda _f, due=due: latencies.append(loop.time() - due))
        await writer.flush()
        return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--size", type=int, default=100)
    args = parser.parse_args()
    with ServerProcess() as server:
        lat = asyncio.run(paced(server.controller_uri, args.rate, args.seconds, args.size))
    print(
        f"our writer @{args.rate:,} ev/s, {args.size} B, fsync on: {len(lat):,} events, "
        f"p50 {percentile(lat, 50) * 1e3:.2f} ms, p99 {percentile(lat, 99) * 1e3:.2f} ms, "
        f"p99.9 {percentile(lat, 99.9) * 1e3:.2f} ms, max {max(lat) * 1e3:.2f} ms  (target p99 <= 5 ms)"
    )


if __name__ == "__main__":
    main()
