"""A reader group's state in the table layout of the official client (spec §3.1).

The group's table segment ``<scope>/<group>_kvtable/0.#epoch.0`` is a two-level map:
key ``"NN<outer>/<inner>"`` (NN = the outer key's length, two digits) as a CBOR text
string, value ``{"type_id": text, "data": [bytes as small ints]}`` as CBOR, where
``data`` is the CBOR of the payload. A key ``"NN<outer>"`` alone is the outer key's
version marker. The official client rewrites the markers of the outer keys it touches,
conditioned on the versions it last saw; this client rewrites all markers, so each of
its changes fails if anything changed since it read the state. Deleted entries become
``tombstone`` values. Tombstones of shared keys are never removed (the official client
keeps their versions and would retry forever on a removed key); those of our own keys
are removed now and then.

Shared with the official client (its names and payloads):

``config/default``                 ``ReaderGroupConfigVersioned`` (written once, at creation)
``unassigned_segments/<segment>``  ``Offset`` ``{"read": offset}``
``assigned_segments/<reader>``     ``{ScopedSegment: Offset}``: the reader is online
``distance_to_tail/<reader>``      ``u64``
``future_segments/<segment>``      ``[Segment]``: predecessors not read to their end yet

Ours only, under outer keys the official client never reads (it keeps unknown outer
keys in its local copy and otherwise ignores them), as JSON payloads:

``py_config/default``      streams, resolved start/end positions, generation, counters
``py_future/<segment>``    a future segment's finished predecessors and key range
``py_checkpoints/<name>``  checkpoints (see :mod:`.reader_group_state`)
``py_readers/<reader>``    marks readers of this client (they acknowledge checkpoints)

:func:`parse` turns the table into a :class:`~.reader_group_state.State`;
:func:`entries_of` turns a transition into the conditional table update.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import errors, naming
from ..protocol import cbor
from ..protocol import commands as c

if TYPE_CHECKING:
    from .reader_group_state import State, Txn

NO_VERSION = c.TableKey.NO_VERSION
NOT_EXISTS = c.TableKey.NOT_EXISTS

CONFIG = "config"
UNASSIGNED = "unassigned_segments"
ASSIGNED = "assigned_segments"
DISTANCE = "distance_to_tail"
FUTURE = "future_segments"
PY_CONFIG = "py_config"
PY_FUTURE = "py_future"
PY_CHECKPOINTS = "py_checkpoints"
PY_READERS = "py_readers"
#: The outer keys this module manages, in the order of :attr:`State.version`.
OUTER = (CONFIG, UNASSIGNED, ASSIGNED, DISTANCE, FUTURE, PY_CONFIG, PY_FUTURE, PY_CHECKPOINTS, PY_READERS)
#: Outer keys whose tombstones may be removed from the table: only this client reads or
#: writes them, so no official reader holds a version of them it would condition on.
_COLLECTABLE = (PY_FUTURE, PY_CHECKPOINTS, PY_READERS)
DEFAULT = "default"
TOMBSTONE = "tombstone"
JSON = "json"
U64_MAX = (1 << 64) - 1

_TYPE_OFFSET = "Offset"
_TYPE_ASSIGNED = "HashMap<ScopedSegment, Offset>"
_TYPE_FUTURE = "HashSet<i64>"  # the official client's name; the payload is a set of Segments
_TYPE_CONFIG = "ReaderGroupConfigVersioned"


def table_segment(scope: str, group: str) -> str:
    """The table segment of a group: the official client's ``<scope>/<group>_kvtable/0.#epoch.0``."""
    return f"{scope}/{group}{naming.KVTABLE_SUFFIX}/0{naming.EPOCH_DELIMITER}0"


# -- keys and values ----------------------------------------------------------------------


def composite(outer: str, inner: str | None = None) -> str:
    base = f"{len(outer):02d}{outer}"
    return base if inner is None else f"{base}/{inner}"


def split(key: str) -> tuple[str, str | None]:
    """(outer, inner or None) of a composite key; ValueError if it is not one."""
    n = int(key[:2])
    outer = key[2 : 2 + n]
    if len(outer) != n:
        raise ValueError(key)
    rest = key[2 + n :]
    if not rest:
        return outer, None
    if rest[0] != "/":
        raise ValueError(key)
    return outer, rest[1:]


def key_bytes(key: str) -> bytes:
    return cbor.dumps(key)


def value_bytes(type_id: str, data: bytes) -> bytes:
    """A synchronizer value: ``data`` as an array of small integers (serde_cbor's ``Vec<u8>``)."""
    return cbor.dumps({"type_id": type_id, "data": list(data)})


def encode_payload(type_id: str, payload: Any) -> bytes:
    if type_id == JSON:
        return value_bytes(JSON, json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    return value_bytes(type_id, cbor.dumps(payload))


@functools.lru_cache(maxsize=8192)
def decode_value(raw: bytes) -> tuple[str, bytes]:
    """(type_id, data) of a synchronizer value (cached: most entries stay the same
    between two reads of the state)."""
    value = cbor.loads(raw)
    if not isinstance(value, dict) or not isinstance(value.get("type_id"), str):
        raise cbor.CborError("not a synchronizer value")
    data = value.get("data", b"")
    return value["type_id"], bytes(data)


def decode_payload(type_id: str, data: bytes) -> Any:
    if type_id == JSON:
        return json.loads(data)
    return cbor.loads(data)


MARKER_VALUE = value_bytes("blob", b"\x00")
TOMBSTONE_VALUE = value_bytes(TOMBSTONE, cbor.dumps({}))


# -- the official client's types -------------------------------------------------------------


def scoped_segment(name: str) -> cbor.FrozenMap:
    scope, stream, sid = naming.parse_segment_name(name)
    return cbor.FrozenMap(
        scope=cbor.FrozenMap(name=scope),
        stream=cbor.FrozenMap(name=stream),
        segment=cbor.FrozenMap(number=sid, tx_id=None),
    )


def segment_name(value: Mapping[str, Any]) -> str:
    return naming.qualified_segment_name(
        value["scope"]["name"], value["stream"]["name"], int(value["segment"]["number"])
    )


def scoped_stream(name: str) -> cbor.FrozenMap:
    scope, stream = name.split("/", 1)
    return cbor.FrozenMap(scope=cbor.FrozenMap(name=scope), stream=cbor.FrozenMap(name=stream))


def rust_config(config: Mapping[str, Any]) -> dict:
    """``ReaderGroupConfigVersioned::V1`` of our config: start cuts with their positions."""
    start: Mapping[str, int] = config.get("start", {})
    cuts: dict[Any, Any] = {}
    for stream in config.get("streams", []):
        positions = {scoped_segment(s): o for s, o in sorted(start.items()) if s.startswith(stream + "/")}
        cuts[scoped_stream(stream)] = {"V1": {"stream": scoped_stream(stream), "positions": positions}}
    refresh = int(float(config.get("group_refresh_time", 3.0)) * 1000)
    return {"V1": {"group_refresh_time_millis": refresh, "starting_stream_cuts": cuts, "ending_stream_cuts": {}}}


def config_of_rust(value: Any) -> dict:
    """Our config of a group the official client created (streams and start positions)."""
    v1 = value.get("V1", {}) if isinstance(value, dict) else {}
    streams: list[str] = []
    start: dict[str, int] = {}
    tail_started: list[str] = []  # started at the tail: the positions then are not recorded
    for ss, cut in (v1.get("starting_stream_cuts") or {}).items():
        stream = f"{ss['scope']['name']}/{ss['stream']['name']}"
        streams.append(stream)
        if isinstance(cut, dict) and "V1" in cut:
            for seg, offset in (cut["V1"].get("positions") or {}).items():
                start[segment_name(seg)] = int(offset)
        elif cut == "Tail":
            tail_started.append(stream)
    refresh = v1.get("group_refresh_time_millis", 3000) / 1000.0
    return {
        "streams": sorted(streams),
        "start": start,
        "end": {},
        "generation": 0,
        "group_refresh_time": refresh,
        "tail_started": sorted(tail_started),
    }


# -- table <-> state ----------------------------------------------------------------------------


def parse(raw: Mapping[bytes, tuple[int, bytes]]) -> State | None:
    """The state in table entries ``{key: (version, value)}``; None without a config.
    Raises :class:`~pravega.errors.ServerError` for entries that are not reader-group state."""
    try:
        return _parse(raw)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise errors.ServerError(
            f"the reader group's table holds something else than reader-group state: {exc!r}"
        ) from exc


def _parse(raw: Mapping[bytes, tuple[int, bytes]]) -> State | None:
    from .reader_group_state import State

    versions: dict[str, int] = {}
    live: dict[str, tuple[str, Any]] = {}
    tombstones: dict[bytes, int] = {}
    for kb, (key_version, vb) in raw.items():
        key = cbor.loads(kb)
        outer, inner = split(key)
        type_id, data = decode_value(vb)
        versions[key] = key_version
        if inner is not None and type_id == TOMBSTONE and outer in _COLLECTABLE:
            tombstones[kb] = key_version
        if inner is None or type_id == TOMBSTONE:
            continue
        live[key] = (type_id, decode_payload(type_id, data))
    rust_cfg = live.get(composite(CONFIG, DEFAULT))
    if rust_cfg is None:
        return None
    py_cfg = live.get(composite(PY_CONFIG, DEFAULT))
    config = dict(py_cfg[1]) if py_cfg is not None else config_of_rust(rust_cfg[1])
    version = tuple(versions.get(composite(o), NOT_EXISTS) for o in OUTER)
    state = State(version, config, keys=versions, live=live, tombstones=tombstones)
    ends: Mapping[str, int] = config.get("end", {})
    py_readers = set()
    for key, (_, payload) in live.items():
        outer, inner = split(key)
        assert inner is not None
        if outer == UNASSIGNED:
            state.segments[inner] = {"owner": None, "offset": int(payload["read"]), "end": ends.get(inner)}
        elif outer == ASSIGNED:
            state.readers[inner] = {"online": True}
            for seg, offset in payload.items():
                name = segment_name(seg)
                state.segments[name] = {"owner": inner, "offset": int(offset["read"]), "end": ends.get(name)}
        elif outer == PY_READERS:
            py_readers.add(inner)
        elif outer == PY_CHECKPOINTS:
            state.checkpoints[inner] = payload
    for reader in py_readers & set(state.readers):
        state.readers[reader]["py"] = True
    for key, (_, payload) in live.items():
        outer, inner = split(key)
        if outer != FUTURE or inner is None:
            continue
        scope, stream, _ = naming.parse_segment_name(inner)
        waiting = sorted(
            naming.qualified_segment_name(scope, stream, int(p["number"] if isinstance(p, dict) else p))
            for p in payload
        )
        extra = live.get(composite(PY_FUTURE, inner), (JSON, {}))[1]
        state.futures[inner] = {"waiting_for": waiting, "done": extra.get("done", {}), "range": extra.get("range")}
    return state


def layout(s: State) -> dict[str, tuple[str, Any]]:
    """The live entries (composite key -> (type_id, payload)) that hold state ``s``."""
    out: dict[str, tuple[str, Any]] = {}
    cfg_key = composite(CONFIG, DEFAULT)
    out[cfg_key] = s.live.get(cfg_key) or (_TYPE_CONFIG, rust_config(s.config))
    out[composite(PY_CONFIG, DEFAULT)] = (JSON, s.config)
    assigned: dict[str, dict[Any, Any]] = {r: {} for r, v in s.readers.items() if v.get("online")}
    for name, entry in s.segments.items():
        owner = entry.get("owner")
        if owner is not None and owner in assigned:
            assigned[owner][scoped_segment(name)] = {"read": entry["offset"]}
        else:
            out[composite(UNASSIGNED, name)] = (_TYPE_OFFSET, {"read": entry["offset"]})
    for reader, segments in assigned.items():
        out[composite(ASSIGNED, reader)] = (_TYPE_ASSIGNED, segments)
        distance = composite(DISTANCE, reader)
        out[distance] = s.live.get(distance) or ("u64", U64_MAX)
        if s.readers[reader].get("py"):
            out[composite(PY_READERS, reader)] = (JSON, {})
    for name, fut in s.futures.items():
        ids = [naming.parse_segment_name(p)[2] for p in fut.get("waiting_for", [])]
        out[composite(FUTURE, name)] = (_TYPE_FUTURE, [{"number": i, "tx_id": None} for i in sorted(ids)])
        out[composite(PY_FUTURE, name)] = (JSON, {"done": fut.get("done", {}), "range": fut.get("range")})
    for name, cp in s.checkpoints.items():
        out[composite(PY_CHECKPOINTS, name)] = (JSON, cp)
    return out


def _same(a: tuple[str, Any], b: tuple[str, Any]) -> bool:
    if a[0] != b[0]:
        return False
    if a[0] == JSON:
        return json.dumps(a[1], sort_keys=True) == json.dumps(b[1], sort_keys=True)
    if a[0] == _TYPE_FUTURE:  # a set: the official client writes it in any order
        return _numbers(a[1]) == _numbers(b[1])
    return bool(cbor.loads(cbor.dumps(a[1])) == cbor.loads(cbor.dumps(b[1])))


def _numbers(segments: Any) -> set[int]:
    return {int(p["number"] if isinstance(p, Mapping) else p) for p in segments}


def entries_of(txn: Txn) -> list[tuple[bytes, int, bytes]]:
    """The conditional table update that makes the table hold ``txn``'s new state: the
    version markers of every outer key (each conditioned on the version read, so any
    concurrent change by either client makes this one fail), then the changed entries,
    each conditioned on its version read too (as the official client does)."""
    base = txn.base
    new = layout(txn.s)
    changes: list[tuple[str, bytes]] = []
    for key, value in new.items():
        old = base.live.get(key)
        if old is None or not _same(old, value):
            changes.append((key, encode_payload(*value)))
    managed = set(OUTER)
    for key in base.live:
        if key not in new and split(key)[0] in managed:
            changes.append((key, TOMBSTONE_VALUE))
    if not changes:
        return []
    # Every marker, also those not written yet (conditioned on not existing): a change
    # that creates one concurrently must conflict too.
    entries = [(key_bytes(composite(o)), base.keys.get(composite(o), NOT_EXISTS), MARKER_VALUE) for o in OUTER]
    for key, raw in changes:
        entries.append((key_bytes(key), base.keys.get(key, NOT_EXISTS), raw))
    return entries


def version_after(base: State, entries: list[tuple[bytes, int, bytes]], versions: list[int]) -> tuple[int, ...]:
    """:attr:`State.version` after ``entries`` were written with the returned ``versions``."""
    written = {cbor.loads(k): v for (k, _, _), v in zip(entries, versions)}
    return tuple(written.get(composite(o), base.keys.get(composite(o), NOT_EXISTS)) for o in OUTER)


def marker_keys() -> list[bytes]:
    return [key_bytes(composite(o)) for o in OUTER]


def checkpoint_key(name: str) -> bytes:
    return key_bytes(composite(PY_CHECKPOINTS, name))


def checkpoint_value(raw: bytes) -> dict | None:
    """A checkpoint entry's payload, None for a tombstone."""
    type_id, data = decode_value(raw)
    return None if type_id == TOMBSTONE else dict(decode_payload(type_id, data))
