"""Transactions: creation, commit (plain and rolling), abort, leases, persistence."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest
from controller_harness import FakeClock, append, expect_error, make_stream, read_all, run, running, si

from pravega.protocol import controller_pb2 as pb
from pravega_server.controller import naming

TS, PS, ST = pb.TxnStatus, pb.PingTxnStatus, pb.TxnState


def txn_request(stream: str, txn: pb.TxnId, scope: str = "sc") -> pb.TxnRequest:
    return pb.TxnRequest(streamInfo=si(scope, stream), txnId=txn, writerId="", timestamp=0)


async def begin(stub, stream: str, lease: int = 90_000) -> pb.CreateTxnResponse:
    return await stub.createTransaction(pb.CreateTxnRequest(streamInfo=si("sc", stream), lease=lease))


def txn_segment(stream: str, sid: int, txn: pb.TxnId) -> str:
    return naming.transaction_segment_name(naming.qualified_segment_name("sc", stream, sid), txn.highBits, txn.lowBits)


async def state(stub, stream: str, txn: pb.TxnId) -> int:
    return (await stub.checkTransactionState(txn_request(stream, txn))).state


def test_create_commit_and_idempotence(data_dir: Path | None) -> None:
    async def main():
        async with running(data_dir) as c:
            stub = c.stub
            await make_stream(stub, "sc", "st", 2)
            await append(c.engine, "sc/st/0.#epoch.0", b"before-")
            reply = await begin(stub, "st")
            txn = reply.txnId
            assert txn.lowBits >= 0 and naming.txn_epoch(txn.highBits) == 0
            assert [r.segmentId.segmentId for r in reply.activeSegments] == [0, 1]
            assert reply.activeSegments[-1].maxKey == 1.0
            names = [txn_segment("st", sid, txn) for sid in (0, 1)]
            assert names[0] == f"sc/st/0.#epoch.0#transaction.{txn.highBits & (2**64 - 1):016x}{txn.lowBits:016x}"
            assert all(c.engine.exists(n) for n in names)
            assert await state(stub, "st", txn) == ST.OPEN

            other = (await begin(stub, "st")).txnId
            assert (other.highBits, other.lowBits) != (txn.highBits, txn.lowBits)

            await append(c.engine, names[0], b"txn-data-0")
            await append(c.engine, names[1], b"txn-data-1")
            await append(c.engine, "sc/st/1.#epoch.0", b"parent-1|")
            commit = pb.TxnRequest(streamInfo=si("sc", "st"), txnId=txn, writerId="7", timestamp=-(2**63))
            assert (await stub.commitTransaction(commit)).status == TS.SUCCESS
            assert read_all(c.engine, "sc/st/0.#epoch.0") == b"before-txn-data-0"
            assert read_all(c.engine, "sc/st/1.#epoch.0") == b"parent-1|txn-data-1"
            assert not any(c.engine.exists(n) for n in names)
            assert await state(stub, "st", txn) == ST.COMMITTED
            # idempotent; other outcomes refused
            assert (await stub.commitTransaction(commit)).status == TS.SUCCESS
            assert (await stub.abortTransaction(txn_request("st", txn))).status == TS.FAILURE
            ping = pb.PingTxnRequest(streamInfo=si("sc", "st"), txnId=txn, lease=90_000)
            assert (await stub.pingTransaction(ping)).status == PS.COMMITTED

            # the other transaction is unaffected
            assert await state(stub, "st", other) == ST.OPEN
            assert c.engine.exists(txn_segment("st", 0, other))

            unknown = pb.TxnId(highBits=0, lowBits=999_999)
            assert (await stub.commitTransaction(txn_request("st", unknown))).status == TS.TRANSACTION_NOT_FOUND
            assert (await stub.abortTransaction(txn_request("st", unknown))).status == TS.TRANSACTION_NOT_FOUND
            assert (await stub.commitTransaction(txn_request("nope", txn))).status == TS.STREAM_NOT_FOUND
            assert (await stub.abortTransaction(txn_request("nope", txn))).status == TS.STREAM_NOT_FOUND
            assert await state(stub, "st", unknown) == ST.UNKNOWN
            ping = pb.PingTxnRequest(streamInfo=si("sc", "st"), txnId=unknown, lease=1000)
            assert (await stub.pingTransaction(ping)).status == PS.UNKNOWN

            done = await stub.listCompletedTransactions(pb.ListCompletedTxnRequest(streamInfo=si("sc", "st")))
            assert [(r.txnId.lowBits, r.status) for r in done.response] == [(txn.lowBits, pb.TxnResponse.COMMITTED)]

    run(main())


def test_abort_and_commit_after_abort(data_dir: Path | None) -> None:
    async def main():
        async with running(data_dir) as c:
            stub = c.stub
            await make_stream(stub, "sc", "st", 1)
            txn = (await begin(stub, "st")).txnId
            name = txn_segment("st", 0, txn)
            await append(c.engine, name, b"never")
            assert (await stub.abortTransaction(txn_request("st", txn))).status == TS.SUCCESS
            assert not c.engine.exists(name)
            assert (await stub.abortTransaction(txn_request("st", txn))).status == TS.SUCCESS
            assert (await stub.commitTransaction(txn_request("st", txn))).status == TS.FAILURE
            assert await state(stub, "st", txn) == ST.ABORTED
            ping = pb.PingTxnRequest(streamInfo=si("sc", "st"), txnId=txn, lease=1000)
            assert (await stub.pingTransaction(ping)).status == PS.ABORTED
            assert read_all(c.engine, "sc/st/0.#epoch.0") == b""

            # sealing a stream aborts its open transactions; new ones are refused
            open_txn = (await begin(stub, "st")).txnId
            assert (await stub.sealStream(si("sc", "st"))).status == pb.UpdateStreamStatus.SUCCESS
            assert await state(stub, "st", open_txn) == ST.ABORTED
            assert not c.engine.exists(txn_segment("st", 0, open_txn))
            await expect_error(begin(stub, "st"), grpc.StatusCode.INVALID_ARGUMENT)
            await expect_error(begin(stub, "nope"), grpc.StatusCode.NOT_FOUND)

    run(main())


def test_leases(data_dir: Path | None) -> None:
    async def main():
        clock = FakeClock()
        async with running(data_dir, clock=clock, max_lease_ms=120_000, reaper_interval=3600) as c:
            stub = c.stub
            await make_stream(stub, "sc", "st", 1)
            for bad in (0, -5, 120_001):
                await expect_error(begin(stub, "st", lease=bad), grpc.StatusCode.INVALID_ARGUMENT)
            txn = (await begin(stub, "st", lease=10_000)).txnId
            ping = lambda lease: stub.pingTransaction(
                pb.PingTxnRequest(streamInfo=si("sc", "st"), txnId=txn, lease=lease)
            )
            assert (await ping(200_000)).status == PS.LEASE_TOO_LARGE
            clock.advance(8)
            assert (await ping(10_000)).status == PS.OK  # lease now ends 10 s from here
            clock.advance(8)
            await c.service.reap()
            assert await state(stub, "st", txn) == ST.OPEN
            clock.advance(3)
            await c.service.reap()
            assert await state(stub, "st", txn) == ST.ABORTED
            assert not c.engine.exists(txn_segment("st", 0, txn))
            assert (await stub.commitTransaction(txn_request("st", txn))).status == TS.FAILURE

            # an expired transaction that the reaper has not seen yet cannot commit either
            late = (await begin(stub, "st", lease=1000)).txnId
            clock.advance(2)
            assert (await stub.commitTransaction(txn_request("st", late))).status == TS.FAILURE
            assert await state(stub, "st", late) == ST.ABORTED

            # completed transactions are forgotten after the retention time
            kept = (await begin(stub, "st")).txnId
            assert (await stub.commitTransaction(txn_request("st", kept))).status == TS.SUCCESS
            clock.advance(86_400 + 1)
            await c.service.reap()
            for t in (txn, late, kept):
                assert await state(stub, "st", t) == ST.UNKNOWN
            assert not list(c.engine.meta_scan("txn/"))

    run(main())


def test_open_transactions_get_a_grace_lease_after_a_restart(tmp_path: Path) -> None:
    """A server down longer than a lease must not abort transactions nobody could ping."""
    clock = FakeClock()
    ids = {}

    async def before():
        async with running(tmp_path, clock=clock, reaper_interval=3600) as c:
            await make_stream(c.stub, "sc", "st", 1)
            ids["kept"] = (await begin(c.stub, "st", lease=10_000)).txnId
            ids["lost"] = (await begin(c.stub, "st", lease=10_000)).txnId

    async def after():
        clock.advance(60)  # down for a minute: both leases ran out meanwhile
        async with running(tmp_path, clock=clock, reaper_interval=3600, restart_grace_ms=30_000) as c:
            await c.service.reap()
            assert await state(c.stub, "st", ids["kept"]) == ST.OPEN
            assert (await c.stub.commitTransaction(txn_request("st", ids["kept"]))).status == TS.SUCCESS
            clock.advance(31)  # the grace period ends too; nobody pinged "lost"
            await c.service.reap()
            assert await state(c.stub, "st", ids["lost"]) == ST.ABORTED

    run(before())
    run(after())


def test_reaper_task_aborts_expired_transactions() -> None:
    async def main():
        async with running(None, reaper_interval=0.05) as c:
            await make_stream(c.stub, "sc", "st", 1)
            txn = (await begin(c.stub, "st", lease=1)).txnId
            for _ in range(100):
                if await state(c.stub, "st", txn) == ST.ABORTED:
                    break
                await asyncio.sleep(0.05)
            assert await state(c.stub, "st", txn) == ST.ABORTED

    run(main())


def test_rolling_transaction(data_dir: Path | None) -> None:
    async def main():
        async with running(data_dir) as c:
            stub = c.stub
            await make_stream(stub, "sc", "st", 1)
            txn = (await begin(stub, "st")).txnId
            txn_name = txn_segment("st", 0, txn)
            await append(c.engine, txn_name, b"TXN")
            await append(c.engine, "sc/st/0.#epoch.0", b"old0|")

            # the stream scales while the transaction is open: 0 -> 1 + 2
            scale = await stub.scale(
                pb.ScaleRequest(
                    streamInfo=si("sc", "st"),
                    sealedSegments=[0],
                    newKeyRanges=[
                        pb.ScaleRequest.KeyRangeEntry(start=0.0, end=0.5),
                        pb.ScaleRequest.KeyRangeEntry(start=0.5, end=1.0),
                    ],
                )
            )
            assert scale.status == pb.ScaleResponse.STARTED
            s1, s2 = naming.segment_id(1, 1), naming.segment_id(1, 2)
            await append(c.engine, "sc/st/1.#epoch.1", b"new1|")
            await append(c.engine, "sc/st/2.#epoch.1", b"new2|")

            assert (await stub.commitTransaction(txn_request("st", txn))).status == TS.SUCCESS
            assert await state(stub, "st", txn) == ST.COMMITTED
            assert not c.engine.exists(txn_name)
            # epoch 2 duplicates the transaction's epoch (segment 0) and holds its data, sealed
            dup_txn = naming.segment_id(2, 3)
            dup_name = naming.qualified_segment_name("sc", "st", dup_txn)
            assert read_all(c.engine, dup_name) == b"TXN" and c.engine.get(dup_name).sealed
            # epoch 3 duplicates the active segments, which are sealed
            d1, d2 = naming.segment_id(3, 4), naming.segment_id(3, 5)
            assert c.engine.get("sc/st/1.#epoch.1").sealed and c.engine.get("sc/st/2.#epoch.1").sealed
            current = (await stub.getCurrentSegments(si("sc", "st"))).segmentRanges
            assert [(r.segmentId.segmentId, r.minKey, r.maxKey) for r in current] == [(d1, 0.0, 0.5), (d2, 0.5, 1.0)]
            assert (
                await stub.checkScale(pb.ScaleStatusRequest(streamInfo=si("sc", "st"), epoch=0))
            ).status == pb.ScaleStatusResponse.SUCCESS

            # readers: data before the commit, then the transaction, then new data
            async def follow(sid: int) -> dict[int, list[int]]:
                reply = await stub.getSegmentsImmediatelyFollowing(
                    pb.SegmentId(streamInfo=si("sc", "st"), segmentId=sid)
                )
                return {e.segment.segmentId.segmentId: sorted(e.value) for e in reply.segments}

            assert await follow(0) == {s1: [0], s2: [0]}
            assert await follow(s1) == {dup_txn: [s1, s2]}
            assert await follow(s2) == {dup_txn: [s1, s2]}
            assert await follow(dup_txn) == {d1: [dup_txn], d2: [dup_txn]}
            assert await follow(d1) == {}

            # writers continue in the newest epoch
            await append(c.engine, naming.qualified_segment_name("sc", "st", d1), b"after")

            # a second transaction from the same old epoch rolls again
            txn2 = (await begin(stub, "st")).txnId
            assert naming.txn_epoch(txn2.highBits) == 3
            assert (await stub.commitTransaction(txn_request("st", txn2))).status == TS.SUCCESS
            assert len((await stub.getCurrentSegments(si("sc", "st"))).segmentRanges) == 2

    run(main())


def test_rolling_twice_from_old_epoch(data_dir: Path | None) -> None:
    async def main():
        async with running(data_dir) as c:
            stub = c.stub
            await make_stream(stub, "sc", "st", 2)
            t1 = (await begin(stub, "st")).txnId
            t2 = (await begin(stub, "st")).txnId
            await append(c.engine, txn_segment("st", 1, t1), b"one")
            await append(c.engine, txn_segment("st", 1, t2), b"two")
            scale = await stub.scale(
                pb.ScaleRequest(
                    streamInfo=si("sc", "st"),
                    sealedSegments=[0, 1],
                    newKeyRanges=[pb.ScaleRequest.KeyRangeEntry(start=0.0, end=1.0)],
                )
            )
            assert scale.status == pb.ScaleResponse.STARTED
            assert (await stub.commitTransaction(txn_request("st", t1))).status == TS.SUCCESS
            assert (await stub.commitTransaction(txn_request("st", t2))).status == TS.SUCCESS
            stream = c.service.get_stream("sc", "st")
            assert stream.current_epoch == 5
            # epochs 2 and 4 duplicate epoch 0 and hold the transactions' data
            e2 = [s.id for s in stream.epochs[2].segments]
            e4 = [s.id for s in stream.epochs[4].segments]
            assert read_all(c.engine, naming.qualified_segment_name("sc", "st", e2[1])) == b"one"
            assert read_all(c.engine, naming.qualified_segment_name("sc", "st", e4[1])) == b"two"
            # every non-current segment is sealed, every current one open
            current = {s.id for s in stream.current.segments}
            for seg in stream.all_segments():
                name = naming.qualified_segment_name("sc", "st", seg.id)
                assert c.engine.get(name).sealed == (seg.id not in current), name

    run(main())


def test_state_survives_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"

    async def first():
        async with running(data) as c:
            stub = c.stub
            await make_stream(stub, "sc", "st", 2)
            await make_stream(stub, "sc", "other", 1)
            open_txn = (await begin(stub, "st")).txnId
            committed = (await begin(stub, "st")).txnId
            await append(c.engine, txn_segment("st", 0, committed), b"C")
            assert (await stub.commitTransaction(txn_request("st", committed))).status == TS.SUCCESS
            scale = await stub.scale(
                pb.ScaleRequest(
                    streamInfo=si("sc", "st"),
                    sealedSegments=[1],
                    newKeyRanges=[pb.ScaleRequest.KeyRangeEntry(start=0.5, end=1.0)],
                )
            )
            assert scale.status == pb.ScaleResponse.STARTED
            assert (await stub.sealStream(si("sc", "other"))).status == 0
            await stub.createKeyValueTable(pb.KeyValueTableConfig(scope="sc", kvtName="kv", partitionCount=2))
            return open_txn, committed

    async def second(open_txn, committed):
        async with running(data) as c:
            stub = c.stub
            assert (await stub.checkScopeExists(pb.ScopeInfo(scope="sc"))).exists
            current = (await stub.getCurrentSegments(si("sc", "st"))).segmentRanges
            assert [r.segmentId.segmentId for r in current] == [0, naming.segment_id(1, 2)]
            assert list((await stub.getCurrentSegments(si("sc", "other"))).segmentRanges) == []
            assert await state(stub, "st", open_txn) == ST.OPEN
            assert await state(stub, "st", committed) == ST.COMMITTED
            assert read_all(c.engine, "sc/st/0.#epoch.0") == b"C"
            # the transaction counter continues: no id is handed out twice
            fresh = (await begin(stub, "st")).txnId
            assert fresh.lowBits > max(open_txn.lowBits, committed.lowBits)
            # the open transaction (older epoch) commits as a rolling transaction
            await append(c.engine, txn_segment("st", 1, open_txn), b"late")
            assert (await stub.commitTransaction(txn_request("st", open_txn))).status == TS.SUCCESS
            kv = await stub.getCurrentSegmentsKeyValueTable(pb.KeyValueTableInfo(scope="sc", kvtName="kv"))
            assert len(kv.segmentRanges) == 2
        async with running(data) as c:
            assert await state(c.stub, "st", open_txn) == ST.COMMITTED
            assert c.service.get_stream("sc", "st").current_epoch == 3

    open_txn, committed = asyncio.run(first())
    asyncio.run(second(open_txn, committed))


def test_interrupted_rolling_commit_completes_on_restart(tmp_path: Path) -> None:
    """A crash between the two batches of a rolling commit: start() finishes it."""
    data = tmp_path / "data"

    class Crash(Exception):
        pass

    async def first():
        async with running(data) as c:
            await make_stream(c.stub, "sc", "st", 1)
            txn = (await begin(c.stub, "st")).txnId
            await append(c.engine, txn_segment("st", 0, txn), b"TXN")
            await c.stub.scale(
                pb.ScaleRequest(
                    streamInfo=si("sc", "st"),
                    sealedSegments=[0],
                    newKeyRanges=[pb.ScaleRequest.KeyRangeEntry(start=0.0, end=1.0)],
                )
            )
            real = c.engine.execute
            calls = []

            async def crash_on_second_batch(ops):
                calls.append(ops)
                if len(calls) == 2:
                    raise Crash()
                return await real(ops)

            c.engine.execute = crash_on_second_batch
            with pytest.raises(Crash):
                await c.service.commit_transaction("sc", "st", txn.highBits, txn.lowBits)
            c.engine.execute = real
            assert list(c.engine.meta_scan("intent/"))
            return txn

    async def second(txn):
        async with running(data) as c:
            assert not list(c.engine.meta_scan("intent/"))
            assert await state(c.stub, "st", txn) == ST.COMMITTED
            stream = c.service.get_stream("sc", "st")
            assert stream.current_epoch == 3
            dup = naming.qualified_segment_name("sc", "st", stream.epochs[2].segments[0].id)
            assert read_all(c.engine, dup) == b"TXN"

    txn = asyncio.run(first())
    asyncio.run(second(txn))
