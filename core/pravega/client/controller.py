"""Async client of the controller's gRPC API.

Transient failures (UNAVAILABLE, DEADLINE_EXCEEDED, a FAILURE status) are retried with
exponential backoff; definite answers become return values (``False`` for "already
exists" / "not found" where Pravega's clients do the same) or typed exceptions.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast, overload
from urllib.parse import urlparse

import grpc

from .. import errors
from ..model import (
    RetentionPolicy,
    RetentionType,
    ScaleType,
    ScalingEvent,
    ScalingPolicy,
    SegmentRange,
    StreamConfiguration,
    StreamCut,
)
from ..protocol import controller_pb2 as pb
from ..protocol.controller_pb2_grpc import ControllerExtensionsStub, ControllerServiceStub
from .connection import Endpoint

log = logging.getLogger(__name__)
T = TypeVar("T")

_RETRIABLE = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.ABORTED,
}


class _Retry(Exception):
    """Raised inside an attempt to ask for another try."""


def parse_controller_uri(uri: str) -> tuple[str, bool]:
    """``tcp://host:port`` / ``tls://host:port`` / ``host:port`` -> (target, tls)."""
    if "://" not in uri:
        uri = "tcp://" + uri
    parsed = urlparse(uri)
    if not parsed.hostname or not parsed.port:
        raise errors.InterfaceError(f"controller URI must be like tcp://host:port, got {uri!r}")
    tls = parsed.scheme in ("tls", "ssl", "tcps", "pravegas")
    host = f"[{parsed.hostname}]" if ":" in parsed.hostname else parsed.hostname
    return f"{host}:{parsed.port}", tls


class ControllerClient:
    def __init__(
        self,
        uri: str,
        *,
        attempts: int = 10,
        initial_backoff: float = 0.01,
        max_backoff: float = 2.0,
        timeout: float = 30.0,
        tls: bool | None = None,
        channel_credentials: grpc.ChannelCredentials | None = None,
        metadata: tuple[tuple[str, str], ...] = (),
    ) -> None:
        """``tls`` overrides the URI scheme; ``channel_credentials`` (default: the system's
        trust store) and ``metadata`` (sent with every call: credentials) come from
        :mod:`pravega.client.security`."""
        target, uri_tls = parse_controller_uri(uri)
        self.uri = uri
        self.metadata = metadata or None
        options = [("grpc.max_receive_message_length", 64 * 1024 * 1024)]
        if uri_tls if tls is None else tls:
            credentials = channel_credentials or grpc.ssl_channel_credentials()
            self._channel = grpc.aio.secure_channel(target, credentials, options=options)
        else:
            self._channel = grpc.aio.insecure_channel(target, options=options)
        self._stub = ControllerServiceStub(self._channel)
        self._extensions = ControllerExtensionsStub(self._channel)
        self.attempts = attempts
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.timeout = timeout

    async def close(self) -> None:
        await self._channel.close()

    @overload
    async def _call(self, name: str, request: Any, *, stub: Any = None) -> Any: ...
    @overload
    async def _call(self, name: str, request: Any, check: Callable[[Any], T], *, stub: Any = None) -> T: ...

    async def _call(
        self, name: str, request: Any, check: Callable[[Any], Any] = lambda r: r, *, stub: Any = None
    ) -> Any:
        """Call RPC ``name`` (on ``stub``, by default the ControllerService one); ``check``
        turns the reply into a result or raises _Retry (without one, the reply as it came)."""
        delay = self.initial_backoff
        last: BaseException | None = None
        for attempt in range(self.attempts):
            try:
                reply = await getattr(stub or self._stub, name)(request, timeout=self.timeout, metadata=self.metadata)
                return check(reply)
            except _Retry as exc:
                last = exc
            except grpc.aio.AioRpcError as exc:
                code = exc.code()
                if code == grpc.StatusCode.INVALID_ARGUMENT:
                    raise errors.InvalidArgumentError(f"{name}: {exc.details()}") from None
                if code == grpc.StatusCode.NOT_FOUND:
                    raise errors.NoSuchStreamError(f"{name}: {exc.details()}") from None
                if code == grpc.StatusCode.UNAUTHENTICATED:
                    raise errors.AuthenticationError(f"{exc.details()}") from None
                if code == grpc.StatusCode.PERMISSION_DENIED:
                    raise errors.AuthorizationError(f"{exc.details()}") from None
                if code not in _RETRIABLE:
                    raise errors.ServerError(f"{name} failed: {code.name}: {exc.details()}") from None
                last = exc
            if attempt + 1 < self.attempts:
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 4, self.max_backoff)
        raise errors.RetriesExhaustedError(f"{name} to {self.uri} kept failing: {last}") from last

    async def get_delegation_token(self, scope: str, stream: str) -> str:
        """A token for the segment store's checks on ``scope/stream`` ("" without auth)."""
        reply = await self._call("getDelegationToken", pb.StreamInfo(scope=scope, stream=stream))
        return str(reply.delegationToken)

    # -- scopes ---------------------------------------------------------------

    async def create_scope(self, scope: str) -> bool:
        check = _by_status(
            "createScope",
            pb.CreateScopeStatus.Status,
            false=("SCOPE_EXISTS",),
            fail={"INVALID_SCOPE_NAME": lambda: errors.InvalidArgumentError(f"invalid scope name {scope!r}")},
        )
        return await self._call("createScope", pb.ScopeInfo(scope=scope), check)

    async def delete_scope(self, scope: str) -> bool:
        check = _by_status(
            "deleteScope",
            pb.DeleteScopeStatus.Status,
            false=("SCOPE_NOT_FOUND",),
            fail={"SCOPE_NOT_EMPTY": lambda: errors.ScopeNotEmptyError(f"scope {scope!r} is not empty")},
        )
        return await self._call("deleteScope", pb.ScopeInfo(scope=scope), check)

    async def scope_exists(self, scope: str) -> bool:
        return await self._call("checkScopeExists", pb.ScopeInfo(scope=scope), lambda r: r.exists)

    async def list_scopes(self) -> list[str]:
        out: list[str] = []
        token = ""
        while True:
            reply = await self._call(
                "listScopes", pb.ScopesRequest(continuationToken=pb.ContinuationToken(token=token))
            )
            if not reply.scopes:
                return out
            out.extend(reply.scopes)
            token = reply.continuationToken.token

    # -- streams --------------------------------------------------------------

    async def create_stream(self, scope: str, stream: str, config: StreamConfiguration) -> bool:
        check = _by_status(
            "createStream",
            pb.CreateStreamStatus.Status,
            false=("STREAM_EXISTS",),
            fail={
                "SCOPE_NOT_FOUND": lambda: errors.NoSuchScopeError(f"no scope {scope!r}"),
                "INVALID_STREAM_NAME": lambda: errors.InvalidArgumentError(f"invalid stream name {stream!r}"),
            },
        )
        return await self._call("createStream", _config_pb(scope, stream, config), check)

    def _update_check(self, what: str, scope: str, stream: str) -> Callable[[Any], bool]:
        return _by_status(
            what,
            pb.UpdateStreamStatus.Status,
            fail={
                "STREAM_NOT_FOUND": lambda: errors.NoSuchStreamError(f"no stream {scope}/{stream}"),
                "SCOPE_NOT_FOUND": lambda: errors.NoSuchScopeError(f"no scope {scope!r}"),
                "STREAM_SEALED": lambda: errors.StreamSealedError(f"stream {scope}/{stream} is sealed"),
            },
        )

    async def update_stream(self, scope: str, stream: str, config: StreamConfiguration) -> bool:
        return await self._call(
            "updateStream", _config_pb(scope, stream, config), self._update_check("updateStream", scope, stream)
        )

    async def seal_stream(self, scope: str, stream: str) -> bool:
        return await self._call("sealStream", _info(scope, stream), self._update_check("sealStream", scope, stream))

    async def truncate_stream(self, cut: StreamCut) -> bool:
        request = pb.StreamCut(streamInfo=_info(cut.scope, cut.stream), cut=dict(cut.positions))
        return await self._call("truncateStream", request, self._update_check("truncateStream", cut.scope, cut.stream))

    async def delete_stream(self, scope: str, stream: str) -> bool:
        check = _by_status(
            "deleteStream",
            pb.DeleteStreamStatus.Status,
            false=("STREAM_NOT_FOUND",),
            fail={
                "STREAM_NOT_SEALED": lambda: errors.StreamNotSealedError(
                    f"stream {scope}/{stream} must be sealed before it is deleted"
                )
            },
        )
        return await self._call("deleteStream", _info(scope, stream), check)

    async def stream_exists(self, scope: str, stream: str) -> bool:
        return await self._call("checkStreamExists", _info(scope, stream), lambda r: r.exists)

    async def list_streams(self, scope: str, tag: str | None = None) -> list[str]:
        out: list[str] = []
        token = ""
        while True:
            if tag is None:
                req = pb.StreamsInScopeRequest(
                    scope=pb.ScopeInfo(scope=scope), continuationToken=pb.ContinuationToken(token=token)
                )
                reply = await self._call("listStreamsInScope", req)
            else:
                req = pb.StreamsInScopeWithTagRequest(
                    scope=pb.ScopeInfo(scope=scope), tag=tag, continuationToken=pb.ContinuationToken(token=token)
                )
                reply = await self._call("listStreamsInScopeForTag", req)
            if reply.status == pb.StreamsInScopeResponse.SCOPE_NOT_FOUND:
                raise errors.NoSuchScopeError(f"no scope {scope!r}")
            if not reply.streams:
                return out
            out.extend(s.stream for s in reply.streams)
            token = reply.continuationToken.token

    async def get_stream_configuration(self, scope: str, stream: str) -> StreamConfiguration:
        reply = await self._call("getStreamConfiguration", _info(scope, stream))
        if not reply.HasField("streamInfo") or not reply.streamInfo.stream:
            raise errors.NoSuchStreamError(f"no stream {scope}/{stream}")
        return _config_from_pb(reply)

    # -- segments -------------------------------------------------------------

    async def get_current_segments(self, scope: str, stream: str) -> list[SegmentRange]:
        """The active segments; an empty list means the stream is sealed."""
        reply = await self._call("getCurrentSegments", _info(scope, stream))
        return [_range(r) for r in reply.segmentRanges]

    async def get_epoch_segments(self, scope: str, stream: str, epoch: int) -> list[SegmentRange]:
        reply = await self._call(
            "getEpochSegments", pb.GetEpochSegmentsRequest(streamInfo=_info(scope, stream), epoch=epoch)
        )
        return [_range(r) for r in reply.segmentRanges]

    async def get_segments_at(self, scope: str, stream: str, timestamp_ms: int = 0) -> dict[int, int]:
        """Segment id -> offset of the stream at a time (0 = the head)."""
        reply = await self._call(
            "getSegments", pb.GetSegmentsRequest(streamInfo=_info(scope, stream), timestamp=timestamp_ms)
        )
        return {loc.segmentId.segmentId: loc.offset for loc in reply.segments}

    async def get_successors(self, scope: str, stream: str, segment_id: int) -> dict[SegmentRange, list[int]]:
        """Successors of a sealed segment, each with its predecessors; empty if none."""
        reply = await self._call("getSegmentsImmediatelyFollowing", _segment(scope, stream, segment_id))
        return {_range(e.segment): list(e.value) for e in reply.segments}

    async def get_segments_between(
        self, scope: str, stream: str, start: dict[int, int], end: dict[int, int]
    ) -> list[int]:
        request = pb.StreamCutRange(streamInfo=_info(scope, stream))
        getattr(request, "from").update(start)  # "from" is a Python keyword
        request.to.update(end)
        reply = await self._call("getSegmentsBetween", request)
        return [s.segmentId for s in reply.segments]

    async def get_endpoint(self, scope: str, stream: str, segment_id: int) -> Endpoint:
        reply = await self._call("getURI", _segment(scope, stream, segment_id))
        return reply.endpoint, reply.port

    async def scale(
        self,
        scope: str,
        stream: str,
        sealed: list[int],
        new_ranges: list[tuple[float, float]],
        poll_interval: float = 0.05,
    ) -> list[SegmentRange]:
        request = pb.ScaleRequest(
            streamInfo=_info(scope, stream),
            sealedSegments=sealed,
            newKeyRanges=[pb.ScaleRequest.KeyRangeEntry(start=a, end=b) for a, b in new_ranges],
        )
        reply = await self._call("scale", request)
        if reply.status != pb.ScaleResponse.STARTED:
            raise errors.InvalidArgumentError(
                f"scale of {scope}/{stream} refused: {pb.ScaleResponse.ScaleStreamStatus.Name(reply.status)}"
            )
        while True:
            status = await self._call(
                "checkScale", pb.ScaleStatusRequest(streamInfo=_info(scope, stream), epoch=reply.epoch)
            )
            if status.status == pb.ScaleStatusResponse.SUCCESS:
                return [_range(r) for r in reply.segments]
            if status.status != pb.ScaleStatusResponse.IN_PROGRESS:
                raise errors.ServerError(f"scale of {scope}/{stream} failed: {status.status}")
            await asyncio.sleep(poll_interval)

    async def get_scaling_events(
        self, scope: str, stream: str, from_ms: int = 0, to_ms: int | None = None
    ) -> list[ScalingEvent]:
        """The stream's scaling history (an extension RPC of this project's server)."""
        request = pb.ScalingEventsRequest(
            streamInfo=_info(scope, stream), fromTimestamp=from_ms, toTimestamp=to_ms or 0
        )
        reply = await self._call("getScalingEvents", request, stub=self._extensions)
        return [
            ScalingEvent(
                e.epoch,
                e.timestamp,
                tuple(_range(r) for r in e.sealedSegments),
                tuple(_range(r) for r in e.newSegments),
            )
            for e in reply.events
        ]

    # -- transactions -----------------------------------------------------------

    async def create_transaction(self, scope: str, stream: str, lease_ms: int) -> tuple[int, list[SegmentRange]]:
        reply = await self._call(
            "createTransaction", pb.CreateTxnRequest(streamInfo=_info(scope, stream), lease=lease_ms)
        )
        return _txn_int(reply.txnId), [_range(r) for r in reply.activeSegments]

    async def commit_transaction(
        self, scope: str, stream: str, txn_id: int, writer_id: str = "", timestamp: int = -(2**63)
    ) -> None:
        req = pb.TxnRequest(
            streamInfo=_info(scope, stream), txnId=_txn_pb(txn_id), writerId=writer_id, timestamp=timestamp
        )
        await self._call(
            "commitTransaction",
            req,
            self._txn_check("commitTransaction", scope, stream, txn_id, "cannot be committed (aborted or timed out)"),
        )

    async def abort_transaction(self, scope: str, stream: str, txn_id: int) -> None:
        req = pb.TxnRequest(streamInfo=_info(scope, stream), txnId=_txn_pb(txn_id))
        await self._call(
            "abortTransaction",
            req,
            self._txn_check("abortTransaction", scope, stream, txn_id, "cannot be aborted (already committed)"),
        )

    @staticmethod
    def _txn_check(rpc: str, scope: str, stream: str, txn_id: int, refused: str) -> Callable[[Any], bool]:
        return _by_status(
            rpc,
            pb.TxnStatus.Status,
            fail={
                "TRANSACTION_NOT_FOUND": lambda: errors.TransactionFailedError(f"transaction {txn_id:032x} not found"),
                "STREAM_NOT_FOUND": lambda: errors.NoSuchStreamError(f"no stream {scope}/{stream}"),
                "FAILURE": lambda: errors.TransactionFailedError(f"transaction {txn_id:032x} {refused}"),
            },
        )

    async def ping_transaction(self, scope: str, stream: str, txn_id: int, lease_ms: int) -> str:
        reply = await self._call(
            "pingTransaction", pb.PingTxnRequest(streamInfo=_info(scope, stream), txnId=_txn_pb(txn_id), lease=lease_ms)
        )
        return pb.PingTxnStatus.Status.Name(reply.status)

    async def transaction_state(self, scope: str, stream: str, txn_id: int) -> str:
        reply = await self._call(
            "checkTransactionState", pb.TxnRequest(streamInfo=_info(scope, stream), txnId=_txn_pb(txn_id))
        )
        return pb.TxnState.State.Name(reply.state)

    # -- watermarks ---------------------------------------------------------------

    async def note_timestamp(self, writer_id: str, cut: StreamCut, timestamp_ms: int) -> None:
        request = pb.TimestampFromWriter(
            writer=writer_id,
            timestamp=timestamp_ms,
            position=pb.StreamCut(streamInfo=_info(cut.scope, cut.stream), cut=dict(cut.positions)),
        )
        await self._call("noteTimestampFromWriter", request)

    # -- key-value tables ---------------------------------------------------------

    async def create_key_value_table(self, scope: str, name: str, partitions: int, key_length: int = 0) -> bool:
        check = _by_status(
            "createKeyValueTable",
            pb.CreateKeyValueTableStatus.Status,
            false=("TABLE_EXISTS",),
            fail={
                "SCOPE_NOT_FOUND": lambda: errors.NoSuchScopeError(f"no scope {scope!r}"),
                "INVALID_TABLE_NAME": lambda: errors.InvalidArgumentError(f"invalid table name {name!r}"),
            },
        )
        req = pb.KeyValueTableConfig(scope=scope, kvtName=name, partitionCount=partitions, primaryKeyLength=key_length)
        return await self._call("createKeyValueTable", req, check)

    async def key_value_table_segments(self, scope: str, name: str) -> list[SegmentRange]:
        reply = await self._call("getCurrentSegmentsKeyValueTable", pb.KeyValueTableInfo(scope=scope, kvtName=name))
        return [_range(r) for r in reply.segmentRanges]

    async def delete_key_value_table(self, scope: str, name: str) -> bool:
        reply = await self._call("deleteKeyValueTable", pb.KeyValueTableInfo(scope=scope, kvtName=name))
        return reply.status == pb.DeleteKVTableStatus.SUCCESS


def _by_status(
    rpc: str, enum: Any, *, false: tuple[str, ...] = (), fail: Mapping[str, Callable[[], Exception]] | None = None
) -> Callable[[Any], bool]:
    """A reply check for RPCs answering with a status enum: SUCCESS is True, the
    ``false`` statuses are False, the ``fail`` statuses raise, anything else retries."""

    def check(reply: Any) -> bool:
        name = enum.Name(reply.status)
        if name == "SUCCESS":
            return True
        if name in false:
            return False
        make = (fail or {}).get(name)
        if make is not None:
            raise make()
        raise _Retry(f"{rpc}: {name}")

    return check


def _info(scope: str, stream: str) -> Any:
    return pb.StreamInfo(scope=scope, stream=stream)


def _segment(scope: str, stream: str, segment_id: int) -> Any:
    return pb.SegmentId(streamInfo=_info(scope, stream), segmentId=segment_id)


def _range(r: Any) -> SegmentRange:
    return SegmentRange(r.segmentId.segmentId, r.minKey, r.maxKey)


def _txn_pb(txn_id: int) -> Any:
    high = (txn_id >> 64) & ((1 << 64) - 1)
    low = txn_id & ((1 << 64) - 1)
    return pb.TxnId(highBits=high - (1 << 64) if high >> 63 else high, lowBits=low - (1 << 64) if low >> 63 else low)


def _txn_int(t: Any) -> int:
    return ((t.highBits & ((1 << 64) - 1)) << 64) | (t.lowBits & ((1 << 64) - 1))


def _config_pb(scope: str, stream: str, config: StreamConfiguration) -> Any:
    s, r = config.scaling, config.retention
    msg = pb.StreamConfig(
        streamInfo=_info(scope, stream),
        scalingPolicy=pb.ScalingPolicy(
            scaleType=cast(pb.ScalingPolicy.ScalingPolicyType, int(s.scale_type)),
            targetRate=s.target_rate,
            scaleFactor=s.scale_factor,
            minNumSegments=s.min_num_segments,
        ),
        retentionPolicy=pb.RetentionPolicy(
            retentionType=cast(pb.RetentionPolicy.RetentionPolicyType, int(r.retention_type)),
            retentionParam=r.retention_param,
            retentionMax=r.retention_max,
        ),
        timestampAggregationTimeout=config.timestamp_aggregation_timeout_ms,
        rolloverSizeBytes=config.rollover_size_bytes,
    )
    if config.tags:
        msg.tags.tag.extend(config.tags)
    return msg


def _config_from_pb(msg: Any) -> StreamConfiguration:
    s, r = msg.scalingPolicy, msg.retentionPolicy
    scaling = ScalingPolicy(ScaleType(s.scaleType), s.targetRate, s.scaleFactor, max(1, s.minNumSegments))
    retention = (
        RetentionPolicy()
        if r.retentionType == 0
        else RetentionPolicy(RetentionType(r.retentionType), r.retentionParam, r.retentionMax or 2**63 - 1)
    )
    return StreamConfiguration(
        scaling, retention, tuple(msg.tags.tag), msg.timestampAggregationTimeout, msg.rolloverSizeBytes
    )
