"""Exceptions raised by the client.

Three families, as in asyncpg: :class:`InterfaceError` (the API was misused),
:class:`PravegaError` subclasses (the server or controller said no, with a reason a
program can act on), and :class:`ConnectionLostError` / :class:`RetriesExhaustedError`
(the network failed and retrying did not help).
"""

from __future__ import annotations

__all__ = [
    "PravegaError",
    "InterfaceError",
    "ConnectionLostError",
    "RetriesExhaustedError",
    "NoSuchScopeError",
    "NoSuchStreamError",
    "NoSuchSegmentError",
    "NoSuchReaderGroupError",
    "NoSuchKeyValueTableError",
    "ScopeNotEmptyError",
    "StreamNotSealedError",
    "StreamSealedError",
    "SegmentTruncatedError",
    "TransactionFailedError",
    "ConditionalCheckFailedError",
    "BadKeyVersionError",
    "KeyDoesNotExistError",
    "ServerError",
    "InvalidArgumentError",
    "AuthenticationError",
    "AuthorizationError",
]


class PravegaError(Exception):
    """Base of every error raised by this client."""


class InterfaceError(PravegaError, ValueError):
    """The client was used wrongly: bad arguments, a closed object, a bad state."""


class ConnectionLostError(PravegaError, ConnectionError):
    """A connection to the segment store or the controller failed."""


class RetriesExhaustedError(PravegaError):
    """An operation kept failing with transient errors until its retry budget ran out."""


class NoSuchScopeError(PravegaError, LookupError):
    pass


class NoSuchStreamError(PravegaError, LookupError):
    pass


class NoSuchSegmentError(PravegaError, LookupError):
    pass


class NoSuchReaderGroupError(PravegaError, LookupError):
    pass


class NoSuchKeyValueTableError(PravegaError, LookupError):
    pass


class ScopeNotEmptyError(PravegaError):
    pass


class StreamNotSealedError(PravegaError):
    """A stream must be sealed before it is deleted."""


class StreamSealedError(PravegaError):
    """The stream (or the segment written to) is sealed: no more writes."""


class SegmentTruncatedError(PravegaError):
    """The data asked for was truncated away (by retention or ``truncate``)."""

    def __init__(self, message: str, start_offset: int = -1) -> None:
        super().__init__(message)
        self.start_offset = start_offset


class TransactionFailedError(PravegaError):
    """A transaction could not be committed: it was aborted, timed out or is unknown."""


class ConditionalCheckFailedError(PravegaError):
    """A conditional write found another offset or version than expected."""


class BadKeyVersionError(ConditionalCheckFailedError):
    """A key-value table key had another version than the one given."""


class KeyDoesNotExistError(ConditionalCheckFailedError):
    """A conditional key-value operation named a key that does not exist."""


class ServerError(PravegaError):
    """The server answered with an error the client has no better name for."""


class InvalidArgumentError(InterfaceError):
    """The controller rejected an argument (a name, a policy, a stream cut...)."""


class AuthenticationError(PravegaError):
    """The server refused the credentials (missing, malformed or wrong user/password)."""


class AuthorizationError(PravegaError):
    """The server refused the operation: the user lacks the permission, or the
    delegation token does not grant it."""
