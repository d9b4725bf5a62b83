"""Append commands (spec §2.5): append sessions, blocks of events, conditional appends and their acknowledgements.

In type-code order; see `pravega.protocol.commands` for the conventions."""

from typing import Annotated

from .wire import (
    I32,
    I64,
    REPLY,
    REQUEST,
    BytesLike,
    Command,
    Data,
    Kind,
    Rest,
    Utf,
    Uuid,
    Wire,
    _command,
)


@_command(-2, REQUEST, embedded=True)
class PartialEvent(Command):
    """Fragment of an event that straddles the end of an AppendBlock (only inside its data)."""

    data: Rest

    @property
    def request_id(self) -> int:
        return -1


@_command(-1, REQUEST, embedded=True)
class Padding(Command):
    """``length`` zero bytes filling an AppendBlock that was closed early (only inside its data)."""

    length: Annotated[int, Wire(Kind.PADDING)]

    @property
    def request_id(self) -> int:
        return -1


@_command(0, REQUEST, embedded=True)
class Event(Command):
    """One event as framed inside append data: encodes to ``0:i32, len:i32, data``."""

    data: Rest

    @property
    def request_id(self) -> int:
        return -1


@_command(1, REQUEST)
class SetupAppend(Command):
    request_id: I64
    writer_id: Uuid
    segment: Utf
    delegation_token: Utf


@_command(2, REPLY)
class AppendSetup(Command):
    """``last_event_number`` is `NULL_ATTRIBUTE_VALUE` when the writer never wrote to the segment."""

    request_id: I64
    segment: Utf
    writer_id: Uuid
    last_event_number: I64


@_command(3, REQUEST)
class AppendBlock(Command):
    """Java-client block: the writer id followed by raw event bytes (possibly ending in an
    embedded Padding or PartialEvent); always followed by an AppendBlockEnd."""

    writer_id: Uuid
    data: Rest

    @property
    def request_id(self) -> int:
        return -1


@_command(4, REQUEST)
class AppendBlockEnd(Command):
    writer_id: Uuid
    size_of_whole_events: I32
    data: Data
    num_events: I32
    last_event_number: I64
    request_id: I64 = -1


@_command(5, REQUEST)
class ConditionalAppend(Command):
    """``data`` is the payload of the embedded Event; its 8-byte header is added on the wire."""

    writer_id: Uuid
    event_number: I64
    expected_offset: I64
    data: Annotated[BytesLike, Wire(Kind.EVENT)]
    request_id: I64 = -1


@_command(7, REPLY)
class DataAppended(Command):
    writer_id: Uuid
    event_number: I64
    previous_event_number: I64 = -1
    request_id: I64 = -1
    current_segment_write_offset: I64 = -1


@_command(8, REPLY)
class ConditionalCheckFailed(Command):
    writer_id: Uuid
    event_number: I64
    request_id: I64 = -1


@_command(89, REQUEST)
class ConditionalBlockEnd(Command):
    writer_id: Uuid
    event_number: I64
    expected_offset: I64
    data: Data
    request_id: I64


__all__ = [
    "PartialEvent",
    "Padding",
    "Event",
    "SetupAppend",
    "AppendSetup",
    "AppendBlock",
    "AppendBlockEnd",
    "ConditionalAppend",
    "DataAppended",
    "ConditionalCheckFailed",
    "ConditionalBlockEnd",
]
