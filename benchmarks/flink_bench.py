"""PyFlink connector throughput against a freshly started, durable (fsync) server process.

    python benchmarks/flink_bench.py                 # 1,000,000 events read, 4,000,000 through the sink
    python benchmarks/flink_bench.py --events 300000 --sink-events 1000000   # quicker

Measures, with 100-byte events, parallelism 1 and no Python function in the data path, and
prints beside our raw Python client's rates from the same run (no assertions):

(a) PravegaSource: a bounded job reading a pre-filled one-segment stream into a counting sink
    (deserialized to ``String`` by ``SimpleStringSchema``); events/s between the first and the
    last record reaching the sink;
(b) PravegaSink EXACTLY_ONCE: ``NumberSequenceSource`` numbers padded to 100 bytes (Java
    serialization schema) into a one-segment stream, checkpoints every second; events/s from
    the sink's first write to the commit of its last transaction (the data is visible then);
(c) the Python client (``pravega.Client``): writing the same events (``write_many``), writing
    them in transactions of 100,000 events (``pravega.aio``), and reading them back (batch
    client).

Flink's own start-up (JVM, job submission, Python workers) is not part of (a) and (b): the
timestamps come from the connector's test jar (a counting sink and a transaction listener writing
a log), not from around ``execute``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import MB, ROOT, Table

_FLINK = ROOT / "connectors" / "flink"
sys.path.insert(0, str(_FLINK))
os.environ["PYTHONPATH"] = os.pathsep.join([str(_FLINK), os.environ.get("PYTHONPATH", "")])

import pravega  # noqa: E402
import pravega.aio  # noqa: E402
from pravega.testing import ServerProcess  # noqa: E402
from pravega_flink import _jar  # noqa: E402

SIZE = 100
TARGETS = {"source": "200,000 ev/s", "sink": "100,000 ev/s"}


def rate(events: int, seconds: float) -> str:
    eps = events / seconds if seconds > 0 else 0.0
    return f"{eps:,.0f} ev/s  {eps * SIZE / MB:,.1f} MB/s  ({events:,} in {seconds:.2f} s)"


def python_write(uri: str, scope: str, stream: str, events: int) -> float:
    payload = b"p" * SIZE
    with pravega.Client(uri) as client:
        writer = client.create_writer(scope, stream, pravega.BytesSerializer())
        started = time.perf_counter()
        chunk: list[tuple[bytes, str | None]] = [(payload, None)] * 2000
        for _ in range(events // len(chunk)):
            writer.write_many(chunk)
        writer.flush()
        elapsed = time.perf_counter() - started
        writer.close()
    return elapsed


def python_transactions(uri: str, scope: str, stream: str, events: int, per_txn: int = 100_000) -> float:
    async def go() -> float:
        payload = b"t" * SIZE
        async with pravega.aio.Client(uri) as client:
            writer = await client.create_transactional_writer(scope, stream, pravega.BytesSerializer())
            started = time.perf_counter()
            done = 0
            while done < events:
                txn = await writer.begin()
                n = min(per_txn, events - done)
                for _ in range(n):
                    await txn.write(payload)
                await txn.commit()
                done += n
            elapsed = time.perf_counter() - started
            await writer.close()
            return elapsed

    return asyncio.run(go())


def python_read(uri: str, scope: str, stream: str) -> tuple[int, float]:
    async def go() -> tuple[int, float]:
        async with pravega.aio.Client(uri) as client:
            batch = client.batch_client()
            started = time.perf_counter()
            count = 0
            for s in await batch.list_segments(scope, stream):
                async for _ in batch.read_segment(s, pravega.BytesSerializer()):
                    count += 1
            return count, time.perf_counter() - started

    return asyncio.run(go())


def flink_env(work: Path, checkpoint_ms: int | None):
    from pyflink.common import Configuration
    from pyflink.datastream import StreamExecutionEnvironment

    import pravega_flink

    cfg = Configuration()
    if checkpoint_ms:
        cfg.set_string("execution.checkpointing.interval", f"{checkpoint_ms} ms")
        cfg.set_string("execution.checkpointing.dir", (work / "checkpoints").as_uri())
    cfg.set_string("python.executable", sys.executable)
    cfg.set_string("restart-strategy.type", "none")
    env = StreamExecutionEnvironment.get_execution_environment(cfg)
    env.set_parallelism(1)
    pravega_flink.register(env)
    # The benchmark helpers (padded numbers, a counting sink, a logging transaction listener)
    # live in the connector's test jar, compiled from java/src/test.
    env.add_jars(_jar.test_jar_path().as_uri())
    return env


def testing():
    """The test jar's package in PyFlink's gateway JVM."""
    from pyflink.java_gateway import get_gateway
    from pyflink.util.java_utils import add_jars_to_context_class_loader

    import pravega_flink

    add_jars_to_context_class_loader([pravega_flink.jar_path().resolve().as_uri(), _jar.test_jar_path().as_uri()])
    return get_gateway().jvm.org.pravega.flink.testing


def contain_flink_files(work: Path) -> None:
    """Flink's logs and the JVM's temporary files go under ``work`` (read when the JVM starts)."""
    for name in ("tmp", "log"):
        (work / name).mkdir()
    os.environ.setdefault("FLINK_LOG_DIR", str(work / "log"))
    os.environ["JVM_ARGS"] = f"-Djava.io.tmpdir={work / 'tmp'}"


def log_lines(path: Path, kind: str) -> list[list[str]]:
    return [ln.split() for ln in path.read_text().splitlines() if ln.split()[1:2] == [kind]]


def flink_source(uri: str, scope: str, stream: str, work: Path, log: Path) -> tuple[int, float]:
    from pyflink.common import SimpleStringSchema, WatermarkStrategy
    from pyflink.datastream.connectors import Sink

    from pravega_flink import PravegaSource

    env = flink_env(work, None)
    source = (
        PravegaSource.builder()
        .set_controller_uri(uri)
        .set_stream(f"{scope}/{stream}")
        .set_deserialization_schema(SimpleStringSchema())
        .set_bounded()
        .build()
    )
    counting = Sink(testing().BenchmarkSupport.countingSink("source", str(log)))
    env.from_source(source, WatermarkStrategy.no_watermarks(), "pravega").sink_to(counting)
    env.execute("bench-source")
    _, _, _, count, first, last = log_lines(log, "count")[-1]
    return int(count), (int(last) - int(first)) / 1000


def flink_exactly_once_sink(uri: str, scope: str, stream: str, events: int, work: Path, log: Path) -> tuple[int, float]:
    from pyflink.common import WatermarkStrategy
    from pyflink.common.serialization import SerializationSchema
    from pyflink.datastream.connectors import DeliveryGuarantee
    from pyflink.datastream.connectors.number_seq import NumberSequenceSource

    from pravega_flink import PravegaSink

    env = flink_env(work, 1000)
    padded = SerializationSchema(testing().BenchmarkSupport.paddedLongs(SIZE))
    builder = (
        PravegaSink.builder()
        .set_controller_uri(uri)
        .set_stream(f"{scope}/{stream}")
        .set_serialization_schema(padded)
        .set_delivery_guarantee(DeliveryGuarantee.EXACTLY_ONCE)
    )
    builder._j_builder.setTransactionListener(testing().LoggingTransactionListener(str(log)))
    sink = builder.build()
    numbers = NumberSequenceSource(1, events)
    env.from_source(numbers, WatermarkStrategy.no_watermarks(), "numbers").sink_to(sink)
    env.execute("bench-exactly-once-sink")
    first = int(log_lines(log, "first-write")[-1][0])
    commits = log_lines(log, "commit")
    committed = sum(int(c[3]) for c in commits)
    last = max(int(c[0]) for c in commits)
    return committed, (last - first) / 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events read by the source (and the client)")
    parser.add_argument(
        "--sink-events",
        type=int,
        default=4_000_000,
        help="events written by the exactly-once sink (several checkpoints' worth)",
    )
    args = parser.parse_args()
    n = args.events
    table = Table(f"PyFlink connector, {SIZE} B events, parallelism 1 (durable server, fsync)")
    with tempfile.TemporaryDirectory(prefix="flink-bench-") as tmp:
        work = Path(tmp)
        contain_flink_files(work)
        with ServerProcess(work / "data") as server:
            uri = server.controller_uri
            scope = "bench" + uuid.uuid4().hex[:6]
            with pravega.Client(uri) as client:
                client.create_scope(scope)
                for s in ("src", "txn", "sink"):
                    client.create_stream(scope, s, 1)
            print(
                f"server {uri}; {n:,} events per client / source measurement, {args.sink_events:,} through the sink",
                flush=True,
            )

            seconds = python_write(uri, scope, "src", n)
            table.add("python client: write (write_many, 1 segment)", rate(n, seconds))
            seconds = python_transactions(uri, scope, "txn", n)
            table.add("python client: transactions of 100k events", rate(n, seconds))
            count, seconds = python_read(uri, scope, "src")
            table.add("python client: read (batch client)", rate(count, seconds))

            log = work / "connector-events.log"
            log.touch()
            count, seconds = flink_source(uri, scope, "src", work, log)
            assert count == n, f"the source read {count} events, expected {n}"
            table.add(
                "flink: PravegaSource -> counting sink",
                rate(count, seconds),
                TARGETS["source"],
                "first to last record at the sink",
            )
            m = args.sink_events
            count, seconds = flink_exactly_once_sink(uri, scope, "sink", m, work, log)
            assert count == m, f"the sink committed {count} events, expected {m}"
            with pravega.Client(uri) as client:
                stored = sum(client.stream_info(scope, "sink").tail.positions.values())
            assert stored == m * (SIZE + 8), f"the sink stream holds {stored} bytes, expected {m * (SIZE + 8)}"
            table.add(
                "flink: number sequence -> PravegaSink EXACTLY_ONCE",
                rate(count, seconds),
                TARGETS["sink"],
                "first write to last commit, checkpoint 1 s",
            )
    print()
    print(table.render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
