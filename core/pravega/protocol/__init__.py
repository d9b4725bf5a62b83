"""Sans-I/O codec for the Pravega segment-store wire protocol ("WireCommands").

* `commands`: one immutable class per command, fields in wire order;
* `codec`: `encode` / `decode` of single frames;
* `connection`: the `Connection` state machine;
* `framing`, `errors`: header, limits and the two error types.

No module in this package performs I/O.
"""

from . import commands as _commands
from .codec import COMMAND_TYPES, decode, encode, encode_many
from .commands import *  # noqa: F403 - the command classes, listed in commands.__all__
from .connection import CLOSED, NEED_DATA, Connection, Role, Sentinel, State, versions_compatible
from .errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from .framing import (
    HEADER,
    HEADER_SIZE,
    MAX_WIRECOMMAND_SIZE,
    OLDEST_COMPATIBLE_VERSION,
    WIRE_VERSION,
    encode_header,
    frame_event,
    parse_header,
)

__all__ = [
    # errors
    "ProtocolError",
    "LocalProtocolError",
    "RemoteProtocolError",
    # framing
    "WIRE_VERSION",
    "OLDEST_COMPATIBLE_VERSION",
    "MAX_WIRECOMMAND_SIZE",
    "HEADER",
    "HEADER_SIZE",
    "encode_header",
    "frame_event",
    "parse_header",
    # codec
    "COMMAND_TYPES",
    "encode",
    "encode_many",
    "decode",
    # connection
    "Connection",
    "Role",
    "State",
    "Sentinel",
    "NEED_DATA",
    "CLOSED",
    "versions_compatible",
    # commands, composite values and wire-type metadata
    *_commands.__all__,
]
