"""Transactions with the asyncio client against a real server process."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from pravega import errors, naming
from pravega.aio import Client
from pravega.client.segment_reader import EventParser, SegmentReader
from pravega.serializers import StringSerializer


def run(fn: Callable[[], Awaitable[Any]], timeout: float = 30.0) -> Any:
    return asyncio.run(asyncio.wait_for(fn(), timeout))


async def visible(client: Client, scope: str, stream: str) -> list[str]:
    """Every event readable in the stream's current segments right now."""
    out: list[str] = []
    for r in await client.ctx.controller.get_current_segments(scope, stream):
        name = naming.qualified_segment_name(scope, stream, r.segment_id)
        length = (await client.segments.info(name)).length
        reader = SegmentReader(client.ctx, name, 0)
        parser = EventParser(0)
        try:
            while reader.offset < length:
                result = await reader.read()
                out.extend(payload.decode() for _, payload in parser.feed(result.data))
        finally:
            reader.close()
    return sorted(out)


async def new_stream(client: Client, segments: int = 3) -> tuple[str, str]:
    scope = "txn" + uuid.uuid4().hex[:8]
    await client.create_scope(scope)
    await client.create_stream(scope, "st", segments)
    return scope, "st"


def test_commit_makes_events_visible_at_once(server) -> None:
    async def main() -> None:
        async with Client(server.controller_uri) as client:
            scope, stream = await new_stream(client)
            writer = await client.create_transactional_writer(scope, stream, StringSerializer())
            txn = await writer.begin()
            assert await txn.status() == "OPEN"
            assert len(txn.segments) == 3 and all("#transaction." in s for s in txn.segments)
            futures = [await txn.write(f"e{i}", routing_key=f"k{i % 7}") for i in range(50)]
            await txn.flush()
            assert all(f.done() for f in futures)
            assert await visible(client, scope, stream) == []
            await txn.commit()
            assert await txn.status() == "COMMITTED"
            assert await visible(client, scope, stream) == sorted(f"e{i}" for i in range(50))
            await txn.commit()  # committing twice succeeds
            with pytest.raises(errors.TransactionFailedError):
                await txn.write("late")

    run(main)


def test_abort_is_never_visible_and_commit_after_abort_fails(server) -> None:
    async def main() -> None:
        async with Client(server.controller_uri) as client:
            scope, stream = await new_stream(client, 2)
            writer = await client.create_transactional_writer(scope, stream, StringSerializer())
            txn = await writer.begin()
            for i in range(10):
                await txn.write(f"x{i}", routing_key=str(i))
            await txn.flush()
            await txn.abort()
            assert await txn.status() == "ABORTED"
            with pytest.raises(errors.TransactionFailedError):
                await txn.commit()
            # A second handle on the aborted transaction cannot commit it either.
            again = await writer.get_transaction(txn.txn_id)
            with pytest.raises(errors.TransactionFailedError):
                await again.commit()
            ok = await writer.begin()
            await ok.write("kept", routing_key="a")
            await ok.commit()
            assert await visible(client, scope, stream) == ["kept"]
            with pytest.raises(errors.TransactionFailedError):
                await ok.abort()  # committed: cannot be aborted

    run(main)


def test_resume_by_id_from_another_client(server) -> None:
    async def main() -> None:
        async with Client(server.controller_uri) as first, Client(server.controller_uri) as second:
            scope, stream = await new_stream(first, 2)
            w1 = await first.create_transactional_writer(scope, stream, StringSerializer())
            txn = await w1.begin()
            await txn.write("from-first", routing_key="a")
            await txn.flush()
            txn_id = txn.txn_id
            await w1.close()  # the first process goes away; the transaction stays open

            w2 = await second.create_transactional_writer(scope, stream, StringSerializer())
            resumed = await w2.get_transaction(txn_id)
            assert resumed.txn_id == txn_id and await resumed.status() == "OPEN"
            await resumed.write("from-second", routing_key="b")
            assert await visible(second, scope, stream) == []
            await resumed.commit()
            assert await visible(second, scope, stream) == ["from-first", "from-second"]
            again = await w2.get_transaction(txn_id)
            await again.commit()  # idempotent from a fresh handle too
            with pytest.raises(errors.TransactionFailedError):
                await w2.get_transaction(txn_id ^ (1 << 20))  # unknown id

    run(main)


def test_lease_expiry_aborts(server) -> None:
    async def main() -> None:
        async with Client(server.controller_uri) as client:
            scope, stream = await new_stream(client, 1)
            writer = await client.create_transactional_writer(
                scope, stream, StringSerializer(), lease_ms=300, keep_alive=False
            )
            txn = await writer.begin()
            await txn.write("doomed")
            await txn.flush()
            deadline = asyncio.get_running_loop().time() + 5
            while await txn.status() == "OPEN":
                assert asyncio.get_running_loop().time() < deadline, "lease never expired"
                await asyncio.sleep(0.1)
            assert await txn.status() == "ABORTED"
            with pytest.raises(errors.TransactionFailedError):
                await txn.commit()
            assert await visible(client, scope, stream) == []

    run(main)


def test_keep_alive_outlives_the_lease(server) -> None:
    async def main() -> None:
        async with Client(server.controller_uri) as client:
            scope, stream = await new_stream(client, 1)
            writer = await client.create_transactional_writer(scope, stream, StringSerializer(), lease_ms=800)
            txn = await writer.begin()
            await txn.write("survivor")
            await asyncio.sleep(2.5)  # more than three leases
            assert await txn.status() == "OPEN"
            await txn.commit()
            assert await visible(client, scope, stream) == ["survivor"]
            assert txn._keep_alive is None  # stopped by the commit

    run(main)


def test_explicit_ping(server) -> None:
    async def main() -> None:
        async with Client(server.controller_uri) as client:
            scope, stream = await new_stream(client, 1)
            writer = await client.create_transactional_writer(scope, stream, lease_ms=400, keep_alive=False)
            txn = await writer.begin()
            for _ in range(4):
                await asyncio.sleep(0.2)
                await txn.ping()
            assert await txn.status() == "OPEN"
            await txn.abort()
            with pytest.raises(errors.TransactionFailedError):
                await txn.ping()

    run(main)


def test_commit_after_a_scale_and_abort_by_another_process(server) -> None:
    async def main() -> None:
        async with Client(server.controller_uri) as client, Client(server.controller_uri) as other:
            scope, stream = await new_stream(client, 1)
            writer = await client.create_transactional_writer(scope, stream, StringSerializer())
            txn = await writer.begin()
            await txn.write("before-scale", routing_key="a")
            await txn.flush()
            (seg,) = await client.ctx.controller.get_current_segments(scope, stream)
            await client.scale_stream(scope, stream, [seg.segment_id], [(0.0, 0.5), (0.5, 1.0)])
            # The transaction still writes to the segments of the epoch it began in.
            resumed = await (
                await other.create_transactional_writer(scope, stream, StringSerializer())
            ).get_transaction(txn.txn_id)
            assert resumed.segments == txn.segments
            await resumed.write("after-scale", routing_key="b")
            await resumed.commit()
            batch = client.batch_client()
            got = []
            for s in await batch.list_segments(scope, stream):
                got += [e async for e in batch.read_segment(s, StringSerializer())]
            assert sorted(got) == ["after-scale", "before-scale"]

            # Aborted elsewhere: further writes to it fail.
            doomed = await writer.begin()
            await doomed.write("x")
            await doomed.flush()
            await (await other.create_transactional_writer(scope, stream)).get_transaction(doomed.txn_id)
            await other.ctx.controller.abort_transaction(scope, stream, doomed.txn_id)
            await doomed.write("y")
            with pytest.raises(errors.TransactionFailedError):
                await doomed.flush()
            with pytest.raises(errors.TransactionFailedError):
                await doomed.commit()

    run(main)
