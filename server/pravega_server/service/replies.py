"""The one mapping from store errors to segment-store wire replies.

Request handlers and the append processor both answer a :class:`StoreError` through
:func:`error_reply`; :func:`closes_connection` says whether the connection that
carried the request is closed after the reply (a failed log: the client reconnects
and resends once the store is back, as for any lost connection).
"""

from __future__ import annotations

from pravega.protocol import commands as c

from ..storage import errors

#: ErrorMessage error codes (Java ``ErrorMessage.ErrorCode``).
UNSPECIFIED = -1
ILLEGAL_ARGUMENT = 0


def error_reply(request_id: int, exc: errors.StoreError, offset: int = -1) -> c.Command:
    """The reply Pravega sends for a store error (``PravegaRequestProcessor``).

    ``offset`` is reported in ``NoSuchSegment`` and ``SegmentIsSealed`` replies.
    """
    name = exc.segment
    if isinstance(exc, errors.NoSuchSegment):
        return c.NoSuchSegment(request_id, name, "", offset)
    if isinstance(exc, errors.SegmentSealed):
        return c.SegmentIsSealed(request_id, name, "", offset)
    if isinstance(exc, errors.SegmentExists):
        return c.SegmentAlreadyExists(request_id, name, "")
    if isinstance(exc, errors.SegmentTruncated):
        return c.SegmentIsTruncated(request_id, name, exc.start_offset, "", offset)
    if isinstance(exc, errors.BadOffset):
        return c.SegmentIsTruncated(request_id, name, exc.actual, "", exc.expected)
    if isinstance(exc, errors.TableKeyDoesNotExist):
        return c.TableKeyDoesNotExist(request_id, name, "")
    if isinstance(exc, errors.TableKeyBadVersion):
        return c.TableKeyBadVersion(request_id, name, "")
    if isinstance(exc, errors.TableNotEmpty):
        return c.TableSegmentNotEmpty(request_id, name, "")
    if isinstance(exc, errors.StorageUnavailable):
        return c.ErrorMessage(request_id, name, f"storage unavailable: {exc}", UNSPECIFIED)
    return c.ErrorMessage(request_id, name, str(exc), ILLEGAL_ARGUMENT)


def closes_connection(exc: errors.StoreError) -> bool:
    """Whether the connection is closed after answering ``exc``."""
    return isinstance(exc, errors.StorageUnavailable)
