"""Fan-in: many writers on many streams, each waiting for every acknowledgement.

    python benchmarks/fanin.py [--writers 1000] [--procs 4] [--seconds 10] [--containers 1,2]

For each container count, a fresh durable server (``--containers N``) gets one stream per
writer (one segment each); ``--procs`` client processes (our asyncio client) run the
writers, each writing a ``--size`` byte event, waiting for its acknowledgement and writing
the next. Printed per container count: aggregate events/s, ack latency p50/p99, and the
server's CPU time per append (user + system time of the server process and its container
processes, from /proc/<pid>/stat, over the measured window, divided by the appends).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from _common import Table, percentile
from pravega.aio import Client
from pravega.testing import ServerProcess

SCOPE = "fanin"
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICK


# -- the client process ---------------------------------------------------------------


async def client_main(uri: str, first: int, count: int, seconds: float, size: int) -> None:
    payload = b"f" * size
    async with Client(uri) as client:
        writers = []
        for i in range(first, first + count):
            writers.append(await client.create_writer(SCOPE, f"s{i}"))
        for w in writers:  # open every append session before the clock starts
            await (await w.write(payload))
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        latencies: list[float] = []
        done = 0
        end = time.monotonic() + seconds

        async def run(w) -> None:  # type: ignore[no-untyped-def]
            nonlocal done
            while time.monotonic() < end:
                started = time.monotonic()
                await (await w.write(payload))
                latencies.append(time.monotonic() - started)
                done += 1

        await asyncio.gather(*(run(w) for w in writers))
        print(json.dumps({"done": done, "latencies": latencies}), flush=True)


# -- the driver -----------------------------------------------------------------------


async def create_streams(uri: str, n: int) -> None:
    async with Client(uri) as client:
        await client.create_scope(SCOPE)
        for start in range(0, n, 50):
            await asyncio.gather(*(client.create_stream(SCOPE, f"s{i}", 1) for i in range(start, min(n, start + 50))))


def measure(containers: int, args: argparse.Namespace) -> dict[str, float]:
    with ServerProcess(containers=containers) as server:
        asyncio.run(create_streams(server.controller_uri, args.writers))
        per = -(-args.writers // args.procs)
        procs = []
        for p in range(args.procs):
            first = p * per
            count = min(per, args.writers - first)
            cmd = [sys.executable, __file__, "client", server.controller_uri, str(first), str(count)]
            cmd += [str(args.seconds), str(args.size)]
            procs.append(subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        assert server.proc is not None
        pids = [server.proc.pid, *server.container_pids().values()]
        cpu0, t0 = cpu_seconds(pids), time.monotonic()
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = []
        for proc in procs:
            assert proc.stdout is not None
            results.append(json.loads(proc.stdout.readline()))
        cpu1, t1 = cpu_seconds(pids), time.monotonic()
        for proc in procs:
            proc.wait()
    done = sum(r["done"] for r in results)
    latencies = [x for r in results for x in r["latencies"]]
    return {
        "rate": done / args.seconds,
        "p50": percentile(latencies, 50) * 1000,
        "p99": percentile(latencies, 99) * 1000,
        "cpu_us": (cpu1 - cpu0) / max(done, 1) * 1e6,
        "cpu_share": (cpu1 - cpu0) / (t1 - t0),
    }


def main() -> None:
    if sys.argv[1:2] == ["client"]:
        uri, first, count, seconds, size = sys.argv[2:7]
        asyncio.run(client_main(uri, int(first), int(count), float(seconds), int(size)))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--writers", type=int, default=1000, help="writers, one stream each (default 1000)")
    parser.add_argument("--procs", type=int, default=4, help="client processes (default 4)")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--containers", default="1,2", help="container counts to measure (default 1,2)")
    args = parser.parse_args()
    table = Table(f"fan-in: {args.writers} writers on {args.writers} streams, {args.procs} client processes")
    for n in [int(x) for x in args.containers.split(",")]:
        print(f"--containers {n}", flush=True)
        r = measure(n, args)
        how = f"{args.seconds:g} s, {args.size} B events, every ack awaited"
        table.add(f"containers={n} events/s", f"{r['rate']:,.0f}", note=how)
        table.add(f"containers={n} ack p50 / p99", f"{r['p50']:.1f} / {r['p99']:.1f} ms", "p99 <= 20 ms")
        table.add(
            f"containers={n} server CPU per append",
            f"{r['cpu_us']:.1f} us",
            note=f"server processes busy {r['cpu_share']:.2f} cores",
        )
    print(table.render())


if __name__ == "__main__":
    main()
