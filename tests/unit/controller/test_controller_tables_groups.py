"""Key-value tables, Java-client reader groups, subscribers and writer marks."""

from __future__ import annotations

from pathlib import Path

import grpc
from controller_harness import expect_error, make_stream, run, running, si

from pravega.protocol import controller_pb2 as pb
from pravega_server.storage.ops import SegmentKind

KS = pb.CreateKeyValueTableStatus


def rg_config(
    name: str, scope: str = "sc", retention: int = 0, streams=(("sc", "st"),), **kw
) -> pb.ReaderGroupConfiguration:
    fields = dict(
        scope=scope,
        readerGroupName=name,
        groupRefreshTimeMillis=3000,
        automaticCheckpointIntervalMillis=30000,
        maxOutstandingCheckpointRequest=3,
        retentionType=retention,
        startingStreamCuts=[pb.StreamCut(streamInfo=si(s, n), cut={0: 0}) for s, n in streams],
    )
    fields.update(kw)
    return pb.ReaderGroupConfiguration(**fields)


def test_key_value_tables(data_dir: Path | None) -> None:
    async def main():
        async with running(data_dir, page_size=2) as c:
            stub = c.stub
            cfg = lambda name, n=3, scope="sc": pb.KeyValueTableConfig(
                scope=scope,
                kvtName=name,
                partitionCount=n,
                primaryKeyLength=8,
                secondaryKeyLength=4,
            )
            assert (await stub.createKeyValueTable(cfg("kv"))).status == KS.SCOPE_NOT_FOUND
            await stub.createScope(pb.ScopeInfo(scope="sc"))
            assert (await stub.createKeyValueTable(cfg("kv"))).status == KS.SUCCESS
            assert (await stub.createKeyValueTable(cfg("kv"))).status == KS.TABLE_EXISTS
            assert (await stub.createKeyValueTable(cfg("bad/name"))).status == KS.INVALID_TABLE_NAME
            assert (await stub.createKeyValueTable(cfg("_x"))).status == KS.INVALID_TABLE_NAME
            await expect_error(stub.createKeyValueTable(cfg("zero", 0)), grpc.StatusCode.INVALID_ARGUMENT)
            for n in range(3):
                seg = c.engine.get(f"sc/kv_kvtable/{n}.#epoch.0")
                assert seg.kind == SegmentKind.TABLE

            ranges = await stub.getCurrentSegmentsKeyValueTable(pb.KeyValueTableInfo(scope="sc", kvtName="kv"))
            rs = ranges.segmentRanges
            assert [r.segmentId.segmentId for r in rs] == [0, 1, 2]
            assert rs[0].minKey == 0.0 and rs[-1].maxKey == 1.0
            assert all(a.maxKey == b.minKey for a, b in zip(rs, rs[1:]))
            await expect_error(
                stub.getCurrentSegmentsKeyValueTable(pb.KeyValueTableInfo(scope="sc", kvtName="nope")),
                grpc.StatusCode.NOT_FOUND,
            )
            got = await stub.getKeyValueTableConfiguration(pb.KeyValueTableInfo(scope="sc", kvtName="kv"))
            assert got.status == pb.KeyValueTableConfigResponse.SUCCESS
            assert (got.config.partitionCount, got.config.primaryKeyLength, got.config.secondaryKeyLength) == (3, 8, 4)
            got = await stub.getKeyValueTableConfiguration(pb.KeyValueTableInfo(scope="sc", kvtName="nope"))
            assert got.status == pb.KeyValueTableConfigResponse.TABLE_NOT_FOUND

            for name in ("kv2", "kv3"):
                assert (await stub.createKeyValueTable(cfg(name, 1))).status == KS.SUCCESS
            names, token = [], ""
            while True:
                reply = await stub.listKeyValueTablesInScope(
                    pb.KVTablesInScopeRequest(
                        scope=pb.ScopeInfo(scope="sc"), continuationToken=pb.ContinuationToken(token=token)
                    )
                )
                assert reply.HasField("continuationToken")
                if not reply.kvtables:
                    break
                assert len(reply.kvtables) <= 2
                names += [t.kvtName for t in reply.kvtables]
                token = reply.continuationToken.token
            assert names == ["kv", "kv2", "kv3"]
            reply = await stub.listKeyValueTablesInScope(
                pb.KVTablesInScopeRequest(scope=pb.ScopeInfo(scope="nope"), continuationToken=pb.ContinuationToken())
            )
            assert reply.status == pb.KVTablesInScopeResponse.SCOPE_NOT_FOUND

            assert (await stub.deleteScope(pb.ScopeInfo(scope="sc"))).status == pb.DeleteScopeStatus.SCOPE_NOT_EMPTY
            delete = lambda name: stub.deleteKeyValueTable(pb.KeyValueTableInfo(scope="sc", kvtName=name))
            assert (await delete("kv")).status == pb.DeleteKVTableStatus.SUCCESS
            assert (await delete("kv")).status == pb.DeleteKVTableStatus.TABLE_NOT_FOUND
            assert not c.engine.exists("sc/kv_kvtable/0.#epoch.0")
            # the recursive scope delete removes tables too
            assert (await stub.deleteScopeRecursive(pb.ScopeInfo(scope="sc"))).status == pb.DeleteScopeStatus.SUCCESS
            assert not c.engine.exists("sc/kv2_kvtable/0.#epoch.0")

    run(main())


def test_reader_groups(data_dir: Path | None) -> None:
    async def main():
        async with running(data_dir) as c:
            stub = c.stub
            assert (
                await stub.createReaderGroup(rg_config("rg"))
            ).status == pb.CreateReaderGroupResponse.SCOPE_NOT_FOUND
            await make_stream(stub, "sc", "st", 1)
            assert (
                await stub.createReaderGroup(rg_config("bad/rg"))
            ).status == pb.CreateReaderGroupResponse.INVALID_RG_NAME

            created = await stub.createReaderGroup(rg_config("rg"))
            assert created.status == pb.CreateReaderGroupResponse.SUCCESS
            rg_id = created.config.readerGroupId
            assert rg_id and created.config.generation == 0
            assert created.config.startingStreamCuts[0].cut == {0: 0}
            # the Java reader group's state stream
            assert (await stub.checkStreamExists(si("sc", "_RGrg"))).exists
            assert c.engine.exists("sc/_RGrg/0.#epoch.0")
            # creating it again returns the existing configuration
            again = await stub.createReaderGroup(rg_config("rg", groupRefreshTimeMillis=1))
            assert again.status == pb.CreateReaderGroupResponse.SUCCESS
            assert again.config.readerGroupId == rg_id and again.config.groupRefreshTimeMillis == 3000
            explicit = await stub.createReaderGroup(rg_config("rg2", readerGroupId="my-id"))
            assert explicit.config.readerGroupId == "my-id"

            info = pb.ReaderGroupInfo(scope="sc", readerGroup="rg", readerGroupId=rg_id)
            got = await stub.getReaderGroupConfig(info)
            assert got.status == pb.ReaderGroupConfigResponse.SUCCESS and got.config.readerGroupId == rg_id
            missing = await stub.getReaderGroupConfig(pb.ReaderGroupInfo(scope="sc", readerGroup="nope"))
            assert missing.status == pb.ReaderGroupConfigResponse.RG_NOT_FOUND

            update = rg_config("rg", readerGroupId=rg_id, generation=0, groupRefreshTimeMillis=777)
            updated = await stub.updateReaderGroup(update)
            assert (updated.status, updated.generation) == (pb.UpdateReaderGroupResponse.SUCCESS, 1)
            stale = await stub.updateReaderGroup(update)  # generation 0 is out of date now
            assert stale.status == pb.UpdateReaderGroupResponse.INVALID_CONFIG
            got = await stub.getReaderGroupConfig(info)
            assert (got.config.generation, got.config.groupRefreshTimeMillis) == (1, 777)
            assert (await stub.updateReaderGroup(rg_config("nope"))).status == pb.UpdateReaderGroupResponse.RG_NOT_FOUND

            # reader groups and their streams keep a scope from being deleted
            assert (await stub.deleteScope(pb.ScopeInfo(scope="sc"))).status == pb.DeleteScopeStatus.SCOPE_NOT_EMPTY
            # the internal stream is not listed
            listed = await stub.listStreamsInScope(
                pb.StreamsInScopeRequest(scope=pb.ScopeInfo(scope="sc"), continuationToken=pb.ContinuationToken())
            )
            assert [s.stream for s in listed.streams] == ["st"]

            wrong_id = pb.ReaderGroupInfo(scope="sc", readerGroup="rg", readerGroupId="other")
            assert (await stub.deleteReaderGroup(wrong_id)).status == pb.DeleteReaderGroupStatus.RG_NOT_FOUND
            assert (await stub.deleteReaderGroup(info)).status == pb.DeleteReaderGroupStatus.SUCCESS
            assert (await stub.deleteReaderGroup(info)).status == pb.DeleteReaderGroupStatus.RG_NOT_FOUND
            assert not (await stub.checkStreamExists(si("sc", "_RGrg"))).exists
            assert not c.engine.exists("sc/_RGrg/0.#epoch.0")

    run(main())


def test_subscribers(data_dir: Path | None) -> None:
    async def main():
        async with running(data_dir) as c:
            stub = c.stub
            await make_stream(stub, "sc", "st", 1)
            await make_stream(stub, "other", "st2", 1)
            await stub.createReaderGroup(rg_config("none", retention=0))
            manual = (await stub.createReaderGroup(rg_config("manual", retention=1))).config
            await stub.createReaderGroup(
                rg_config("auto", scope="other", retention=2, streams=(("sc", "st"), ("other", "st2")))
            )
            subs = await stub.listSubscribers(si("sc", "st"))
            assert subs.status == pb.SubscribersResponse.SUCCESS
            assert list(subs.subscribers) == ["other/auto", "sc/manual"]
            assert list((await stub.listSubscribers(si("other", "st2"))).subscribers) == ["other/auto"]
            assert (await stub.listSubscribers(si("sc", "nope"))).status == pb.SubscribersResponse.STREAM_NOT_FOUND

            US = pb.UpdateSubscriberStatus
            update = lambda sub, gen, cut, stream="st", rg_id=manual.readerGroupId: stub.updateSubscriberStreamCut(
                pb.SubscriberStreamCut(
                    subscriber=sub,
                    generation=gen,
                    readerGroupId=rg_id,
                    streamCut=pb.StreamCut(streamInfo=si("sc", stream), cut=cut),
                )
            )
            assert (await update("sc/manual", 0, {0: 10})).status == US.SUCCESS
            assert (await update("sc/manual", 0, {0: 20})).status == US.SUCCESS
            assert (await update("sc/manual", 0, {0: 5})).status == US.STREAM_CUT_NOT_VALID  # backwards
            assert (await update("sc/manual", 0, {3: 5})).status == US.STREAM_CUT_NOT_VALID
            assert (await update("sc/manual", 4, {0: 30})).status == US.GENERATION_MISMATCH
            assert (await update("sc/none", 0, {0: 30})).status == US.SUBSCRIBER_NOT_FOUND
            assert (await update("sc/manual", 0, {0: 30}, rg_id="bogus")).status == US.SUBSCRIBER_NOT_FOUND
            assert (await update("sc/manual", 0, {0: 30}, stream="nope")).status == US.STREAM_NOT_FOUND
            stream = c.service.get_stream("sc", "st")
            assert stream.subscribers["sc/manual"].cut == {0: 20}

    run(main())


def test_writer_marks(data_dir: Path | None) -> None:
    async def main():
        async with running(data_dir) as c:
            stub = c.stub
            await make_stream(stub, "sc", "st", 2)
            TR = pb.TimestampResponse
            note = lambda writer, ts, cut, stream="st": stub.noteTimestampFromWriter(
                pb.TimestampFromWriter(
                    writer=writer, timestamp=ts, position=pb.StreamCut(streamInfo=si("sc", stream), cut=cut)
                )
            )
            assert (await note("w1", 100, {0: 10, 1: 0})).result == TR.SUCCESS
            assert (await note("w1", 200, {0: 20, 1: 5})).result == TR.SUCCESS
            assert (await note("w1", 150, {0: 30, 1: 5})).result == TR.INVALID_TIME
            assert (await note("w1", 300, {9: 0})).result == TR.INVALID_POSITION
            assert (await note("w2", 300, {0: 1}, stream="nope")).result == TR.INVALID_POSITION
            marks = c.service.writer_marks("sc", "st")
            assert marks["w1"].timestamp == 200 and marks["w1"].position == {0: 20, 1: 5}

            RW = pb.RemoveWriterResponse
            remove = lambda writer, stream="st": stub.removeWriter(
                pb.RemoveWriterRequest(writer=writer, stream=si("sc", stream))
            )
            assert (await remove("w1")).result == RW.SUCCESS
            assert (await remove("w1")).result == RW.UNKNOWN_WRITER
            assert (await remove("w1", "nope")).result == RW.STREAM_DOES_NOT_EXIST
            assert c.service.writer_marks("sc", "st") == {}

    run(main())
