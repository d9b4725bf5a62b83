"""The restriction of the Beam read and its tracker (private; used by ``_sdf``).

A restriction is a reader position, :class:`_Restriction`:

* ``positions``: the segments being read and the offset of the next event in each;
* ``ends``: ``None`` for an unbounded read, which follows the stream through scaling;
  otherwise the offset where each segment's read stops (a bounded read follows nothing);
* ``finished``: segments read to their end whose successors still wait for another
  predecessor (kept so that a successor starts only once *all* its predecessors are
  read, which keeps each routing key in order).

The tracker's claims are event positions ``(segment id, offset, next offset)``: a run
of whole events (claimed together to keep the per-event cost low, and emitted only
after the claim) that must start where the previous claim of its segment ended; and
:class:`_SegmentEnd` claims, which retire a segment and admit those successors whose
predecessors are all finished. A checkpoint (``try_split(0)``) hands the unread
remainder over as the residual; other split fractions are refused, because an
unbounded read must stay in one piece to keep key order across scaling and a segment
can only be cut at event boundaries that are not known ahead. A bounded read is cut
into one restriction per segment slice up front (the provider's ``split``), which is
where its parallelism comes from.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from apache_beam.io.iobase import RestrictionProgress, RestrictionTracker


@dataclass(frozen=True)
class _Restriction:
    positions: tuple[tuple[int, int], ...]
    ends: tuple[tuple[int, int], ...] | None = None
    finished: tuple[tuple[int, tuple[int, ...]], ...] = ()
    #: On a primary after a checkpoint: the work ends where ``stop`` begins.
    stop: _Restriction | None = None
    #: Where successor segments start (resuming a sink's progress): (segment id,
    #: offset); a successor not listed starts at 0.
    resume: tuple[tuple[int, int], ...] = ()

    @property
    def bounded(self) -> bool:
        return self.ends is not None

    def remaining_bytes(self) -> int:
        """Bytes left in a bounded restriction."""
        if self.ends is None:
            raise ValueError("an unbounded read has no fixed size")
        ends = dict(self.ends)
        return sum(max(0, ends[sid] - off) for sid, off in self.positions)


@dataclass
class _SegmentEnd:
    """Claim: ``segment_id`` is read to its end at ``offset``. ``successors`` are
    (successor id, its predecessor ids); the tracker sets ``added`` to the successors
    that may now be read."""

    segment_id: int
    offset: int
    successors: tuple[tuple[int, tuple[int, ...]], ...] = ()
    added: tuple[int, ...] = field(default=())


class _Tracker(RestrictionTracker):
    def __init__(self, restriction: _Restriction) -> None:
        self._restriction = restriction
        self._pos = dict(restriction.positions)
        self._ends = dict(restriction.ends) if restriction.ends is not None else None
        self._finished = {sid: set(waiting) for sid, waiting in restriction.finished}
        self._resume = dict(restriction.resume)
        self._split: tuple[_Restriction, _Restriction] | None = None
        self._claimed = 0

    def current_restriction(self) -> _Restriction:
        return self._split[0] if self._split is not None else self._restriction

    def current_progress(self) -> RestrictionProgress:
        remaining = 0
        if self._ends is not None:
            remaining = sum(max(0, self._ends[sid] - off) for sid, off in self._pos.items())
        return RestrictionProgress(completed=self._claimed, remaining=remaining)

    def try_claim(self, position: Any) -> bool:
        if self._split is not None:
            return False
        if type(position) is tuple:  # an event: (segment id, offset, next offset)
            sid, offset, nxt = position
            current = self._pos.get(sid)
            if current != offset:
                raise ValueError(f"claim of segment {sid} at offset {offset}, but its read stands at {current}")
            if self._ends is not None and nxt > self._ends[sid]:
                return False
            self._pos[sid] = nxt
            self._claimed += nxt - offset
            return True
        if isinstance(position, _SegmentEnd):
            return self._claim_end(position)
        raise ValueError(f"not a claim of this reader: {position!r}")

    def _claim_end(self, claim: _SegmentEnd) -> bool:
        sid = claim.segment_id
        if self._pos.get(sid) != claim.offset:
            raise ValueError(
                f"end of segment {sid} claimed at {claim.offset}, but its read stands at {self._pos.get(sid)}"
            )
        del self._pos[sid]
        if self._ends is not None:
            if claim.offset != self._ends[sid]:
                raise ValueError(f"segment {sid} ended at {claim.offset} before its bound {self._ends[sid]}")
            del self._ends[sid]
            return True
        waiting = self._finished.setdefault(sid, set())
        added = []
        for succ, preds in claim.successors:
            if succ in self._pos:
                continue
            if all(p in self._finished for p in preds):
                self._pos[succ] = self._resume.get(succ, 0)
                added.append(succ)
            else:
                waiting.add(succ)
        for succ in added:
            for pending in self._finished.values():
                pending.discard(succ)
        self._finished = {s: w for s, w in self._finished.items() if w}
        claim.added = tuple(added)
        return True

    def try_split(self, fraction_of_remainder: float) -> tuple[_Restriction, _Restriction] | None:
        # Only checkpoints: see the module docstring.
        if self._split is not None or fraction_of_remainder != 0 or not self._pos:
            return None
        ends = None
        if self._ends is not None:
            ends = tuple(sorted(self._ends.items()))
        residual = _Restriction(
            tuple(sorted(self._pos.items())),
            ends,
            tuple(sorted((sid, tuple(sorted(w))) for sid, w in self._finished.items())),
            resume=self._restriction.resume,
        )
        primary = replace(self._restriction, stop=residual)
        self._split = (primary, residual)
        return self._split

    def check_done(self) -> bool:
        if self._split is not None:
            return True
        if self._pos:
            raise ValueError(f"segments {sorted(self._pos)} were not read to the end of the restriction")
        if self._finished:
            waiting = sorted({s for w in self._finished.values() for s in w})
            raise ValueError(
                f"successor segments {waiting} wait for predecessors this read does not hold "
                "(was the start stream cut inconsistent?)"
            )
        return True

    def is_bounded(self) -> bool:
        return self._ends is not None

    # Used by the DoFn (through the claim protocol only) and by tests.
    @property
    def positions(self) -> dict[int, int]:
        return dict(self._pos)
