"""Key-value tables against a real server process."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from pravega import errors
from pravega.aio import Client, Versioned
from pravega.client.kvt import hash_key_bytes
from pravega.serializers import JsonSerializer, StringSerializer


def run(fn: Callable[[], Awaitable[Any]], timeout: float = 30.0) -> Any:
    return asyncio.run(asyncio.wait_for(fn(), timeout))


async def new_table(client: Client, partitions: int = 4) -> tuple[str, str]:
    scope = "kvt" + uuid.uuid4().hex[:8]
    await client.create_scope(scope)
    assert await client.create_key_value_table(scope, "t", partitions=partitions)
    assert not await client.create_key_value_table(scope, "t", partitions=partitions)
    return scope, "t"


def test_conditional_operations(server) -> None:
    async def main() -> None:
        async with Client(server.controller_uri) as client:
            scope, name = await new_table(client)
            table = client.key_value_table(scope, name, StringSerializer(), JsonSerializer())
            assert await table.get("alice") is None
            v1 = await table.put("alice", {"age": 30})
            assert await table.get("alice") == Versioned({"age": 30}, v1)
            with pytest.raises(errors.BadKeyVersionError):
                await table.put_if_absent("alice", {"age": 0})
            v2 = await table.replace("alice", {"age": 31}, v1)
            assert v2 != v1
            with pytest.raises(errors.BadKeyVersionError):
                await table.replace("alice", {"age": 99}, v1)  # stale version
            with pytest.raises(errors.KeyDoesNotExistError):
                await table.replace("bob", {"age": 1}, v1)
            vb = await table.put_if_absent("bob", {"age": 25})
            assert [x.value if x else None for x in await table.get_all(["bob", "carol", "alice"])] == [
                {"age": 25},
                None,
                {"age": 31},
            ]
            with pytest.raises(errors.BadKeyVersionError):
                await table.remove("bob", expected_version=vb + 12345)
            await table.remove("bob", expected_version=vb)
            assert await table.get("bob") is None
            await table.remove("bob")  # absent, unconditional: no-op
            v3 = await table.put("alice", {"age": 32})
            assert (await table.get("alice")).version == v3
            # an empty value is a value, not absence
            raw = client.key_value_table(scope, name)
            await raw.put(b"nothing", b"")
            assert (await raw.get(b"nothing")).value == b""

    run(main)


def test_partitions_and_paging(server) -> None:
    async def main() -> None:
        async with Client(server.controller_uri) as client:
            scope, name = await new_table(client, partitions=3)
            table = client.key_value_table(scope, name, StringSerializer(), StringSerializer())
            keys = [f"key-{i}" for i in range(250)]
            await asyncio.gather(*(table.put(k, k.upper()) for k in keys))
            partitions = await table.partitions()
            assert len(partitions) == 3 and all("t_kvtable/" in p for p in partitions)
            used = {await table.partition_of(k) for k in keys}
            assert used == set(partitions)  # keys spread over every partition
            assert 0.0 <= hash_key_bytes(b"abc") < 1.0
            entries = [e async for e in table.entries(page_size=17)]
            assert sorted(e.key for e in entries) == sorted(keys)
            assert all(e.value == e.key.upper() and e.version >= 0 for e in entries)
            listed = [k async for k in table.keys(page_size=40)]
            assert sorted(k.value for k in listed) == sorted(keys)
            got = await table.get_all(keys)
            assert [g.value for g in got] == [k.upper() for k in keys]  # type: ignore[union-attr]

            # several keys of one partition, atomically
            part = await table.partition_of("key-0")
            same = [k for k in keys if await table.partition_of(k) == part][:3]
            current = await table.get_all(same)
            versions = await table.put_all([(k, "new", c.version) for k, c in zip(same, current)])  # type: ignore[union-attr]
            assert len(versions) == 3
            with pytest.raises(errors.BadKeyVersionError):  # one stale version: nothing is written
                await table.put_all([(same[0], "x", versions[0]), (same[1], "x", current[1].version)])  # type: ignore[union-attr]
            assert [g.value for g in await table.get_all(same)] == ["new"] * 3  # type: ignore[union-attr]

    run(main)


def test_delete_table(server) -> None:
    async def main() -> None:
        async with Client(server.controller_uri) as client:
            scope, name = await new_table(client, partitions=2)
            table = client.key_value_table(scope, name)
            await table.put(b"k", b"v")
            assert await client.delete_key_value_table(scope, name)
            assert not await client.delete_key_value_table(scope, name)
            with pytest.raises(errors.NoSuchKeyValueTableError):
                await table.get(b"k")
            with pytest.raises(errors.NoSuchKeyValueTableError):
                await client.key_value_table(scope, "missing").get(b"k")

    run(main)
