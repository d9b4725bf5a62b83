"""The segment-store wire commands of spec §2.4, one small immutable class each.

Every class is a frozen, slotted dataclass whose fields are listed **in wire order**, each
annotated with its wire type (``I64``, ``Utf``, ``Uuid``...).  That declaration is the whole
specification of the layout: `pravega.protocol.codec` compiles it into an encoder and a decoder.

Conventions (see the module docs of `codec` for the byte-level details):

* A field with a default is *optional on the wire*: when the payload ends before it, the decoder
  uses the default (the Java readers do the same for older peers).  Encoders always write every
  field, i.e. the full Java v17 layout.
* UUIDs are ints in ``[0, 2**128)``; strings are `str` (at most 65535 UTF-8 bytes); lists are
  tuples (a list passed to the constructor is converted).
* Fields named ``data`` (appends, reads, embedded events) accept any bytes-like object and decode
  as zero-copy `memoryview` slices of the received payload; other byte fields are `bytes`.
* Construction validates types and ranges that would make encoding impossible and raises
  `LocalProtocolError`.  Decoded commands skip that check (the decoder only produces valid values).

The modules, by family: `wire` (wire types, validation, the `Struct`/`Command` bases and the
registering decorators), `values` (composite values such as `TableKey`), `control` (Hello,
KeepAlive, storage admin), `appends`, `segments`, `tables` and `error_replies`. Every name is
re-exported here, so ``commands.AppendBlockEnd`` is the way to refer to a command.
"""

from .appends import *  # noqa: F403
from .control import *  # noqa: F403
from .error_replies import *  # noqa: F403
from .segments import *  # noqa: F403
from .tables import *  # noqa: F403
from .values import *  # noqa: F403
from .values import ChunkInfo, ConditionalAttributeUpdate, TableEntry, TableKey
from .wire import *  # noqa: F403
from .wire import (
    NULL_ATTRIBUTE_VALUE,
    Command,
    Direction,
    Kind,
    LegacyLayout,
    Struct,
    Wire,
    WireField,
    registered,
)

#: Every command class, in type-code order.
ALL_COMMANDS: tuple[type[Command], ...] = tuple(sorted(registered(), key=lambda cls: cls.TYPE_CODE))

__all__ = [
    "Kind",
    "Wire",
    "WireField",
    "LegacyLayout",
    "Direction",
    "Struct",
    "Command",
    "ALL_COMMANDS",
    "NULL_ATTRIBUTE_VALUE",
    "TableKey",
    "TableEntry",
    "ConditionalAttributeUpdate",
    "ChunkInfo",
    *(cls.__name__ for cls in ALL_COMMANDS),
]
