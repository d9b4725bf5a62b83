"""Infinite retention: bounded restart, space reclaimed, tier-2 reads, ingest cost, policies.

    python benchmarks/retention.py            # --quick sizes (minutes)
    python benchmarks/retention.py --full     # restart after 1 and 10 GiB
    python benchmarks/retention.py --full --huge   # ... and 30 GiB

Prints, with no assertions:

(a) restart-to-ready (SIGKILL, then start until the readiness line) after writing each
    size, with tiering (checkpoint + log tail) and, for the first size, without
    (``--no-tiering``: the whole log is replayed);
(b) disk use of the data directory after sealing and deleting a stream of several GiB:
    before, at its peak, and how long until it is back within 5% of the baseline
    (+ one log file: the file being written is never deleted);
(c) the official client's read throughput of history (from tier-2 chunks) against the
    same read from the log (a server without tiering);
(d) ingest throughput (raw wire appends, 4 segments) with tiering running against
    tiering off, in the same run;
(e) a by-size and a by-time retention policy holding a stream inside its limits while
    it is written (stream size sampled every second).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import tempfile
import time
import uuid
from collections import deque
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import MB, RawWriter, Table, event_frame, new_loop
from pravega.testing import ServerProcess

GiB = 1 << 30
BLOCK_EVENTS = 256
EVENT = 4096 - 8  # 4 KiB framed events: big blocks, fast ingest
LOG_FILE = str(64 * 1024 * 1024)
TIERED = ["--flush-age", "2", "--checkpoint-interval", "2", "--log-file-size", LOG_FILE]
UNTIERED = ["--no-tiering", "--log-file-size", LOG_FILE]


def du(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_blocks * 512
            except FileNotFoundError:
                pass
    return total


def gib(n: float) -> str:
    return f"{n / GiB:.2f} GiB"


def create_stream(uri: str, scope: str, stream: str, segments: int, retention=None) -> None:
    import pravega

    with pravega.Client(uri) as client:
        client.create_scope(scope)
        kwargs = {"retention": retention} if retention is not None else {}
        client.create_stream(scope, stream, segments, **kwargs)


def ingest(server: ServerProcess, segments: list[str], nbytes: int | None, seconds: float | None) -> tuple[int, float]:
    """Raw appends of 1 MiB blocks, 8 in flight per segment; returns (bytes, seconds)."""
    block = event_frame(b"d" * EVENT) * BLOCK_EVENTS
    host, port = server.host, server.segment_store_port
    per_segment = None if nbytes is None else nbytes // len(segments)

    async def one(segment: str) -> int:
        writer = await RawWriter(host, port, segment).open()
        end = None if seconds is None else time.perf_counter() + seconds
        inflight: deque[asyncio.Future] = deque()
        sent = 0

        def more() -> bool:
            if end is not None:
                return time.perf_counter() < end
            return per_segment is not None and sent < per_segment

        while more() or inflight:
            while more() and len(inflight) < 8:
                inflight.append(writer.append(block, BLOCK_EVENTS))
                sent += len(block)
            await inflight.popleft()
            await writer.drain()
        await writer.close()
        return sent

    async def main() -> tuple[int, float]:
        started = time.perf_counter()
        counts = await asyncio.gather(*(one(s) for s in segments))
        return sum(counts), time.perf_counter() - started

    loop = new_loop()
    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()


def segments_of(scope: str, stream: str, n: int) -> list[str]:
    return [f"{scope}/{stream}/{i}.#epoch.0" for i in range(n)]


def wait_log_drained(server: ServerProcess, timeout: float = 600) -> float:
    """Wait until the log holds at most a few files (tiering and checkpoints caught up)."""
    started = time.monotonic()
    wal = server.data_dir / "wal"
    while time.monotonic() - started < timeout:
        if len([f for f in os.listdir(wal) if f.endswith(".wal")]) <= 2:
            break
        time.sleep(0.5)
    return time.monotonic() - started


def restart_seconds(server: ServerProcess) -> float:
    server.kill()
    server.start()
    return server.startup_seconds


def recovery_seconds(server: ServerProcess) -> str:
    """The store's own recovery time, from the server's last "recovered ... in X s" line."""
    found = re.findall(r"recovered .* in ([0-9.]+) s", server.log_path.read_text(errors="replace"))
    return f"{float(found[-1]):.3f} s" if found else "n/a"


# -- (a) --------------------------------------------------------------------------------


def bench_restart(table: Table, sizes: list[float], work: Path) -> None:
    with ServerProcess(work / "empty", extra_args=TIERED) as server:
        table.add("(a) restart of an empty store", f"{restart_seconds(server):.2f} s", "", "interpreter + imports")
    _rm(work / "empty")
    for i, size in enumerate(sizes):
        nbytes = int(size * GiB)
        modes = [("tiering", TIERED)] + ([("no tiering", UNTIERED)] if i == 0 else [])
        for label, args in modes:
            data = work / f"restart-{i}-{label.replace(' ', '')}"
            with ServerProcess(data, extra_args=args, log_level="INFO") as server:
                create_stream(server.controller_uri, "bench", "s", 4)
                print(f"(a) writing {gib(nbytes)} ({label}) ...", flush=True)
                written, secs = ingest(server, segments_of("bench", "s", 4), nbytes, None)
                drained = wait_log_drained(server) if label == "tiering" else 0.0
                ready = restart_seconds(server)
                # The same start on an empty store right now: the interpreter and imports
                # (slow on a loaded machine) are most of a start.
                with ServerProcess(work / "empty-now", extra_args=args) as empty:
                    baseline = empty.startup_seconds
                _rm(work / "empty-now")
                table.add(
                    f"(a) restart after {gib(written)}, {label}",
                    f"{ready:.2f} s",
                    "< 1 s" if label == "tiering" else "",
                    f"recovery itself {recovery_seconds(server)}; empty store now {baseline:.2f} s; ingest {written / MB / secs:,.0f} MB/s; "
                    f"log drained {drained:.0f} s after; "
                    f"data dir {gib(du(data))}",
                )
            _rm(data)


# -- (b) --------------------------------------------------------------------------------


def bench_delete(table: Table, size: float, work: Path) -> None:
    import pravega

    data = work / "delete"
    with ServerProcess(data, extra_args=TIERED) as server:
        create_stream(server.controller_uri, "bench", "keep", 1)
        ingest(server, segments_of("bench", "keep", 1), 16 * MB, None)
        wait_log_drained(server)
        time.sleep(3)
        baseline = du(data)
        create_stream(server.controller_uri, "bench", "big", 4)
        print(f"(b) writing {gib(size * GiB)} to a stream, then deleting it ...", flush=True)
        ingest(server, segments_of("bench", "big", 4), int(size * GiB), None)
        peak = du(data)
        with pravega.Client(server.controller_uri) as client:
            started = time.monotonic()
            client.seal_stream("bench", "big")
            client.delete_stream("bench", "big")
        bound = baseline * 1.05 + 64 * 1024 * 1024
        back = None
        at10 = None
        while time.monotonic() - started < 60:
            now = du(data)
            elapsed = time.monotonic() - started
            if at10 is None and elapsed >= 10:
                at10 = now
            if back is None and now <= bound:
                back = elapsed
            if back is not None and at10 is not None:
                break
            time.sleep(0.25)
        table.add(
            "(b) disk after deleting the stream",
            f"back in {back:.1f} s" if back is not None else "not back within 60 s",
            "<= baseline+5% within 10 s",
            f"baseline {du_text(baseline)}, peak {du_text(peak)}, at 10 s {du_text(at10 or 0)} "
            f"(bound = baseline + 5% + one 64 MiB log file)",
        )
    _rm(data)


def du_text(n: int) -> str:
    return f"{n / MB:,.0f} MB"


# -- (c) --------------------------------------------------------------------------------


def official_read(uri: str, scope: str, stream: str, expected: int) -> tuple[int, float]:
    import pravega_client

    manager = pravega_client.StreamManager(uri)
    group = manager.create_reader_group("bench" + uuid.uuid4().hex[:8], scope, stream)
    reader = group.create_reader("r")

    async def main() -> tuple[int, float]:
        nbytes = count = 0
        started = last = time.perf_counter()
        while count < expected and time.perf_counter() - last < 15:
            piece = await reader.get_segment_slice_async()
            for event in piece:
                count += 1
                nbytes += len(event.data())
                last = time.perf_counter()
            reader.release_segment(piece)
        return nbytes, time.perf_counter() - started

    try:
        return asyncio.run(main())
    finally:
        reader.reader_offline()


def bench_reads(table: Table, size: int, work: Path) -> None:
    events = size // (EVENT + 8) // BLOCK_EVENTS * BLOCK_EVENTS
    results = {}
    for label, args in (("tier 2 (history)", TIERED), ("log (no tiering)", UNTIERED)):
        data = work / f"reads-{len(results)}"
        with ServerProcess(data, extra_args=args) as server:
            create_stream(server.controller_uri, "bench", "r", 1)
            ingest(server, segments_of("bench", "r", 1), events * (EVENT + 8), None)
            if args is TIERED:
                wait_log_drained(server)
                time.sleep(3)  # the last flush-age worth moves too
            print(f"(c) official client reads from {label} ...", flush=True)
            nbytes, secs = official_read(server.controller_uri, "bench", "r", events)
            results[label] = nbytes / secs
            table.add(f"(c) official reads, {label}", f"{nbytes / MB / secs:,.1f} MB/s", "", f"{nbytes / MB:,.0f} MB")
        _rm(data)
    hist, log_rate = results["tier 2 (history)"], results["log (no tiering)"]
    table.add("(c) history / log read ratio", f"{hist / log_rate:.2f}x", ">= 0.8x")


# -- (d) --------------------------------------------------------------------------------


def bench_ingest(table: Table, seconds: float, work: Path) -> None:
    rates = {}
    for label, args in (("tiering on", TIERED), ("tiering off", UNTIERED), ("tiering on (again)", TIERED)):
        data = work / f"ingest-{len(rates)}"
        with ServerProcess(data, extra_args=args) as server:
            create_stream(server.controller_uri, "bench", "i", 4)
            print(f"(d) ingest, {label} ...", flush=True)
            nbytes, secs = ingest(server, segments_of("bench", "i", 4), None, seconds)
            rates[label] = nbytes / secs
            table.add(
                f"(d) ingest, {label}", f"{nbytes / MB / secs:,.0f} MB/s", "", f"{nbytes / MB:,.0f} MB in {secs:.0f} s"
            )
        _rm(data)
    on = (rates["tiering on"] + rates["tiering on (again)"]) / 2
    table.add("(d) tiering on / off", f"{on / rates['tiering off']:.2f}x", ">= 0.9x")


# -- (e) --------------------------------------------------------------------------------


def bench_policies(table: Table, seconds: float, work: Path) -> None:
    import pravega
    from pravega import RetentionPolicy

    data = work / "policies"
    limit = 32 * MB
    with ServerProcess(data, extra_args=[*TIERED, "--retention-interval", "1"]) as server:
        create_stream(server.controller_uri, "bench", "size", 1, RetentionPolicy.by_size(limit))
        create_stream(server.controller_uri, "bench", "time", 1, RetentionPolicy.by_time(5_000))
        rate = 4 * MB  # bytes per second per stream
        block = event_frame(b"p" * (4096 - 8)) * 64

        async def writer(segment: str) -> None:
            w = await RawWriter(server.host, server.segment_store_port, segment).open()
            end = time.perf_counter() + seconds
            sent = 0
            started = time.perf_counter()
            while time.perf_counter() < end:
                await w.append(block, 64)
                sent += len(block)
                ahead = sent / rate - (time.perf_counter() - started)
                if ahead > 0:
                    await asyncio.sleep(ahead)
            await w.close()

        samples: dict[str, list[int]] = {"size": [], "time": []}

        async def sampler() -> None:
            await asyncio.sleep(2)
            with pravega.Client(server.controller_uri) as client:
                end = time.perf_counter() + seconds - 2
                while time.perf_counter() < end:
                    for name in samples:
                        info = await asyncio.to_thread(client.stream_info, "bench", name)
                        tail = sum(info.tail.positions.values())
                        head = sum(info.head.positions.values())
                        samples[name].append(tail - head)
                    await asyncio.sleep(1)

        async def main() -> None:
            await asyncio.gather(writer("bench/size/0.#epoch.0"), writer("bench/time/0.#epoch.0"), sampler())

        print(
            f"(e) writing {rate / MB:.0f} MB/s into a by_size(32 MB) and a by_time(5 s) stream for {seconds:.0f} s ...",
            flush=True,
        )
        loop = new_loop()
        try:
            loop.run_until_complete(main())
        finally:
            loop.close()
        written = rate * seconds
        for name, target in (
            ("size", f"~{limit / MB:.0f} MB (+ one cycle)"),
            ("time", f"~{5 * rate / MB:.0f} MB (5 s)"),
        ):
            s = samples[name][len(samples[name]) // 2 :] or [0]
            table.add(
                f"(e) by_{name} stream size while written",
                f"{min(s) / MB:,.0f}-{max(s) / MB:,.0f} MB",
                target,
                f"{written / MB:,.0f} MB written; data dir {du_text(du(data))} at the end",
            )
    _rm(data)


def _rm(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
    shutil.rmtree(path.parent / f"{path.name}.server.log", ignore_errors=True)
    try:
        os.unlink(path.parent / f"{path.name}.server.log")
    except FileNotFoundError:
        pass


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="small sizes (the default)")
    size.add_argument("--full", action="store_true", help="restart after 1 and 10 GiB, 4 GiB deleted")
    p.add_argument("--huge", action="store_true", help="also restart after 30 GiB (needs ~35 GiB free)")
    p.add_argument("--only", default="abcde", help="which measurements to run (default abcde)")
    args = p.parse_args()
    if args.full:
        sizes, delete, reads, ingest_s, policy_s = [1, 10], 4, 1 * GiB, 20, 40
    else:
        sizes, delete, reads, ingest_s, policy_s = [0.25, 1], 1, 256 * (1 << 20), 8, 20
    if args.huge:
        sizes.append(30)
    table = Table("retention benchmark (" + ("full" if args.full else "quick") + f", {os.cpu_count()} CPUs)")
    with tempfile.TemporaryDirectory(prefix="retention-bench-") as tmp:
        work = Path(tmp)
        if "a" in args.only:
            bench_restart(table, sizes, work)
        if "b" in args.only:
            bench_delete(table, delete, work)
        if "c" in args.only:
            bench_reads(table, reads, work)
        if "d" in args.only:
            bench_ingest(table, ingest_s, work)
        if "e" in args.only:
            bench_policies(table, policy_s, work)
    print()
    print(table.render())


if __name__ == "__main__":
    main()
