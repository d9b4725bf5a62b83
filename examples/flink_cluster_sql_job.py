"""The SQL twin of ``flink_cluster_job.py``: an exactly-once Flink SQL job for a real cluster.

    flink run -py examples/flink_cluster_sql_job.py -pyexec PYTHON -pyclientexec PYTHON \\
        --jarfile "$(python -c 'import pravega_flink; print(pravega_flink.jar_path())')" \\
        -- --controller tcp://127.0.0.1:9090 --input scope/in --output scope/out

Events ``key:number`` are read as a table with the ``csv`` format (``:`` as the delimiter) from
``--input`` and inserted into ``--output`` with ``'sink.delivery-guarantee' = 'exactly-once'``
and the key column as the routing key, so each key keeps its order. The job ends once the
input stream is sealed and read.
"""

from __future__ import annotations

import argparse

from pyflink.datastream import StreamExecutionEnvironment
from pyflink.table import StreamTableEnvironment

import pravega_flink


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--controller", required=True, help="controller URI, e.g. tcp://127.0.0.1:9090")
    p.add_argument("--input", required=True, help="scope/stream to read")
    p.add_argument("--output", required=True, help="scope/stream to write")
    p.add_argument("--checkpoint-ms", type=int, default=1000)
    p.add_argument("--parallelism", type=int, default=2)
    args = p.parse_args()

    env = StreamExecutionEnvironment.get_execution_environment()
    env.enable_checkpointing(args.checkpoint_ms)
    env.set_parallelism(args.parallelism)
    pravega_flink.register(env)
    t_env = StreamTableEnvironment.create(env)
    common = (
        f"'connector' = 'pravega', 'controller-uri' = '{args.controller}', "
        "'format' = 'csv', 'csv.field-delimiter' = ':', 'csv.disable-quote-character' = 'true'"
    )
    t_env.execute_sql(f"CREATE TABLE src (k STRING, seq BIGINT) WITH ({common}, 'scan.streams' = '{args.input}')")
    t_env.execute_sql(
        f"CREATE TABLE dst (k STRING, seq BIGINT) WITH ({common}, 'stream' = '{args.output}', "
        "'sink.delivery-guarantee' = 'exactly-once', 'sink.routing-key.field' = 'k')"
    )
    t_env.execute_sql("INSERT INTO dst SELECT k, seq FROM src")


if __name__ == "__main__":
    main()
