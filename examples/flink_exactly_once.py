"""Exactly-once PyFlink job: Pravega stream in, a Python map, Pravega stream out.

    python examples/flink_exactly_once.py                      # starts a server of its own
    python examples/flink_exactly_once.py --controller tcp://127.0.0.1:9090 --events 20000

A feeder thread writes JSON orders (``{"customer": "c7", "seq": 12, "amount": 310}``, routing
key = customer) to ``flinkeo<id>/orders`` while the job runs, then seals the stream. The job
reads the orders with the connector's FLIP-27 source, adds tax in a Python function and writes
to ``flinkeo<id>/enriched`` with the exactly-once sink: one Pravega transaction per checkpoint,
committed when the checkpoint completes, routed by the ``customer`` field so each customer's
orders stay in order. Once the sealed input is read to its end the source finishes, the final
checkpoint commits the last transaction and the job ends; the example then reads the output
back and checks that every order arrived exactly once and in order.

The Python function fails once on purpose (``--fail-at``): Flink restarts from the last
checkpoint, the aborted transaction is never seen, and the result is still exactly once.

Run from a checkout with ``PYTHONPATH=core:server:connectors/flink`` (needs a JDK on first run:
the connector jar is compiled then and cached).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack

import pravega
import pravega.aio
import pravega_flink
from pravega.testing import ServerProcess
from pravega_flink import PravegaSink, PravegaSource


def feed(uri: str, scope: str, events: int, customers: int) -> None:
    """Write the orders (a little at a time, so the job sees them arrive), then seal the stream."""
    with pravega.Client(uri) as client:
        writer = client.create_writer(scope, "orders", pravega.StringSerializer())
        seq: collections.Counter[str] = collections.Counter()
        for i in range(events):
            customer = f"c{i % customers}"
            order = {"customer": customer, "seq": seq[customer], "amount": 100 + (i * 37) % 900}
            seq[customer] += 1
            writer.write(json.dumps(order), routing_key=customer)
            if i % 500 == 499:
                writer.flush()
                time.sleep(0.05)
        writer.flush()
        writer.close()
        client.seal_stream(scope, "orders")


def read_output(uri: str, scope: str) -> list[dict]:
    async def go() -> list[dict]:
        async with pravega.aio.Client(uri) as client:
            batch = client.batch_client()
            out = []
            for s in await batch.list_segments(scope, "enriched"):
                out += [json.loads(e) async for e in batch.read_segment(s, pravega.StringSerializer())]
            return out

    return asyncio.run(go())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--controller", help="controller URI of a running server (default: start one)")
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--customers", type=int, default=20)
    parser.add_argument("--checkpoint-ms", type=int, default=1000)
    parser.add_argument("--fail-at", type=int, default=3000, help="order seq of c0 at which the map fails once")
    args = parser.parse_args()

    from pyflink.common import Configuration, SimpleStringSchema, Types, WatermarkStrategy
    from pyflink.datastream import StreamExecutionEnvironment
    from pyflink.datastream.connectors import DeliveryGuarantee

    with ExitStack() as stack:
        work = stack.enter_context(tempfile.TemporaryDirectory(prefix="flink-eo-"))
        uri = args.controller
        if uri is None:
            uri = stack.enter_context(ServerProcess(os.path.join(work, "data"))).controller_uri
            print(f"server up: controller {uri}")
        scope = "flinkeo" + uuid.uuid4().hex[:8]
        with pravega.Client(uri) as client:
            client.create_scope(scope)
            client.create_stream(scope, "orders", 2)
            client.create_stream(scope, "enriched", 2)

        config = Configuration()
        config.set_string("execution.checkpointing.interval", f"{args.checkpoint_ms} ms")
        config.set_string("execution.checkpointing.dir", f"file://{work}/checkpoints")
        config.set_string("restart-strategy.type", "fixed-delay")
        config.set_string("restart-strategy.fixed-delay.attempts", "3")
        config.set_string("restart-strategy.fixed-delay.delay", "1 s")
        config.set_string("python.executable", sys.executable)
        env = StreamExecutionEnvironment.get_execution_environment(config)
        env.set_parallelism(1)
        jar = pravega_flink.register(env)
        print(f"connector jar: {jar}")

        source = (
            PravegaSource.builder()
            .set_controller_uri(uri)
            .set_stream(f"{scope}/orders")
            .set_deserialization_schema(SimpleStringSchema())
            .build()
        )
        sink = (
            PravegaSink.builder()
            .set_controller_uri(uri)
            .set_stream(f"{scope}/enriched")
            .set_serialization_schema(SimpleStringSchema())
            .set_delivery_guarantee(DeliveryGuarantee.EXACTLY_ONCE)
            .set_transaction_timeout(120_000)
            .set_routing_key_field("customer")
            .build()
        )

        marker = os.path.join(work, "failed-once")
        fail_at = args.fail_at // args.customers

        def enrich(text: str, marker: str = marker, fail_at: int = fail_at) -> str:
            import json as j
            import os as o

            order = j.loads(text)
            if order["customer"] == "c0" and order["seq"] == fail_at and not o.path.exists(marker):
                open(marker, "w").close()
                raise RuntimeError("failing once on purpose: Flink restarts from the last checkpoint")
            order["tax"] = round(order["amount"] * 0.2, 2)
            return j.dumps(order)

        (
            env.from_source(source, WatermarkStrategy.no_watermarks(), "orders")
            .uid("orders")
            .map(enrich, output_type=Types.STRING())
            .uid("enrich")
            .sink_to(sink)
            .uid("enriched")
        )

        feeder = threading.Thread(target=feed, args=(uri, scope, args.events, args.customers), daemon=True)
        started = time.monotonic()
        feeder.start()
        env.execute("pravega-exactly-once-example")
        feeder.join()
        elapsed = time.monotonic() - started

        out = read_output(uri, scope)
        by_customer: dict[str, list[int]] = collections.defaultdict(list)
        for order in out:
            by_customer[order["customer"]].append(order["seq"])
        expected = {f"c{c}": len(range(c, args.events, args.customers)) for c in range(args.customers)}
        ok = all(by_customer[c] == list(range(n)) for c, n in expected.items()) and len(out) == args.events
        print(f"job finished in {elapsed:.1f} s; failed once on purpose: {os.path.exists(marker)}")
        print(
            f"{len(out)} orders in {scope}/enriched for {args.events} written: "
            + ("each exactly once, in order per customer" if ok else "MISMATCH")
        )
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
