"""Auto-scaling: what rate tracking costs, how fast a split follows a load step, and
what a writer sees during a scale.

    python benchmarks/autoscale_bench.py [--quick]

1. Append throughput (raw wire protocol, 100 B events, 500 per block) into a rate-policy
   stream on a server with auto-scaling on (target so high it never scales, rates folded
   every 0.2 s) against a fixed stream on a server started with --no-autoscale, runs
   interleaved in the same process (the per-block counters are always there; what is
   switched off is the tracker). Target: >= 0.97x.
2. Seconds from a load step (0 -> 500 events/s on a stream with a target of 50) to the
   split, under the test time scale (windows 0.5/1/2/4 s, mute and cooldown 1.5 s).
3. Ack latency p50/p99 of our writer (paced, 1,000 events/s) for events written within
   250 ms of a scale against the others, while the stream splits and merges.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import pravega
from _common import percentile
from pravega import ScalingPolicy, naming
from pravega.aio import Client
from pravega.testing import ServerProcess
from write_read import raw_throughput

FAST = ["--autoscale-windows", "0.5,1,2,4", "--autoscale-cooldown", "1.5", "--autoscale-mute", "1.5"]


def throughput(server: ServerProcess, stream: str, seconds: float) -> float:
    host, port = server.segment_store_endpoint.split(":")
    segment = naming.qualified_segment_name("bench", stream, 0)
    count, elapsed, _ = raw_throughput(host, int(port), [segment], depth=4, duration=seconds)
    return count / elapsed


def tracking_cost(seconds: float, rounds: int) -> None:
    with (
        ServerProcess(extra_args=["--autoscale-interval", "0.2"]) as on,
        ServerProcess(extra_args=["--no-autoscale"]) as off,
    ):
        with pravega.Client(on.controller_uri) as c:
            c.create_scope("bench")
            c.create_stream("bench", "rated", ScalingPolicy.by_event_rate(10**9, 2, 1))
        with pravega.Client(off.controller_uri) as c:
            c.create_scope("bench")
            c.create_stream("bench", "fixed", 1)
        with_tracking, without = [], []
        for _ in range(rounds):
            with_tracking.append(throughput(on, "rated", seconds))
            without.append(throughput(off, "fixed", seconds))
    a, b = sum(with_tracking) / rounds, sum(without) / rounds
    print(
        f"1. append throughput, rate tracking on: {a:,.0f} ev/s; off: {b:,.0f} ev/s; ratio {a / b:.3f} (target >= 0.97)"
    )


async def load_step(uri: str) -> float:
    async with Client(uri) as client:
        await client.create_scope("step")
        await client.create_stream("step", "s", ScalingPolicy.by_event_rate(50, 2, 1))
        writer = await client.create_writer("step", "s")
        start = time.monotonic()
        i = 0
        while True:
            for _ in range(50):
                await writer.write(b"x" * 100, routing_key=str(i))
                i += 1
            events = await client.scaling_events("step", "s")
            if len(events) > 1:
                return time.monotonic() - start
            await asyncio.sleep(max(0.0, start + i / 500 - time.monotonic()))


async def latency_during_scales(uri: str, seconds: float) -> tuple[list[float], list[float], int]:
    async with Client(uri) as client:
        await client.create_scope("lat")
        await client.create_stream("lat", "s", ScalingPolicy.by_event_rate(100, 2, 1))
        writer = await client.create_writer("lat", "s")
        loop = asyncio.get_running_loop()
        samples: list[tuple[float, float]] = []  # (wall time due, latency)
        rate = 1000
        start = loop.time() + 0.2
        wall0 = time.time() + 0.2
        for i in range(int(rate * seconds)):
            due = start + i / rate
            delay = due - loop.time()
            if delay > 0.0005:
                await asyncio.sleep(delay)
            # Load swings between 4x and a quarter of the target, so it splits and merges.
            key = str(i % 64) if (i // (rate * 3)) % 2 == 0 else "cold"
            if key == "cold" and i % 8:
                continue
            fut = await writer.write(b"l" * 100, routing_key=key)
            fut.add_done_callback(lambda _f, due=due, i=i: samples.append((wall0 + i / rate, loop.time() - due)))
        await writer.flush()
        scales = [e.timestamp_ms / 1000 for e in (await client.scaling_events("lat", "s"))[1:]]
    near, steady = [], []
    for when, latency in samples:
        (near if any(abs(when - s) < 0.25 for s in scales) else steady).append(latency)
    return near, steady, len(scales)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    tracking_cost(1.5 if args.quick else 4.0, 2 if args.quick else 4)
    with ServerProcess(extra_args=[*FAST, "--autoscale-interval", "0.2"]) as server:
        split = asyncio.run(load_step(server.controller_uri))
        print(f"2. load step to split (test time scale, 10-minute window = 2 s, check every 0.2 s): {split:.2f} s")
        near, steady, scales = asyncio.run(latency_during_scales(server.controller_uri, 8 if args.quick else 20))
    print(
        f"3. writer ack latency, {scales} scales: within 250 ms of a scale p50 {percentile(near, 50) * 1e3:.2f} ms "
        f"p99 {percentile(near, 99) * 1e3:.2f} ms ({len(near)} events); steady p50 {percentile(steady, 50) * 1e3:.2f} ms "
        f"p99 {percentile(steady, 99) * 1e3:.2f} ms ({len(steady)} events)"
    )


if __name__ == "__main__":
    main()
