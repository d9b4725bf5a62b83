"""Our client against a real server: stream management, writing, stream info, sealing."""

from __future__ import annotations

import asyncio

import pytest

import pravega
from pravega import naming
from pravega.aio import Client as AsyncClient
from pravega.client.segment_reader import EventParser, SegmentReader
from pravega.routing import hash_routing_key
from pravega.testing import ServerProcess


def test_hash_matches_pravega_test_vector() -> None:
    # From the Rust client's shared/src/lib.rs, reproduced in the spec (§1.6).
    assert hash_routing_key("hello") == pytest.approx(0.658716230571337, abs=1e-15)


def test_scopes_and_streams(server: ServerProcess) -> None:
    with pravega.Client(server.controller_uri) as client:
        assert client.create_scope("basics")
        assert not client.create_scope("basics")
        assert "basics" in client.list_scopes()
        assert client.create_stream("basics", "s1", 3, tags=["t1", "t2"])
        assert not client.create_stream("basics", "s1", 3)
        assert client.stream_exists("basics", "s1")
        assert client.list_streams("basics") == ["s1"]
        assert client.list_streams("basics", tag="t2") == ["s1"]
        config = client.get_stream_configuration("basics", "s1")
        assert config.scaling.min_num_segments == 3 and config.tags == ("t1", "t2")
        assert client.update_stream("basics", "s1", tags=["t3"])
        assert client.get_stream_configuration("basics", "s1").tags == ("t3",)
        with pytest.raises(pravega.InvalidArgumentError):
            client.create_stream("basics", "bad/name", 1)
        with pytest.raises(pravega.NoSuchScopeError):
            client.create_stream("nope", "s", 1)
        with pytest.raises(pravega.StreamNotSealedError):
            client.delete_stream("basics", "s1")
        with pytest.raises(pravega.ScopeNotEmptyError):
            client.delete_scope("basics")
        assert client.seal_stream("basics", "s1")
        assert client.delete_stream("basics", "s1")
        assert not client.delete_stream("basics", "s1")
        assert client.delete_scope("basics")


def test_writer_routes_keys_and_info_reports_tail(server: ServerProcess) -> None:
    async def main() -> None:
        async with AsyncClient(server.controller_uri) as client:
            await client.create_scope("w")
            await client.create_stream("w", "keys", 4)
            writer = await client.create_writer("w", "keys", pravega.StringSerializer())
            for i in range(2000):
                await writer.write(f"k{i % 16}:{i}", routing_key=f"k{i % 16}")
            await writer.flush()
            info = await client.stream_info("w", "keys")
            assert not info.sealed and len(info.tail.positions) == 4
            # Every segment holds whole events, each key in one segment, in order.
            seen: dict[str, list[int]] = {}
            where: dict[str, int] = {}
            for sid, length in info.tail.positions.items():
                reader = SegmentReader(client.ctx, naming.qualified_segment_name("w", "keys", sid))
                parser, events = EventParser(0), []
                while parser.offset < length:
                    events += parser.feed((await reader.read()).data)
                reader.close()
                for _, payload in events:
                    key, n = payload.decode().split(":")
                    assert where.setdefault(key, sid) == sid
                    seen.setdefault(key, []).append(int(n))
            assert sum(len(v) for v in seen.values()) == 2000
            assert all(v == sorted(v) for v in seen.values())
            await client.seal_stream("w", "keys")
            with pytest.raises(pravega.StreamSealedError):
                fut = await writer.write("late", routing_key="k1")
                await asyncio.wait_for(fut, 10)
            sealed = await client.stream_info("w", "keys")
            assert sealed.sealed and sealed.tail == info.tail

    asyncio.run(main())


def test_writer_survives_server_restart(fresh_server: ServerProcess) -> None:
    """Events queued while the server is down are sent after it returns, once each."""

    async def main() -> None:
        async with AsyncClient(fresh_server.controller_uri) as client:
            await client.create_scope("r")
            await client.create_stream("r", "s", 1)
            writer = await client.create_writer("r", "s")
            futures = [await writer.write(b"before-%d" % i) for i in range(100)]
            await asyncio.gather(*futures)
            await asyncio.to_thread(fresh_server.kill)
            futures = [await writer.write(b"during-%d" % i) for i in range(100)]
            await asyncio.to_thread(fresh_server.start)
            await asyncio.wait_for(asyncio.gather(*futures), 60)
            await writer.flush()
            info = await client.stream_info("r", "s")
            reader = SegmentReader(client.ctx, naming.qualified_segment_name("r", "s", 0))
            parser, events = EventParser(0), []
            (length,) = info.tail.positions.values()
            while parser.offset < length:
                events += parser.feed((await reader.read()).data)
            reader.close()
            payloads = [p for _, p in events]
            expected = [b"before-%d" % i for i in range(100)] + [b"during-%d" % i for i in range(100)]
            assert payloads == expected

    asyncio.run(main())
