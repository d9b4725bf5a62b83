"""Table-segment commands: create/delete/merge/seal, updates and removals, reads of keys and entries.

In type-code order; see `pravega.protocol.commands` for the conventions."""

from typing import Annotated

from .values import TableEntryList, TableKeyList
from .wire import (
    I32,
    I64,
    REPLY,
    REQUEST,
    Bool,
    Buf,
    Command,
    Kind,
    Utf,
    Wire,
    _command,
)


@_command(68, REQUEST)
class GetTableSegmentInfo(Command):
    request_id: I64
    segment_name: Utf
    delegation_token: Utf


@_command(69, REPLY)
class TableSegmentInfo(Command):
    request_id: I64
    segment_name: Utf
    start_offset: I64
    length: I64
    entry_count: I64
    key_length: I32


@_command(70, REQUEST)
class CreateTableSegment(Command):
    request_id: I64
    segment: Utf
    delegation_token: Utf
    sorted_deprecated: Bool = False
    key_length: I32 = 0
    rollover_size_bytes: I64 = 0


@_command(71, REQUEST)
class DeleteTableSegment(Command):
    request_id: I64
    segment: Utf
    must_be_empty: Bool
    delegation_token: Utf


@_command(72, REQUEST)
class MergeTableSegments(Command):
    """Obsolete (removed from Java); only the Rust CLI sends it."""

    request_id: I64
    target: Utf
    source: Utf
    delegation_token: Utf


@_command(73, REQUEST)
class SealTableSegment(Command):
    """Obsolete (removed from Java); only the Rust CLI sends it."""

    request_id: I64
    segment: Utf
    delegation_token: Utf


@_command(74, REQUEST)
class UpdateTableEntries(Command):
    """``table_segment_offset`` -1 means unconditional."""

    request_id: I64
    segment: Utf
    delegation_token: Utf
    table_entries: TableEntryList
    table_segment_offset: I64 = -1


@_command(75, REPLY)
class TableEntriesUpdated(Command):
    request_id: I64
    updated_versions: Annotated[tuple[int, ...], Wire(Kind.LIST, Wire(Kind.I64))]


@_command(76, REQUEST)
class RemoveTableKeys(Command):
    request_id: I64
    segment: Utf
    delegation_token: Utf
    keys: TableKeyList
    table_segment_offset: I64 = -1


@_command(77, REPLY)
class TableKeysRemoved(Command):
    request_id: I64
    segment: Utf


@_command(78, REQUEST)
class ReadTable(Command):
    request_id: I64
    segment: Utf
    delegation_token: Utf
    keys: TableKeyList


@_command(79, REPLY)
class TableRead(Command):
    request_id: I64
    segment: Utf
    entries: TableEntryList


@_command(80, REPLY)
class TableSegmentNotEmpty(Command):
    request_id: I64
    segment: Utf
    server_stack_trace: Utf


@_command(81, REPLY)
class TableKeyDoesNotExist(Command):
    request_id: I64
    segment: Utf
    server_stack_trace: Utf


@_command(82, REPLY)
class TableKeyBadVersion(Command):
    request_id: I64
    segment: Utf
    server_stack_trace: Utf


@_command(83, REQUEST)
class ReadTableKeys(Command):
    """The last four fields are Java's TableIteratorArgs; the Rust client sends only the token."""

    request_id: I64
    segment: Utf
    delegation_token: Utf
    suggested_key_count: I32
    continuation_token: Buf = b""
    prefix_filter: Buf = b""
    from_key: Buf = b""
    to_key: Buf = b""


@_command(84, REPLY)
class TableKeysRead(Command):
    request_id: I64
    segment: Utf
    keys: TableKeyList
    continuation_token: Buf


@_command(85, REQUEST)
class ReadTableEntries(Command):
    """The last four fields are Java's TableIteratorArgs; the Rust client sends only the token."""

    request_id: I64
    segment: Utf
    delegation_token: Utf
    suggested_entry_count: I32
    continuation_token: Buf = b""
    prefix_filter: Buf = b""
    from_key: Buf = b""
    to_key: Buf = b""


@_command(86, REPLY)
class TableEntriesRead(Command):
    request_id: I64
    segment: Utf
    entries: TableEntryList
    continuation_token: Buf


@_command(87, REPLY)
class TableEntriesDeltaRead(Command):
    request_id: I64
    segment: Utf
    entries: TableEntryList
    should_clear: Bool
    reached_end: Bool
    last_position: I64


@_command(88, REQUEST)
class ReadTableEntriesDelta(Command):
    request_id: I64
    segment: Utf
    delegation_token: Utf
    from_position: I64
    suggested_entry_count: I32


__all__ = [
    "GetTableSegmentInfo",
    "TableSegmentInfo",
    "CreateTableSegment",
    "DeleteTableSegment",
    "MergeTableSegments",
    "SealTableSegment",
    "UpdateTableEntries",
    "TableEntriesUpdated",
    "RemoveTableKeys",
    "TableKeysRemoved",
    "ReadTable",
    "TableRead",
    "TableSegmentNotEmpty",
    "TableKeyDoesNotExist",
    "TableKeyBadVersion",
    "ReadTableKeys",
    "TableKeysRead",
    "ReadTableEntries",
    "TableEntriesRead",
    "TableEntriesDeltaRead",
    "ReadTableEntriesDelta",
]
