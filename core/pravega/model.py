"""Value types of the client API: stream configuration, segments, stream cuts."""

from __future__ import annotations

import base64
import enum
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .errors import InterfaceError


class ScaleType(enum.IntEnum):
    FIXED = 0
    BY_RATE_IN_KBYTES_PER_SEC = 1
    BY_RATE_IN_EVENTS_PER_SEC = 2


@dataclass(frozen=True)
class ScalingPolicy:
    """How many segments a stream has, and whether the server may split and merge them.

    ``fixed(n)``: always n segments. ``by_event_rate(target, factor, min_segments)`` /
    ``by_data_rate(target_kib_per_s, factor, min_segments)``: segments split into
    ``factor`` parts when their rate exceeds the target, and merge when it drops.
    """

    scale_type: ScaleType = ScaleType.FIXED
    target_rate: int = 0
    scale_factor: int = 0
    min_num_segments: int = 1

    def __post_init__(self) -> None:
        if self.min_num_segments < 1:
            raise InterfaceError(f"a stream needs at least one segment, got {self.min_num_segments}")
        if self.scale_type != ScaleType.FIXED and (self.target_rate <= 0 or self.scale_factor < 2):
            raise InterfaceError("auto-scaling needs target_rate > 0 and scale_factor >= 2")

    @classmethod
    def fixed(cls, segments: int) -> ScalingPolicy:
        return cls(ScaleType.FIXED, 0, 0, segments)

    @classmethod
    def by_event_rate(cls, events_per_second: int, scale_factor: int, min_segments: int = 1) -> ScalingPolicy:
        return cls(ScaleType.BY_RATE_IN_EVENTS_PER_SEC, events_per_second, scale_factor, min_segments)

    @classmethod
    def by_data_rate(cls, kib_per_second: int, scale_factor: int, min_segments: int = 1) -> ScalingPolicy:
        return cls(ScaleType.BY_RATE_IN_KBYTES_PER_SEC, kib_per_second, scale_factor, min_segments)


class RetentionType(enum.IntEnum):
    NONE = 0
    TIME = 1
    SIZE = 2


@dataclass(frozen=True)
class RetentionPolicy:
    """How much of a stream the server keeps: ``by_time(ms)`` or ``by_size(bytes)``."""

    retention_type: RetentionType = RetentionType.NONE
    retention_param: int = 0
    retention_max: int = 2**63 - 1

    def __post_init__(self) -> None:
        if self.retention_type != RetentionType.NONE and self.retention_param <= 0:
            raise InterfaceError("a retention limit must be positive")

    @classmethod
    def none(cls) -> RetentionPolicy:
        return cls()

    @classmethod
    def by_time(cls, milliseconds: int, max_milliseconds: int = 2**63 - 1) -> RetentionPolicy:
        return cls(RetentionType.TIME, milliseconds, max_milliseconds)

    @classmethod
    def by_size(cls, size_bytes: int, max_bytes: int = 2**63 - 1) -> RetentionPolicy:
        return cls(RetentionType.SIZE, size_bytes, max_bytes)


@dataclass(frozen=True)
class StreamConfiguration:
    scaling: ScalingPolicy = field(default_factory=ScalingPolicy)
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)
    tags: tuple[str, ...] = ()
    timestamp_aggregation_timeout_ms: int = 0
    rollover_size_bytes: int = 0


@dataclass(frozen=True, order=True)
class SegmentRange:
    """A segment and the part of the routing-key space [0, 1) it owns."""

    segment_id: int
    min_key: float
    max_key: float

    @property
    def number(self) -> int:
        return self.segment_id & 0xFFFFFFFF

    @property
    def epoch(self) -> int:
        return self.segment_id >> 32


@dataclass(frozen=True)
class ScalingEvent:
    """One change of a stream's segments (``Client.scaling_events``): at ``timestamp_ms``
    epoch ``epoch`` began, ``sealed`` were replaced by ``created``. Epoch 0 is the
    stream's creation (nothing sealed)."""

    epoch: int
    timestamp_ms: int
    sealed: tuple[SegmentRange, ...]
    created: tuple[SegmentRange, ...]


@dataclass(frozen=True)
class StreamCut:
    """A position in a stream: an offset in each segment of a consistent set of segments.

    ``StreamCut.UNBOUNDED`` (no positions) means "the head" as a start and "no end" as
    an end. The text form (``str(cut)`` / :meth:`from_text`) is stable: it can be stored
    and handed between processes and versions.
    """

    scope: str
    stream: str
    positions: Mapping[int, int] = field(default_factory=dict)  # segment id -> offset

    def __post_init__(self) -> None:
        object.__setattr__(self, "positions", dict(sorted(self.positions.items())))

    @property
    def is_unbounded(self) -> bool:
        return not self.positions

    def to_text(self) -> str:
        body = {
            "v": 1,
            "scope": self.scope,
            "stream": self.stream,
            "positions": [[sid, off] for sid, off in self.positions.items()],
        }
        raw = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
        return "sc1:" + base64.urlsafe_b64encode(raw).decode().rstrip("=")

    __str__ = to_text

    @classmethod
    def from_text(cls, text: str) -> StreamCut:
        if not text.startswith("sc1:"):
            raise InterfaceError(f"not a stream cut: {text[:40]!r}")
        raw = text[4:]
        try:
            body = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
            return cls(body["scope"], body["stream"], {int(s): int(o) for s, o in body["positions"]})
        except (ValueError, KeyError, TypeError) as exc:
            raise InterfaceError(f"malformed stream cut: {exc}") from None

    @classmethod
    def unbounded(cls, scope: str, stream: str) -> StreamCut:
        return cls(scope, stream, {})


def scoped_stream(name: str) -> tuple[str, str]:
    """``"scope/stream"`` -> (scope, stream)."""
    parts = name.split("/")
    if len(parts) != 2 or not all(parts):
        raise InterfaceError(f"expected 'scope/stream', got {name!r}")
    return parts[0], parts[1]


def key_space_covered(ranges: Iterable[SegmentRange]) -> bool:
    """True if the ranges partition [0, 1) with no gap or overlap."""
    end = 0.0
    for r in sorted(ranges, key=lambda r: r.min_key):
        if abs(r.min_key - end) > 1e-9:
            return False
        end = r.max_key
    return abs(end - 1.0) < 1e-9
