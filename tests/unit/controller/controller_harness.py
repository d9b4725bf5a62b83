"""A controller served over a real grpc.aio server on 127.0.0.1, with a stub client."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc

from pravega.protocol import controller_pb2 as pb
from pravega.protocol.controller_pb2_grpc import ControllerServiceStub
from pravega_server.controller.grpc_service import add_to_server
from pravega_server.controller.service import ControllerService
from pravega_server.storage.engine import Engine

SEGMENT_STORE = ("127.0.0.1", 12345)
CONTROLLER = ("127.0.0.1", 9090)


class FakeClock:
    """A settable clock (seconds), for lease expiry and time-based queries."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Controller:
    engine: Engine
    service: ControllerService
    stub: ControllerServiceStub
    port: int


@contextlib.asynccontextmanager
async def running(data_dir: Path | None, **options) -> AsyncIterator[Controller]:
    """Engine + service + gRPC server + stub; everything is closed on exit."""
    engine = await Engine.open(data_dir)
    options.setdefault("segment_store_endpoint", SEGMENT_STORE)
    options.setdefault("controller_endpoint", CONTROLLER)
    service = ControllerService(engine, **options)
    await service.start()
    server = grpc.aio.server()
    add_to_server(server, service)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield Controller(engine, service, ControllerServiceStub(channel), port)
    finally:
        await channel.close()
        await server.stop(None)
        await service.stop()
        engine.close()


def run(coro) -> None:
    asyncio.run(coro)


def si(scope: str, stream: str) -> pb.StreamInfo:
    return pb.StreamInfo(scope=scope, stream=stream)


def fixed_config(scope: str, stream: str, n: int, tags: list[str] | None = None) -> pb.StreamConfig:
    cfg = pb.StreamConfig(
        streamInfo=si(scope, stream),
        scalingPolicy=pb.ScalingPolicy(scaleType=pb.ScalingPolicy.FIXED_NUM_SEGMENTS, minNumSegments=n),
        retentionPolicy=pb.RetentionPolicy(retentionType=0, retentionParam=0, retentionMax=2**63 - 1),
    )
    if tags is not None:
        cfg.tags.CopyFrom(pb.Tags(tag=tags))
    return cfg


async def make_stream(stub: ControllerServiceStub, scope: str, stream: str, n: int = 1) -> None:
    status = (await stub.createScope(pb.ScopeInfo(scope=scope))).status
    assert status in (pb.CreateScopeStatus.SUCCESS, pb.CreateScopeStatus.SCOPE_EXISTS)
    assert (await stub.createStream(fixed_config(scope, stream, n))).status == pb.CreateStreamStatus.SUCCESS


async def append(engine: Engine, name: str, data: bytes, writer: int = 1, event: int = 1) -> None:
    fut = asyncio.get_running_loop().create_future()
    engine.append(engine.get(name), writer, event, data, lambda: fut.done() or fut.set_result(None))
    await fut


def read_all(engine: Engine, name: str) -> bytes:
    seg = engine.get(name)
    return engine.read(seg, seg.start_offset, seg.durable_length)


async def expect_error(call, code: grpc.StatusCode) -> str:
    """Await ``call`` and check it fails with ``code``; returns the error details."""
    try:
        await call
    except grpc.aio.AioRpcError as e:
        assert e.code() == code, (e.code(), e.details())
        return e.details() or ""
    raise AssertionError(f"expected {code}")


async def _serve_until_stdin_closes(data_dir: Path | None, page_size: int) -> None:
    """Serve, print ``PORT <n>``, and stop when stdin reaches EOF (the parent is done)."""
    async with running(data_dir, page_size=page_size) as controller:
        print(f"PORT {controller.port}", flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="serve a test controller on 127.0.0.1")
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--page-size", type=int, default=1000)
    args = parser.parse_args()
    asyncio.run(_serve_until_stdin_closes(args.data_dir, args.page_size))
