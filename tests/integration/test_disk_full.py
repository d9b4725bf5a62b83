"""A full disk against a real server process: a small tmpfs mounted by the test, and an
LD_PRELOAD shim failing the data directory's writes with ENOSPC (runs without root).

Writers get an error (ErrorMessage, then the connection closes), not silence; reads keep
working; control operations that free space (seal, delete) still work from the log's
reserve; a restart on the full disk works; appends resume without a restart once space
is back; nothing acknowledged is lost, even across a SIGKILL afterwards.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import struct
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from test_storage_faults import build_shim

from pravega import naming
from pravega.aio import Client as AsyncClient
from pravega.client.segment_reader import EventParser, SegmentReader
from pravega.protocol import commands as wc
from pravega.protocol import decode, encode
from pravega.testing import ServerProcess

SCOPE, STREAM = "full", "events"
SEGMENT = naming.qualified_segment_name(SCOPE, STREAM, 0)
WIRE_TIMEOUT = 60.0

# The log of one engine on a small disk: a single-process server.
CONTAINERS = 1


class RawWriter:
    """One writer over a raw wire connection: each append is answered, or the connection closes."""

    def __init__(self, addr: tuple[str, int], segment: str, writer_id: int) -> None:
        self.addr = addr
        self.segment = segment
        self.writer_id = writer_id
        self.sock: socket.socket | None = None
        self.buf = b""
        self.last_event_number = 0

    def connect(self) -> None:
        self.close()
        self.sock = socket.create_connection(self.addr, timeout=WIRE_TIMEOUT)
        self.buf = b""
        self.sock.sendall(encode(wc.Hello(15, 5)) + encode(wc.SetupAppend(1, self.writer_id, self.segment, "")))
        while True:
            reply = self.reply()
            if isinstance(reply, wc.AppendSetup):
                self.last_event_number = max(0, reply.last_event_number)
                return
            assert isinstance(reply, wc.Hello), reply

    def reply(self) -> Any:
        """The next reply, or None when the server closed the connection."""
        assert self.sock is not None
        while True:
            if len(self.buf) >= 8:
                code, length = struct.unpack(">ii", self.buf[:8])
                if len(self.buf) >= 8 + length:
                    payload, self.buf = self.buf[8 : 8 + length], self.buf[8 + length :]
                    return decode(code, payload)
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk

    def append(self, payload: bytes) -> Any:
        """Append one event as the next event number; returns the reply (None: connection closed)."""
        assert self.sock is not None
        number = self.last_event_number + 1
        framed = encode(wc.Event(payload))
        self.sock.sendall(encode(wc.AppendBlockEnd(self.writer_id, len(framed), framed, 1, number, number)))
        reply = self.reply()
        while isinstance(reply, wc.KeepAlive):
            reply = self.reply()
        if isinstance(reply, wc.DataAppended):
            self.last_event_number = number
        return reply

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def payload(i: int, size: int) -> bytes:
    head = b"<ev-%06d>" % i
    return head + b"#" * (size - len(head))


async def _read_segment(uri: str) -> list[bytes]:
    async with AsyncClient(uri) as client:
        info = await client.stream_info(SCOPE, STREAM)
        (length,) = info.tail.positions.values()
        reader = SegmentReader(client.ctx, SEGMENT)
        parser, events = EventParser(0), []
        while parser.offset < length:
            events += parser.feed((await reader.read()).data)
        reader.close()
        return [p for _, p in events]


async def _setup(uri: str) -> None:
    async with AsyncClient(uri) as client:
        await client.create_scope(SCOPE)
        await client.create_stream(SCOPE, STREAM, 1)
        await client.create_stream(SCOPE, "other", 1)


async def _seal_and_delete_other(uri: str) -> None:
    async with AsyncClient(uri) as client:
        assert await client.seal_stream(SCOPE, "other")
        assert await client.delete_stream(SCOPE, "other")


def fill(path: Path) -> None:
    """Write ``path`` until the file system is full."""
    with open(path, "wb", buffering=0) as fh:
        for chunk in (256 * 1024, 4096, 512):
            block = b"\xff" * chunk
            while True:
                try:
                    fh.write(block)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC, exc
                    break


class Disk:
    """Where the server's data lives and how the test fills and frees it."""

    def __init__(self, data: Path, python: str, fill: Callable[[], None], free: Callable[[], None]) -> None:
        self.data = data
        self.python = python
        self.fill = fill
        self.free = free


@pytest.fixture(params=["tmpfs", "preload"])
def small_disk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Disk]:
    """A real small file system (a 32 MiB tmpfs, needs root), or, where mounting is not allowed,
    the fault shim making every write to the data directory fail with ENOSPC while a flag exists."""
    if request.param == "preload":
        data = tmp_path / "data"
        data.mkdir()
        flag = tmp_path / "disk-is-full"
        shim = build_shim(tmp_path)
        launcher = tmp_path / "python-full-disk"
        launcher.write_text(
            "#!/bin/sh\n"
            f"export LD_PRELOAD={shim} FAULT_DIR={data} FAULT_FULL_FLAG={flag} FAULT_RATE=0\n"
            f'exec {sys.executable} "$@"\n'
        )
        launcher.chmod(0o755)
        yield Disk(data, str(launcher), flag.touch, flag.unlink)
        return
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (the 'preload' variant covers a full disk without it)")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(mnt)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()} (the 'preload' variant still runs)")
    filler = mnt / "filler"
    try:
        # The data directory is the mount itself; the server's log file lands next to it, on the real disk.
        yield Disk(mnt, sys.executable, lambda: fill(filler), filler.unlink)
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_disk_full_refuses_appends_serves_reads_and_resumes(small_disk: Disk) -> None:
    server = ServerProcess(
        small_disk.data,
        python=small_disk.python,
        extra_args=["--log-file-size", str(4 * 1024 * 1024)],
        containers=CONTAINERS,
    )
    try:
        server.start()
        asyncio.run(_setup(server.controller_uri))
        writer = RawWriter((server.host, server.segment_store_port), SEGMENT, uuid.uuid4().int)
        writer.connect()
        acked: list[bytes] = []
        for i in range(100):
            data = payload(i, 200)
            assert isinstance(writer.append(data), wc.DataAppended)
            acked.append(data)

        small_disk.fill()

        # Appends go on into the log's preallocated space, then are refused with an error.
        refused = None
        for i in range(100, 100 + 2000):
            data = payload(i, 64 * 1024)
            reply = writer.append(data)
            if isinstance(reply, wc.DataAppended):
                acked.append(data)
                continue
            refused = reply
            break
        assert isinstance(refused, wc.ErrorMessage), refused
        assert "full" in refused.message
        assert writer.reply() is None, "the server closes the connection after refusing an append"

        # Reads keep working, and control operations that free space still work.
        assert asyncio.run(_read_segment(server.controller_uri)) == acked
        asyncio.run(_seal_and_delete_other(server.controller_uri))

        # A restart on the full disk works; appends are still refused; reads still work.
        server.stop()
        server.start()
        writer.addr = (server.host, server.segment_store_port)
        writer.connect()
        assert writer.last_event_number == 100 + len(acked) - 100
        reply = writer.append(payload(99999, 64 * 1024))
        assert isinstance(reply, wc.ErrorMessage), reply
        assert asyncio.run(_read_segment(server.controller_uri)) == acked

        # Space is back: appends resume by themselves, without a restart.
        small_disk.free()
        deadline = time.monotonic() + 120
        resumed = False
        i = len(acked)
        while time.monotonic() < deadline:
            writer.connect()
            data = payload(i, 64 * 1024)
            if isinstance(writer.append(data), wc.DataAppended):
                acked.append(data)
                resumed = True
                break
            time.sleep(0.2)
        assert resumed, "appends did not resume after space came back"
        for j in range(i + 1, i + 50):
            data = payload(j, 4096)
            assert isinstance(writer.append(data), wc.DataAppended)
            acked.append(data)
        writer.close()

        # Nothing acknowledged is lost, even across a SIGKILL.
        server.kill()
        server.start()
        assert asyncio.run(_read_segment(server.controller_uri)) == acked
    finally:
        server.close()
