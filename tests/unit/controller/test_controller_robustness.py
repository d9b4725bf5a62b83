"""Unexpected failures, concurrent requests and the pure helpers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest
from controller_harness import append, expect_error, make_stream, read_all, run, running, si

from pravega.protocol import controller_pb2 as pb
from pravega_server.controller import model, naming


def test_unexpected_errors_become_internal_and_the_server_keeps_serving() -> None:
    async def main():
        async with running(None) as c:

            async def broken(*args, **kwargs):
                raise RuntimeError("disk on fire")

            real = c.service.create_scope
            c.service.create_scope = broken
            details = await expect_error(c.stub.createScope(pb.ScopeInfo(scope="a")), grpc.StatusCode.INTERNAL)
            assert "disk on fire" in details
            c.service.create_scope = real
            assert (await c.stub.createScope(pb.ScopeInfo(scope="a"))).status == pb.CreateScopeStatus.SUCCESS

    run(main())


def test_concurrent_transactions_and_scopes(data_dir: Path | None) -> None:
    async def main():
        async with running(data_dir) as c:
            stub = c.stub
            await make_stream(stub, "sc", "a", 2)
            await make_stream(stub, "sc", "b", 1)

            async def one(stream: str, i: int) -> tuple[int, int]:
                reply = await stub.createTransaction(pb.CreateTxnRequest(streamInfo=si("sc", stream), lease=60_000))
                txn = reply.txnId
                parent = naming.qualified_segment_name("sc", stream, 0)
                await append(c.engine, naming.transaction_segment_name(parent, txn.highBits, txn.lowBits), b"<%d>" % i)
                req = pb.TxnRequest(streamInfo=si("sc", stream), txnId=txn)
                assert (await stub.commitTransaction(req)).status == pb.TxnStatus.SUCCESS
                return txn.highBits, txn.lowBits

            ids = await asyncio.gather(*(one("ab"[i % 2], i) for i in range(30)))
            assert len(set(ids)) == 30 and all(low >= 0 for _, low in ids)
            data_a = read_all(c.engine, "sc/a/0.#epoch.0")
            data_b = read_all(c.engine, "sc/b/0.#epoch.0")
            assert sorted(data_a.decode().split(">")[:-1]) == sorted(f"<{i}" for i in range(0, 30, 2))
            assert sorted(data_b.decode().split(">")[:-1]) == sorted(f"<{i}" for i in range(1, 30, 2))

            # creating streams while the scope is being deleted: never a stream without a scope
            await stub.createScope(pb.ScopeInfo(scope="race"))
            results = await asyncio.gather(
                stub.deleteScope(pb.ScopeInfo(scope="race")),
                *(stub.createStream(_config("race", f"s{i}")) for i in range(5)),
            )
            scope_gone = results[0].status == pb.DeleteScopeStatus.SUCCESS
            created = [r.status == pb.CreateStreamStatus.SUCCESS for r in results[1:]]
            if scope_gone:
                assert not any(created)
            assert c.service.scope_exists("race") == (not scope_gone)

    run(main())


def _config(scope: str, stream: str) -> pb.StreamConfig:
    return pb.StreamConfig(streamInfo=si(scope, stream), scalingPolicy=pb.ScalingPolicy(minNumSegments=1))


def test_naming() -> None:
    sid = naming.segment_id(3, 7)
    assert sid == (3 << 32) | 7
    assert (naming.segment_epoch(sid), naming.segment_number(sid)) == (3, 7)
    assert naming.qualified_segment_name("sc", "st", sid) == "sc/st/7.#epoch.3"
    assert naming.parse_segment_name("sc/st/7.#epoch.3") == ("sc", "st", sid)
    assert naming.parse_segment_name("sc/st/7") == ("sc", "st", 7)
    with pytest.raises(ValueError):
        naming.parse_segment_name("sc/st")
    name = naming.transaction_segment_name("sc/st/0.#epoch.0", -1, 1)
    assert name == "sc/st/0.#epoch.0#transaction.ffffffffffffffff0000000000000001"
    assert naming.is_transaction_segment(name)
    assert naming.parse_transaction_segment_name(name) == ("sc/st/0.#epoch.0", -1, 1)
    assert naming.kvt_segment_name("sc", "rg1", 0) == "sc/rg1_kvtable/0.#epoch.0"
    assert naming.parse_kvt_segment_name("sc/rg1_kvtable/0.#epoch.0") == ("sc", "rg1", 0)
    high, low = naming.make_txn_id(5, 2**63 + 9)
    assert low == 9 and naming.txn_epoch(high) == 5 and high & 0xFFFFFFFF == 1
    assert naming.is_valid_stream_name("_RGgroup") and not naming.is_valid_scope_name("_system")
    assert naming.reader_group_stream("g") == "_RGg"


def test_model_round_trips_and_ranges() -> None:
    ranges = model.equal_ranges(3)
    assert ranges[0][0] == 0.0 and ranges[-1][1] == 1.0
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
    assert model.merge_ranges([(0.5, 1.0), (0.0, 0.5)]) == [(0.0, 1.0)]
    assert model.merge_ranges([(0.0, 0.6), (0.5, 1.0)]) is None
    stream = model.Stream("sc", "st", model.StreamConfig(min_segments=2, tags=["t"]), 5, [], 0)
    stream.add_epoch(5, stream.allocate(0, ranges))
    stream.head = {0: 3, 1: 0, 2: 0}
    stream.subscribers["sc/rg"] = model.Subscriber(1, {0: 1})
    again = model.Stream.from_json(stream.to_json())
    assert again == stream
    txn = model.Transaction("sc", "st", -5, 6, 0, model.TXN_OPEN, 100, 1, "w", None, None)
    assert model.Transaction.from_json(txn.to_json()) == txn
    rg = model.ReaderGroup("sc", "rg", "id", 2, starting_cuts=[model.StreamCutRecord("sc", "st", {0: 4})])
    assert model.ReaderGroup.from_json(rg.to_json()) == rg
    kvt = model.KeyValueTable("sc", "kv", 4, 8, 0, 0, 9)
    assert model.KeyValueTable.from_json(kvt.to_json()) == kvt
