"""Batch reads between stream cuts against a real server process."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from pravega.aio import Client, SegmentSlice
from pravega.model import StreamCut
from pravega.serializers import StringSerializer

ROOT = Path(__file__).resolve().parents[2]


def run(fn: Callable[[], Awaitable[Any]], timeout: float = 30.0) -> Any:
    return asyncio.run(asyncio.wait_for(fn(), timeout))


async def write(client: Client, scope: str, stream: str, names: list[str]) -> None:
    writer = await client.create_writer(scope, stream, StringSerializer())
    for name in names:
        await writer.write(name, routing_key=name)
    await writer.close()


async def read_parallel(client: Client, slices: list[SegmentSlice]) -> list[str]:
    batch = client.batch_client()

    async def drain(s: SegmentSlice) -> list[str]:
        return [e async for e in batch.read_segment(s, StringSerializer())]

    parts = await asyncio.gather(*(drain(s) for s in slices))
    return [e for part in parts for e in part]


async def scaled_stream(client: Client) -> tuple[str, str, StreamCut, StreamCut]:
    """e0..e39 written; cut1 after e9, a scale after e19, cut2 after e29."""
    scope = "batch" + uuid.uuid4().hex[:8]
    await client.create_scope(scope)
    await client.create_stream(scope, "st", 2)
    await write(client, scope, "st", [f"e{i}" for i in range(10)])
    cut1 = (await client.stream_info(scope, "st")).tail
    await write(client, scope, "st", [f"e{i}" for i in range(10, 20)])
    current = await client.ctx.controller.get_current_segments(scope, "st")
    first = min(current, key=lambda r: r.min_key)
    await client.scale_stream(
        scope,
        "st",
        [first.segment_id],
        [(first.min_key, (first.min_key + first.max_key) / 2), ((first.min_key + first.max_key) / 2, first.max_key)],
    )
    await write(client, scope, "st", [f"e{i}" for i in range(20, 30)])
    cut2 = (await client.stream_info(scope, "st")).tail
    await write(client, scope, "st", [f"e{i}" for i in range(30, 40)])
    return scope, "st", cut1, cut2


def test_between_two_cuts_across_a_scale(server) -> None:
    async def main() -> None:
        async with Client(server.controller_uri) as client:
            scope, stream, cut1, cut2 = await scaled_stream(client)
            batch = client.batch_client()
            slices = await batch.list_segments(scope, stream, cut1, cut2)
            assert len({s.segment_id for s in slices}) == len(slices)
            assert len(slices) >= 3  # the sealed segment's successors are included
            got = await read_parallel(client, slices)
            assert sorted(got) == sorted(f"e{i}" for i in range(10, 30))

            everything = await batch.list_segments(scope, stream)
            assert sorted(await read_parallel(client, everything)) == sorted(f"e{i}" for i in range(40))
            until2 = await batch.list_segments(scope, stream, end_cut=cut2)
            assert sorted(await read_parallel(client, until2)) == sorted(f"e{i}" for i in range(30))
            from1 = await batch.list_segments(scope, stream, start_cut=cut1)
            assert sorted(await read_parallel(client, from1)) == sorted(f"e{i}" for i in range(10, 40))
            assert await batch.list_segments(scope, stream, cut2, cut2) == []

            # order within a routing key holds inside each slice
            for s in everything:
                offsets = [off async for off, _ in batch.read_segment_with_offsets(s)]
                assert offsets == sorted(offsets) and offsets[0] >= s.start_offset

    run(main)


def test_slices_read_by_other_processes(server) -> None:
    async def main() -> list[SegmentSlice]:
        async with Client(server.controller_uri) as client:
            scope, stream, cut1, cut2 = await scaled_stream(client)
            return await client.batch_client().list_segments(scope, stream, cut1, cut2)

    slices = run(main)
    script = (
        "import asyncio, json, sys\n"
        "from pravega.aio import Client, SegmentSlice\n"
        "from pravega.serializers import StringSerializer\n"
        "async def main():\n"
        "    async with Client(sys.argv[1]) as c:\n"
        "        s = SegmentSlice.from_text(sys.argv[2])\n"
        "        print(json.dumps([e async for e in c.batch_client().read_segment(s, StringSerializer())]))\n"
        "asyncio.run(main())\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "core"), str(ROOT / "server")]))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, server.controller_uri, s.to_text()],
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        for s in slices
    ]
    got: list[str] = []
    for p in procs:
        out, _ = p.communicate(timeout=30)
        assert p.returncode == 0
        got.extend(json.loads(out))
    assert sorted(got) == sorted(f"e{i}" for i in range(10, 30))
