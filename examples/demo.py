"""Demo: a durable server, a transactional (exactly-once) write and a read.

Run with ``bash scripts/demo.sh``. The official Pravega Python client talks to our
server unchanged: a transaction's events are invisible until it commits, and a
reader group reads each committed event exactly once.

The server runs as a child process here: the official client blocks inside Rust
while holding Python's GIL, which would starve a server thread in this process.
"""
from __future__ import annotations

import asyncio
import sys
import tempfile
import time

import pravega_client

from pravega.testing import ServerProcess


async def read_all(reader, expected: int, timeout: float = 30.0) -> list[bytes]:
    events: list[bytes] = []
    deadline = time.monotonic() + timeout
    while len(events) < expected and time.monotonic() < deadline:
        segment_slice = await reader.get_segment_slice_async()
        for event in segment_slice:
            events.append(event.data())
        reader.release_segment(segment_slice)
    return events


def main() -> int:
    with tempfile.TemporaryDirectory() as data_dir, ServerProcess(f"{data_dir}/data") as server:
        print(f"server up: controller {server.controller_uri}, data in {data_dir}")
        manager = pravega_client.StreamManager(server.controller_uri)
        manager.create_scope("demo")
        manager.create_stream("demo", "orders", 2)

        writer = manager.create_transaction_writer("demo", "orders", 1)
        txn = writer.begin_txn()
        for i in range(5):
            txn.write_event(f"order-{i}", routing_key=f"customer-{i % 2}")
        print(f"transaction {txn.get_txn_id():032x} open: {txn.is_open()}")
        txn.commit()
        print("transaction committed")

        plain = manager.create_writer("demo", "orders")
        plain.write_event("order-5", routing_key="customer-1")
        plain.flush()

        group = manager.create_reader_group("demo-readers", "demo", "orders")
        reader = group.create_reader("reader-1")
        events = asyncio.run(read_all(reader, 6))
        reader.reader_offline()
        for event in sorted(events):
            print("read", event.decode())
        ok = sorted(e.decode() for e in events) == [f"order-{i}" for i in range(6)]
        print("exactly once:", "yes" if ok else "NO")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
