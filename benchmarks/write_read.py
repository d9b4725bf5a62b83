"""End-to-end write/read benchmark against a freshly started, durable (fsync) server process.

    python benchmarks/write_read.py            # ~10 s per measurement
    python benchmarks/write_read.py --quick    # ~2.5 s per measurement

Measures, and prints beside the targets (no assertions):

(a) official client (`pravega_client` 0.3.8) write throughput, 100 B and 1 KB events, one-segment
    stream, up to 4096 events in flight, two ways: ``write_event_bytes`` on a writer created with
    ``max_inflight_events=4096`` (then ``flush``), and ``write_event_async`` keeping 4096 futures
    outstanding; the better one is the headline number;
(b) official client read throughput (reader group, one reader) over the data written in (a);
(c) append latency at a paced 10,000 events/s: per event, time from its scheduled send time to
    its acknowledgement, with the official client (``write_event_async``) and with a raw wire
    writer that batches like the Rust client (one block in flight, everything queued meanwhile in
    the next block);
(d) raw wire appends with our sans-I/O codec over asyncio: blocks of 500 x 100 B events, one
    block in flight per writer and pipelined (8 in flight), 1 and 4 writers; events/s, MB/s and
    block ack latency p50/p99;
(e) server startup time (to the readiness line) and idle RSS.

Client and server share the machine's CPUs; on a small machine the client's own cost limits (a)-(c).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from collections import deque
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import MB, RawWriter, Table, event_frame, new_loop, percentile
from pravega.testing import ServerProcess

INFLIGHT = 4096
PACED_RATE = 10_000
TARGETS = {
    "write100": "350,000 ev/s",
    "write1k": "120 MB/s",
    "latency": "p99 <= 5 ms",
    "startup": "< 1 s",
    "rss": "< 80 MB",
}


def fmt_rate(events: int, payload: int, seconds: float) -> tuple[float, float, str]:
    eps = events / seconds if seconds > 0 else 0.0
    mbps = eps * payload / MB
    return eps, mbps, f"{eps:,.0f} ev/s  {mbps:,.1f} MB/s"


# ---------------------------------------------------------------------------------------------
# (a) official client writes
# ---------------------------------------------------------------------------------------------


def write_sync_inflight(manager, scope: str, stream: str, size: int, duration: float) -> tuple[int, float]:
    writer = manager.create_writer(scope, stream, INFLIGHT)
    payload = b"x" * size
    count = 0
    started = time.perf_counter()
    end = started + duration
    while time.perf_counter() < end:
        for _ in range(500):
            writer.write_event_bytes(payload)
        count += 500
    writer.flush()
    return count, time.perf_counter() - started


def write_async_window(manager, scope: str, stream: str, size: int, duration: float) -> tuple[int, float]:
    writer = manager.create_writer(scope, stream)
    text = "y" * size

    async def main() -> tuple[int, float]:
        inflight = 0
        count = 0
        errors: list[BaseException] = []
        wake = asyncio.Event()

        def done(fut: asyncio.Future) -> None:
            nonlocal inflight
            inflight -= 1
            if fut.exception() is not None and len(errors) < 3:
                errors.append(fut.exception())
            if inflight < INFLIGHT // 2 or inflight == 0:
                wake.set()

        started = time.perf_counter()
        end = started + duration
        while time.perf_counter() < end:
            while inflight < INFLIGHT:
                writer.write_event_async(text).add_done_callback(done)
                inflight += 1
                count += 1
            wake.clear()
            await wake.wait()
        while inflight:
            wake.clear()
            await wake.wait()
        if errors:
            raise RuntimeError(f"write errors: {errors}")
        return count, time.perf_counter() - started

    return asyncio.run(main())


# ---------------------------------------------------------------------------------------------
# (b) official client reads
# ---------------------------------------------------------------------------------------------


def read_all(manager, scope: str, stream: str, expected: int) -> tuple[int, int, float]:
    group = manager.create_reader_group("bench" + uuid.uuid4().hex[:8], scope, stream)
    reader = group.create_reader("r")

    async def main() -> tuple[int, int, float]:
        count = nbytes = 0
        started = last_progress = time.perf_counter()
        while count < expected:
            piece = await reader.get_segment_slice_async()
            before = count
            for event in piece:
                count += 1
                nbytes += len(event.data())
            reader.release_segment(piece)
            now = time.perf_counter()
            if count > before:
                last_progress = now
            elif now - last_progress > 15:
                break
        return count, nbytes, time.perf_counter() - started

    result = asyncio.run(main())
    reader.reader_offline()
    return result


# ---------------------------------------------------------------------------------------------
# (c) paced latency
# ---------------------------------------------------------------------------------------------


def official_paced_latency(
    manager, scope: str, stream: str, rate: int, duration: float, size: int = 100
) -> list[float]:
    writer = manager.create_writer(scope, stream)
    text = "z" * size
    warmup = min(1.0, duration / 4)

    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        latencies: list[float] = []
        pending = 0
        all_done = asyncio.Event()
        t0 = loop.time()
        end = t0 + duration
        issued = 0

        def make_done(scheduled: float):
            def done(fut: asyncio.Future) -> None:
                nonlocal pending
                pending -= 1
                if fut.exception() is None and scheduled - t0 >= warmup:
                    latencies.append(loop.time() - scheduled)
                if pending == 0:
                    all_done.set()

            return done

        while True:
            now = loop.time()
            if now >= end:
                break
            due = int((now - t0) * rate) - issued
            for i in range(due):
                scheduled = t0 + (issued + i) / rate
                pending += 1
                writer.write_event_async(text).add_done_callback(make_done(scheduled))
            issued += max(due, 0)
            await asyncio.sleep(0.0005)
        while pending:
            all_done.clear()
            await asyncio.wait_for(all_done.wait(), 60)
        return latencies

    return asyncio.run(main())


def raw_paced_latency(host: str, port: int, segment: str, rate: int, duration: float, size: int = 100) -> list[float]:
    frame = event_frame(b"r" * size)
    warmup = min(1.0, duration / 4)

    async def main() -> list[float]:
        writer = await RawWriter(host, port, segment).open()
        queue: deque[float] = deque()
        latencies: list[float] = []
        ready = asyncio.Event()
        t0 = time.perf_counter()
        end = t0 + duration
        finished = False

        async def pacer() -> None:
            nonlocal finished
            issued = 0
            while time.perf_counter() < end:
                due = int((time.perf_counter() - t0) * rate) - issued
                for i in range(due):
                    queue.append(t0 + (issued + i) / rate)
                issued += max(due, 0)
                if queue:
                    ready.set()
                await asyncio.sleep(0.0005)
            finished = True
            ready.set()

        async def sender() -> None:
            while True:
                if not queue:
                    if finished:
                        return
                    ready.clear()
                    await ready.wait()
                    continue
                n = min(500, len(queue))
                scheduled = [queue.popleft() for _ in range(n)]
                acked = await writer.append(frame * n, n)
                latencies.extend(acked - s for s in scheduled if s - t0 >= warmup)

        await asyncio.gather(pacer(), sender())
        await writer.close()
        return latencies

    loop = new_loop()
    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()


# ---------------------------------------------------------------------------------------------
# (d) raw throughput
# ---------------------------------------------------------------------------------------------


def raw_throughput(
    host: str, port: int, segments: list[str], depth: int, duration: float, events_per_block: int = 500, size: int = 100
) -> tuple[int, float, list[float]]:
    block = event_frame(b"d" * size) * events_per_block

    async def one(segment: str, latencies: list[float]) -> int:
        writer = await RawWriter(host, port, segment).open()
        end = time.perf_counter() + duration
        inflight: deque[tuple[float, asyncio.Future]] = deque()
        count = 0
        while time.perf_counter() < end or inflight:
            while time.perf_counter() < end and len(inflight) < depth:
                inflight.append((time.perf_counter(), writer.append(block, events_per_block)))
            sent, fut = inflight.popleft()
            acked = await fut
            latencies.append(acked - sent)
            count += events_per_block
            if len(inflight) >= depth - 1:
                await writer.drain()
        await writer.close()
        return count

    async def main() -> tuple[int, float, list[float]]:
        latencies: list[float] = []
        started = time.perf_counter()
        counts = await asyncio.gather(*(one(s, latencies) for s in segments))
        return sum(counts), time.perf_counter() - started, latencies

    loop = new_loop()
    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()


# ---------------------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="about 2.5 s per measurement")
    p.add_argument("--duration", type=float, help="seconds per measurement (default 10, or 2.5 with --quick)")
    args = p.parse_args()
    duration = args.duration or (2.5 if args.quick else 10.0)

    import pravega_client

    table = Table(
        f"pravega-server benchmark ({'quick, ' if args.quick else ''}{duration:g} s per measurement, "
        f"fsync on, {os.cpu_count()} CPUs shared by client and server)"
    )
    with tempfile.TemporaryDirectory(prefix="pravega-bench-") as tmp:
        server = ServerProcess(Path(tmp) / "data")
        print("starting server ...", flush=True)
        server.start()
        try:
            # (e) startup and idle RSS
            first_start = server.startup_seconds
            time.sleep(1.0)
            idle_rss = server.rss_bytes()
            server.stop()
            server.start()
            restart = server.startup_seconds
            time.sleep(1.0)
            table.add(
                "(e) startup to ready line",
                f"{first_start:.2f} s (restart {restart:.2f} s)",
                TARGETS["startup"],
                "ServerProcess.startup_seconds",
            )
            table.add("(e) idle RSS after start", f"{idle_rss / 2**20:.1f} MiB", TARGETS["rss"], "VmRSS")

            manager = pravega_client.StreamManager(server.controller_uri)
            scope = "bench" + uuid.uuid4().hex[:6]
            manager.create_scope(scope)
            host, port = server.host, server.segment_store_port

            for size in (100, 1000):
                target = TARGETS["write100"] if size == 100 else TARGETS["write1k"]
                stream = f"w{size}"
                manager.create_stream(scope, stream, 1)
                print(f"(a) official writes, {size} B ...", flush=True)
                n_sync, t_sync = write_sync_inflight(manager, scope, stream, size, duration)
                n_async, t_async = write_async_window(manager, scope, stream, size, duration)
                _, _, sync_text = fmt_rate(n_sync, size, t_sync)
                _, _, async_text = fmt_rate(n_async, size, t_async)
                best = max(
                    (n_sync / t_sync, "write_event_bytes, max_inflight_events=4096 + flush"),
                    (n_async / t_async, "write_event_async, 4096 futures outstanding"),
                )
                table.add(
                    f"(a) official write {size} B, best",
                    f"{best[0]:,.0f} ev/s  {best[0] * size / MB:,.1f} MB/s",
                    target,
                    best[1],
                )
                table.add(f"(a)   write_event_bytes {size} B", sync_text, "", f"{n_sync:,} events")
                table.add(f"(a)   write_event_async {size} B", async_text, "", f"{n_async:,} events")

                print(f"(b) official reads, {size} B ...", flush=True)
                total = n_sync + n_async
                n_read, n_bytes, t_read = read_all(manager, scope, stream, total)
                note = f"{n_read:,} of {total:,} events" + ("" if n_read == total else " (INCOMPLETE)")
                table.add(
                    f"(b) official read {size} B",
                    f"{n_read / t_read:,.0f} ev/s  {n_bytes / t_read / MB:,.1f} MB/s",
                    "",
                    note,
                )

            print("(c) paced latency ...", flush=True)
            manager.create_stream(scope, "latency", 1)
            lat = official_paced_latency(manager, scope, "latency", PACED_RATE, duration)
            table.add(
                "(c) official write_event_async @10k ev/s",
                f"p50 {ms(percentile(lat, 50))}  p99 {ms(percentile(lat, 99))}",
                TARGETS["latency"],
                f"{len(lat):,} events, 100 B",
            )
            manager.create_stream(scope, "rawlatency", 1)
            lat = raw_paced_latency(host, port, f"{scope}/rawlatency/0.#epoch.0", PACED_RATE, duration)
            table.add(
                "(c) raw wire @10k ev/s (Rust-style batching)",
                f"p50 {ms(percentile(lat, 50))}  p99 {ms(percentile(lat, 99))}",
                TARGETS["latency"],
                f"{len(lat):,} events, 100 B",
            )

            print("(d) raw wire throughput ...", flush=True)
            manager.create_stream(scope, "raw", 4)
            segs = [f"{scope}/raw/{i}.#epoch.0" for i in range(4)]
            for writers, depth in ((1, 1), (1, 8), (4, 1), (4, 8)):
                n, t, lat = raw_throughput(host, port, segs[:writers], depth, duration)
                eps, mbps, text = fmt_rate(n, 100, t)
                table.add(
                    f"(d) raw {writers} writer(s), {depth} block(s) in flight",
                    text,
                    TARGETS["write100"] if (writers, depth) == (1, 1) else "",
                    f"block ack p50 {ms(percentile(lat, 50))} p99 {ms(percentile(lat, 99))}",
                )

            time.sleep(2.0)
            table.add("(e) idle RSS after the benchmark", f"{server.rss_bytes() / 2**20:.1f} MiB", "", "VmRSS")
        finally:
            server.close()
    print()
    print(table.render())


if __name__ == "__main__":
    main()
