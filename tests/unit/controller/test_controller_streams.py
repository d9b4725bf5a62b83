"""Scopes, streams and segment queries over a real gRPC server."""

from __future__ import annotations

from pathlib import Path

import grpc
from controller_harness import (
    CONTROLLER,
    SEGMENT_STORE,
    append,
    expect_error,
    fixed_config,
    make_stream,
    read_all,
    run,
    running,
    si,
)

from pravega.protocol import controller_pb2 as pb
from pravega_server.controller import naming

CS, DS, CSt, US, DSt = (
    pb.CreateScopeStatus,
    pb.DeleteScopeStatus,
    pb.CreateStreamStatus,
    pb.UpdateStreamStatus,
    pb.DeleteStreamStatus,
)


async def list_all_scopes(stub) -> list[str]:
    out, token = [], ""
    while True:
        reply = await stub.listScopes(pb.ScopesRequest(continuationToken=pb.ContinuationToken(token=token)))
        assert reply.HasField("continuationToken")
        if not reply.scopes:
            return out
        out += reply.scopes
        token = reply.continuationToken.token


async def list_all_streams(stub, scope: str, tag: str | None = None) -> list[str]:
    out, token = [], ""
    while True:
        ct = pb.ContinuationToken(token=token)
        if tag is None:
            reply = await stub.listStreamsInScope(
                pb.StreamsInScopeRequest(scope=pb.ScopeInfo(scope=scope), continuationToken=ct)
            )
        else:
            reply = await stub.listStreamsInScopeForTag(
                pb.StreamsInScopeWithTagRequest(scope=pb.ScopeInfo(scope=scope), tag=tag, continuationToken=ct)
            )
        assert reply.HasField("continuationToken")
        if not reply.streams:
            return out
        assert all(s.scope == scope for s in reply.streams)
        out += [s.stream for s in reply.streams]
        token = reply.continuationToken.token


def test_scopes(data_dir: Path | None) -> None:
    async def main():
        async with running(data_dir, page_size=2) as c:
            stub = c.stub
            for name in ("b", "a", "c", "d", "e"):
                assert (await stub.createScope(pb.ScopeInfo(scope=name))).status == CS.SUCCESS
            assert (await stub.createScope(pb.ScopeInfo(scope="a"))).status == CS.SCOPE_EXISTS
            for bad in ("", "a/b", "x y", "_internal", "é", "a" * 256):
                assert (await stub.createScope(pb.ScopeInfo(scope=bad))).status == CS.INVALID_SCOPE_NAME, bad
            assert (await stub.createScope(pb.ScopeInfo(scope="A-1.x" + "z" * 250))).status == CS.SUCCESS

            assert (await stub.checkScopeExists(pb.ScopeInfo(scope="a"))).exists
            assert not (await stub.checkScopeExists(pb.ScopeInfo(scope="zz"))).exists

            first = await stub.listScopes(pb.ScopesRequest(continuationToken=pb.ContinuationToken(token="")))
            assert list(first.scopes) == ["A-1.x" + "z" * 250, "a"]
            assert first.continuationToken.token == "a"
            assert await list_all_scopes(stub) == sorted(["a", "b", "c", "d", "e", "A-1.x" + "z" * 250])
            # a page after the last one is empty (and still carries a token)
            last = await stub.listScopes(pb.ScopesRequest(continuationToken=pb.ContinuationToken(token="e")))
            assert list(last.scopes) == [] and last.HasField("continuationToken")

            await make_stream(stub, "a", "s1")
            assert (await stub.deleteScope(pb.ScopeInfo(scope="a"))).status == DS.SCOPE_NOT_EMPTY
            assert (await stub.deleteScope(pb.ScopeInfo(scope="b"))).status == DS.SUCCESS
            assert (await stub.deleteScope(pb.ScopeInfo(scope="b"))).status == DS.SCOPE_NOT_FOUND
            seg = naming.qualified_segment_name("a", "s1", 0)
            assert c.engine.exists(seg)
            assert (await stub.deleteScopeRecursive(pb.ScopeInfo(scope="a"))).status == DS.SUCCESS
            assert not c.engine.exists(seg)
            assert not (await stub.checkScopeExists(pb.ScopeInfo(scope="a"))).exists
            assert (await stub.deleteScopeRecursive(pb.ScopeInfo(scope="a"))).status == DS.SCOPE_NOT_FOUND

    run(main())


def test_create_stream_segments_and_config(data_dir: Path | None) -> None:
    async def main():
        async with running(data_dir) as c:
            stub = c.stub
            assert (await stub.createStream(fixed_config("sc", "st", 4))).status == CSt.SCOPE_NOT_FOUND
            await stub.createScope(pb.ScopeInfo(scope="sc"))
            assert (await stub.createStream(fixed_config("sc", "st", 4))).status == CSt.SUCCESS
            assert (await stub.createStream(fixed_config("sc", "st", 2))).status == CSt.STREAM_EXISTS

            ranges = (await stub.getCurrentSegments(si("sc", "st"))).segmentRanges
            assert [r.segmentId.segmentId for r in ranges] == [0, 1, 2, 3]
            assert all(r.segmentId.streamInfo.scope == "sc" and r.segmentId.streamInfo.stream == "st" for r in ranges)
            assert ranges[0].minKey == 0.0 and ranges[-1].maxKey == 1.0
            for a, b in zip(ranges, ranges[1:]):
                assert a.maxKey == b.minKey and a.minKey < a.maxKey
            for n in range(4):
                name = f"sc/st/{n}.#epoch.0"
                assert c.engine.exists(name) and not c.engine.get(name).sealed
            assert (await stub.checkStreamExists(si("sc", "st"))).exists
            assert not (await stub.checkStreamExists(si("sc", "nope"))).exists

            cfg = await stub.getStreamConfiguration(si("sc", "st"))
            assert cfg.HasField("streamInfo") and cfg.HasField("scalingPolicy")
            assert (cfg.streamInfo.scope, cfg.streamInfo.stream) == ("sc", "st")
            assert cfg.scalingPolicy.minNumSegments == 4 and cfg.scalingPolicy.scaleType == 0
            assert cfg.retentionPolicy.retentionMax == 2**63 - 1
            await expect_error(stub.getStreamConfiguration(si("sc", "nope")), grpc.StatusCode.NOT_FOUND)
            await expect_error(stub.getCurrentSegments(si("sc", "nope")), grpc.StatusCode.NOT_FOUND)

            epoch0 = await stub.getEpochSegments(pb.GetEpochSegmentsRequest(streamInfo=si("sc", "st"), epoch=0))
            assert [r.segmentId.segmentId for r in epoch0.segmentRanges] == [0, 1, 2, 3]
            await expect_error(
                stub.getEpochSegments(pb.GetEpochSegmentsRequest(streamInfo=si("sc", "st"), epoch=1)),
                grpc.StatusCode.INVALID_ARGUMENT,
            )
            assert (await stub.isSegmentValid(pb.SegmentId(streamInfo=si("sc", "st"), segmentId=3))).response
            assert not (await stub.isSegmentValid(pb.SegmentId(streamInfo=si("sc", "st"), segmentId=4))).response

    run(main())


def test_invalid_stream_names_and_policies(data_dir: Path | None) -> None:
    async def main():
        async with running(data_dir) as c:
            stub = c.stub
            await stub.createScope(pb.ScopeInfo(scope="sc"))
            for bad in ("", "a/b", "a b", "x#y", "__x", "s" * 256):
                assert (await stub.createStream(fixed_config("sc", bad, 1))).status == CSt.INVALID_STREAM_NAME, bad
            # internal names (as the Java controller creates them) are accepted but not listed
            assert (await stub.createStream(fixed_config("sc", "_MARKx", 1))).status == CSt.SUCCESS
            assert await list_all_streams(stub, "sc") == []

            bad_configs = []
            cfg = fixed_config("sc", "p", 0)
            bad_configs.append(cfg)
            cfg = fixed_config("sc", "p", 1)
            cfg.scalingPolicy.scaleType = 7
            bad_configs.append(cfg)
            cfg = fixed_config("sc", "p", 1)
            cfg.retentionPolicy.retentionType = 9
            bad_configs.append(cfg)
            cfg = fixed_config("sc", "p", 1)
            cfg.scalingPolicy.targetRate = -5
            bad_configs.append(cfg)
            cfg = fixed_config("sc", "p", 1)
            cfg.scalingPolicy.scaleType = pb.ScalingPolicy.BY_RATE_IN_EVENTS_PER_SEC  # no rate given
            bad_configs.append(cfg)
            cfg = fixed_config("sc", "p", 1)
            cfg.retentionPolicy.retentionParam = -1
            bad_configs.append(cfg)
            cfg = fixed_config("sc", "p", 1, tags=["x" * 300])
            bad_configs.append(cfg)
            bad_configs.append(pb.StreamConfig(streamInfo=si("sc", "p")))  # no scaling policy
            for cfg in bad_configs:
                details = await expect_error(stub.createStream(cfg), grpc.StatusCode.INVALID_ARGUMENT)
                assert details
            assert not (await stub.checkStreamExists(si("sc", "p"))).exists

            cfg = fixed_config("sc", "auto", 2)
            cfg.scalingPolicy.scaleType = pb.ScalingPolicy.BY_RATE_IN_KBYTES_PER_SEC
            cfg.scalingPolicy.targetRate = 100
            cfg.scalingPolicy.scaleFactor = 2
            assert (await stub.createStream(cfg)).status == CSt.SUCCESS
            got = await stub.getStreamConfiguration(si("sc", "auto"))
            assert (got.scalingPolicy.scaleType, got.scalingPolicy.targetRate, got.scalingPolicy.scaleFactor) == (
                1,
                100,
                2,
            )
            assert c.engine.get("sc/auto/0.#epoch.0").scale_type == 1

    run(main())


def test_update_tags_and_listing(data_dir: Path | None) -> None:
    async def main():
        async with running(data_dir, page_size=2) as c:
            stub = c.stub
            await stub.createScope(pb.ScopeInfo(scope="sc"))
            for i, tags in enumerate([["red"], ["red", "blue"], [], ["blue"], ["red"]]):
                assert (await stub.createStream(fixed_config("sc", f"s{i}", 1, tags=tags))).status == CSt.SUCCESS
            assert await list_all_streams(stub, "sc") == ["s0", "s1", "s2", "s3", "s4"]
            assert await list_all_streams(stub, "sc", tag="red") == ["s0", "s1", "s4"]
            assert await list_all_streams(stub, "sc", tag="blue") == ["s1", "s3"]
            assert await list_all_streams(stub, "sc", tag="green") == []
            missing = await stub.listStreamsInScope(
                pb.StreamsInScopeRequest(scope=pb.ScopeInfo(scope="nope"), continuationToken=pb.ContinuationToken())
            )
            assert missing.status == pb.StreamsInScopeResponse.SCOPE_NOT_FOUND and not missing.streams
            assert missing.HasField("continuationToken")

            cfg = await stub.getStreamConfiguration(si("sc", "s2"))
            assert cfg.HasField("tags") and list(cfg.tags.tag) == []
            new = fixed_config("sc", "s2", 1, tags=["green", "green", "red"])
            assert (await stub.updateStream(new)).status == US.SUCCESS
            assert list((await stub.getStreamConfiguration(si("sc", "s2"))).tags.tag) == ["green", "red"]
            assert await list_all_streams(stub, "sc", tag="green") == ["s2"]

            # growing minNumSegments scales the stream up to that many equal ranges
            assert (await stub.updateStream(fixed_config("sc", "s2", 3))).status == US.SUCCESS
            ranges = (await stub.getCurrentSegments(si("sc", "s2"))).segmentRanges
            assert len(ranges) == 3 and ranges[0].minKey == 0.0 and ranges[-1].maxKey == 1.0
            assert {naming.segment_epoch(r.segmentId.segmentId) for r in ranges} == {1}
            assert [naming.segment_number(r.segmentId.segmentId) for r in ranges] == [1, 2, 3]
            assert c.engine.get("sc/s2/0.#epoch.0").sealed
            # shrinking it does not scale down
            assert (await stub.updateStream(fixed_config("sc", "s2", 1))).status == US.SUCCESS
            assert len((await stub.getCurrentSegments(si("sc", "s2"))).segmentRanges) == 3

            assert (await stub.updateStream(fixed_config("sc", "nope", 1))).status == US.STREAM_NOT_FOUND
            assert (await stub.updateStream(fixed_config("nope", "s1", 1))).status == US.SCOPE_NOT_FOUND
            await expect_error(stub.updateStream(fixed_config("sc", "s1", 0)), grpc.StatusCode.INVALID_ARGUMENT)
            assert (await stub.sealStream(si("sc", "s1"))).status == US.SUCCESS
            # STREAM_SEALED would read as SUCCESS in the Rust client: an error instead
            await expect_error(stub.updateStream(fixed_config("sc", "s1", 1)), grpc.StatusCode.INVALID_ARGUMENT)

    run(main())


def test_seal_and_delete(data_dir: Path | None) -> None:
    async def main():
        async with running(data_dir) as c:
            stub = c.stub
            await make_stream(stub, "sc", "st", 2)
            assert (await stub.deleteStream(si("sc", "st"))).status == DSt.STREAM_NOT_SEALED
            assert (await stub.sealStream(si("sc", "nope"))).status == US.STREAM_NOT_FOUND
            assert (await stub.sealStream(si("nope", "st"))).status == US.SCOPE_NOT_FOUND
            assert (await stub.sealStream(si("sc", "st"))).status == US.SUCCESS
            assert (await stub.sealStream(si("sc", "st"))).status == US.SUCCESS
            assert c.engine.get("sc/st/0.#epoch.0").sealed and c.engine.get("sc/st/1.#epoch.0").sealed
            assert list((await stub.getCurrentSegments(si("sc", "st"))).segmentRanges) == []
            for sid in (0, 1):
                succ = await stub.getSegmentsImmediatelyFollowing(
                    pb.SegmentId(streamInfo=si("sc", "st"), segmentId=sid)
                )
                assert list(succ.segments) == []
            assert not (await stub.isSegmentValid(pb.SegmentId(streamInfo=si("sc", "st"), segmentId=0))).response
            # the head is still readable
            head = await stub.getSegments(pb.GetSegmentsRequest(streamInfo=si("sc", "st"), timestamp=0))
            assert [(s.segmentId.segmentId, s.offset) for s in head.segments] == [(0, 0), (1, 0)]

            assert (await stub.deleteStream(si("sc", "st"))).status == DSt.SUCCESS
            assert (await stub.deleteStream(si("sc", "st"))).status == DSt.STREAM_NOT_FOUND
            assert not c.engine.exists("sc/st/0.#epoch.0") and not c.engine.exists("sc/st/1.#epoch.0")
            assert not (await stub.checkStreamExists(si("sc", "st"))).exists
            # the name can be used again
            assert (await stub.createStream(fixed_config("sc", "st", 1))).status == CSt.SUCCESS
            assert c.engine.exists("sc/st/0.#epoch.0") and not c.engine.get("sc/st/0.#epoch.0").sealed
            assert (await stub.deleteScope(pb.ScopeInfo(scope="sc"))).status == DS.SCOPE_NOT_EMPTY

    run(main())


def test_truncation_and_head(data_dir: Path | None) -> None:
    async def main():
        async with running(data_dir) as c:
            stub = c.stub
            await make_stream(stub, "sc", "st", 2)
            await append(c.engine, "sc/st/0.#epoch.0", b"0123456789")
            await append(c.engine, "sc/st/1.#epoch.0", b"abcdef")
            req = pb.GetSegmentsRequest(streamInfo=si("sc", "st"), timestamp=0)
            head = await stub.getSegments(req)
            assert [(s.segmentId.segmentId, s.offset) for s in head.segments] == [(0, 0), (1, 0)]
            assert all(s.segmentId.streamInfo.stream == "st" for s in head.segments)

            cut = pb.StreamCut(streamInfo=si("sc", "st"), cut={0: 4, 1: 6})
            assert (await stub.isStreamCutValid(cut)).response
            assert (await stub.truncateStream(cut)).status == US.SUCCESS
            head = await stub.getSegments(req)
            assert sorted((s.segmentId.segmentId, s.offset) for s in head.segments) == [(0, 4), (1, 6)]
            assert c.engine.get("sc/st/0.#epoch.0").start_offset == 4
            assert read_all(c.engine, "sc/st/0.#epoch.0") == b"456789"

            for bad in ({0: 4}, {0: 4, 1: 6, 7: 0}, {0: -1, 1: 0}, {0: 100, 1: 0}, {0: 2, 1: 6}, {}):
                bad_cut = pb.StreamCut(streamInfo=si("sc", "st"), cut=bad)
                await expect_error(stub.truncateStream(bad_cut), grpc.StatusCode.INVALID_ARGUMENT)
            assert not (await stub.isStreamCutValid(pb.StreamCut(streamInfo=si("sc", "st"), cut={0: 0}))).response
            assert (
                await stub.truncateStream(pb.StreamCut(streamInfo=si("sc", "nope"), cut={0: 0}))
            ).status == US.STREAM_NOT_FOUND

            # merge 0 and 1 into 2, then truncate into the new segment: both old ones go
            scale = await stub.scale(
                pb.ScaleRequest(
                    streamInfo=si("sc", "st"),
                    sealedSegments=[0, 1],
                    newKeyRanges=[pb.ScaleRequest.KeyRangeEntry(start=0.0, end=1.0)],
                )
            )
            assert scale.status == pb.ScaleResponse.STARTED
            new_id = scale.segments[0].segmentId.segmentId
            new_name = naming.qualified_segment_name("sc", "st", new_id)
            await append(c.engine, new_name, b"xyz")
            assert (
                await stub.truncateStream(pb.StreamCut(streamInfo=si("sc", "st"), cut={new_id: 1}))
            ).status == US.SUCCESS
            assert not c.engine.exists("sc/st/0.#epoch.0") and not c.engine.exists("sc/st/1.#epoch.0")
            head = await stub.getSegments(req)
            assert [(s.segmentId.segmentId, s.offset) for s in head.segments] == [(new_id, 1)]
            # a cut before the head is refused
            await expect_error(
                stub.truncateStream(pb.StreamCut(streamInfo=si("sc", "st"), cut={0: 4, 1: 6})),
                grpc.StatusCode.INVALID_ARGUMENT,
            )
            # truncating a sealed stream is allowed
            assert (await stub.sealStream(si("sc", "st"))).status == US.SUCCESS
            assert (
                await stub.truncateStream(pb.StreamCut(streamInfo=si("sc", "st"), cut={new_id: 3}))
            ).status == US.SUCCESS

    run(main())


def test_get_uri_for_anything(data_dir: Path | None) -> None:
    async def main():
        async with running(data_dir) as c:
            stub = c.stub
            for scope, stream, sid in (("sc", "st", 0), ("sc", "rg1_kvtable", 0), ("x", "y", 2**40 + 5), ("", "", -1)):
                uri = await stub.getURI(pb.SegmentId(streamInfo=si(scope, stream), segmentId=sid))
                assert (uri.endpoint, uri.port) == SEGMENT_STORE
            servers = await stub.getControllerServerList(pb.ServerRequest())
            assert [(n.endpoint, n.port) for n in servers.nodeURI] == [CONTROLLER]
            token = await stub.getDelegationToken(si("sc", "st"))
            assert token.delegationToken == ""
            mapping = await stub.getControllerToBucketMapping(pb.ControllerToBucketMappingRequest(serviceType=0))
            assert [list(v.id) for v in mapping.mapping.values()] == [[0]]

    run(main())


def test_dynamic_segment_store_endpoint() -> None:
    async def main():
        where = {"ep": ("127.0.0.1", 1)}
        async with running(None, segment_store_endpoint=lambda: where["ep"]) as c:
            where["ep"] = ("127.0.0.1", 4242)
            uri = await c.stub.getURI(pb.SegmentId(streamInfo=si("a", "b"), segmentId=0))
            assert (uri.endpoint, uri.port) == ("127.0.0.1", 4242)

    run(main())
