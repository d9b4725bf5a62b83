"""The controller's gRPC API (``io.pravega.controller.stream.api.grpc.v1.ControllerService``):
converts protobuf messages to :class:`ControllerService` calls and back.

Refusals without a fitting status enum value become gRPC errors
(INVALID_ARGUMENT / NOT_FOUND, with a message); unexpected exceptions become INTERNAL
and the server keeps serving.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from pravega.protocol import controller_pb2 as pb
from pravega.protocol import controller_pb2_grpc as pb_grpc

from . import model
from .grpc_auth import GrpcGuard
from .model import ReaderGroup, SegmentRecord, StreamConfig, StreamCutRecord
from .service import ControllerService
from .status import ControllerError, InvalidArgument, Status

log = logging.getLogger(__name__)

_INT64_MIN = -(2**63)


def _rpc(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Turn service errors into gRPC status codes."""

    @functools.wraps(method)
    async def wrapper(self: ControllerServicer, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            if self.guard is not None:  # authentication on (see grpc_auth)
                return await self.guard.call(method.__name__, lambda r: method(self, r, context), request, context)
            return await method(self, request, context)
        except ControllerError as e:
            await context.abort(grpc.StatusCode[e.code], str(e))
        except grpc.aio.AbortError:
            raise
        except Exception as e:
            log.exception("%s failed", method.__name__)
            await context.abort(grpc.StatusCode.INTERNAL, f"{method.__name__}: {type(e).__name__}: {e}")

    return wrapper


# -- conversions --------------------------------------------------------------------


def _enum(enum_type: Any, status: Status) -> Any:
    return enum_type.Value(status.value)


def _number(value: int) -> Any:
    """An enum field's number as stored: protobuf takes it as is; its stubs want the enum type."""
    return value


def _stream_info(scope: str, stream: str) -> pb.StreamInfo:
    return pb.StreamInfo(scope=scope, stream=stream)


def _segment_id(scope: str, stream: str, sid: int) -> pb.SegmentId:
    return pb.SegmentId(streamInfo=_stream_info(scope, stream), segmentId=sid)


def _segment_range(scope: str, stream: str, seg: SegmentRecord) -> pb.SegmentRange:
    return pb.SegmentRange(segmentId=_segment_id(scope, stream, seg.id), minKey=seg.min_key, maxKey=seg.max_key)


def _ranges(scope: str, stream: str, segs: list[SegmentRecord]) -> pb.SegmentRanges:
    return pb.SegmentRanges(segmentRanges=[_segment_range(scope, stream, s) for s in segs], delegationToken="")


def _cut(mapping: Any) -> dict[int, int]:
    return {int(k): int(v) for k, v in mapping.items()}


def _config_from_pb(request: pb.StreamConfig) -> StreamConfig:
    if not request.HasField("scalingPolicy"):
        raise InvalidArgument("the stream configuration has no scalingPolicy")
    sp = request.scalingPolicy
    rp = request.retentionPolicy
    tags: list[str] = []
    for tag in request.tags.tag:
        if tag not in tags:
            tags.append(tag)
    return StreamConfig(
        scale_type=sp.scaleType,
        target_rate=sp.targetRate,
        scale_factor=sp.scaleFactor,
        min_segments=sp.minNumSegments,
        retention_type=rp.retentionType,
        retention_param=rp.retentionParam,
        retention_max=rp.retentionMax,
        tags=tags,
        timestamp_aggregation_timeout=request.timestampAggregationTimeout,
        rollover_size_bytes=request.rolloverSizeBytes,
    )


def _config_to_pb(scope: str, stream: str, cfg: StreamConfig) -> pb.StreamConfig:
    return pb.StreamConfig(
        streamInfo=_stream_info(scope, stream),
        scalingPolicy=pb.ScalingPolicy(
            scaleType=_number(cfg.scale_type),
            targetRate=cfg.target_rate,
            scaleFactor=cfg.scale_factor,
            minNumSegments=cfg.min_segments,
        ),
        retentionPolicy=pb.RetentionPolicy(
            retentionType=_number(cfg.retention_type),
            retentionParam=cfg.retention_param,
            retentionMax=cfg.retention_max,
        ),
        tags=pb.Tags(tag=cfg.tags),
        timestampAggregationTimeout=cfg.timestamp_aggregation_timeout,
        rolloverSizeBytes=cfg.rollover_size_bytes,
    )


def _cuts_from_pb(cuts: Any) -> list[StreamCutRecord]:
    return [StreamCutRecord(c.streamInfo.scope, c.streamInfo.stream, _cut(c.cut)) for c in cuts]


def _cuts_to_pb(cuts: list[StreamCutRecord]) -> list[pb.StreamCut]:
    return [pb.StreamCut(streamInfo=_stream_info(c.scope, c.stream), cut=c.cut) for c in cuts]


def _rg_from_pb(c: pb.ReaderGroupConfiguration) -> ReaderGroup:
    return ReaderGroup(
        scope=c.scope,
        name=c.readerGroupName,
        reader_group_id=c.readerGroupId,
        generation=c.generation,
        group_refresh_ms=c.groupRefreshTimeMillis,
        checkpoint_interval_ms=c.automaticCheckpointIntervalMillis,
        max_outstanding_checkpoints=c.maxOutstandingCheckpointRequest,
        retention_type=c.retentionType,
        starting_cuts=_cuts_from_pb(c.startingStreamCuts),
        ending_cuts=_cuts_from_pb(c.endingStreamCuts),
        rollover_size_bytes=c.rolloverSizeBytes,
    )


def _rg_to_pb(rg: ReaderGroup) -> pb.ReaderGroupConfiguration:
    return pb.ReaderGroupConfiguration(
        scope=rg.scope,
        readerGroupName=rg.name,
        groupRefreshTimeMillis=rg.group_refresh_ms,
        automaticCheckpointIntervalMillis=rg.checkpoint_interval_ms,
        maxOutstandingCheckpointRequest=rg.max_outstanding_checkpoints,
        retentionType=rg.retention_type,
        generation=rg.generation,
        readerGroupId=rg.reader_group_id,
        startingStreamCuts=_cuts_to_pb(rg.starting_cuts),
        endingStreamCuts=_cuts_to_pb(rg.ending_cuts),
        rolloverSizeBytes=rg.rollover_size_bytes,
    )


def _token(request: Any) -> str:
    return request.continuationToken.token


# -- the servicer -------------------------------------------------------------------


class ControllerServicer(pb_grpc.ControllerServiceServicer):
    guard: GrpcGuard | None = None

    def __init__(self, service: ControllerService) -> None:
        self.service = service

    # -- cluster ----------------------------------------------------------------

    @_rpc
    async def getControllerServerList(self, request: pb.ServerRequest, context: Any) -> pb.ServerResponse:
        return pb.ServerResponse(
            nodeURI=[pb.NodeUri(endpoint=h, port=p) for h, p in self.service.controller_endpoints()]
        )

    @_rpc
    async def getControllerToBucketMapping(
        self,
        request: pb.ControllerToBucketMappingRequest,
        context: Any,
    ) -> pb.ControllerToBucketMappingResponse:
        mapping = self.service.bucket_mapping(request.serviceType)
        return pb.ControllerToBucketMappingResponse(mapping={k: pb.BucketIds(id=v) for k, v in mapping.items()})

    @_rpc
    async def getDelegationToken(self, request: pb.StreamInfo, context: Any) -> pb.DelegationToken:
        return pb.DelegationToken(delegationToken=self.service.delegation_token(request.scope, request.stream))

    @_rpc
    async def getURI(self, request: pb.SegmentId, context: Any) -> pb.NodeUri:
        host, port = self.service.segment_endpoint(request.streamInfo.scope, request.streamInfo.stream)
        return pb.NodeUri(endpoint=host, port=port)

    # -- scopes -----------------------------------------------------------------

    @_rpc
    async def createScope(self, request: pb.ScopeInfo, context: Any) -> pb.CreateScopeStatus:
        status = await self.service.create_scope(request.scope)
        return pb.CreateScopeStatus(status=_enum(pb.CreateScopeStatus.Status, status))

    @_rpc
    async def checkScopeExists(self, request: pb.ScopeInfo, context: Any) -> pb.ExistsResponse:
        return pb.ExistsResponse(exists=self.service.scope_exists(request.scope))

    @_rpc
    async def listScopes(self, request: pb.ScopesRequest, context: Any) -> pb.ScopesResponse:
        names, token = self.service.list_scopes(_token(request))
        return pb.ScopesResponse(scopes=names, continuationToken=pb.ContinuationToken(token=token))

    @_rpc
    async def deleteScope(self, request: pb.ScopeInfo, context: Any) -> pb.DeleteScopeStatus:
        status = await self.service.delete_scope(request.scope)
        return pb.DeleteScopeStatus(status=_enum(pb.DeleteScopeStatus.Status, status))

    @_rpc
    async def deleteScopeRecursive(self, request: pb.ScopeInfo, context: Any) -> pb.DeleteScopeStatus:
        status = await self.service.delete_scope_recursive(request.scope)
        return pb.DeleteScopeStatus(status=_enum(pb.DeleteScopeStatus.Status, status))

    # -- streams ----------------------------------------------------------------

    @_rpc
    async def createStream(self, request: pb.StreamConfig, context: Any) -> pb.CreateStreamStatus:
        info = request.streamInfo
        status = await self.service.create_stream(info.scope, info.stream, _config_from_pb(request))
        return pb.CreateStreamStatus(status=_enum(pb.CreateStreamStatus.Status, status))

    @_rpc
    async def updateStream(self, request: pb.StreamConfig, context: Any) -> pb.UpdateStreamStatus:
        info = request.streamInfo
        status = await self.service.update_stream(info.scope, info.stream, _config_from_pb(request))
        return pb.UpdateStreamStatus(status=_enum(pb.UpdateStreamStatus.Status, status))

    @_rpc
    async def truncateStream(self, request: pb.StreamCut, context: Any) -> pb.UpdateStreamStatus:
        info = request.streamInfo
        status = await self.service.truncate_stream(info.scope, info.stream, _cut(request.cut))
        return pb.UpdateStreamStatus(status=_enum(pb.UpdateStreamStatus.Status, status))

    @_rpc
    async def sealStream(self, request: pb.StreamInfo, context: Any) -> pb.UpdateStreamStatus:
        status = await self.service.seal_stream(request.scope, request.stream)
        return pb.UpdateStreamStatus(status=_enum(pb.UpdateStreamStatus.Status, status))

    @_rpc
    async def deleteStream(self, request: pb.StreamInfo, context: Any) -> pb.DeleteStreamStatus:
        status = await self.service.delete_stream(request.scope, request.stream)
        return pb.DeleteStreamStatus(status=_enum(pb.DeleteStreamStatus.Status, status))

    @_rpc
    async def checkStreamExists(self, request: pb.StreamInfo, context: Any) -> pb.ExistsResponse:
        return pb.ExistsResponse(exists=self.service.stream_exists(request.scope, request.stream))

    def _streams_response(self, scope: str, status: Status, names: list[str], token: str) -> pb.StreamsInScopeResponse:
        return pb.StreamsInScopeResponse(
            streams=[_stream_info(scope, n) for n in names],
            continuationToken=pb.ContinuationToken(token=token),
            status=_enum(pb.StreamsInScopeResponse.Status, status),
        )

    @_rpc
    async def listStreamsInScope(self, request: pb.StreamsInScopeRequest, context: Any) -> pb.StreamsInScopeResponse:
        scope = request.scope.scope
        status, names, token = self.service.list_streams(scope, _token(request))
        return self._streams_response(scope, status, names, token)

    @_rpc
    async def listStreamsInScopeForTag(
        self,
        request: pb.StreamsInScopeWithTagRequest,
        context: Any,
    ) -> pb.StreamsInScopeResponse:
        scope = request.scope.scope
        status, names, token = self.service.list_streams(scope, _token(request), tag=request.tag)
        return self._streams_response(scope, status, names, token)

    @_rpc
    async def getStreamConfiguration(self, request: pb.StreamInfo, context: Any) -> pb.StreamConfig:
        cfg = self.service.get_stream_config(request.scope, request.stream)
        return _config_to_pb(request.scope, request.stream, cfg)

    # -- segments ---------------------------------------------------------------

    @_rpc
    async def getCurrentSegments(self, request: pb.StreamInfo, context: Any) -> pb.SegmentRanges:
        segs = self.service.current_segments(request.scope, request.stream)
        return _ranges(request.scope, request.stream, segs)

    @_rpc
    async def getEpochSegments(self, request: pb.GetEpochSegmentsRequest, context: Any) -> pb.SegmentRanges:
        info = request.streamInfo
        return _ranges(info.scope, info.stream, self.service.epoch_segments(info.scope, info.stream, request.epoch))

    @_rpc
    async def getSegments(self, request: pb.GetSegmentsRequest, context: Any) -> pb.SegmentsAtTime:
        info = request.streamInfo
        located = self.service.segments_at(info.scope, info.stream, request.timestamp)
        return pb.SegmentsAtTime(
            segments=[
                pb.SegmentsAtTime.SegmentLocation(segmentId=_segment_id(info.scope, info.stream, sid), offset=off)
                for sid, off in located
            ],
            delegationToken="",
        )

    async def _successors(self, request: pb.SegmentId) -> pb.SuccessorResponse:
        info = request.streamInfo
        found = await self.service.settled_successors(info.scope, info.stream, request.segmentId)
        return pb.SuccessorResponse(
            segments=[
                pb.SuccessorResponse.SegmentEntry(segment=_segment_range(info.scope, info.stream, seg), value=preds)
                for seg, preds in found
            ],
            delegationToken="",
        )

    @_rpc
    async def getSegmentsImmediatelyFollowing(self, request: pb.SegmentId, context: Any) -> pb.SuccessorResponse:
        return await self._successors(request)

    @_rpc
    async def getSegmentsImmediatlyFollowing(self, request: pb.SegmentId, context: Any) -> pb.SuccessorResponse:
        return await self._successors(request)

    @_rpc
    async def getSegmentsBetween(self, request: pb.StreamCutRange, context: Any) -> pb.StreamCutRangeResponse:
        info = request.streamInfo
        sids = self.service.segments_between(
            info.scope,
            info.stream,
            _cut(getattr(request, "from")),
            _cut(request.to),
        )
        return pb.StreamCutRangeResponse(
            segments=[_segment_id(info.scope, info.stream, sid) for sid in sids],
            delegationToken="",
        )

    @_rpc
    async def isSegmentValid(self, request: pb.SegmentId, context: Any) -> pb.SegmentValidityResponse:
        info = request.streamInfo
        return pb.SegmentValidityResponse(
            response=self.service.is_segment_valid(info.scope, info.stream, request.segmentId)
        )

    @_rpc
    async def isStreamCutValid(self, request: pb.StreamCut, context: Any) -> pb.StreamCutValidityResponse:
        info = request.streamInfo
        return pb.StreamCutValidityResponse(
            response=self.service.is_stream_cut_valid(info.scope, info.stream, _cut(request.cut))
        )

    # -- scaling ----------------------------------------------------------------

    @_rpc
    async def scale(self, request: pb.ScaleRequest, context: Any) -> pb.ScaleResponse:
        info = request.streamInfo
        status, created, epoch = await self.service.scale(
            info.scope,
            info.stream,
            list(request.sealedSegments),
            [(r.start, r.end) for r in request.newKeyRanges],
            request.scaleTimestamp,
        )
        return pb.ScaleResponse(
            status=_enum(pb.ScaleResponse.ScaleStreamStatus, status),
            segments=[_segment_range(info.scope, info.stream, s) for s in created],
            epoch=epoch,
        )

    @_rpc
    async def checkScale(self, request: pb.ScaleStatusRequest, context: Any) -> pb.ScaleStatusResponse:
        info = request.streamInfo
        status = self.service.check_scale(info.scope, info.stream, request.epoch)
        return pb.ScaleStatusResponse(status=_enum(pb.ScaleStatusResponse.ScaleStatus, status))

    # -- transactions -----------------------------------------------------------

    @_rpc
    async def createTransaction(self, request: pb.CreateTxnRequest, context: Any) -> pb.CreateTxnResponse:
        info = request.streamInfo
        txn, segs = await self.service.create_transaction(info.scope, info.stream, request.lease)
        return pb.CreateTxnResponse(
            txnId=pb.TxnId(highBits=txn.high, lowBits=txn.low),
            activeSegments=[_segment_range(info.scope, info.stream, s) for s in segs],
            delegationToken="",
        )

    @_rpc
    async def commitTransaction(self, request: pb.TxnRequest, context: Any) -> pb.TxnStatus:
        info, tid = request.streamInfo, request.txnId
        timestamp = None if request.timestamp == _INT64_MIN else request.timestamp
        status = await self.service.commit_transaction(
            info.scope,
            info.stream,
            tid.highBits,
            tid.lowBits,
            request.writerId,
            timestamp,
        )
        return pb.TxnStatus(status=_enum(pb.TxnStatus.Status, status))

    @_rpc
    async def abortTransaction(self, request: pb.TxnRequest, context: Any) -> pb.TxnStatus:
        info, tid = request.streamInfo, request.txnId
        status = await self.service.abort_transaction(info.scope, info.stream, tid.highBits, tid.lowBits)
        return pb.TxnStatus(status=_enum(pb.TxnStatus.Status, status))

    @_rpc
    async def pingTransaction(self, request: pb.PingTxnRequest, context: Any) -> pb.PingTxnStatus:
        info, tid = request.streamInfo, request.txnId
        status = await self.service.ping_transaction(info.scope, info.stream, tid.highBits, tid.lowBits, request.lease)
        return pb.PingTxnStatus(status=_enum(pb.PingTxnStatus.Status, status))

    @_rpc
    async def checkTransactionState(self, request: pb.TxnRequest, context: Any) -> pb.TxnState:
        info, tid = request.streamInfo, request.txnId
        state = self.service.transaction_state(info.scope, info.stream, tid.highBits, tid.lowBits)
        return pb.TxnState(state=_enum(pb.TxnState.State, state))

    @_rpc
    async def listCompletedTransactions(
        self,
        request: pb.ListCompletedTxnRequest,
        context: Any,
    ) -> pb.ListCompletedTxnResponse:
        info = request.streamInfo
        txns = self.service.list_completed_transactions(info.scope, info.stream)
        return pb.ListCompletedTxnResponse(
            response=[
                pb.TxnResponse(
                    txnId=pb.TxnId(highBits=t.high, lowBits=t.low),
                    status=pb.TxnResponse.COMMITTED if t.state == model.TXN_COMMITTED else pb.TxnResponse.ABORTED,
                )
                for t in txns
            ]
        )

    # -- key-value tables -------------------------------------------------------

    @_rpc
    async def createKeyValueTable(self, request: pb.KeyValueTableConfig, context: Any) -> pb.CreateKeyValueTableStatus:
        status = await self.service.kvts.create(
            request.scope,
            request.kvtName,
            request.partitionCount,
            request.primaryKeyLength,
            request.secondaryKeyLength,
            request.rolloverSizeBytes,
        )
        return pb.CreateKeyValueTableStatus(status=_enum(pb.CreateKeyValueTableStatus.Status, status))

    @_rpc
    async def getCurrentSegmentsKeyValueTable(self, request: pb.KeyValueTableInfo, context: Any) -> pb.SegmentRanges:
        return _ranges(request.scope, request.kvtName, self.service.kvts.segments(request.scope, request.kvtName))

    @_rpc
    async def listKeyValueTablesInScope(
        self,
        request: pb.KVTablesInScopeRequest,
        context: Any,
    ) -> pb.KVTablesInScopeResponse:
        scope = request.scope.scope
        status, names, token = self.service.kvts.list(scope, _token(request))
        return pb.KVTablesInScopeResponse(
            kvtables=[pb.KeyValueTableInfo(scope=scope, kvtName=n) for n in names],
            continuationToken=pb.ContinuationToken(token=token),
            status=_enum(pb.KVTablesInScopeResponse.Status, status),
        )

    @_rpc
    async def getKeyValueTableConfiguration(
        self,
        request: pb.KeyValueTableInfo,
        context: Any,
    ) -> pb.KeyValueTableConfigResponse:
        kvt = self.service.kvts.get(request.scope, request.kvtName)
        if kvt is None:
            return pb.KeyValueTableConfigResponse(status=pb.KeyValueTableConfigResponse.TABLE_NOT_FOUND)
        return pb.KeyValueTableConfigResponse(
            config=pb.KeyValueTableConfig(
                scope=kvt.scope,
                kvtName=kvt.name,
                partitionCount=kvt.partition_count,
                primaryKeyLength=kvt.primary_key_length,
                secondaryKeyLength=kvt.secondary_key_length,
                rolloverSizeBytes=kvt.rollover_size_bytes,
            ),
            status=pb.KeyValueTableConfigResponse.SUCCESS,
        )

    @_rpc
    async def deleteKeyValueTable(self, request: pb.KeyValueTableInfo, context: Any) -> pb.DeleteKVTableStatus:
        status = await self.service.kvts.delete(request.scope, request.kvtName)
        return pb.DeleteKVTableStatus(status=_enum(pb.DeleteKVTableStatus.Status, status))

    # -- reader groups, subscribers, writers -------------------------------------

    @_rpc
    async def createReaderGroup(
        self,
        request: pb.ReaderGroupConfiguration,
        context: Any,
    ) -> pb.CreateReaderGroupResponse:
        status, rg = await self.service.reader_groups.create(_rg_from_pb(request))
        reply = pb.CreateReaderGroupResponse(status=_enum(pb.CreateReaderGroupResponse.Status, status))
        if rg is not None:
            reply.config.CopyFrom(_rg_to_pb(rg))
        return reply

    @_rpc
    async def getReaderGroupConfig(self, request: pb.ReaderGroupInfo, context: Any) -> pb.ReaderGroupConfigResponse:
        rg = self.service.reader_groups.get(request.scope, request.readerGroup)
        if rg is None:
            return pb.ReaderGroupConfigResponse(status=pb.ReaderGroupConfigResponse.RG_NOT_FOUND)
        return pb.ReaderGroupConfigResponse(config=_rg_to_pb(rg), status=pb.ReaderGroupConfigResponse.SUCCESS)

    @_rpc
    async def updateReaderGroup(
        self,
        request: pb.ReaderGroupConfiguration,
        context: Any,
    ) -> pb.UpdateReaderGroupResponse:
        status, generation = await self.service.reader_groups.update(_rg_from_pb(request))
        return pb.UpdateReaderGroupResponse(
            status=_enum(pb.UpdateReaderGroupResponse.Status, status),
            generation=generation,
        )

    @_rpc
    async def deleteReaderGroup(self, request: pb.ReaderGroupInfo, context: Any) -> pb.DeleteReaderGroupStatus:
        status = await self.service.reader_groups.delete(request.scope, request.readerGroup, request.readerGroupId)
        return pb.DeleteReaderGroupStatus(status=_enum(pb.DeleteReaderGroupStatus.Status, status))

    @_rpc
    async def listSubscribers(self, request: pb.StreamInfo, context: Any) -> pb.SubscribersResponse:
        status, subscribers = self.service.reader_groups.list_subscribers(request.scope, request.stream)
        return pb.SubscribersResponse(
            subscribers=subscribers,
            status=_enum(pb.SubscribersResponse.Status, status),
        )

    @_rpc
    async def updateSubscriberStreamCut(
        self,
        request: pb.SubscriberStreamCut,
        context: Any,
    ) -> pb.UpdateSubscriberStatus:
        info = request.streamCut.streamInfo
        status = await self.service.reader_groups.update_subscriber_cut(
            info.scope,
            info.stream,
            request.subscriber,
            request.generation,
            request.readerGroupId,
            _cut(request.streamCut.cut),
        )
        return pb.UpdateSubscriberStatus(status=_enum(pb.UpdateSubscriberStatus.Status, status))

    @_rpc
    async def removeWriter(self, request: pb.RemoveWriterRequest, context: Any) -> pb.RemoveWriterResponse:
        status = await self.service.writers.remove(request.stream.scope, request.stream.stream, request.writer)
        return pb.RemoveWriterResponse(result=_enum(pb.RemoveWriterResponse.Status, status))

    @_rpc
    async def noteTimestampFromWriter(self, request: pb.TimestampFromWriter, context: Any) -> pb.TimestampResponse:
        info = request.position.streamInfo
        status = await self.service.writers.note_timestamp(
            info.scope,
            info.stream,
            request.writer,
            request.timestamp,
            _cut(request.position.cut),
        )
        return pb.TimestampResponse(result=_enum(pb.TimestampResponse.Status, status))


class ExtensionsServicer(pb_grpc.ControllerExtensionsServicer):
    """This project's additions to the controller API (see controller.proto)."""

    guard: GrpcGuard | None = None

    def __init__(self, service: ControllerService) -> None:
        self.service = service

    @_rpc
    async def getScalingEvents(self, request: pb.ScalingEventsRequest, context: Any) -> pb.ScalingEventsResponse:
        info = request.streamInfo
        events = self.service.scaling_events(
            info.scope, info.stream, request.fromTimestamp, request.toTimestamp or None
        )
        return pb.ScalingEventsResponse(
            events=[
                pb.ScalingEvent(
                    epoch=e.epoch,
                    timestamp=e.timestamp_ms,
                    sealedSegments=[_segment_range(info.scope, info.stream, s) for s in e.sealed],
                    newSegments=[_segment_range(info.scope, info.stream, s) for s in e.created],
                )
                for e in events
            ]
        )


def add_to_server(server: grpc.aio.Server, service: ControllerService, guard: GrpcGuard | None = None) -> None:
    """Register the controller API on ``server`` (a ``grpc.aio`` server); with a
    ``guard``, every call is authenticated and authorized."""
    servicer, extensions = ControllerServicer(service), ExtensionsServicer(service)
    servicer.guard = extensions.guard = guard
    pb_grpc.add_ControllerServiceServicer_to_server(servicer, server)
    pb_grpc.add_ControllerExtensionsServicer_to_server(extensions, server)
