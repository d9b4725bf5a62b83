"""The restriction of the Beam read and its tracker (private; used by ``_sdf``).

A restriction is a reader position, :class:`_Restriction`:

* ``positions``: the segments being read and the offset of the next event in each;
* ``ends``: ``None`` for an unbounded read, which follows the stream through scaling;
  otherwise the offset where each segment's read stops (a bounded read follows nothing);
* ``waiting``: successor segments this restriction will read once their other
  predecessors are read to their end (each with those predecessors);
* ``done``: segments this restriction read to their end and has not announced yet.

Both kinds of read start as one restriction per segment (the provider's ``split``), so
a runner that parallelizes reads the segments of a stream in parallel. Scaling ties
restrictions together: a successor may only be read once *all* its predecessors are
read to their end, or a routing key would come out of order. The successor belongs to
the restriction that finishes its lowest predecessor (its *owner*, one per successor,
decided without coordination). A predecessor finished by another restriction is
*announced* in the read's table in Pravega (``_sdf`` writes it), and only in the
bundle after the one that emitted the segment's last events: a runner hands a
residual back only once the bundle that produced it is committed, so an announced
segment's events are all committed output. The owner admits the successor when it
finds every other predecessor announced (or finished by itself).

The tracker's claims:

* events ``(segment id, offset, next offset)``: a run of whole events (claimed together
  to keep the per-event cost low, and emitted only after the claim) that must start
  where the previous claim of its segment ended;
* :class:`_SegmentEnd`: retires a segment, admits the successors it owns whose other
  predecessors are finished, and queues its announcement;
* :class:`_Announced`: the DoFn wrote these segments' announcements (``done`` shrinks);
* :class:`_Found`: the DoFn found these segments announced by other restrictions;
  waiting successors whose predecessors are now all finished are admitted.

Splits: ``try_split(0)`` (a checkpoint) hands the whole unread remainder over as the
residual. ``try_split(f)`` with ``f > 0`` moves whole segments (a fraction ``f`` of the
active ones, at least one, never all) into the residual: safe at any time, because
segments do not depend on each other except through the announcements. A segment is
never cut in the middle: its event boundaries are not known ahead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from apache_beam.io.iobase import RestrictionProgress, RestrictionTracker


@dataclass(frozen=True)
class _Restriction:
    positions: tuple[tuple[int, int], ...]
    ends: tuple[tuple[int, int], ...] | None = None
    waiting: tuple[tuple[int, tuple[int, ...]], ...] = ()
    done: tuple[int, ...] = ()
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
    #: Set by the tracker: successors wait or ends await their announcement; ``waits``:
    #: successors wait for other restrictions.
    pending: bool = False
    waits: bool = False


@dataclass
class _Announced:
    """Claim: the announcements of these finished segments are written."""

    segments: tuple[int, ...]


@dataclass
class _Found:
    """Claim: these segments were found announced; the tracker sets ``added``."""

    segments: tuple[int, ...]
    added: tuple[int, ...] = field(default=())
    pending: bool = False  # as in _SegmentEnd
    waits: bool = False


class _Tracker(RestrictionTracker):
    def __init__(self, restriction: _Restriction) -> None:
        self._restriction = restriction
        self._pos = dict(restriction.positions)
        self._ends = dict(restriction.ends) if restriction.ends is not None else None
        self._waiting = {sid: set(preds) for sid, preds in restriction.waiting}
        self._done = set(restriction.done)
        self._resume = dict(restriction.resume)
        self._checkpoint: tuple[_Restriction, _Restriction] | None = None
        self._moved: set[int] = set()  # segments given to residuals of fractional splits
        self._claimed = 0

    def current_restriction(self) -> _Restriction:
        if self._checkpoint is not None:
            return self._checkpoint[0]
        if not self._moved:
            return self._restriction
        kept = tuple((sid, off) for sid, off in self._restriction.positions if sid not in self._moved)
        ends = None
        if self._restriction.ends is not None:
            ends = tuple((sid, end) for sid, end in self._restriction.ends if sid not in self._moved)
        return replace(self._restriction, positions=kept, ends=ends)

    def current_progress(self) -> RestrictionProgress:
        remaining = 0
        if self._ends is not None:
            remaining = sum(max(0, self._ends[sid] - off) for sid, off in self._pos.items())
        return RestrictionProgress(completed=self._claimed, remaining=remaining)

    def try_claim(self, position: Any) -> bool:
        if self._checkpoint is not None:
            return False
        if type(position) is tuple:  # an event: (segment id, offset, next offset)
            sid, offset, nxt = position
            if sid in self._moved:
                return False
            current = self._pos.get(sid)
            if current != offset:
                raise ValueError(f"claim of segment {sid} at offset {offset}, but its read stands at {current}")
            if self._ends is not None and nxt > self._ends[sid]:
                return False
            self._pos[sid] = nxt
            self._claimed += nxt - offset
            return True
        if isinstance(position, _SegmentEnd):
            if position.segment_id in self._moved:
                return False
            return self._claim_end(position)
        if isinstance(position, _Announced):
            self._done.difference_update(position.segments)
            return True
        if isinstance(position, _Found):
            position.added = self._admit(set(position.segments))
            position.pending = bool(self._waiting or self._done)
            position.waits = bool(self._waiting)
            return True
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
        for succ, preds in claim.successors:
            if min(preds) == sid and succ not in self._pos and succ not in self._waiting:
                self._waiting[succ] = set(preds) - {sid} - self._done
            elif min(preds) != sid:
                self._done.add(sid)  # another restriction may own the successor: tell it
        claim.added = self._admit({sid})
        claim.pending = bool(self._waiting or self._done)
        claim.waits = bool(self._waiting)
        return True

    def _admit(self, finished: set[int]) -> tuple[int, ...]:
        """Drop ``finished`` from what waiting successors wait for; start the ready ones."""
        added = []
        for succ in sorted(self._waiting):
            preds = self._waiting[succ]
            preds -= finished
            if not preds:
                del self._waiting[succ]
                self._pos[succ] = self._resume.get(succ, 0)
                added.append(succ)
        return tuple(added)

    def try_split(self, fraction_of_remainder: float) -> tuple[_Restriction, _Restriction] | None:
        if self._checkpoint is not None:
            return None
        if fraction_of_remainder > 0:
            return self._split_segments(fraction_of_remainder)
        if not (self._pos or self._waiting or self._done):
            return None
        residual = self._rest(sorted(self._pos), waiting=True)
        primary = replace(self.current_restriction(), stop=residual)
        self._checkpoint = (primary, residual)
        return self._checkpoint

    def _rest(self, segments: list[int], waiting: bool) -> _Restriction:
        ends = None
        if self._ends is not None:
            ends = tuple((sid, self._ends[sid]) for sid in segments)
        return _Restriction(
            tuple((sid, self._pos[sid]) for sid in segments),
            ends,
            tuple(sorted((s, tuple(sorted(p))) for s, p in self._waiting.items())) if waiting else (),
            tuple(sorted(self._done)),
            resume=self._restriction.resume,
        )

    def _split_segments(self, fraction: float) -> tuple[_Restriction, _Restriction] | None:
        """Move the last ``fraction`` of the active segments (at least one, never all)
        into a residual; the primary keeps reading the others."""
        active = sorted(self._pos)
        if len(active) < 2:
            return None
        count = min(len(active) - 1, max(1, math.floor(len(active) * min(fraction, 1.0))))
        moved = active[len(active) - count :]
        residual = self._rest(moved, waiting=False)  # waiting successors stay with the primary
        for sid in moved:
            del self._pos[sid]
            if self._ends is not None:
                del self._ends[sid]
        self._moved.update(moved)
        return self.current_restriction(), residual

    def check_done(self) -> bool:
        if self._checkpoint is not None:
            return True
        if self._pos:
            raise ValueError(f"segments {sorted(self._pos)} were not read to the end of the restriction")
        if self._waiting:
            raise ValueError(
                f"successor segments {sorted(self._waiting)} wait for predecessors that were never "
                "read to their end (was the start stream cut inconsistent?)"
            )
        if self._done:
            raise ValueError(f"finished segments {sorted(self._done)} were not announced")
        return True

    def is_bounded(self) -> bool:
        return self._ends is not None

    # Used by the DoFn (through the claim protocol only) and by tests.
    @property
    def positions(self) -> dict[int, int]:
        return dict(self._pos)

    @property
    def waiting(self) -> dict[int, set[int]]:
        return {s: set(p) for s, p in self._waiting.items()}

    @property
    def done(self) -> set[int]:
        return set(self._done)
