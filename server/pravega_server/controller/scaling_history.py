"""A stream's scaling history, derived from its epochs (which are durable).

Epoch 0 is the creation of the stream; every later epoch is one scale: manual
(``scale_stream``), automatic (``autoscale.py``), a higher ``min_num_segments`` applied by
``update_stream``, or one of the two epochs of a rolling transaction (whose new segments
repeat the key ranges of the ones they replace).
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import SegmentRecord, Stream


@dataclass(frozen=True)
class ScaleEvent:
    epoch: int
    timestamp_ms: int
    sealed: list[SegmentRecord]
    created: list[SegmentRecord]

    @property
    def splits(self) -> int:
        """How many sealed segments were replaced by more than one segment each."""
        return sum(1 for s in self.sealed if sum(1 for c in self.created if c.overlaps(s)) > 1)

    @property
    def merges(self) -> int:
        """How many new segments each replace more than one sealed segment."""
        return sum(1 for c in self.created if sum(1 for s in self.sealed if s.overlaps(c)) > 1)


def scaling_events(stream: Stream, from_ms: int = 0, to_ms: int | None = None) -> list[ScaleEvent]:
    """The stream's epochs as scale events, oldest first, within [from_ms, to_ms]."""
    out = []
    previous: set[int] = set()
    for k, epoch in enumerate(stream.epochs):
        ids = epoch.ids()
        sealed = [s for s in stream.epochs[k - 1].segments if s.id not in ids] if k else []
        created = [s for s in epoch.segments if s.id not in previous]
        previous = ids
        if epoch.created_ms < from_ms or (to_ms is not None and epoch.created_ms > to_ms):
            continue
        out.append(ScaleEvent(k, epoch.created_ms, sealed, created))
    return out
