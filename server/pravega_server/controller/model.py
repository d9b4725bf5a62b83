"""The controller's metadata: scopes, streams (with their epoch history), transactions,
key-value tables and reader groups, each stored as one compact JSON record.

A stream's history is a list of epochs; each epoch lists every segment active in it
(segment id, key range). A segment's id carries the epoch that created it. Everything
the controller answers about segment lineage is derived from that list with one rule:
a segment that was in epoch k but is not in epoch k+1 has as successors the segments
first appearing in epoch k+1 whose key range overlaps its own. This covers scaling and
rolling transactions alike.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from . import naming

ACTIVE = "ACTIVE"
SEALED = "SEALED"

TXN_OPEN = "OPEN"
TXN_COMMITTED = "COMMITTED"
TXN_ABORTED = "ABORTED"

# ScalingPolicy.ScalingPolicyType / RetentionPolicy.RetentionPolicyType values
FIXED_NUM_SEGMENTS = 0
SCALE_TYPES = (0, 1, 2)
RETENTION_TYPES = (0, 1, 2)


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def loads(data: bytes) -> Any:
    return json.loads(data)


def cut_to_json(cut: dict[int, int]) -> list[list[int]]:
    return [[sid, off] for sid, off in sorted(cut.items())]


def cut_from_json(data: list[list[int]] | None) -> dict[int, int]:
    return {int(sid): int(off) for sid, off in data or ()}


# -- scopes ----------------------------------------------------------------------


@dataclass
class Scope:
    name: str
    created_ms: int = 0

    def to_json(self) -> bytes:
        return dumps({"name": self.name, "created": self.created_ms})

    @classmethod
    def from_json(cls, data: bytes) -> Scope:
        d = loads(data)
        return cls(d["name"], d.get("created", 0))


# -- streams ---------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentRecord:
    """One segment of a stream: its id and key range [min_key, max_key)."""

    id: int
    min_key: float
    max_key: float

    @property
    def number(self) -> int:
        return naming.segment_number(self.id)

    @property
    def epoch(self) -> int:
        return naming.segment_epoch(self.id)

    def overlaps(self, other: SegmentRecord) -> bool:
        return self.min_key < other.max_key and other.min_key < self.max_key


@dataclass
class Epoch:
    created_ms: int
    segments: list[SegmentRecord]  # sorted by min_key

    def ids(self) -> set[int]:
        return {s.id for s in self.segments}

    def to_json(self) -> list:
        return [self.created_ms, [[s.id, s.min_key, s.max_key] for s in self.segments]]

    @classmethod
    def from_json(cls, d: list) -> Epoch:
        return cls(int(d[0]), [SegmentRecord(int(i), float(lo), float(hi)) for i, lo, hi in d[1]])


@dataclass
class StreamConfig:
    scale_type: int = FIXED_NUM_SEGMENTS
    target_rate: int = 0
    scale_factor: int = 0
    min_segments: int = 1
    retention_type: int = 0
    retention_param: int = 0
    retention_max: int = 0
    tags: list[str] = field(default_factory=list)
    timestamp_aggregation_timeout: int = 0
    rollover_size_bytes: int = 0

    def validate(self) -> str | None:
        """A description of what is wrong with this configuration, or None."""
        if self.scale_type not in SCALE_TYPES:
            return f"unknown scaling policy type {self.scale_type}"
        if self.min_segments < 1:
            return f"minNumSegments must be at least 1, not {self.min_segments}"
        if self.min_segments > 100_000:
            return f"minNumSegments {self.min_segments} is too large"
        if self.target_rate < 0 or self.scale_factor < 0:
            return "targetRate and scaleFactor must not be negative"
        if self.scale_type != FIXED_NUM_SEGMENTS and (self.target_rate <= 0 or self.scale_factor <= 0):
            return "an auto-scaling policy needs a positive targetRate and scaleFactor"
        if self.retention_type not in RETENTION_TYPES:
            return f"unknown retention policy type {self.retention_type}"
        if self.retention_param < 0 or self.retention_max < 0:
            return "retentionParam and retentionMax must not be negative"
        if self.retention_type != 0 and self.retention_max and self.retention_max < self.retention_param:
            return "retentionMax must not be less than retentionParam"
        if self.timestamp_aggregation_timeout < 0:
            return "timestampAggregationTimeout must not be negative"
        if self.rollover_size_bytes < 0:
            return "rolloverSizeBytes must not be negative"
        if len(self.tags) > 128:
            return "a stream can have at most 128 tags"
        for tag in self.tags:
            if not tag or len(tag) > 256:
                return f"invalid tag {tag!r}: tags must have 1 to 256 characters"
        return None

    def to_dict(self) -> dict:
        return {
            "st": self.scale_type,
            "tr": self.target_rate,
            "sf": self.scale_factor,
            "min": self.min_segments,
            "rt": self.retention_type,
            "rp": self.retention_param,
            "rm": self.retention_max,
            "tags": self.tags,
            "tat": self.timestamp_aggregation_timeout,
            "ro": self.rollover_size_bytes,
        }

    @classmethod
    def from_dict(cls, d: dict) -> StreamConfig:
        return cls(
            d["st"],
            d["tr"],
            d["sf"],
            d["min"],
            d["rt"],
            d["rp"],
            d["rm"],
            list(d["tags"]),
            d.get("tat", 0),
            d.get("ro", 0),
        )


@dataclass
class Subscriber:
    """A reader group's retention stream cut on a stream (``updateSubscriberStreamCut``)."""

    generation: int
    cut: dict[int, int]


@dataclass
class Stream:
    scope: str
    name: str
    config: StreamConfig
    created_ms: int
    epochs: list[Epoch]
    next_number: int
    state: str = ACTIVE
    head: dict[int, int] | None = None  # the truncation stream cut
    subscribers: dict[str, Subscriber] = field(default_factory=dict)

    # -- persistence ---------------------------------------------------------------

    def to_json(self) -> bytes:
        return dumps(
            {
                "scope": self.scope,
                "name": self.name,
                "cfg": self.config.to_dict(),
                "created": self.created_ms,
                "epochs": [e.to_json() for e in self.epochs],
                "next": self.next_number,
                "state": self.state,
                "head": None if self.head is None else cut_to_json(self.head),
                "subs": {k: [v.generation, cut_to_json(v.cut)] for k, v in self.subscribers.items()},
            }
        )

    @classmethod
    def from_json(cls, data: bytes) -> Stream:
        d = loads(data)
        return cls(
            d["scope"],
            d["name"],
            StreamConfig.from_dict(d["cfg"]),
            d["created"],
            [Epoch.from_json(e) for e in d["epochs"]],
            d["next"],
            d["state"],
            None if d.get("head") is None else cut_from_json(d["head"]),
            {k: Subscriber(g, cut_from_json(c)) for k, (g, c) in d.get("subs", {}).items()},
        )

    def copy(self) -> Stream:
        """A deep copy to edit; the original stays valid until the edit is durable."""
        return Stream.from_json(self.to_json())

    # -- structure -----------------------------------------------------------------

    @property
    def sealed(self) -> bool:
        return self.state == SEALED

    @property
    def current_epoch(self) -> int:
        return len(self.epochs) - 1

    @property
    def current(self) -> Epoch:
        return self.epochs[-1]

    def segment_name(self, sid: int) -> str:
        return naming.qualified_segment_name(self.scope, self.name, sid)

    def segment(self, sid: int) -> SegmentRecord | None:
        """The record of segment ``sid``, looked up in the epoch that created it."""
        epoch = naming.segment_epoch(sid)
        if sid < 0 or not 0 <= epoch < len(self.epochs):
            return None
        for seg in self.epochs[epoch].segments:
            if seg.id == sid:
                return seg
        return None

    def last_epoch_of(self, sid: int) -> int:
        """The last epoch segment ``sid`` (which must exist) belongs to."""
        k = naming.segment_epoch(sid)
        while k + 1 < len(self.epochs) and sid in self.epochs[k + 1].ids():
            k += 1
        return k

    def all_segments(self) -> Iterator[SegmentRecord]:
        """Every segment the stream ever had, each once, in order of creation."""
        for i, epoch in enumerate(self.epochs):
            for seg in epoch.segments:
                if seg.epoch == i:
                    yield seg

    def successors(self, sid: int) -> list[tuple[SegmentRecord, list[int]]]:
        """Successors of ``sid`` with the ids of each successor's predecessors.
        Empty while the segment is active (also when the stream is sealed)."""
        seg = self.segment(sid)
        if seg is None:
            return []
        k = self.last_epoch_of(sid)
        if k == self.current_epoch:
            return []
        before, after = self.epochs[k], self.epochs[k + 1]
        before_ids, after_ids = before.ids(), after.ids()
        gone = [s for s in before.segments if s.id not in after_ids]
        out = []
        for succ in after.segments:
            if succ.id in before_ids or not succ.overlaps(seg):
                continue
            out.append((succ, sorted(p.id for p in gone if p.overlaps(succ))))
        return out

    def predecessors(self, sid: int) -> list[SegmentRecord]:
        seg = self.segment(sid)
        if seg is None or seg.epoch == 0:
            return []
        before, after = self.epochs[seg.epoch - 1], self.epochs[seg.epoch]
        after_ids = after.ids()
        return [p for p in before.segments if p.id not in after_ids and p.overlaps(seg)]

    def ancestors(self, sids: set[int]) -> set[int]:
        """All strict (transitive) predecessors of the given segments."""
        out: set[int] = set()
        todo = list(sids)
        while todo:
            for pred in self.predecessors(todo.pop()):
                if pred.id not in out:
                    out.add(pred.id)
                    todo.append(pred.id)
        return out

    def descendants(self, sids: set[int]) -> set[int]:
        """All strict (transitive) successors of the given segments."""
        out: set[int] = set()
        todo = list(sids)
        while todo:
            for succ, _ in self.successors(todo.pop()):
                if succ.id not in out:
                    out.add(succ.id)
                    todo.append(succ.id)
        return out

    def epoch_at(self, timestamp_ms: int) -> int:
        """The epoch active at ``timestamp_ms`` (0 for times before the stream)."""
        k = 0
        for i, epoch in enumerate(self.epochs):
            if epoch.created_ms <= timestamp_ms:
                k = i
        return k

    def validate_cut(self, cut: dict[int, int]) -> str | None:
        """Why ``cut`` is not a consistent stream cut of this stream, or None.

        Consistent: every segment belongs to the stream, offsets are not negative, the
        key ranges partition [0, 1), and no segment is a predecessor of another."""
        if not cut:
            return "the stream cut is empty"
        segs = []
        for sid, offset in cut.items():
            seg = self.segment(sid)
            if seg is None:
                return f"segment {sid} is not part of stream {self.scope}/{self.name}"
            if offset < 0:
                return f"negative offset {offset} for segment {sid}"
            segs.append(seg)
        segs.sort(key=lambda s: (s.min_key, s.max_key))
        position = 0.0
        for seg in segs:
            if seg.min_key != position:
                return f"the stream cut does not cover the key space at {position} (segment {seg.id})"
            position = seg.max_key
        if position != 1.0:
            return f"the stream cut does not cover the key space above {position}"
        if self.ancestors(set(cut)) & set(cut):
            return "the stream cut contains a segment and one of its predecessors"
        return None

    def is_before(self, a: dict[int, int], b: dict[int, int]) -> bool:
        """True if cut ``a`` lies (partly) strictly before cut ``b``."""
        if self.ancestors(set(b)) & set(a):
            return True
        return any(sid in b and off < b[sid] for sid, off in a.items())

    def allocate(self, epoch: int, ranges: list[tuple[float, float]]) -> list[SegmentRecord]:
        """New segments of ``epoch`` for ``ranges``, numbered on from the counter."""
        out = []
        for lo, hi in ranges:
            out.append(SegmentRecord(naming.segment_id(epoch, self.next_number), lo, hi))
            self.next_number += 1
        return out

    def add_epoch(self, created_ms: int, segments: list[SegmentRecord]) -> Epoch:
        epoch = Epoch(created_ms, sorted(segments, key=lambda s: s.min_key))
        self.epochs.append(epoch)
        return epoch


def equal_ranges(n: int) -> list[tuple[float, float]]:
    """``n`` key ranges partitioning [0, 1); neighbours share the exact boundary."""
    bounds = [i / n for i in range(n)] + [1.0]
    return [(bounds[i], bounds[i + 1]) for i in range(n)]


def merge_ranges(ranges: list[tuple[float, float]]) -> list[tuple[float, float]] | None:
    """The union of ``ranges`` as sorted disjoint intervals, or None if two overlap or a
    range is empty."""
    out: list[list[float]] = []
    for lo, hi in sorted(ranges):
        if not lo < hi:
            return None
        if out and lo < out[-1][1]:
            return None
        if out and lo == out[-1][1]:
            out[-1][1] = hi
        else:
            out.append([lo, hi])
    return [(lo, hi) for lo, hi in out]


# -- transactions ----------------------------------------------------------------


@dataclass
class Transaction:
    scope: str
    stream: str
    high: int
    low: int
    epoch: int
    state: str
    lease_deadline_ms: int
    created_ms: int
    writer_id: str = ""
    commit_timestamp: int | None = None
    completed_ms: int | None = None

    @property
    def hex(self) -> str:
        return naming.txn_hex(self.high, self.low)

    @property
    def key(self) -> tuple[int, int]:
        return (self.high, self.low)

    def to_json(self) -> bytes:
        return dumps(
            {
                "scope": self.scope,
                "stream": self.stream,
                "hi": self.high,
                "lo": self.low,
                "epoch": self.epoch,
                "state": self.state,
                "deadline": self.lease_deadline_ms,
                "created": self.created_ms,
                "writer": self.writer_id,
                "ts": self.commit_timestamp,
                "done": self.completed_ms,
            }
        )

    @classmethod
    def from_json(cls, data: bytes) -> Transaction:
        d = loads(data)
        return cls(
            d["scope"],
            d["stream"],
            d["hi"],
            d["lo"],
            d["epoch"],
            d["state"],
            d["deadline"],
            d["created"],
            d.get("writer", ""),
            d.get("ts"),
            d.get("done"),
        )

    def copy(self) -> Transaction:
        return Transaction.from_json(self.to_json())


# -- key-value tables ------------------------------------------------------------


@dataclass
class KeyValueTable:
    scope: str
    name: str
    partition_count: int
    primary_key_length: int = 0
    secondary_key_length: int = 0
    rollover_size_bytes: int = 0
    created_ms: int = 0

    def segments(self) -> list[SegmentRecord]:
        return [
            SegmentRecord(naming.segment_id(0, i), lo, hi)
            for i, (lo, hi) in enumerate(equal_ranges(self.partition_count))
        ]

    def segment_names(self) -> list[str]:
        return [naming.kvt_segment_name(self.scope, self.name, i) for i in range(self.partition_count)]

    def to_json(self) -> bytes:
        return dumps(
            {
                "scope": self.scope,
                "name": self.name,
                "n": self.partition_count,
                "pk": self.primary_key_length,
                "sk": self.secondary_key_length,
                "ro": self.rollover_size_bytes,
                "created": self.created_ms,
            }
        )

    @classmethod
    def from_json(cls, data: bytes) -> KeyValueTable:
        d = loads(data)
        return cls(d["scope"], d["name"], d["n"], d["pk"], d["sk"], d["ro"], d.get("created", 0))


# -- reader groups (Java client) -------------------------------------------------


@dataclass
class StreamCutRecord:
    scope: str
    stream: str
    cut: dict[int, int]

    def to_list(self) -> list:
        return [self.scope, self.stream, cut_to_json(self.cut)]

    @classmethod
    def from_list(cls, d: list) -> StreamCutRecord:
        return cls(d[0], d[1], cut_from_json(d[2]))


@dataclass
class ReaderGroup:
    scope: str
    name: str
    reader_group_id: str
    generation: int = 0
    group_refresh_ms: int = 0
    checkpoint_interval_ms: int = 0
    max_outstanding_checkpoints: int = 0
    retention_type: int = 0  # ReaderGroupConfiguration.RetentionType: NONE / MANUAL / AUTOMATIC
    starting_cuts: list[StreamCutRecord] = field(default_factory=list)
    ending_cuts: list[StreamCutRecord] = field(default_factory=list)
    rollover_size_bytes: int = 0

    @property
    def scoped_name(self) -> str:
        """How the reader group is named as a stream subscriber."""
        return f"{self.scope}/{self.name}"

    def streams(self) -> set[tuple[str, str]]:
        return {(c.scope, c.stream) for c in self.starting_cuts} | {(c.scope, c.stream) for c in self.ending_cuts}

    def to_json(self) -> bytes:
        return dumps(
            {
                "scope": self.scope,
                "name": self.name,
                "id": self.reader_group_id,
                "gen": self.generation,
                "refresh": self.group_refresh_ms,
                "ckpt": self.checkpoint_interval_ms,
                "maxckpt": self.max_outstanding_checkpoints,
                "ret": self.retention_type,
                "start": [c.to_list() for c in self.starting_cuts],
                "end": [c.to_list() for c in self.ending_cuts],
                "ro": self.rollover_size_bytes,
            }
        )

    @classmethod
    def from_json(cls, data: bytes) -> ReaderGroup:
        d = loads(data)
        return cls(
            d["scope"],
            d["name"],
            d["id"],
            d["gen"],
            d["refresh"],
            d["ckpt"],
            d["maxckpt"],
            d["ret"],
            [StreamCutRecord.from_list(c) for c in d["start"]],
            [StreamCutRecord.from_list(c) for c in d["end"]],
            d.get("ro", 0),
        )


@dataclass
class WriterMark:
    """The last time/position a writer reported for a stream (watermarking)."""

    timestamp: int
    position: dict[int, int]

    def to_json(self) -> bytes:
        return dumps({"ts": self.timestamp, "pos": cut_to_json(self.position)})

    @classmethod
    def from_json(cls, data: bytes) -> WriterMark:
        d = loads(data)
        return cls(d["ts"], cut_from_json(d["pos"]))
