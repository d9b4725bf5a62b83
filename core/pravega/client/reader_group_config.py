"""What a reader group reads, and the positions it reports.

:class:`ReaderGroupConfig` (streams, start and end cuts, checkpoint and refresh
intervals), :class:`Checkpoint` (a consistent position of the whole group), and the
conversions between stream cuts and the ``{segment name: offset}`` maps the group's
shared state holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import errors, naming
from ..model import StreamCut, scoped_stream


def _stream_name(s: Any, default_scope: str | None = None) -> str:
    if isinstance(s, tuple) and len(s) == 2:
        return f"{s[0]}/{s[1]}"
    if isinstance(s, StreamCut):
        return f"{s.scope}/{s.stream}"
    if isinstance(s, str):
        if "/" not in s and default_scope is not None:
            s = f"{default_scope}/{s}"
        scoped_stream(s)  # validates
        return s
    raise errors.InterfaceError(f"a stream is 'scope/stream' or (scope, stream), got {s!r}")


def cut_map(value: Any, what: str) -> dict[str, StreamCut]:
    """Start/end cuts as {"scope/stream": StreamCut}, from a mapping, one cut or cuts."""
    if value is None:
        return {}
    if isinstance(value, StreamCut):
        value = [value]
    if isinstance(value, Mapping):
        items = list(value.values())
        for key, cut in value.items():
            if not isinstance(cut, StreamCut):
                raise errors.InterfaceError(f"{what} cut for {key!r} is not a StreamCut: {cut!r}")
            if _stream_name(key, cut.scope) != f"{cut.scope}/{cut.stream}":
                raise errors.InterfaceError(f"{what} cut for {key!r} is a cut of {cut.scope}/{cut.stream}")
    else:
        items = list(value)
    out: dict[str, StreamCut] = {}
    for cut in items:
        if not isinstance(cut, StreamCut):
            raise errors.InterfaceError(f"{what} cuts must be StreamCuts, got {cut!r}")
        out[f"{cut.scope}/{cut.stream}"] = cut
    return out


@dataclass
class ReaderGroupConfig:
    """What a reader group reads.

    ``streams``: "scope/stream" names or (scope, stream) pairs. ``start_cuts`` /
    ``end_cuts``: StreamCuts (a mapping by stream, one cut or an iterable of cuts); a
    stream without a start cut starts at its head, or at its tail with ``from_tail``;
    a stream without an end cut is read without end. ``automatic_checkpoint_interval``:
    seconds between checkpoints the readers initiate themselves (None: off).
    ``group_refresh_time``: how often a reader writes its positions back and rebalances.
    """

    streams: list[Any]
    start_cuts: Any = None
    end_cuts: Any = None
    from_tail: bool = False
    automatic_checkpoint_interval: float | None = None
    group_refresh_time: float = 1.0

    def __post_init__(self) -> None:
        streams = self.streams
        if isinstance(streams, (str, tuple)):
            streams = [streams]
        names: list[str] = []
        for s in streams:
            name = _stream_name(s)
            if name not in names:
                names.append(name)
        if not names:
            raise errors.InterfaceError("a reader group needs at least one stream")
        self.streams = names
        self.start_cuts = cut_map(self.start_cuts, "start")
        self.end_cuts = cut_map(self.end_cuts, "end")
        for what, cuts in (("start", self.start_cuts), ("end", self.end_cuts)):
            for name in cuts:
                if name not in names:
                    raise errors.InterfaceError(f"{what} cut for {name}, which the group does not read")
        if self.group_refresh_time <= 0:
            raise errors.InterfaceError("group_refresh_time must be positive")
        if self.automatic_checkpoint_interval is not None and self.automatic_checkpoint_interval <= 0:
            raise errors.InterfaceError("automatic_checkpoint_interval must be positive (or None)")


def reader_group_config(config_or_streams: Any, scope: str, **options: Any) -> ReaderGroupConfig:
    """A :class:`ReaderGroupConfig` from a config, or from streams plus keyword options;
    stream names without a scope are taken to be in ``scope``."""
    if isinstance(config_or_streams, ReaderGroupConfig):
        if options:
            raise errors.InterfaceError("pass either a ReaderGroupConfig or options, not both")
        return config_or_streams
    streams = config_or_streams
    if isinstance(streams, (str, tuple)):
        streams = [streams]
    return ReaderGroupConfig([_stream_name(s, scope) for s in streams], **options)


@dataclass(frozen=True)
class Checkpoint:
    """A completed checkpoint: a consistent position of the whole group.

    ``positions`` are stream cuts by "scope/stream" (a stream the group finished is
    absent); ``segment_positions`` are the exact offsets by segment name, which
    :meth:`ReaderGroup.reset` replays from.
    """

    name: str
    positions: dict[str, StreamCut]
    segment_positions: dict[str, int] = field(default_factory=dict)

    @property
    def stream_cuts(self) -> dict[str, StreamCut]:
        return self.positions


def cuts_of(positions: Mapping[str, int]) -> dict[str, StreamCut]:
    by_stream: dict[tuple[str, str], dict[int, int]] = {}
    for name, offset in positions.items():
        scope, stream, sid = naming.parse_segment_name(name)
        by_stream.setdefault((scope, stream), {})[sid] = offset
    return {f"{scope}/{stream}": StreamCut(scope, stream, pos) for (scope, stream), pos in sorted(by_stream.items())}


def positions_of(cut: StreamCut) -> dict[str, int]:
    return {naming.qualified_segment_name(cut.scope, cut.stream, sid): off for sid, off in cut.positions.items()}


def stream_of(segment: str) -> str:
    scope, stream, _ = naming.parse_segment_name(segment)
    return f"{scope}/{stream}"


def position_arg(value: Any) -> dict[str, int] | None:
    if value is None:
        return None
    if isinstance(value, StreamCut):
        return positions_of(value)
    if isinstance(value, Checkpoint):
        return dict(value.segment_positions)
    if isinstance(value, Mapping):
        out: dict[str, int] = {}
        for key, val in value.items():
            if isinstance(val, StreamCut):
                out.update(positions_of(val))
            else:
                naming.parse_segment_name(key)
                out[key] = int(val)
        return out
    raise errors.InterfaceError(f"a position is {{segment: offset}} or stream cuts, got {value!r}")


def config_from_state(cfg: dict) -> ReaderGroupConfig:
    streams = cfg.get("streams", [])
    start = {s: c for s, c in cuts_of(cfg.get("start", {})).items() if s in streams}
    end = {s: c for s, c in cuts_of(cfg.get("end", {})).items() if s in streams}
    return ReaderGroupConfig(
        streams, start, end, False, cfg.get("automatic_checkpoint_interval"), cfg.get("group_refresh_time", 1.0)
    )
