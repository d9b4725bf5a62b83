"""Tiering against a real server process (file tier 2, the test session's settings:
256 KiB chunks, 0.5 s flush age, 1 s checkpoints, 4 MiB log files).

The official client writes; the data moves to tier 2, the log shrinks, a SIGKILL and
a restart lose nothing; deleting a stream and truncating a byte stream give the disk
space back; deleted data stays deleted after a restart."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pravega.testing import ServerProcess

pravega_client = pytest.importorskip("pravega_client")

SIZE = 1_000

# One engine's log and tier 2, measured at their known paths: a single-process server
# (a container's are the same code, under DATA_DIR/containers/<i>/ and <lts>/container-<i>/).
CONTAINERS = 1


@pytest.fixture
def tiered(tmp_path: Path) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path / "data", containers=CONTAINERS) as server:
        yield server


def du(path: Path) -> int:
    """Bytes allocated under ``path``."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_blocks * 512
            except FileNotFoundError:
                pass
    return total


def wait_until(cond: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def payload(i: int) -> bytes:
    return f"{i:08d}".encode().ljust(SIZE, b".")


def write_events(manager, scope: str, stream: str, first: int, count: int) -> None:
    writer = manager.create_writer(scope, stream)
    for i in range(first, first + count):
        writer.write_event_bytes(payload(i))
    writer.flush()


def read_events(manager, scope: str, stream: str, count: int) -> list[int]:
    group = manager.create_reader_group("g" + uuid.uuid4().hex[:8], scope, stream)
    reader = group.create_reader("r")

    async def read() -> list[int]:
        got: list[int] = []
        deadline = time.monotonic() + 60
        while len(got) < count and time.monotonic() < deadline:
            piece = await reader.get_segment_slice_async()
            got.extend(int(bytes(ev.data())[:8]) for ev in piece)
            reader.release_segment(piece)
        return got

    try:
        return asyncio.run(read())
    finally:
        reader.reader_offline()


def chunk_bytes(server: ServerProcess) -> int:
    return du(server.data_dir / "lts")


def log_files(server: ServerProcess) -> list[str]:
    return sorted(f for f in os.listdir(server.data_dir / "wal") if f.endswith(".wal"))


def test_data_moves_to_tier2_the_log_shrinks_and_a_crash_loses_nothing(tiered: ServerProcess) -> None:
    manager = pravega_client.StreamManager(tiered.controller_uri)
    manager.create_scope("t1")
    manager.create_stream("t1", "s", 2)
    total = 12_000  # ~12 MB: three 4 MiB log files at least
    write_events(manager, "t1", "s", 0, total)
    wait_until(lambda: chunk_bytes(tiered) >= total * SIZE, "the data in tier 2")
    wait_until(lambda: len(log_files(tiered)) <= 2, "old log files deleted")
    assert any(f.endswith(".ckpt") for f in os.listdir(tiered.data_dir))
    tiered.kill()
    tiered.start()
    write_events(manager, "t1", "s", total, 100)  # and the log tail goes on
    got = read_events(manager, "t1", "s", total + 100)
    assert sorted(got) == list(range(total + 100)), "every event exactly once"


def test_deleting_a_stream_gives_the_space_back(tiered: ServerProcess) -> None:
    manager = pravega_client.StreamManager(tiered.controller_uri)
    manager.create_scope("t2")
    manager.create_stream("t2", "keep", 1)
    write_events(manager, "t2", "keep", 0, 100)
    wait_until(lambda: chunk_bytes(tiered) >= 100 * SIZE, "the first stream tiered")
    baseline = du(tiered.data_dir)
    manager.create_stream("t2", "big", 3)
    write_events(manager, "t2", "big", 0, 15_000)
    wait_until(lambda: chunk_bytes(tiered) >= 15_000 * SIZE, "the big stream tiered")
    assert du(tiered.data_dir) > baseline + 10_000_000
    assert manager.seal_stream("t2", "big")
    assert manager.delete_stream("t2", "big")
    # Back to the baseline (+ one log file of slack: the tail file in use may have moved on).
    wait_until(lambda: du(tiered.data_dir) <= baseline + 4.5 * 1024 * 1024, "the space freed")
    tiered.kill()
    tiered.start()
    wait_until(lambda: du(tiered.data_dir) <= baseline + 4.5 * 1024 * 1024, "nothing resurrected")
    assert sorted(read_events(manager, "t2", "keep", 100)) == list(range(100))
    assert "big" not in list(manager.list_stream("t2"))


def test_byte_stream_truncation_frees_tier2_and_is_kept_after_a_crash(tiered: ServerProcess) -> None:
    manager = pravega_client.StreamManager(tiered.controller_uri)
    manager.create_scope("t3")
    manager.create_stream("t3", "bytes", 1)
    stream = manager.create_byte_stream("t3", "bytes")
    block = bytes(range(256)) * 4096  # 1 MiB
    for _ in range(8):
        stream.write(block)
    stream.flush()
    wait_until(lambda: chunk_bytes(tiered) >= 8 * len(block), "the bytes in tier 2")
    before = chunk_bytes(tiered)
    stream.truncate(6 * len(block))
    wait_until(lambda: chunk_bytes(tiered) <= before - 5 * len(block), "truncated chunks deleted")
    tiered.kill()
    tiered.start()
    again = manager.create_byte_stream("t3", "bytes")
    assert again.current_head_offset() == 6 * len(block)
    again.seek(6 * len(block), 0)
    got = b""
    while len(got) < 2 * len(block):
        buf = bytearray(2 * len(block) - len(got))
        n = again.readinto(buf)
        assert n > 0
        got += bytes(buf[:n])
    assert got == block * 2


def test_s3_tier2_with_the_official_client(tmp_path: Path, local_s3) -> None:
    with ServerProcess(tmp_path / "data", extra_args=local_s3.server_args(), containers=CONTAINERS) as server:
        manager = pravega_client.StreamManager(server.controller_uri)
        manager.create_scope("t4")
        manager.create_stream("t4", "s", 2)
        total = 3_000
        write_events(manager, "t4", "s", 0, total)
        wait_until(lambda: sum(size for _, size in local_s3.objects()) >= total * SIZE, "the data in S3")
        assert not (server.data_dir / "lts").exists()
        server.kill()
        server.start()
        got = read_events(manager, "t4", "s", total)  # history, from S3 through the read cache
        assert sorted(got) == list(range(total))
        assert manager.seal_stream("t4", "s")
        assert manager.delete_stream("t4", "s")
        wait_until(lambda: local_s3.objects() == [], "the objects deleted")
