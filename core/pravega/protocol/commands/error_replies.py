"""Error replies shared by many requests: wrong host, sealed, missing, truncated, unsupported, auth, generic.

In type-code order; see `pravega.protocol.commands` for the conventions."""

from typing import ClassVar

from .wire import (
    I32,
    I64,
    REPLY,
    Command,
    LegacyLayout,
    Utf,
    Uuid,
    _command,
)


@_command(50, REPLY)
class WrongHost(Command):
    request_id: I64
    segment: Utf
    correct_host: Utf
    server_stack_trace: Utf = ""


@_command(51, REPLY)
class SegmentIsSealed(Command):
    request_id: I64
    segment: Utf
    server_stack_trace: Utf = ""
    offset: I64 = -1


@_command(52, REPLY)
class SegmentAlreadyExists(Command):
    request_id: I64
    segment: Utf
    server_stack_trace: Utf = ""


@_command(53, REPLY)
class NoSuchSegment(Command):
    request_id: I64
    segment: Utf
    server_stack_trace: Utf = ""
    offset: I64 = -1


@_command(
    55,
    REPLY,
    # Up to v15 (what the Rust client decodes) there was no request id and the event number
    # came first.
    legacy=(LegacyLayout(15, ("writer_id", "event_number", "server_stack_trace"), {"request_id": -1}),),
)
class InvalidEventNumber(Command):
    """Layout depends on the negotiated version: see `LEGACY_LAYOUTS`."""

    writer_id: Uuid
    request_id: I64
    server_stack_trace: Utf = ""
    event_number: I64 = -1


@_command(56, REPLY)
class SegmentIsTruncated(Command):
    request_id: I64
    segment: Utf
    start_offset: I64
    server_stack_trace: Utf = ""
    offset: I64 = -1


@_command(57, REPLY)
class OperationUnsupported(Command):
    request_id: I64
    operation_name: Utf
    server_stack_trace: Utf = ""


@_command(60, REPLY)
class AuthTokenCheckFailed(Command):
    """error_code: -1 UNSPECIFIED, 0 TOKEN_CHECK_FAILED, 1 TOKEN_EXPIRED."""

    UNSPECIFIED: ClassVar[int] = -1
    TOKEN_CHECK_FAILED: ClassVar[int] = 0
    TOKEN_EXPIRED: ClassVar[int] = 1

    request_id: I64
    server_stack_trace: Utf = ""
    error_code: I32 = -1


@_command(61, REPLY)
class ErrorMessage(Command):
    """error_code: -1 UNSPECIFIED, 0 ILLEGAL_ARGUMENT_EXCEPTION."""

    UNSPECIFIED: ClassVar[int] = -1
    ILLEGAL_ARGUMENT_EXCEPTION: ClassVar[int] = 0

    request_id: I64
    segment: Utf
    message: Utf
    error_code: I32


__all__ = [
    "WrongHost",
    "SegmentIsSealed",
    "SegmentAlreadyExists",
    "NoSuchSegment",
    "InvalidEventNumber",
    "SegmentIsTruncated",
    "OperationUnsupported",
    "AuthTokenCheckFailed",
    "ErrorMessage",
]
