"""The synchronous facade drives the whole client API from plain threads."""

from __future__ import annotations

import threading

import pytest

import pravega
from pravega.testing import ServerProcess


def test_sync_transactions_tables_batch_and_bytes(server: ServerProcess) -> None:
    with pravega.Client(server.controller_uri) as client:
        client.create_scope("sync")
        client.create_stream("sync", "orders", 2)
        writer = client.create_transactional_writer("sync", "orders", pravega.StringSerializer())
        txn = writer.begin()
        for i in range(5):
            txn.write(f"e{i}", routing_key=f"k{i}")
        assert txn.status() == "OPEN"
        batch = client.batch_client()
        assert sum(1 for s in batch.list_segments("sync", "orders") for _ in batch.read_segment(s)) == 0
        txn.commit()
        assert txn.status() == "COMMITTED"
        events = sorted(
            e for s in batch.list_segments("sync", "orders") for e in batch.read_segment(s, pravega.StringSerializer())
        )
        assert events == [f"e{i}" for i in range(5)]

        assert client.create_key_value_table("sync", "table", 2)
        table = client.key_value_table("sync", "table", pravega.StringSerializer(), pravega.StringSerializer())
        version = table.put("a", "1")
        assert table.get("a").value == "1" and table.get("a").version == version
        with pytest.raises(pravega.BadKeyVersionError):
            table.replace("a", "2", version + 1000)

        client.create_stream("sync", "bytes", 1)
        stream = client.create_byte_stream("sync", "bytes")
        stream.write(b"hello world")
        stream.flush()
        stream.seek(6, 0)
        assert stream.read(5) == b"world"


def test_sync_writer_from_many_threads(server: ServerProcess) -> None:
    with pravega.Client(server.controller_uri) as client:
        client.create_scope("threads")
        client.create_stream("threads", "s", 3)
        writer = client.create_writer("threads", "s", pravega.StringSerializer())

        def work(n: int) -> None:
            futures = [writer.write(f"{n}:{i}", routing_key=str(n)) for i in range(500)]
            for f in futures:
                f.result(30)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        writer.flush()
        info = client.stream_info("threads", "s")
        batch = client.batch_client()
        events = [
            e
            for s in batch.list_segments("threads", "s", end_cut=info.tail)
            for e in batch.read_segment(s, pravega.StringSerializer())
        ]
        assert sorted(events) == sorted(f"{n}:{i}" for n in range(4) for i in range(500))
        # Each thread used one key: its events are in order within the stream.
        for n in range(4):
            mine = [int(e.split(":")[1]) for e in events if e.startswith(f"{n}:")]
            assert mine == sorted(mine)


def test_sync_call_from_loop_thread_is_refused(server: ServerProcess) -> None:
    with pravega.Client(server.controller_uri) as client:
        result: list[BaseException] = []

        def inside() -> None:
            try:
                client.list_scopes()
            except BaseException as exc:
                result.append(exc)

        client._portal.loop.call_soon_threadsafe(inside)
        client.list_scopes()  # a round trip after the callback ran
        assert result and isinstance(result[0], pravega.InterfaceError)
