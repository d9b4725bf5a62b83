"""Composite values inside commands (spec §2.3): table keys and entries, attribute updates, chunks."""

from typing import Annotated, ClassVar

from .wire import (
    I8,
    I64,
    I64_MIN,
    Bool,
    Buf,
    Kind,
    Struct,
    Utf,
    Uuid,
    Wire,
    _struct,
)


@_struct
class TableKey(Struct):
    """A table key with its version: ``payloadSize:i32, dataLength:i32, data, keyVersion:i64``."""

    NO_VERSION: ClassVar[int] = I64_MIN  # unconditional update / removal
    NOT_EXISTS: ClassVar[int] = -1  # "must not exist" condition / "absent" in replies

    data: Buf
    version: I64


@_struct
class TableEntry(Struct):
    """A TableKey followed by a TableValue (``payloadSize:i32, dataLength:i32, data``)."""

    key: Buf
    version: I64
    value: Buf


@_struct
class ConditionalAttributeUpdate(Struct):
    REPLACE: ClassVar[int] = 1
    REPLACE_IF_EQUALS: ClassVar[int] = 4

    attribute_id: Uuid
    attribute_update_type: I8
    new_value: I64
    old_value: I64


@_struct
class ChunkInfo(Struct):
    length_in_metadata: I64
    length_in_storage: I64
    start_offset: I64
    chunk_name: Utf
    exists_in_storage: Bool


TableKeyList = Annotated[tuple[TableKey, ...], Wire(Kind.LIST, TableKey)]
TableEntryList = Annotated[tuple[TableEntry, ...], Wire(Kind.LIST, TableEntry)]


__all__ = [
    "TableKey",
    "TableEntry",
    "ConditionalAttributeUpdate",
    "ChunkInfo",
    "TableKeyList",
    "TableEntryList",
]
