"""Errors raised by the store. Each maps to one segment-store reply (see service)."""

from __future__ import annotations


class StoreError(Exception):
    def __init__(self, segment: str, message: str = "") -> None:
        super().__init__(f"{segment}: {message}" if message else segment)
        self.segment = segment


class NoSuchSegment(StoreError):
    pass


class SegmentExists(StoreError):
    pass


class SegmentSealed(StoreError):
    pass


class BadOffset(StoreError):
    """A conditional append or a conditional table update found another length."""

    def __init__(self, segment: str, expected: int, actual: int) -> None:
        super().__init__(segment, f"expected offset {expected}, segment is at {actual}")
        self.expected = expected
        self.actual = actual


class SegmentTruncated(StoreError):
    def __init__(self, segment: str, start_offset: int) -> None:
        super().__init__(segment, f"truncated below {start_offset}")
        self.start_offset = start_offset


class InvalidArgument(StoreError):
    pass


class TableKeyDoesNotExist(StoreError):
    pass


class TableKeyBadVersion(StoreError):
    pass


class TableNotEmpty(StoreError):
    pass


class StorageUnavailable(StoreError):
    """The store cannot take data now (e.g. the log is full until tier 2 catches up): retry."""
