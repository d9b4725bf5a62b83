"""The reading side of the Beam connector: a Splittable DoFn over Pravega segments (private).

The element is a :class:`_ReadSpec` (one per stream); its restriction and tracker are
in ``_restriction``. The tracker's claims are runs of up to ``_CLAIM_RUN`` whole
events, emitted after the claim.

``process`` reads from all active segments at once (one read in flight per segment,
on the process's shared client loop, see ``_runtime``), waits at most ``max_poll_ms`` when it has nothing to
emit, and defers the remainder when caught up — the FnApiRunner ignores resume
delays, so the wait is the poll interval. It also checkpoints after
``_BUNDLE_SECONDS`` of reading so that bundles finish and output moves on. Segment
cursors (reader, partial event, read in flight) survive the checkpoint in the DoFn instance
and are reused when the residual comes back at the same offsets.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.transforms.core import RestrictionProvider
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import MIN_TIMESTAMP, Timestamp
from apache_beam.utils.windowed_value import WindowedValue

from pravega import StreamCut, errors, naming
from pravega.client.watermarks import WatermarkFollower, lower_bound
from pravega.protocol.commands import TableKey
from pravega.protocol.framing import EVENT_HEADER_SIZE

from ._cursors import _close_all, _Cursor, _fetch
from ._estimator import _WATERMARKS
from ._progress import committed_offsets
from ._restriction import _Announced, _Found, _Restriction, _SegmentEnd, _Tracker
from ._runtime import _Session, acquire, release, run_once

#: A bundle of an SDF reads at most this long before it checkpoints.
_BUNDLE_SECONDS = 1.0
#: Cursors not used for this long are closed.
_CURSOR_IDLE_SECONDS = 60.0
#: How often a read looks for new records in its stream's watermark stream.
_WATERMARK_REFRESH_SECONDS = 0.2
#: Events claimed at once: the claim covers a run of whole events, emitted after it.
_CLAIM_RUN = 256
METRICS_NAMESPACE = "pravega"
#: ``PravegaEvent(...)`` without its Python-level ``__new__`` (per event, it counts).
_new_tuple = tuple.__new__
#: The read's element (a _ReadSpec from Impulse) is in the global window; so are its events.
_GLOBAL = (GlobalWindow(),)


class PravegaEvent(NamedTuple):
    """An event with where it was read (``ReadFromPravega(with_metadata=True)``).
    Pravega does not store routing keys with events, so there is none here."""

    stream: str  # "scope/stream"
    segment_id: int
    offset: int  # of the event's header in its segment
    event: Any


@dataclass(frozen=True)
class _ReadSpec:
    controller_uri: str
    scope: str
    stream: str
    start: str  # "head", "tail" or a stream cut's text
    end: str | None = None  # a stream cut's text: bounded; None: unbounded
    resume: str | None = None  # a sink's progress table: start where its committed output ends
    #: Names this read in the announcement table (see ``_announce``); unique per pipeline.
    read_id: str = ""

    @property
    def name(self) -> str:
        return f"{self.scope}/{self.stream}"


def _parse_cut(text: str, spec: _ReadSpec) -> StreamCut:
    cut = StreamCut.from_text(text)
    if (cut.scope, cut.stream) != (spec.scope, spec.stream):
        raise ValueError(f"a stream cut of {cut.scope}/{cut.stream} given for {spec.name}")
    return cut


class _Restrictions(RestrictionProvider):
    """Restrictions of :class:`_ReadSpec` elements; stateless (the element carries the
    controller URI), so one module-level instance serves every read."""

    def initial_restriction(self, spec: _ReadSpec) -> _Restriction:
        return run_once(spec.controller_uri, lambda client: _initial(client, spec))

    def create_tracker(self, restriction: _Restriction) -> _Tracker:
        return _Tracker(restriction)

    def split(self, spec: _ReadSpec, restriction: _Restriction) -> Iterator[_Restriction]:
        """One restriction per segment, for bounded and unbounded reads alike (see
        ``_restriction`` for how successors stay in order across restrictions)."""
        if len(restriction.positions) <= 1 or restriction.waiting or restriction.done:
            yield restriction
            return
        ends = dict(restriction.ends) if restriction.ends is not None else None
        for sid, offset in restriction.positions:
            yield _Restriction(
                ((sid, offset),), None if ends is None else ((sid, ends[sid]),), resume=restriction.resume
            )

    def restriction_size(self, spec: _ReadSpec, restriction: _Restriction) -> int:
        """Bytes left: exact for a bounded read; for an unbounded one the backlog
        (what has been appended and not read), as measured when the read checkpointed."""
        if restriction.ends is not None:
            return restriction.remaining_bytes()
        if not restriction.positions:
            # Waiting for other restrictions or announcing: work, however little.
            return 1 if restriction.waiting or restriction.done else 0
        backlog = _measured_backlogs.pop((spec.name, restriction.positions), None)
        if backlog is None:
            positions = dict(restriction.positions)
            backlog = run_once(spec.controller_uri, lambda client: _backlog(client, spec, positions))
        return max(backlog, 1)  # a live unbounded read is never "no work"

    def truncate(self, spec: _ReadSpec, restriction: _Restriction) -> _Restriction | None:
        # On drain a bounded read finishes; an unbounded one stops at its checkpoint.
        return restriction if restriction.ends is not None else None


async def _initial(client: Any, spec: _ReadSpec) -> _Restriction:
    controller = client.ctx.controller
    if spec.start == "head":
        start = StreamCut(spec.scope, spec.stream, await controller.get_segments_at(spec.scope, spec.stream, 0))
    elif spec.start == "tail":
        start = (await client.stream_info(spec.scope, spec.stream)).tail
    else:
        start = _parse_cut(spec.start, spec)
    if spec.end is not None:
        end = _parse_cut(spec.end, spec)
        behind = {sid for sid, off in end.positions.items() if off < start.positions.get(sid, -1)}
        if behind:
            raise ValueError(f"{spec.name}: the end stream cut is before the start in segments {sorted(behind)}")
        slices = await client.batch_client().list_segments(spec.scope, spec.stream, start, end)
        done = await _committed(client, spec)
        return _Restriction(
            tuple((s.segment_id, min(max(s.start_offset, done.get(s.segment_id, -1)), s.end_offset)) for s in slices),
            tuple((s.segment_id, s.end_offset) for s in slices),
        )
    done = await _committed(client, spec)
    positions = tuple(sorted((sid, max(off, done.get(sid, -1))) for sid, off in start.positions.items()))
    return _Restriction(positions, resume=tuple(sorted(done.items())))


async def _committed(client: Any, spec: _ReadSpec) -> dict[int, int]:
    """{segment id: offset of its last input event whose output a sink committed}. A
    read resumes there: that event is read again and the sink drops it (the offset
    where the next event starts is not recorded)."""
    if spec.resume is None:
        return {}
    return await committed_offsets(client, spec.resume, spec.name)


async def _backlog(client: Any, spec: _ReadSpec, positions: dict[int, int]) -> int:
    names = [naming.qualified_segment_name(spec.scope, spec.stream, sid) for sid in positions]
    infos = await asyncio.gather(*(client.segments.info(n) for n in names))
    return sum(max(0, info.length - off) for info, off in zip(infos, positions.values()))


def _announce_table(scope: str) -> str:
    """The table where unbounded reads of a scope's streams announce segments read to
    their end: key ``<read id>/<stream>/<segment id>``, value ``b"1"``. Entries are a
    few bytes per segment end and read."""
    return f"{scope}/{naming.INTERNAL_PREFIX}BEAMREAD_ends/0{naming.EPOCH_DELIMITER}0"


def _announce_key(spec: _ReadSpec, segment_id: int) -> bytes:
    return f"{spec.read_id}/{spec.stream}/{segment_id}".encode()


async def _announce(client: Any, spec: _ReadSpec, segments: tuple[int, ...]) -> None:
    table = _announce_table(spec.scope)
    entries = [(_announce_key(spec, sid), TableKey.NO_VERSION, b"1") for sid in segments]
    try:
        await client.segments.update_table(table, entries)
    except errors.NoSuchSegmentError:
        await client.segments.create_table(table)
        await client.segments.update_table(table, entries)


async def _announced(client: Any, spec: _ReadSpec, segments: list[int]) -> list[int]:
    """Those of ``segments`` that other restrictions announced as read to their end."""
    try:
        found = await client.segments.read_table(
            _announce_table(spec.scope), [_announce_key(spec, sid) for sid in segments]
        )
    except errors.NoSuchSegmentError:
        return []
    return [sid for sid, entry in zip(segments, found) if entry is not None]


_RESTRICTIONS = _Restrictions()

#: Backlogs measured by reads as they checkpoint, for the restriction_size call that
#: follows on the residual: (stream, positions) -> bytes.
_measured_backlogs: dict[tuple[str, tuple[tuple[int, int], ...]], int] = {}


def _remember_backlog(spec: _ReadSpec, positions: tuple[tuple[int, int], ...], backlog: int) -> None:
    if len(_measured_backlogs) > 1000:  # sizes that were never asked for
        _measured_backlogs.clear()
    _measured_backlogs[(spec.name, positions)] = backlog


def _process_method() -> Callable[..., Iterator[Any]]:
    """A new ``process`` for a read DoFn class. Each class needs its own function
    object: ``unbounded_per_element`` marks the function it decorates."""

    def process(
        self: _ReadFn,
        spec: _ReadSpec,
        tracker: Any = beam.DoFn.RestrictionParam(_RESTRICTIONS),
        watermark: Any = beam.DoFn.WatermarkEstimatorParam(_WATERMARKS),
    ) -> Iterator[Any]:
        return self._read(spec, tracker, watermark)

    return process


# -- the DoFn ---------------------------------------------------------------------------


class _ReadFn(beam.DoFn):
    """Reads the events of a :class:`_ReadSpec` (bounded when the spec has an end)."""

    def __init__(
        self,
        deserialize: Callable[[bytes], Any] | None,
        with_metadata: bool,
        timestamp_fn: Callable[[Any], Any] | None,
        idle_timeout: float | None,
        max_poll_ms: int,
    ) -> None:
        self._deserialize = deserialize
        self._with_metadata = with_metadata
        self._timestamp_fn = timestamp_fn
        self._idle_timeout = idle_timeout
        self._max_poll = max_poll_ms / 1000.0
        self._events_read = Metrics.counter(METRICS_NAMESPACE, "events_read")
        self._bytes_read = Metrics.counter(METRICS_NAMESPACE, "bytes_read")
        self._backlog = Metrics.gauge(METRICS_NAMESPACE, "backlog_bytes")
        self._session: _Session | None = None
        self._cursors: dict[tuple[str, str, int], _Cursor] = {}
        self._segment_counters: dict[tuple[str, int], Any] = {}
        #: The Pravega watermarks the read moved to (its max: the highest).
        self._pravega_watermark = Metrics.distribution(METRICS_NAMESPACE, "pravega_watermark_ms")
        #: stream -> (its watermark follower, when it was last refreshed).
        self._followers: dict[str, tuple[WatermarkFollower, float]] = {}
        self._highest_watermark = -1
        # Of the read in progress: the restriction has work besides its segments (see
        # _coordinate); ``_wait``: its successors wait for other restrictions.
        self._pending = False
        self._wait = False

    def display_data(self) -> dict[str, Any]:
        return {
            "with_metadata": self._with_metadata,
            "timestamps": "timestamp_fn" if self._timestamp_fn is not None else "processing time",
            "idle_timeout": str(self._idle_timeout),
            "max_poll_ms": int(self._max_poll * 1000),
        }

    def setup(self) -> None:
        self._session = None  # opened on first use: the spec names the controller
        self._cursors = {}
        self._segment_counters = {}
        self._followers = {}
        self._highest_watermark = -1

    def teardown(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            cursors, self._cursors = list(self._cursors.values()), {}
            try:
                session.call(lambda: _close_all(cursors))
            finally:
                release(session)

    process = _process_method()

    # -- reading ------------------------------------------------------------------------

    def _open(self, spec: _ReadSpec) -> _Session:
        if self._session is None:
            self._session = acquire(spec.controller_uri)
        return self._session

    def _take_cursors(self, session: _Session, spec: _ReadSpec, restriction: _Restriction) -> dict[int, _Cursor]:
        """Cursors at the restriction's positions, reusing those that stand there."""
        ends = dict(restriction.ends) if restriction.ends is not None else {}
        now = time.monotonic()
        stale: list[_Cursor] = []
        out: dict[int, _Cursor] = {}
        for sid, offset in restriction.positions:
            key = (spec.scope, spec.stream, sid)
            cur = self._cursors.pop(key, None)
            if cur is not None and (cur.position != offset or cur.end != ends.get(sid)):
                stale.append(cur)
                cur = None
            if cur is None:
                cur = _Cursor(session.client.ctx, spec.scope, spec.stream, sid, offset, ends.get(sid))
            cur.used = now
            out[sid] = cur
        for key, cur in list(self._cursors.items()):
            if now - cur.used > _CURSOR_IDLE_SECONDS:
                stale.append(self._cursors.pop(key))
        if stale:
            session.call(lambda: _close_all(stale))
        return out

    def _coordinate(
        self, session: _Session, spec: _ReadSpec, tracker: Any, restriction: _Restriction
    ) -> tuple[int, ...] | None:
        """Announce the segments this restriction finished in an earlier (so committed)
        bundle, and admit waiting successors whose predecessors other restrictions
        announced. Returns the admitted successors; None if the runner stopped the read."""
        self._pending = self._wait = bool(restriction.waiting)
        done = restriction.done
        if done:
            session.call(lambda: _announce(session.client, spec, done))
            if not tracker.try_claim(_Announced(done)):
                return None
        if not restriction.waiting:
            return ()
        wanted = sorted({p for _, preds in restriction.waiting for p in preds})
        found = session.call(lambda: _announced(session.client, spec, wanted))
        if not found:
            return ()
        claim = _Found(tuple(found))
        if not tracker.try_claim(claim):
            return None
        self._pending, self._wait = claim.pending, claim.waits
        return claim.added

    def _segment_counter(self, spec: _ReadSpec, segment_id: int) -> Any:
        """The per-segment event counter ``events_read/<scope>/<stream>/<segment id>``:
        every restriction starts as one segment, so it also counts per restriction."""
        key = (spec.name, segment_id)
        counter = self._segment_counters.get(key)
        if counter is None:
            counter = Metrics.counter(METRICS_NAMESPACE, f"events_read/{spec.name}/{segment_id}")
            self._segment_counters[key] = counter
        return counter

    def _keep_cursors(self, spec: _ReadSpec, cursors: dict[int, _Cursor]) -> None:
        for sid, cur in cursors.items():
            self._cursors[(spec.scope, spec.stream, sid)] = cur

    def _read(self, spec: _ReadSpec, tracker: Any, watermark: Any) -> Iterator[Any]:
        session = self._open(spec)
        restriction: _Restriction = tracker.current_restriction()
        added = self._coordinate(session, spec, tracker, restriction)
        if added is None:
            return
        cursors = self._take_cursors(session, spec, restriction)
        resume = dict(restriction.resume)
        for succ in added:
            cursors[succ] = _Cursor(session.client.ctx, spec.scope, spec.stream, succ, resume.get(succ, 0), None)
        try:
            yield from self._read_cursors(session, spec, cursors, tracker, watermark, restriction.ends is not None)
        except BaseException:
            # A failed read (or one abandoned by the runner) must not leave a cursor in
            # an unknown state for the retry: it starts afresh from the restriction.
            session.call(lambda: _close_all(list(cursors.values())))
            raise
        self._keep_cursors(spec, cursors)

    def _read_cursors(
        self,
        session: _Session,
        spec: _ReadSpec,
        cursors: dict[int, _Cursor],
        tracker: Any,
        watermark: Any,
        bounded: bool,
    ) -> Iterator[Any]:
        deserialize = self._deserialize
        timestamp_fn = self._timestamp_fn
        with_metadata = self._with_metadata
        name = spec.name
        idle_micros = None if self._idle_timeout is None else int(self._idle_timeout * 1e6)
        started = time.monotonic()
        while True:
            buffered = any(c.events for c in cursors.values())
            todo = list(cursors.values())
            session.call(lambda: _fetch(todo, 0.0 if buffered else self._max_poll))  # noqa: B023 (called at once)
            progressed = False
            now = time.monotonic()
            for sid in list(cursors):
                cur = cursors[sid]
                events = cur.events
                if events:
                    progressed = True
                    cur.empty_since = None
                    read_time = Timestamp.now()
                    latest = MIN_TIMESTAMP
                    done = size = 0
                    total = len(events)
                    try:
                        while done < total:
                            # Claim a run of events, then emit them.
                            upto = min(done + _CLAIM_RUN, total)
                            last_offset, last_payload = events[upto - 1]
                            first = events[done][0]
                            nxt = last_offset + EVENT_HEADER_SIZE + len(last_payload)
                            if not tracker.try_claim((sid, first, nxt)):
                                break
                            for k in range(done, upto):
                                offset, payload = events[k]
                                value = payload if deserialize is None else deserialize(payload)
                                if timestamp_fn is not None:
                                    ts = Timestamp.of(timestamp_fn(value))
                                    if ts > latest:
                                        latest = ts
                                else:
                                    ts = read_time
                                if with_metadata:
                                    value = _new_tuple(PravegaEvent, (name, sid, offset, value))
                                yield WindowedValue(value, ts, _GLOBAL)
                            size += nxt - first
                            done = upto
                    finally:
                        del events[:done]
                        self._events_read.inc(done)
                        self._segment_counter(spec, sid).inc(done)
                        self._bytes_read.inc(size)
                        if timestamp_fn is not None and done:
                            watermark.observe_segment(sid, latest.micros)
                    if events:  # stopped early by the runner, or the segment was split off
                        if self._stopped(tracker):
                            return
                        self._cursors[(spec.scope, spec.stream, sid)] = cursors.pop(sid)
                        continue
                elif cur.empty_since is None:
                    cur.empty_since = now
                if cur.ended and not cur.events:
                    progressed = True
                    if not bounded:
                        # The last watermark before the segment goes: it covers its end.
                        self._advance_watermark(watermark, cursors, now, idle_micros, session, spec, fresh=True)
                    if not self._finish_segment(session, spec, cursors, cur, tracker, bounded):
                        if self._stopped(tracker):
                            return
                        self._cursors[(spec.scope, spec.stream, sid)] = cursors.pop(sid)
                        continue
                    watermark.forget_segment(sid)
            if not cursors:  # everything read: the bound, or the end of a sealed stream
                self._backlog.set(0)
                if not bounded and self._pending:
                    # Successors wait for other restrictions, or ends are to be announced
                    # (in the next bundle): poll again later.
                    self._advance_watermark(watermark, cursors, now, idle_micros, session, spec)
                    if self._wait:
                        time.sleep(self._max_poll)
                    tracker.defer_remainder()
                return
            caught_up = not progressed
            self._advance_watermark(watermark, cursors, now, idle_micros, session, spec)
            if caught_up or time.monotonic() - started >= _BUNDLE_SECONDS:
                if not bounded:
                    positions = {sid: c.position for sid, c in sorted(cursors.items())}
                    backlog = 0 if caught_up else session.call(lambda: _backlog(session.client, spec, positions))  # noqa: B023
                    self._backlog.set(backlog)
                    _remember_backlog(spec, tuple(positions.items()), backlog)
                tracker.defer_remainder()
                return

    def _stream_watermarks(self, session: _Session, spec: _ReadSpec, now: float) -> list[Any]:
        """The watermarks of the stream so far (empty if writers never noted times),
        refreshed at most every ``_WATERMARK_REFRESH_SECONDS`` (``now`` 0: at once)."""
        entry = self._followers.get(spec.name)
        if entry is None:
            entry = (WatermarkFollower(session.client.ctx, spec.scope, spec.stream), -1.0)
        follower, refreshed = entry
        if now == 0.0 or now - refreshed >= _WATERMARK_REFRESH_SECONDS:
            now = now or time.monotonic()
            session.call(follower.refresh)
            refreshed = now
        self._followers[spec.name] = (follower, refreshed)
        return follower.watermarks

    @staticmethod
    def _stopped(tracker: Any) -> bool:
        """After a refused claim: True if the runner checkpointed the read; False if it
        split the claimed segment off into another restriction (the read goes on)."""
        return tracker.current_restriction().stop is not None

    def _finish_segment(
        self, session: _Session, spec: _ReadSpec, cursors: dict[int, _Cursor], cur: _Cursor, tracker: Any, bounded: bool
    ) -> bool:
        sid = cur.segment_id
        successors: tuple[tuple[int, tuple[int, ...]], ...] = ()
        if not bounded:
            found = session.call(lambda: session.client.ctx.controller.get_successors(spec.scope, spec.stream, sid))
            successors = tuple(sorted((r.segment_id, tuple(preds)) for r, preds in found.items()))
        claim = _SegmentEnd(sid, cur.position, successors)
        if not tracker.try_claim(claim):
            return False
        self._pending, self._wait = claim.pending, claim.waits
        del cursors[sid]
        session.call(lambda: _close_all([cur]))
        resume = dict(tracker.current_restriction().resume)
        for succ in claim.added:
            cursors[succ] = _Cursor(session.client.ctx, spec.scope, spec.stream, succ, resume.get(succ, 0), None)
        return True

    def _advance_watermark(
        self,
        watermark: Any,
        cursors: dict[int, _Cursor],
        now: float,
        idle_micros: int | None,
        session: _Session,
        spec: _ReadSpec,
        fresh: bool = False,
    ) -> None:
        if self._timestamp_fn is None:
            watermark.advance_to(Timestamp.now().micros)
            return
        marks = self._stream_watermarks(session, spec, 0.0 if fresh else now)
        if marks:
            # The stream has Pravega watermarks: they alone move the watermark (a
            # guarantee from the writers, where the fallback below only estimates).
            lower = lower_bound(marks, {sid: c.position for sid, c in cursors.items()})
            if lower is not None:
                watermark.advance_to(lower * 1000)
                if lower > self._highest_watermark:
                    self._highest_watermark = lower
                    self._pravega_watermark.update(lower)
            return
        idle: set[int] = set()
        if idle_micros is not None:
            limit = idle_micros / 1e6
            idle = {sid for sid, c in cursors.items() if c.empty_since is not None and now - c.empty_since >= limit}
        watermark.advance_event_time(list(cursors), idle, Timestamp.now().micros, idle_micros)


class _UnboundedReadFn(_ReadFn):
    """The same DoFn, declaring an unbounded output (reads without an end)."""

    process = beam.DoFn.unbounded_per_element()(_process_method())
