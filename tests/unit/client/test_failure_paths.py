"""The client's failure paths against in-memory segment stores (the connection-factory seam).

The client code is the real one (Client, EventWriter, SegmentWriter, SegmentReader, the
pool and SegmentStoreConnection) and so is the controller (the server's ControllerService
over gRPC on loopback); only the segment store is the in-memory peer of
``memory_segment_store``, which speaks the real codec and into which the failures are
injected: a sealed segment, a segment that moved (WrongHost), a connection lost in the
middle of appends or of a read.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

import grpc
import pytest
from memory_segment_store import MemorySegmentStore

from pravega import errors, naming
from pravega.aio import Client
from pravega.client.connection import Endpoint, SegmentStoreConnection
from pravega.client.segment_reader import EventParser, SegmentReader
from pravega.protocol import commands as c
from pravega.serializers import StringSerializer
from pravega_server.controller.grpc_service import add_to_server
from pravega_server.controller.service import ControllerService
from pravega_server.storage.engine import Engine

T = TypeVar("T")
STR = StringSerializer()
HOST_A: Endpoint = ("127.0.0.1", 1)  # never listened on: the in-memory stores stand behind these
HOST_B: Endpoint = ("127.0.0.1", 2)
SEG0 = naming.qualified_segment_name("sc", "st", 0)


def run(coro: Awaitable[T]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, 30.0)

    return asyncio.run(bounded())


class Stores:
    """In-memory segment stores by endpoint, and where the controller says segments are."""

    def __init__(self) -> None:
        self.by_endpoint = {HOST_A: MemorySegmentStore(), HOST_B: MemorySegmentStore()}
        self.current = HOST_A

    async def connect(self, endpoint: Endpoint, timeout: float) -> SegmentStoreConnection:
        return await self.by_endpoint[endpoint].connect(endpoint, timeout)

    @property
    def a(self) -> MemorySegmentStore:
        return self.by_endpoint[HOST_A]

    @property
    def b(self) -> MemorySegmentStore:
        return self.by_endpoint[HOST_B]


@contextlib.asynccontextmanager
async def client_and_stores(segments: int = 1, **config: object) -> AsyncIterator[tuple[Client, Stores]]:
    """A real controller (in-process, gRPC on loopback) and a client whose segment-store
    connections go to in-memory stores; stream sc/st exists."""
    config.setdefault("reconnect_timeout", 5.0)  # a client that cannot recover fails the test soon
    stores = Stores()
    engine = await Engine.open(None)
    service = ControllerService(engine, segment_store_endpoint=lambda: stores.current)
    await service.start()
    server = grpc.aio.server()
    add_to_server(server, service)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    client = Client(f"tcp://127.0.0.1:{port}", connection_factory=stores.connect, **config)  # type: ignore[arg-type]
    try:
        await client.create_scope("sc")
        await client.create_stream("sc", "st", segments)
        yield client, stores
    finally:
        await client.close()
        await server.stop(None)
        await service.stop()
        engine.close()


def texts(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


# -- a sealed segment ------------------------------------------------------------------------


def test_writer_moves_to_the_successors_of_a_sealed_segment() -> None:
    async def body() -> None:
        async with client_and_stores() as (client, stores):
            writer = await client.create_writer("sc", "st", STR)
            for text in texts("a", 5):
                await writer.write(text, routing_key="k")
            await writer.flush()
            await client.ctx.controller.scale("sc", "st", [0], [(0.0, 0.5), (0.5, 1.0)])
            stores.a.seal(SEG0)
            for text in texts("b", 20):
                await writer.write(text, routing_key=text)
            await writer.flush()

            assert [e.decode() for e in stores.a.segments[SEG0].events()] == texts("a", 5)
            successors = [naming.qualified_segment_name("sc", "st", (1 << 32) | n) for n in (1, 2)]
            moved = [e.decode() for s in successors for e in stores.a.segment(s).events()]
            assert sorted(moved) == sorted(texts("b", 20))  # each once, none lost
            assert all(stores.a.segment(s).events() for s in successors)  # both halves of the key space got some
            assert any(type(cmd) is c.AppendBlockEnd for cmd in stores.a.received)

    run(body())


def test_writer_to_a_sealed_stream_fails_its_events_as_sealed() -> None:
    async def body() -> None:
        async with client_and_stores() as (client, stores):
            writer = await client.create_writer("sc", "st", STR)
            await writer.write("before", routing_key="k")
            await writer.flush()
            assert await client.ctx.controller.seal_stream("sc", "st")
            stores.a.seal(SEG0)
            await writer.write("after", routing_key="k")
            with pytest.raises(errors.StreamSealedError):
                await writer.flush()
            with pytest.raises(errors.StreamSealedError):
                await writer.write("later", routing_key="k")
            assert [e.decode() for e in stores.a.segments[SEG0].events()] == ["before"]

    run(body())


# -- a segment that moved -------------------------------------------------------------------


def test_wrong_host_makes_the_writer_forget_the_endpoint_and_go_where_the_controller_says() -> None:
    async def body() -> None:
        async with client_and_stores() as (client, stores):
            writer = await client.create_writer("sc", "st", STR)
            for text in texts("a", 3):
                await writer.write(text, routing_key="k")
            await writer.flush()
            stores.a.move_away("127.0.0.1:2")
            stores.current = HOST_B
            for text in texts("b", 3):
                await writer.write(text, routing_key="k")
            await writer.flush()

            assert [e.decode() for e in stores.a.segments[SEG0].events()] == texts("a", 3)
            assert [e.decode() for e in stores.b.segments[SEG0].events()] == texts("b", 3)
            assert stores.b.connected == [HOST_B]
            assert any(isinstance(cmd, c.SetupAppend) for cmd in stores.b.received)

    run(body())


# -- a connection lost in the middle of appends -------------------------------------------------


@pytest.mark.parametrize("stored", [False, True], ids=["block-lost", "ack-lost"])
def test_appends_are_resent_after_a_lost_connection_without_loss_or_duplicates(stored: bool) -> None:
    async def body() -> None:
        # Small blocks, so the events go out as many blocks with several in flight.
        async with client_and_stores(max_block_size=64, max_inflight_blocks=2) as (client, stores):
            writer = await client.create_writer("sc", "st", STR)
            blocks = 0

            def third_block(cmd: c.Command) -> bool:
                nonlocal blocks
                blocks += isinstance(cmd, c.AppendBlockEnd)
                return blocks == 3

            if stored:
                stores.a.lose_reply_to = third_block  # stored, acknowledgement lost: resent as a duplicate
            else:
                stores.a.lose_connection_on = third_block  # never arrived: resent
            written = texts("event-", 60)
            for text in written:
                await writer.write(text, routing_key="k")
            await writer.flush()

            assert stores.a.lost == 1
            assert stores.a.connected.count(HOST_A) >= 2  # the writer reconnected
            assert [e.decode() for e in stores.a.segments[SEG0].events()] == written
            setups = [cmd for cmd in stores.a.received if isinstance(cmd, c.SetupAppend)]
            assert len(setups) == 2

    run(body())


# -- a reader's lost connection ---------------------------------------------------------------


def test_segment_reader_reconnects_after_a_lost_connection_and_reads_on() -> None:
    async def body() -> None:
        async with client_and_stores() as (client, stores):
            writer = await client.create_writer("sc", "st", STR)
            for text in texts("r", 10):
                await writer.write(text, routing_key="k")
            await writer.flush()
            stores.a.lose_connection_on = lambda cmd: isinstance(cmd, c.ReadSegment)
            before = len(stores.a.connected)

            reader = SegmentReader(client.ctx, SEG0, 0, read_size=1 << 16)
            parser = EventParser(0)
            events: list[str] = []
            try:
                while len(events) < 10:
                    result = await reader.read()
                    events += [p.decode() for _, p in parser.feed(result.data)]
            finally:
                reader.close()

            assert events == texts("r", 10)
            assert stores.a.lost == 1
            assert len(stores.a.connected) - before == 2  # the lost one and its replacement

    run(body())
