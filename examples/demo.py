"""Demo: an embedded durable server and an exactly-once pipeline.

Run with ``bash scripts/demo.sh`` (it sets up the environment first), or
``python examples/demo.py`` in a prepared environment.

1. A Pravega-compatible server starts inside this process, durable in a temporary
   directory (controller and segment store on free ports).
2. Our client writes 3,000 orders to the stream ``demo/orders`` (three segments,
   routed by customer so each customer's orders stay in order).
3. An Apache Beam pipeline reads the orders between the stream's head and its current
   tail (a bounded read between two stream cuts), computes each order's total with
   tax, and writes shipments to ``demo/shipments`` exactly once: each bundle goes into a
   Pravega transaction that is committed after a Reshuffle.
4. A reader group reads the shipments back and checks that every order arrived exactly
   once and that each customer's shipments are in order.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections import Counter, defaultdict

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

import pravega
from pravega_beam import ReadFromPravega, WriteToPravega
from pravega_server.embedded import EmbeddedServer

ORDERS = 3000
CUSTOMERS = 12


def ship(order: dict) -> dict:
    return {"order": order["order"], "customer": order["customer"], "total": round(order["amount"] * 1.2, 2)}


def main() -> int:
    with tempfile.TemporaryDirectory() as data_dir, EmbeddedServer(data_dir) as server:
        uri = server.controller_uri
        print(f"server up in this process: controller {uri}, durable log in {data_dir}")
        json_ = pravega.JsonSerializer()
        with pravega.Client(uri) as client:
            client.create_scope("demo")
            client.create_stream("demo", "orders", 3)
            client.create_stream("demo", "shipments", 2)
            with client.create_writer("demo", "orders", json_) as writer:
                for i in range(ORDERS):
                    customer = f"customer-{i % CUSTOMERS}"
                    writer.write({"order": i, "customer": customer, "amount": 10 + i % 90}, routing_key=customer)
            info = client.stream_info("demo", "orders")
        print(f"wrote {ORDERS} orders; reading from {info.head} to {info.tail}")

        started = time.monotonic()
        options = PipelineOptions(["--direct_num_workers=1"])
        with beam.Pipeline(options=options) as pipeline:
            _ = (
                pipeline
                | "ReadOrders"
                >> ReadFromPravega(uri, "demo/orders", start=info.head, end=info.tail, deserializer=json.loads)
                | "Ship" >> beam.Map(ship)
                | "WriteShipments"
                >> WriteToPravega(
                    uri, "demo/shipments", serializer=json_.serialize, routing_key_fn=lambda s: s["customer"]
                )
            )
        print(f"pipeline done in {time.monotonic() - started:.1f} s (exactly-once sink: transactions per bundle)")

        with pravega.Client(uri) as client:
            group = client.create_reader_group("audit", "demo", ["shipments"])
            reader = group.create_reader("auditor", json_)
            shipments: list[dict] = []
            deadline = time.monotonic() + 60
            while len(shipments) < ORDERS and time.monotonic() < deadline:
                read = reader.read_next_event(timeout=2.0)
                if read is not None and not read.is_checkpoint:
                    shipments.append(read.event)
            extra = reader.read_next_event(timeout=1.0)  # nothing more may come
            reader.close()

        counts = Counter(s["order"] for s in shipments)
        per_customer: dict[str, list[int]] = defaultdict(list)
        for s in shipments:
            per_customer[s["customer"]].append(s["order"])
        exactly_once = (
            extra is None
            and len(shipments) == ORDERS
            and set(counts) == set(range(ORDERS))
            and max(counts.values()) == 1
        )
        in_order = all(orders == sorted(orders) for orders in per_customer.values())
        print(
            f"read {len(shipments)} shipments for {ORDERS} orders; "
            f"total billed {sum(s['total'] for s in shipments):,.2f}"
        )
        print("exactly once:", "yes" if exactly_once else "NO")
        print("in order per customer:", "yes" if in_order else "NO")
        return 0 if exactly_once and in_order else 1


if __name__ == "__main__":
    sys.exit(main())
