"""Manual scaling, successors/predecessors, time-based queries and stream cuts."""

from __future__ import annotations

from pathlib import Path

import grpc
from controller_harness import FakeClock, expect_error, make_stream, run, running, si

from pravega.protocol import controller_pb2 as pb
from pravega_server.controller import naming

SR = pb.ScaleResponse
KR = pb.ScaleRequest.KeyRangeEntry


def scale_request(stream: str, sealed: list[int], ranges: list[tuple[float, float]]) -> pb.ScaleRequest:
    return pb.ScaleRequest(
        streamInfo=si("sc", stream),
        sealedSegments=sealed,
        newKeyRanges=[KR(start=a, end=b) for a, b in ranges],
    )


async def successors(stub, stream: str, sid: int) -> dict[int, tuple[float, float, list[int]]]:
    reply = await stub.getSegmentsImmediatelyFollowing(pb.SegmentId(streamInfo=si("sc", stream), segmentId=sid))
    typo = await stub.getSegmentsImmediatlyFollowing(pb.SegmentId(streamInfo=si("sc", stream), segmentId=sid))
    assert reply == typo
    return {
        e.segment.segmentId.segmentId: (e.segment.minKey, e.segment.maxKey, sorted(e.value)) for e in reply.segments
    }


def test_split_and_merge(data_dir: Path | None) -> None:
    async def main():
        clock = FakeClock()
        async with running(data_dir, clock=clock) as c:
            stub = c.stub
            await make_stream(stub, "sc", "st", 1)
            t0 = int(clock.now * 1000)
            clock.advance(10)

            # split 0 -> [0, .5) + [.5, 1)
            reply = await stub.scale(scale_request("st", [0], [(0.5, 1.0), (0.0, 0.5)]))
            assert reply.status == SR.STARTED
            assert reply.epoch == 0  # the epoch the scale started from (Java semantics)
            new = [(r.segmentId.segmentId, r.minKey, r.maxKey) for r in reply.segments]
            s1, s2 = naming.segment_id(1, 1), naming.segment_id(1, 2)
            assert new == [(s1, 0.0, 0.5), (s2, 0.5, 1.0)]
            check = await stub.checkScale(pb.ScaleStatusRequest(streamInfo=si("sc", "st"), epoch=reply.epoch))
            assert check.status == pb.ScaleStatusResponse.SUCCESS
            check = await stub.checkScale(pb.ScaleStatusRequest(streamInfo=si("sc", "st"), epoch=1))
            assert check.status == pb.ScaleStatusResponse.IN_PROGRESS
            for epoch, stream in ((2, "st"), (0, "nope")):
                check = await stub.checkScale(pb.ScaleStatusRequest(streamInfo=si("sc", stream), epoch=epoch))
                assert check.status == pb.ScaleStatusResponse.INVALID_INPUT

            assert c.engine.get("sc/st/0.#epoch.0").sealed
            assert c.engine.exists("sc/st/1.#epoch.1") and c.engine.exists("sc/st/2.#epoch.1")
            current = (await stub.getCurrentSegments(si("sc", "st"))).segmentRanges
            assert [r.segmentId.segmentId for r in current] == [s1, s2]
            assert await successors(stub, "st", 0) == {s1: (0.0, 0.5, [0]), s2: (0.5, 1.0, [0])}
            assert await successors(stub, "st", s1) == {}
            t1 = int(clock.now * 1000)
            clock.advance(10)

            # merge both back into one
            reply = await stub.scale(scale_request("st", [s1, s2], [(0.0, 1.0)]))
            assert reply.status == SR.STARTED and reply.epoch == 1
            s3 = naming.segment_id(2, 3)
            assert [(r.segmentId.segmentId, r.minKey, r.maxKey) for r in reply.segments] == [(s3, 0.0, 1.0)]
            assert await successors(stub, "st", s1) == {s3: (0.0, 1.0, [s1, s2])}
            assert await successors(stub, "st", s2) == {s3: (0.0, 1.0, [s1, s2])}
            t2 = int(clock.now * 1000)

            # time-based starting points
            async def at(ts: int) -> list[tuple[int, int]]:
                reply = await stub.getSegments(pb.GetSegmentsRequest(streamInfo=si("sc", "st"), timestamp=ts))
                return [(s.segmentId.segmentId, s.offset) for s in reply.segments]

            assert await at(0) == [(0, 0)]
            assert await at(t0 - 5) == [(0, 0)]
            assert await at(t0 + 1) == [(0, 0)]
            assert await at(t1) == [(s1, 0), (s2, 0)]
            assert await at(t2 + 100000) == [(s3, 0)]

            # stream cuts across epochs
            between = await stub.getSegmentsBetween(pb.StreamCutRange(streamInfo=si("sc", "st")))
            assert sorted(s.segmentId for s in between.segments) == [0, s1, s2, s3]
            rng = pb.StreamCutRange(streamInfo=si("sc", "st"), to={s1: 0, s2: 0})
            between = await stub.getSegmentsBetween(rng)
            assert sorted(s.segmentId for s in between.segments) == [0, s1, s2]
            rng = pb.StreamCutRange(streamInfo=si("sc", "st"), **{"from": {s1: 0, s2: 0}, "to": {s3: 0}})
            between = await stub.getSegmentsBetween(rng)
            assert sorted(s.segmentId for s in between.segments) == [s1, s2, s3]
            backwards = pb.StreamCutRange(streamInfo=si("sc", "st"), **{"from": {s3: 0}, "to": {0: 0}})
            await expect_error(stub.getSegmentsBetween(backwards), grpc.StatusCode.INVALID_ARGUMENT)

            valid = lambda cut: stub.isStreamCutValid(pb.StreamCut(streamInfo=si("sc", "st"), cut=cut))
            assert (await valid({s1: 0, s2: 5})).response
            assert not (await valid({0: 0, s1: 0})).response  # overlapping
            assert not (await valid({s1: 0})).response  # gap
            assert not (await valid({0: 0, s3: 0})).response

            epoch1 = await stub.getEpochSegments(pb.GetEpochSegmentsRequest(streamInfo=si("sc", "st"), epoch=1))
            assert [r.segmentId.segmentId for r in epoch1.segmentRanges] == [s1, s2]

    run(main())


def test_partial_scale_keeps_other_segments(data_dir: Path | None) -> None:
    async def main():
        async with running(data_dir) as c:
            stub = c.stub
            await make_stream(stub, "sc", "st", 2)  # [0, .5) and [.5, 1)
            reply = await stub.scale(scale_request("st", [1], [(0.5, 0.75), (0.75, 1.0)]))
            assert reply.status == SR.STARTED
            a, b = naming.segment_id(1, 2), naming.segment_id(1, 3)
            current = (await stub.getCurrentSegments(si("sc", "st"))).segmentRanges
            assert [(r.segmentId.segmentId, r.minKey, r.maxKey) for r in current] == [
                (0, 0.0, 0.5),
                (a, 0.5, 0.75),
                (b, 0.75, 1.0),
            ]
            assert await successors(stub, "st", 0) == {}  # still active
            assert await successors(stub, "st", 1) == {a: (0.5, 0.75, [1]), b: (0.75, 1.0, [1])}
            assert not c.engine.get("sc/st/0.#epoch.0").sealed

            # merge segment 0 (epoch 0) with a (epoch 1)
            reply = await stub.scale(scale_request("st", [0, a], [(0.0, 0.75)]))
            assert reply.status == SR.STARTED
            m = naming.segment_id(2, 4)
            assert await successors(stub, "st", 0) == {m: (0.0, 0.75, [0, a])}
            assert (
                await stub.isStreamCutValid(pb.StreamCut(streamInfo=si("sc", "st"), cut={0: 0, a: 0, b: 0}))
            ).response
            assert (await stub.isStreamCutValid(pb.StreamCut(streamInfo=si("sc", "st"), cut={m: 0, b: 0}))).response
            assert (await stub.isStreamCutValid(pb.StreamCut(streamInfo=si("sc", "st"), cut={0: 0, 1: 0}))).response

    run(main())


def test_scale_preconditions(data_dir: Path | None) -> None:
    async def main():
        async with running(data_dir) as c:
            stub = c.stub
            await make_stream(stub, "sc", "st", 2)
            for sealed, ranges in (
                ([0], [(0.0, 0.3)]),  # does not cover the sealed range
                ([0], [(0.0, 0.3), (0.2, 0.5)]),  # overlapping
                ([0], [(0.0, 0.2), (0.3, 0.5)]),  # gap
                ([0], [(0.0, 0.6)]),  # beyond the sealed range
                ([5], [(0.0, 0.5)]),  # unknown segment
                ([], [(0.0, 0.5)]),
                ([0, 0], [(0.0, 0.5)]),
                ([0], [(0.25, 0.25), (0.0, 0.5)]),  # empty range
                ([0], [(float("nan"), 0.5)]),
            ):
                reply = await stub.scale(scale_request("st", sealed, ranges))
                assert reply.status == SR.PRECONDITION_FAILED, (sealed, ranges)
            assert (await stub.scale(scale_request("nope", [0], [(0.0, 0.5)]))).status == SR.FAILURE
            assert (await stub.scale(scale_request("st", [0], [(0.0, 0.5)]))).status == SR.STARTED
            # 0 is sealed now
            assert (await stub.scale(scale_request("st", [0], [(0.0, 0.5)]))).status == SR.PRECONDITION_FAILED
            await stub.sealStream(si("sc", "st"))
            assert (await stub.scale(scale_request("st", [1], [(0.5, 1.0)]))).status == SR.FAILURE
            await expect_error(
                stub.getSegmentsImmediatelyFollowing(pb.SegmentId(streamInfo=si("sc", "st"), segmentId=77)),
                grpc.StatusCode.INVALID_ARGUMENT,
            )
            await expect_error(
                stub.getSegmentsImmediatelyFollowing(pb.SegmentId(streamInfo=si("sc", "zz"), segmentId=0)),
                grpc.StatusCode.NOT_FOUND,
            )

    run(main())
