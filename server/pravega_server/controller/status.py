"""What controller operations answer: reply statuses and refusals without a status."""

from __future__ import annotations

import enum


class Status(str, enum.Enum):
    """Reply statuses; each name is the value of the same name in the reply's proto enum."""

    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    OK = "OK"
    SCOPE_EXISTS = "SCOPE_EXISTS"
    SCOPE_NOT_FOUND = "SCOPE_NOT_FOUND"
    SCOPE_NOT_EMPTY = "SCOPE_NOT_EMPTY"
    INVALID_SCOPE_NAME = "INVALID_SCOPE_NAME"
    STREAM_EXISTS = "STREAM_EXISTS"
    STREAM_NOT_FOUND = "STREAM_NOT_FOUND"
    STREAM_NOT_SEALED = "STREAM_NOT_SEALED"
    INVALID_STREAM_NAME = "INVALID_STREAM_NAME"
    TRANSACTION_NOT_FOUND = "TRANSACTION_NOT_FOUND"
    LEASE_TOO_LARGE = "LEASE_TOO_LARGE"
    OPEN = "OPEN"
    COMMITTED = "COMMITTED"
    ABORTED = "ABORTED"
    UNKNOWN = "UNKNOWN"
    STARTED = "STARTED"
    PRECONDITION_FAILED = "PRECONDITION_FAILED"
    IN_PROGRESS = "IN_PROGRESS"
    INVALID_INPUT = "INVALID_INPUT"
    TABLE_EXISTS = "TABLE_EXISTS"
    TABLE_NOT_FOUND = "TABLE_NOT_FOUND"
    INVALID_TABLE_NAME = "INVALID_TABLE_NAME"
    RG_NOT_FOUND = "RG_NOT_FOUND"
    INVALID_RG_NAME = "INVALID_RG_NAME"
    INVALID_CONFIG = "INVALID_CONFIG"
    SUBSCRIBER_NOT_FOUND = "SUBSCRIBER_NOT_FOUND"
    STREAM_CUT_NOT_VALID = "STREAM_CUT_NOT_VALID"
    GENERATION_MISMATCH = "GENERATION_MISMATCH"
    UNKNOWN_WRITER = "UNKNOWN_WRITER"
    STREAM_DOES_NOT_EXIST = "STREAM_DOES_NOT_EXIST"
    INVALID_TIME = "INVALID_TIME"
    INVALID_POSITION = "INVALID_POSITION"


class ControllerError(Exception):
    """A request the controller refuses without a status enum to say so; ``code`` names
    the gRPC status code the API layer replies with."""

    code = "INTERNAL"


class InvalidArgument(ControllerError):
    code = "INVALID_ARGUMENT"


class NotFound(ControllerError):
    code = "NOT_FOUND"
