"""Names and ids of segments, transactions and tables (spec §1.4).

Every name here is part of the wire contract: the official client derives segment
and transaction segment names itself from the ids the controller returns, so they
must be produced exactly like this.
"""

from __future__ import annotations

import re

MAX_NAME_LENGTH = 255
INTERNAL_PREFIX = "_"
READER_GROUP_STREAM_PREFIX = "_RG"
MARK_STREAM_PREFIX = "_MARK"
KVTABLE_SUFFIX = "_kvtable"
EPOCH_DELIMITER = ".#epoch."
TRANSACTION_DELIMITER = "#transaction."

_U32 = 0xFFFFFFFF
_U64 = (1 << 64) - 1
_USER_NAME = re.compile(r"[A-Za-z0-9.\-]+")
_SEGMENT_NAME = re.compile(r"^(?P<scope>[^/]+)/(?P<stream>[^/]+)/(?P<number>\d+)(?:\.#epoch\.(?P<epoch>\d+))?$")
_TXN_SEGMENT = re.compile(r"^(?P<parent>.+)#transaction\.(?P<hi>[0-9a-fA-F]{16})(?P<lo>[0-9a-fA-F]{16})$")


# -- segment ids -----------------------------------------------------------------


def segment_id(epoch: int, number: int) -> int:
    """The 64-bit segment id: creation epoch in the high half, number in the low half."""
    if not (0 <= epoch <= 0x7FFFFFFF and 0 <= number <= 0x7FFFFFFF):
        raise ValueError(f"epoch {epoch} / number {number} out of range")
    return (epoch << 32) | number


def segment_number(sid: int) -> int:
    return _to_i32(sid & _U32)


def segment_epoch(sid: int) -> int:
    return _to_i32((sid >> 32) & _U32)


def is_valid_segment_id(sid: int) -> bool:
    return sid >= 0 and segment_number(sid) >= 0


def _to_i32(v: int) -> int:
    return v - (1 << 32) if v & 0x80000000 else v


def _to_i64(v: int) -> int:
    v &= _U64
    return v - (1 << 64) if v & (1 << 63) else v


# -- segment names ---------------------------------------------------------------


def qualified_segment_name(scope: str, stream: str, sid: int) -> str:
    """``<scope>/<stream>/<number>.#epoch.<epoch>`` (always with the epoch part)."""
    return f"{scope}/{stream}/{segment_number(sid)}{EPOCH_DELIMITER}{segment_epoch(sid)}"


def parse_segment_name(name: str) -> tuple[str, str, int]:
    """(scope, stream, segment id) of a qualified segment name; legacy names without
    ``.#epoch.`` mean epoch 0. Raises ValueError for anything else."""
    m = _SEGMENT_NAME.match(name)
    if m is None:
        raise ValueError(f"not a qualified segment name: {name!r}")
    epoch = int(m.group("epoch") or 0)
    return m.group("scope"), m.group("stream"), segment_id(epoch, int(m.group("number")))


# -- transactions ----------------------------------------------------------------


def txn_hex(high: int, low: int) -> str:
    """32 lower-case hex digits: both halves as unsigned (two's complement) 64-bit."""
    return f"{high & _U64:016x}{low & _U64:016x}"


def parse_txn_hex(text: str) -> tuple[int, int]:
    """Inverse of :func:`txn_hex`; halves come back as signed 64-bit ints (as in TxnId)."""
    if len(text) != 32:
        raise ValueError(f"not a transaction id: {text!r}")
    return _to_i64(int(text[:16], 16)), _to_i64(int(text[16:], 16))


def transaction_segment_name(parent: str, high: int, low: int) -> str:
    return f"{parent}{TRANSACTION_DELIMITER}{txn_hex(high, low)}"


def is_transaction_segment(name: str) -> bool:
    i = name.rfind(TRANSACTION_DELIMITER)
    return i >= 0 and len(name) - i - len(TRANSACTION_DELIMITER) >= 32


def parse_transaction_segment_name(name: str) -> tuple[str, int, int]:
    """(parent segment name, high bits, low bits) of a transaction segment name."""
    m = _TXN_SEGMENT.match(name)
    if m is None:
        raise ValueError(f"not a transaction segment name: {name!r}")
    high, low = parse_txn_hex(m.group("hi") + m.group("lo"))
    return m.group("parent"), high, low


def txn_epoch(high: int) -> int:
    """The epoch a transaction was created in: the top 32 bits of its id."""
    return _to_i32((high >> 32) & _U32)


def make_txn_id(epoch: int, counter: int) -> tuple[int, int]:
    """(highBits, lowBits) for the ``counter``-th transaction, created in ``epoch``.

    ``lowBits`` keeps its top bit clear: the Rust client sign-extends it (spec §1.4).
    """
    low = counter & 0x7FFFFFFFFFFFFFFF
    high32 = (counter >> 63) & _U32
    return _to_i64((epoch << 32) | high32), low


# -- tables ----------------------------------------------------------------------


def kvt_stream_name(kvt: str) -> str:
    """The pseudo stream that holds a key-value table's (or Rust reader group's) segments."""
    return f"{kvt}{KVTABLE_SUFFIX}"


def kvt_segment_name(scope: str, kvt: str, number: int, epoch: int = 0) -> str:
    return f"{scope}/{kvt_stream_name(kvt)}/{number}{EPOCH_DELIMITER}{epoch}"


def parse_kvt_segment_name(name: str) -> tuple[str, str, int]:
    """(scope, table name, segment id) of a key-value table segment name."""
    scope, stream, sid = parse_segment_name(name)
    if not stream.endswith(KVTABLE_SUFFIX) or len(stream) == len(KVTABLE_SUFFIX):
        raise ValueError(f"not a key-value table segment name: {name!r}")
    return scope, stream[: -len(KVTABLE_SUFFIX)], sid


def reader_group_stream(group: str) -> str:
    """The Java-client reader group's internal state stream."""
    return f"{READER_GROUP_STREAM_PREFIX}{group}"


def reader_group_state_segment(scope: str, group: str) -> str:
    """The table segment holding this client's reader group state:
    ``<scope>/_RG<group>_state/0.#epoch.0`` (apart from the Java client's ``_RG<group>`` stream)."""
    return f"{scope}/{reader_group_stream(group)}_state/0{EPOCH_DELIMITER}0"


# -- validation ------------------------------------------------------------------


def is_user_name(name: str) -> bool:
    """A name a user may give a scope, stream, table or reader group."""
    return 0 < len(name) <= MAX_NAME_LENGTH and _USER_NAME.fullmatch(name) is not None


def is_internal_name(name: str) -> bool:
    return name.startswith(INTERNAL_PREFIX) and is_user_name(name[1:]) and len(name) <= MAX_NAME_LENGTH


def is_valid_stream_name(name: str) -> bool:
    """What the controller's ``createStream`` accepts: a user name, or an internal name
    (``_`` prefix, e.g. ``_RG<group>`` / ``_MARK<stream>``), as the Java controller does."""
    return is_user_name(name) or is_internal_name(name)


def is_valid_scope_name(name: str) -> bool:
    return is_user_name(name)


def is_valid_table_name(name: str) -> bool:
    return is_user_name(name)


def is_valid_reader_group_name(name: str) -> bool:
    return is_user_name(name)


def parse_any_segment_name(name: str) -> tuple[str, str, int]:
    """(scope, stream, segment id) of a stream, transaction or transient segment name.

    Transaction and transient segments live with their parent segment, so they are
    located (``getURI``) by the parent's scope, stream and id.
    """
    for marker in (TRANSACTION_DELIMITER, "#transient."):
        i = name.find(marker)
        if i >= 0:
            name = name[:i]
    return parse_segment_name(name)
