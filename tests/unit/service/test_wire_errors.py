"""Store errors on the wire, through a real listener on loopback: a log that cannot
take writes is answered with an ErrorMessage naming the cause, then that connection is closed."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pravega.protocol import commands as c
from pravega.protocol.connection import CLOSED, NEED_DATA, Connection, Role
from pravega.protocol.framing import OLDEST_COMPATIBLE_VERSION, WIRE_VERSION
from pravega_server.service.segment_store import SegmentStore
from pravega_server.storage.engine import Engine
from pravega_server.transport.tcp import start_tcp


async def exchange(port: int, requests: list[c.Command], wait_close: bool = False) -> tuple[list[c.Command], bool]:
    """Send ``requests``; return the replies and (with ``wait_close``) whether the server
    then closed the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    codec = Connection(Role.CLIENT)
    for request in requests:
        writer.write(codec.send(request))
    replies: list[c.Command] = []
    closed = False
    while len(replies) < len(requests):
        data = await asyncio.wait_for(reader.read(65536), 30)
        if not data:
            closed = True
            break
        codec.receive_data(data)
        while (event := codec.next_event()) not in (NEED_DATA, CLOSED):
            assert isinstance(event, c.Command)
            replies.append(event)
    if wait_close and not closed:
        closed = await asyncio.wait_for(reader.read(65536), 30) == b""
    writer.close()
    return replies, closed


def test_a_log_that_cannot_take_writes_answers_and_closes_the_connection(tmp_path: Path) -> None:
    async def main() -> None:
        engine = await Engine.open(tmp_path)
        server, _ = await start_tcp(SegmentStore(engine), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            hello = c.Hello(WIRE_VERSION, OLDEST_COMPATIBLE_VERSION)
            replies, _ = await exchange(port, [hello, c.CreateSegment(1, "s/t/0", 0, 0, ""), c.KeepAlive()])
            assert replies[1] == c.SegmentCreated(1, "s/t/0")

            engine.log.close()  # the log refuses every write from now on
            replies, closed = await exchange(port, [hello, c.CreateSegment(2, "s/t/1", 0, 0, "")], True)
            assert closed
            assert replies[0] == hello
            error = replies[1]
            assert isinstance(error, c.ErrorMessage) and error.request_id == 2
            assert "storage unavailable" in error.message and "closed" in error.message
            assert not engine.exists("s/t/1")

            # Reads of durable data still work on a new connection.
            info = c.GetStreamSegmentInfo(3, "s/t/0", "")
            replies, _ = await exchange(port, [hello, info, c.KeepAlive()])
            assert isinstance(replies[1], c.StreamSegmentInfo) and replies[1].write_offset == 0
        finally:
            server.close()
            await server.wait_closed()
            engine.close()

    asyncio.run(main())


def test_an_incompatible_hello_is_answered_then_closed() -> None:
    async def main() -> None:
        engine = await Engine.open(None)
        server, _ = await start_tcp(SegmentStore(engine), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            too_old = c.Hello(OLDEST_COMPATIBLE_VERSION - 1, OLDEST_COMPATIBLE_VERSION - 2)
            replies, closed = await exchange(port, [too_old], True)
            assert replies == [c.Hello(WIRE_VERSION, OLDEST_COMPATIBLE_VERSION)] and closed
        finally:
            server.close()
            await server.wait_closed()
            engine.close()

    asyncio.run(main())
