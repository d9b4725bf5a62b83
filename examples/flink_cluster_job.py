"""An exactly-once PyFlink job for a real Flink cluster: Pravega stream in, Pravega stream out.

    flink run -py examples/flink_cluster_job.py -pyexec PYTHON -pyclientexec PYTHON \\
        --jarfile "$(python -c 'import pravega_flink; print(pravega_flink.jar_path())')" \\
        -- --controller tcp://127.0.0.1:9090 --input scope/in --output scope/out

Reads ``--input`` from its head with the connector's FLIP-27 source and writes every event,
unchanged, to ``--output`` with the exactly-once sink (one Pravega transaction per checkpoint
and subtask, committed when the checkpoint completes; routing key = the part of the event
before the first ``:``, so each key keeps its order). Until the input stream is sealed the
job runs unbounded; once the sealed input is read the job finishes.

The connector jar travels with the job: ``--jarfile`` (as above) or, equivalently,
``pravega_flink.register(env)`` in the job, which adds ``pravega_flink.jar_path()`` to
``pipeline.jars``; for a cluster shared by many jobs, copy that jar into Flink's ``lib/``.
"""

from __future__ import annotations

import argparse

from pyflink.common import SimpleStringSchema, Types, WatermarkStrategy
from pyflink.datastream import StreamExecutionEnvironment
from pyflink.datastream.connectors import DeliveryGuarantee

import pravega_flink
from pravega_flink import PravegaSink, PravegaSource, RoutingKeyExtractor


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--controller", required=True, help="controller URI, e.g. tcp://127.0.0.1:9090")
    p.add_argument("--input", required=True, help="scope/stream to read")
    p.add_argument("--output", required=True, help="scope/stream to write")
    p.add_argument("--checkpoint-ms", type=int, default=1000)
    p.add_argument("--parallelism", type=int, default=2)
    p.add_argument("--name", default="pravega-cluster-job")
    args = p.parse_args()

    env = StreamExecutionEnvironment.get_execution_environment()
    env.enable_checkpointing(args.checkpoint_ms)
    env.set_parallelism(args.parallelism)
    pravega_flink.register(env)  # no-op for the cluster when --jarfile carried the jar already
    source = (
        PravegaSource.builder()
        .set_controller_uri(args.controller)
        .set_stream(args.input)
        .set_deserialization_schema(SimpleStringSchema())
        .build()
    )
    sink = (
        PravegaSink.builder()
        .set_controller_uri(args.controller)
        .set_stream(args.output)
        .set_serialization_schema(SimpleStringSchema())
        .set_delivery_guarantee(DeliveryGuarantee.EXACTLY_ONCE)
        .set_routing_key_extractor(RoutingKeyExtractor.delimited_prefix(":"))
        .build()
    )
    (
        env.from_source(source, WatermarkStrategy.no_watermarks(), "pravega-in")
        .uid("pravega-in")
        .map(lambda text: text, output_type=Types.STRING())
        .uid("identity")
        .sink_to(sink)
        .uid("pravega-out")
    )
    env.execute(args.name)


if __name__ == "__main__":
    main()
