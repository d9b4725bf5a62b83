"""The log's cost: ingest through the store, recovery, corruption detection and repair (no assertions).

    python benchmarks/wal_bench.py [--mb 200] [--size 1024]

(a) appends of ``--size`` bytes through the store (group commit, fsync), 1024 in flight: MB/s;
(b) restart: recovering the log just written (scan, checksums, replay): seconds and MB/s;
(c) a byte flipped in the middle of the log: time until the store refuses to open;
(d) ``repair`` of that log: seconds and MB/s.
Parts (c) and (d) need the format-2 log (this branch's); on an older checkout they are skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from _common import MB  # noqa: F401 - makes server/ importable
from pravega_server.storage.engine import Engine
from pravega_server.storage.ops import CreateSegment
from pravega_server.storage.wal import format as fmt


async def ingest(data: Path, total: int, size: int) -> float:
    engine = await Engine.open(data)
    await engine.execute([CreateSegment("bench/s/0.#epoch.0")])
    seg = engine.get("bench/s/0.#epoch.0")
    payload = b"x" * size
    loop = asyncio.get_running_loop()
    count = total // size
    window = asyncio.Semaphore(1024)
    done = loop.create_future()
    acked = 0

    def ack() -> None:
        nonlocal acked
        acked += 1
        window.release()
        if acked == count:
            done.set_result(None)

    started = time.perf_counter()
    for i in range(count):
        await window.acquire()
        engine.append(seg, 1, i + 1, payload, ack)
    await done
    elapsed = time.perf_counter() - started
    engine.close()
    return elapsed


async def reopen(data: Path) -> float:
    started = time.perf_counter()
    engine = await Engine.open(data)
    elapsed = time.perf_counter() - started
    engine.close()
    return elapsed


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--mb", type=int, default=200)
    p.add_argument("--size", type=int, default=1024)
    args = p.parse_args()
    total = args.mb * 1024 * 1024
    with tempfile.TemporaryDirectory(prefix="wal-bench-") as tmp:
        data = Path(tmp) / "data"
        seconds = asyncio.run(ingest(data, total, args.size))
        print(f"(a) ingest {args.mb} MiB in {args.size} B appends: {seconds:.2f} s, {total / seconds / 1e6:.0f} MB/s")
        seconds = asyncio.run(reopen(data))
        print(f"(b) restart (recover {args.mb} MiB): {seconds:.2f} s, {total / seconds / 1e6:.0f} MB/s")
        if not hasattr(fmt, "MAGIC"):
            print("(c), (d): skipped (format-1 log)")
            return
        from pravega_server.storage.repair import repair
        from pravega_server.storage.wal.reader import CorruptLogError, list_files

        wal = data / "wal"
        files = list_files(wal)
        path = wal / fmt.file_name(files[len(files) // 2])
        with open(path, "r+b") as fh:
            fh.seek(path.stat().st_size // 3)
            byte = fh.read(1)
            fh.seek(-1, 1)
            fh.write(bytes([byte[0] ^ 0x20]))
        started = time.perf_counter()
        try:
            asyncio.run(reopen(data))
            print("(c) the flipped byte was not detected!")
        except CorruptLogError as exc:
            print(f"(c) corruption refused after {time.perf_counter() - started:.2f} s: {str(exc)[:100]}...")
        started = time.perf_counter()
        report = repair(data)
        seconds = time.perf_counter() - started
        print(f"(d) repair: {seconds:.2f} s, {total / seconds / 1e6:.0f} MB/s; {report.lines[-1][:90]}")


if __name__ == "__main__":
    main()
