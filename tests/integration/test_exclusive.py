"""A second server on the same data directory, controller port or segment-store port exits at once
with a clear error, and touches nothing (the running server keeps serving, its files unchanged)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from pravega.aio import Client as AsyncClient
from pravega.testing import ServerProcess

# One process per data directory: a single-process server (the supervisor of several
# containers holds the same lock on DATA_DIR/controller/, each container on its own directory).
CONTAINERS = 1


def second_server(
    data: Path, controller_port: int = 0, segment_store_port: int = 0
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pravega_server",
            "--data-dir",
            str(data),
            "--controller-port",
            str(controller_port),
            "--segment-store-port",
            str(segment_store_port),
            "--no-rest",  # not on the default REST port 9091, which may be taken here
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def files(data: Path) -> dict[str, bytes]:
    out = {}
    for root, _, names in os.walk(data):
        for name in names:
            path = Path(root) / name
            out[str(path.relative_to(data))] = path.read_bytes()
    return out


async def _streams(uri: str) -> list[str]:
    async with AsyncClient(uri) as client:
        await client.create_scope("excl")
        await client.create_stream("excl", "s", 1)
        writer: Any = await client.create_writer("excl", "s")
        await asyncio.wait_for(await writer.write(b"event"), 60)
        return await client.list_streams("excl")


def test_second_server_on_the_same_data_dir_or_ports_exits_at_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with ServerProcess(data, containers=CONTAINERS) as first:
        assert asyncio.run(_streams(first.controller_uri)) == ["s"]
        assert first.proc is not None
        pid = first.proc.pid
        # Freeze the first server (it keeps its lock and ports), so any change is the second's.
        os.kill(pid, signal.SIGSTOP)
        try:
            before = files(data)

            same_dir = second_server(data)
            assert same_dir.returncode == 1
            assert "ready" not in same_dir.stdout
            assert f"PID {pid}" in same_dir.stderr and "in use" in same_dir.stderr, same_dir.stderr

            repair = subprocess.run(
                [sys.executable, "-m", "pravega_server", "repair", "--data-dir", str(data)],
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert repair.returncode == 1 and f"PID {pid}" in repair.stdout, repair.stdout + repair.stderr

            other = tmp_path / "other"
            same_controller = second_server(other, controller_port=first.controller_port)
            assert same_controller.returncode == 1
            assert "cannot bind the controller" in same_controller.stderr, same_controller.stderr
            assert not other.exists(), "a server that cannot bind must not create its data directory"

            same_store = second_server(other, segment_store_port=first.segment_store_port)
            assert same_store.returncode == 1
            assert "cannot bind the segment store" in same_store.stderr, same_store.stderr
            assert not other.exists()

            assert files(data) == before
        finally:
            os.kill(pid, signal.SIGCONT)
        assert asyncio.run(_list(first.controller_uri)) == ["s"]  # the first server still serves

    # Once the first server is gone (even killed), the directory is free again.
    with ServerProcess(data, containers=CONTAINERS) as again:
        again.kill()
        again.start()
        assert asyncio.run(_list(again.controller_uri)) == ["s"]


async def _list(uri: str) -> list[str]:
    async with AsyncClient(uri) as client:
        return await client.list_streams("excl")
