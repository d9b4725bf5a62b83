"""Flink SQL insert throughput into Pravega, exactly-once, against a durable (fsync) server.

    python benchmarks/flink_sql_bench.py               # 2,000,000 rows
    python benchmarks/flink_sql_bench.py --rows 300000  # quicker

A bounded ``datagen`` table (an id and an 80-character string per row) is inserted with
``INSERT INTO`` into a ``'connector' = 'pravega'`` table (json format, ``exactly-once``,
checkpoints every second, parallelism 1, one segment). The same query into Flink's
``blackhole`` connector is the baseline: the difference is what the Pravega sink costs,
since both include the same job start and row generation (a small job runs first, so neither
pays for the mini-cluster's start). Prints numbers, asserts only that
every row arrived.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, Table
from flink_bench import contain_flink_files

_FLINK = ROOT / "connectors" / "flink"
sys.path.insert(0, str(_FLINK))
os.environ["PYTHONPATH"] = os.pathsep.join([str(_FLINK), os.environ.get("PYTHONPATH", "")])

import pravega  # noqa: E402
from pravega.testing import ServerProcess  # noqa: E402


def table_env(work: Path):
    from pyflink.common import Configuration
    from pyflink.datastream import StreamExecutionEnvironment
    from pyflink.table import StreamTableEnvironment

    import pravega_flink

    cfg = Configuration()
    cfg.set_string("execution.checkpointing.interval", "1 s")
    cfg.set_string("execution.checkpointing.dir", (work / "checkpoints").as_uri())
    cfg.set_string("restart-strategy.type", "none")
    env = StreamExecutionEnvironment.get_execution_environment(cfg)
    env.set_parallelism(1)
    pravega_flink.register(env)
    return StreamTableEnvironment.create(env)


def timed_insert(t_env, sink: str, source: str = "gen") -> float:
    start = time.perf_counter()
    t_env.execute_sql(f"INSERT INTO {sink} SELECT id, payload FROM {source}").wait()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2_000_000)
    args = parser.parse_args()
    n = args.rows
    table = Table(f"Flink SQL INSERT INTO pravega, {n:,} rows, json, parallelism 1 (durable server, fsync)")
    with tempfile.TemporaryDirectory(prefix="flink-sql-bench-") as tmp:
        work = Path(tmp)
        contain_flink_files(work)
        with ServerProcess(work / "data") as server:
            uri = server.controller_uri
            scope = "sqlbench" + uuid.uuid4().hex[:6]
            with pravega.Client(uri) as client:
                client.create_scope(scope)
                client.create_stream(scope, "rows", 1)
            t_env = table_env(work)
            t_env.execute_sql(
                "CREATE TABLE gen (id BIGINT, payload STRING) WITH ('connector' = 'datagen', "
                f"'number-of-rows' = '{n}', 'rows-per-second' = '100000000', 'fields.id.kind' = 'sequence', 'fields.id.start' = '1', "
                f"'fields.id.end' = '{n}', 'fields.payload.length' = '80')"
            )
            t_env.execute_sql("CREATE TABLE nowhere (id BIGINT, payload STRING) WITH ('connector' = 'blackhole')")
            t_env.execute_sql(
                "CREATE TABLE rows_out (id BIGINT, payload STRING) WITH ('connector' = 'pravega', "
                f"'controller-uri' = '{uri}', 'scope' = '{scope}', 'stream' = 'rows', 'format' = 'json', "
                "'sink.delivery-guarantee' = 'exactly-once')"
            )
            t_env.execute_sql(
                "CREATE TABLE warm (id BIGINT, payload STRING) WITH ('connector' = 'datagen', 'number-of-rows' = '1000')"
            )
            timed_insert(t_env, "nowhere", "warm")  # the first job in the JVM pays for the mini-cluster's start
            baseline = timed_insert(t_env, "nowhere")
            seconds = timed_insert(t_env, "rows_out")
            with pravega.Client(uri) as client:
                stored_bytes = sum(client.stream_info(scope, "rows").tail.positions.values())
            events = _count(uri, scope)
            assert events == n, f"the stream holds {events} rows, expected {n}"
    sink_seconds = seconds - baseline
    table.add("datagen -> blackhole (baseline, job included)", f"{n / baseline:,.0f} rows/s  ({baseline:.1f} s)")
    table.add("datagen -> pravega exactly-once (job included)", f"{n / seconds:,.0f} rows/s  ({seconds:.1f} s)")
    table.add(
        "pravega sink alone (difference)",
        f"{n / sink_seconds:,.0f} rows/s" if sink_seconds > 0.5 else "within the noise of the baseline",
        note=f"{stored_bytes / n:.0f} B stored per row (json + 8-byte event header)",
    )
    print()
    print(table.render())
    return 0


def _count(uri: str, scope: str) -> int:
    import asyncio

    import pravega.aio

    async def go() -> int:
        async with pravega.aio.Client(uri) as c:
            batch = c.batch_client()
            total = 0
            for sl in await batch.list_segments(scope, "rows"):
                async for _ in batch.read_segment(sl, pravega.BytesSerializer()):
                    total += 1
            return total

    return asyncio.run(go())


if __name__ == "__main__":
    sys.exit(main())
