"""Segment commands: reads, info, create/seal/delete/truncate, attributes, policies and merges.

In type-code order; see `pravega.protocol.commands` for the conventions."""

from typing import Annotated, ClassVar

from ..errors import LocalProtocolError
from .values import ConditionalAttributeUpdate
from .wire import (
    I8,
    I32,
    I64,
    REPLY,
    REQUEST,
    Bool,
    Command,
    Data,
    Kind,
    Struct,
    Utf,
    Uuid,
    Wire,
    _command,
)


@_command(9, REQUEST)
class ReadSegment(Command):
    segment: Utf
    offset: I64
    suggested_length: I32
    delegation_token: Utf
    request_id: I64 = -1


@_command(10, REPLY)
class SegmentRead(Command):
    segment: Utf
    offset: I64
    at_tail: Bool
    end_of_segment: Bool
    data: Data
    request_id: I64 = -1


@_command(11, REQUEST)
class GetStreamSegmentInfo(Command):
    request_id: I64
    segment_name: Utf
    delegation_token: Utf


@_command(12, REPLY)
class StreamSegmentInfo(Command):
    request_id: I64
    segment_name: Utf
    exists: Bool
    is_sealed: Bool
    is_deleted: Bool
    last_modified: I64
    write_offset: I64
    start_offset: I64 = 0


@_command(20, REQUEST)
class CreateSegment(Command):
    """scale_type: 0 NoScaling, 1 Throughput (KB/s), 2 EventRate.  Note target_rate comes first."""

    NO_SCALE: ClassVar[int] = 0
    IN_KBYTES_PER_SEC: ClassVar[int] = 1
    IN_EVENTS_PER_SEC: ClassVar[int] = 2

    request_id: I64
    segment: Utf
    target_rate: I32
    scale_type: I8
    delegation_token: Utf
    rollover_size_bytes: I64 = 0


@_command(21, REPLY)
class SegmentCreated(Command):
    request_id: I64
    segment: Utf


@_command(28, REQUEST)
class SealSegment(Command):
    request_id: I64
    segment: Utf
    delegation_token: Utf


@_command(29, REPLY)
class SegmentSealed(Command):
    request_id: I64
    segment: Utf


@_command(30, REQUEST)
class DeleteSegment(Command):
    request_id: I64
    segment: Utf
    delegation_token: Utf


@_command(31, REPLY)
class SegmentDeleted(Command):
    request_id: I64
    segment: Utf


@_command(32, REQUEST)
class UpdateSegmentPolicy(Command):
    request_id: I64
    segment: Utf
    target_rate: I32
    scale_type: I8
    delegation_token: Utf


@_command(33, REPLY)
class SegmentPolicyUpdated(Command):
    request_id: I64
    segment: Utf


@_command(34, REQUEST)
class GetSegmentAttribute(Command):
    request_id: I64
    segment_name: Utf
    attribute_id: Uuid
    delegation_token: Utf


@_command(35, REPLY)
class SegmentAttribute(Command):
    """``value`` is `NULL_ATTRIBUTE_VALUE` when the attribute is not set."""

    request_id: I64
    value: I64


@_command(36, REQUEST)
class UpdateSegmentAttribute(Command):
    request_id: I64
    segment_name: Utf
    attribute_id: Uuid
    new_value: I64
    expected_value: I64
    delegation_token: Utf


@_command(37, REPLY)
class SegmentAttributeUpdated(Command):
    request_id: I64
    success: Bool


@_command(38, REQUEST)
class TruncateSegment(Command):
    request_id: I64
    segment: Utf
    truncation_offset: I64
    delegation_token: Utf


@_command(39, REPLY)
class SegmentTruncated(Command):
    request_id: I64
    segment: Utf


@_command(40, REQUEST)
class CreateTransientSegment(Command):
    request_id: I64
    writer_id: Uuid
    parent_segment: Utf
    delegation_token: Utf


@_command(41, REQUEST)
class LocateOffset(Command):
    request_id: I64
    segment: Utf
    target_offset: I64
    delegation_token: Utf


@_command(42, REPLY)
class OffsetLocated(Command):
    request_id: I64
    segment: Utf
    offset: I64


@_command(58, REQUEST)
class MergeSegments(Command):
    request_id: I64
    target: Utf
    source: Utf
    delegation_token: Utf
    attribute_updates: Annotated[
        tuple[ConditionalAttributeUpdate, ...], Wire(Kind.LIST, ConditionalAttributeUpdate)
    ] = ()


@_command(59, REPLY)
class SegmentsMerged(Command):
    request_id: I64
    target: Utf
    source: Utf
    new_target_write_offset: I64 = -1


@_command(90, REQUEST)
class MergeSegmentsBatch(Command):
    request_id: I64
    target_segment_id: Utf
    source_segment_ids: Annotated[tuple[str, ...], Wire(Kind.LIST, Wire(Kind.UTF))]
    delegation_token: Utf


@_command(91, REPLY)
class SegmentsBatchMerged(Command):
    """Java layout: ``count:i32`` then ``count`` x (source:UTF, newTargetWriteOffset:i64)."""

    request_id: I64
    target: Utf
    sources: Annotated[tuple[str, ...], Wire(Kind.LIST, (Wire(Kind.UTF), Wire(Kind.I64)))]
    new_target_write_offset: Annotated[tuple[int, ...], Wire(Kind.COLUMN, Wire(Kind.I64))]

    def __post_init__(self) -> None:
        Struct.__post_init__(self)
        if len(self.sources) != len(self.new_target_write_offset):
            raise LocalProtocolError("sources and new_target_write_offset must have the same length")


__all__ = [
    "ReadSegment",
    "SegmentRead",
    "GetStreamSegmentInfo",
    "StreamSegmentInfo",
    "CreateSegment",
    "SegmentCreated",
    "SealSegment",
    "SegmentSealed",
    "DeleteSegment",
    "SegmentDeleted",
    "UpdateSegmentPolicy",
    "SegmentPolicyUpdated",
    "GetSegmentAttribute",
    "SegmentAttribute",
    "UpdateSegmentAttribute",
    "SegmentAttributeUpdated",
    "TruncateSegment",
    "SegmentTruncated",
    "CreateTransientSegment",
    "LocateOffset",
    "OffsetLocated",
    "MergeSegments",
    "SegmentsMerged",
    "MergeSegmentsBatch",
    "SegmentsBatchMerged",
]
