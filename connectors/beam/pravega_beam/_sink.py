"""The writing side of the Beam connector (private).

Exactly-once is a two-stage write, the Python counterpart of a ``@RequiresStableInput``
sink (which Python 2.61 lacks):

1. :class:`_WriteTransactionsFn` writes each bundle into a Pravega transaction of its
   own (begun lazily, so empty bundles cost nothing), flushes it in ``finish_bundle``
   and emits the transaction id. The data is stored but invisible. If the bundle fails,
   its transaction is never emitted; it is aborted when the DoFn instance notices (next
   bundle or teardown) or else expires with its lease. A retried bundle writes a new one.
2. ``Reshuffle`` makes the ids stable input: a retried commit bundle sees the same ids.
3. :class:`_CommitTransactionsFn` commits each id. Committing is idempotent ("already
   committed" is success), so retries are harmless. A transaction that was aborted or
   whose lease ran out cannot be committed: its events would be lost, so the pipeline
   fails with :class:`~pravega.errors.TransactionFailedError` and the
   ``transactions_failed`` counter counts it.

Between the stages the first stage's DoFn instance keeps the emitted transactions'
leases alive (:class:`_LeaseKeeper`) until they are committed.

This is exactly-once within one run. With a ``sink_id``, :class:`_WriteTrackedFn`
replaces both stages: it drops input whose output a previous attempt or run committed,
and commits each bundle's transaction at the end of the bundle together with the
record of the input it holds (``_progress``); that makes a re-run after a failed run
exactly-once too, and keeps input order per segment.

At-least-once (:class:`_WriteEventsFn`) uses the idempotent event writer and flushes in
``finish_bundle``; a retried bundle writes its events again.

``fault_hook`` (tests only) is called as ``hook(stage, txn_id)`` — ``"write"`` after a
transaction is flushed and before its id is emitted, ``"commit"`` after a commit — to
inject failures where a runner may fail.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import Timestamp
from apache_beam.utils.windowed_value import WindowedValue

from pravega import errors
from pravega.aio import TransactionalWriter
from pravega.client.transaction import Transaction
from pravega.protocol.framing import EVENT_HEADER_SIZE, frame_event
from pravega.routing import key_position

from . import _progress
from ._runtime import _Session, acquire, release
from ._sdf import METRICS_NAMESPACE

log = logging.getLogger(__name__)

#: Events handed to the client's loop in one call.
_BATCH = 2000


class _KeyPositions:
    """Routing key -> position in the key space, remembering recent keys (hashing a
    key costs more than the rest of writing a small event)."""

    _LIMIT = 100_000

    def __init__(self, routing_key_fn: Callable[[Any], str | None] | None) -> None:
        self._fn = routing_key_fn
        self._known: dict[str, float] = {}

    def of(self, element: Any) -> float:
        if self._fn is None:
            return key_position(None)
        key = self._fn(element)
        if key is None:
            return key_position(None)
        position = self._known.get(key)
        if position is None:
            if len(self._known) >= self._LIMIT:
                self._known.clear()
            position = self._known[key] = key_position(key)
        return position


def _txn_text(txn_id: int) -> str:
    return f"{txn_id:032x}"


class _LeaseKeeper:
    """Pings the leases of transactions whose ids were emitted until they are committed
    (or are no longer open). Runs on the session's loop."""

    def __init__(self, session: _Session, scope: str, stream: str, lease_ms: int) -> None:
        self._session = session
        self._scope = scope
        self._stream = stream
        self._lease_ms = lease_ms
        self._ids: set[int] = set()
        self._task: asyncio.Task | None = None

    def track(self, txn_id: int) -> None:
        def add() -> None:
            self._ids.add(txn_id)
            if self._task is None or self._task.done():
                self._task = asyncio.ensure_future(self._run())

        self._session.loop.call_soon_threadsafe(add)

    async def _run(self) -> None:
        controller = self._session.client.ctx.controller
        while self._ids:
            await asyncio.sleep(self._lease_ms / 3000.0)
            for txn_id in list(self._ids):
                try:
                    status = await controller.ping_transaction(self._scope, self._stream, txn_id, self._lease_ms)
                except errors.PravegaError as exc:  # transient: the next round tries again
                    log.warning("lease of transaction %s: ping failed: %s", _txn_text(txn_id), exc)
                    continue
                if status != "OK":  # committed (the normal end), aborted or unknown
                    self._ids.discard(txn_id)

    def stop(self) -> None:
        def cancel() -> None:
            if self._task is not None:
                self._task.cancel()

        self._session.loop.call_soon_threadsafe(cancel)


class _StreamDoFn(beam.DoFn):
    """A DoFn writing to one stream through the process's shared client session.

    Subclasses open their writer in ``setup`` (after ``super().setup()``) and release
    it in ``_close``; the session itself is released here, even if ``_close`` fails.
    """

    _session: _Session
    #: Closed in teardown (by ``_close``) if a subclass set it.
    _writer: Any = None

    def __init__(self, controller_uri: str, scope: str, stream: str) -> None:
        self._controller_uri = controller_uri
        self._scope = scope
        self._stream = stream

    def display_data(self) -> dict[str, Any]:
        return {"stream": f"{self._scope}/{self._stream}"}

    def setup(self) -> None:
        self._session = acquire(self._controller_uri)

    def teardown(self) -> None:
        session = getattr(self, "_session", None)
        if session is None:
            return  # setup failed
        try:
            self._close()
        finally:
            release(session)
            del self._session

    def _close(self) -> None:
        writer = self._writer
        if writer is not None:
            self._session.call(writer.close)


class _BatchingDoFn(_StreamDoFn):
    """A writing DoFn that frames each element's event and hands them to the client's
    loop ``_BATCH`` at a time (one loop hop per batch, not per event): subclasses
    write a batch in :meth:`_write_batch` and call :meth:`_send` with ``flush=True``
    in ``finish_bundle``."""

    def __init__(
        self,
        controller_uri: str,
        scope: str,
        stream: str,
        serialize: Callable[[Any], bytes],
        routing_key_fn: Callable[[Any], str | None] | None,
    ) -> None:
        super().__init__(controller_uri, scope, stream)
        self._serialize = serialize
        self._routing_key_fn = routing_key_fn
        self._events = Metrics.counter(METRICS_NAMESPACE, "events_written")
        self._bytes = Metrics.counter(METRICS_NAMESPACE, "bytes_written")

    def setup(self) -> None:
        super().setup()
        self._positions = _KeyPositions(self._routing_key_fn)
        self._batch: list[tuple[bytes, float]] = []
        self._count = self._size = 0

    def start_bundle(self) -> None:
        self._batch = []
        self._count = self._size = 0

    def process(self, element: Any) -> tuple[()]:
        self._add(element)
        return ()  # the bundle's output, if any, comes from finish_bundle

    def _add(self, value: Any) -> None:
        framed = frame_event(self._serialize(value))
        self._batch.append((framed, self._positions.of(value)))
        self._count += 1
        self._size += len(framed) - EVENT_HEADER_SIZE
        if len(self._batch) >= _BATCH:
            self._send(flush=False)

    def _send(self, flush: bool) -> None:
        batch, self._batch = self._batch, []
        self._session.call(lambda: self._write_batch(batch, flush))

    def _count_written(self) -> None:
        self._events.inc(self._count)
        self._bytes.inc(self._size)

    async def _write_batch(self, batch: list[tuple[bytes, float]], flush: bool) -> None:
        raise NotImplementedError


class _WriteTransactionsFn(_BatchingDoFn):
    """Stage 1: one transaction per bundle; emits its id (hex) when the bundle ends."""

    def __init__(
        self,
        controller_uri: str,
        scope: str,
        stream: str,
        serialize: Callable[[Any], bytes],
        routing_key_fn: Callable[[Any], str | None] | None,
        lease_ms: int,
        fault_hook: Callable[[str, str], None] | None = None,
    ) -> None:
        super().__init__(controller_uri, scope, stream, serialize, routing_key_fn)
        self._lease_ms = lease_ms
        self._fault_hook = fault_hook
        self._opened = Metrics.counter(METRICS_NAMESPACE, "transactions_opened")

    def display_data(self) -> dict[str, Any]:
        return {**super().display_data(), "transaction_lease_ms": self._lease_ms}

    def setup(self) -> None:
        super().setup()
        self._keeper = _LeaseKeeper(self._session, self._scope, self._stream, self._lease_ms)
        self._writer_id = uuid.uuid4().hex
        self._txn: Transaction | None = None
        self._txn_writer: TransactionalWriter | None = None

    def _close(self) -> None:
        try:
            self._abandon()
        finally:
            self._keeper.stop()

    def start_bundle(self) -> None:
        self._abandon()
        super().start_bundle()

    def finish_bundle(self) -> Iterator[WindowedValue]:
        if self._txn is None and not self._batch:
            return
        self._send(flush=True)
        txn, writer = self._txn, self._txn_writer
        assert txn is not None and writer is not None
        text = _txn_text(txn.txn_id)
        # Stored but invisible; release the connections and keep only the lease alive.
        self._session.call(writer.close)
        if self._fault_hook is not None:
            self._fault_hook("write", text)
        self._keeper.track(txn.txn_id)
        self._txn = self._txn_writer = None
        self._count_written()
        # Stamped with the time the bundle ended: any time is safe in the global window
        # (nothing in it is ever late), and a time ahead of the watermark is never late.
        yield WindowedValue(text, Timestamp.now(), (GlobalWindow(),))

    def _send(self, flush: bool) -> None:
        if self._txn is None:
            self._txn_writer, self._txn = self._session.call(self._begin)
            self._opened.inc()  # metrics belong to the bundle's thread, not the loop's
        super()._send(flush)

    async def _begin(self) -> tuple[TransactionalWriter, Transaction]:
        writer: TransactionalWriter = TransactionalWriter(
            self._session.client.ctx, self._scope, self._stream, None, self._writer_id, self._lease_ms, keep_alive=True
        )
        return writer, await writer.begin()

    async def _write_batch(self, batch: list[tuple[bytes, float]], flush: bool) -> None:
        txn = self._txn
        assert txn is not None
        for framed, position in batch:
            await txn.write_framed(framed, position)
        if flush:
            await txn.flush()

    def _abandon(self) -> None:
        """Abort the transaction of a bundle that failed (its id was never emitted)."""
        txn, writer = self._txn, self._txn_writer
        self._txn = self._txn_writer = None
        if txn is None or writer is None:
            return

        async def go() -> None:
            try:
                await txn.abort()
            except errors.TransactionFailedError:
                pass  # no longer open (expired): gone, which is all we want
            finally:
                await writer.close()

        self._session.call(go)


class _WriteTrackedFn(_WriteTransactionsFn):
    """Exactly-once with a sink id (see ``_progress``): each bundle's transaction is
    committed at the end of the bundle together with the record of the input it holds;
    input already covered by the record is dropped. Emits the committed ids (hex).

    Elements are :class:`~pravega_beam.PravegaEvent` (the input position and the value
    to write). The bundles of one input segment commit one after the other in input
    order, because the read hands a segment's events to one bundle at a time and this
    DoFn commits before its bundle ends (it is fused with the read: only element-wise
    steps in between)."""

    def __init__(
        self,
        controller_uri: str,
        scope: str,
        stream: str,
        serialize: Callable[[Any], bytes],
        routing_key_fn: Callable[[Any], str | None] | None,
        lease_ms: int,
        sink_id: str,
        run_id: str,
    ) -> None:
        super().__init__(controller_uri, scope, stream, serialize, routing_key_fn, lease_ms)
        self._sink_id = sink_id
        self._run_id = run_id
        self._committed = Metrics.counter(METRICS_NAMESPACE, "transactions_committed")
        self._skipped = Metrics.counter(METRICS_NAMESPACE, "events_skipped")

    def display_data(self) -> dict[str, Any]:
        return {**super().display_data(), "sink_id": self._sink_id}

    def setup(self) -> None:
        super().setup()
        self._writer_id = f"{self._sink_id}-{uuid.uuid4().hex[:8]}"
        self._progress = _progress.hold(
            self._session, self._scope, self._stream, self._sink_id, self._run_id, self._lease_ms
        )

    def _close(self) -> None:
        try:
            super()._close()
        finally:
            _progress.unhold(self._session, self._progress)

    def start_bundle(self) -> None:
        super().start_bundle()
        #: (stream, segment id) -> [offset of the last input committed, of the last written (or -1), its record]
        self._inputs: dict[tuple[str, int], list[Any]] = {}
        self._last_stream: str | None = None
        self._last_segment = -1
        self._last_state: list[Any] = []
        self._dropped = 0

    def _input_state(self, stream: str, segment_id: int) -> list[Any]:
        state = self._inputs.get((stream, segment_id))
        if state is None:
            key, progress = _progress.input_key(stream, segment_id), self._progress
            record = self._session.call(lambda: progress.load([key]))[0]
            state = self._inputs[(stream, segment_id)] = [record.last, -1, record]
        self._last_stream, self._last_segment, self._last_state = stream, segment_id, state
        return state

    def process(self, element: Any) -> tuple[()]:
        try:
            stream, segment_id, offset, value = element
        except (TypeError, ValueError):
            raise TypeError(
                "WriteToPravega(sink_id=...) writes PravegaEvent elements (ReadFromPravega(with_metadata=True)), "
                f"got {type(element).__name__}; keep the position: beam.Map(lambda e: e._replace(event=f(e.event)))"
            ) from None
        if segment_id == self._last_segment and stream == self._last_stream:
            state = self._last_state  # the common case: the segment of the element before
        else:
            state = self._input_state(stream, segment_id)
        if offset <= state[0]:
            self._dropped += 1  # its output is committed already
            return ()
        if offset < state[1]:
            raise ValueError(
                f"WriteToPravega(sink_id={self._sink_id!r}): input of {stream} segment {segment_id} arrived out of "
                f"order (offset {offset} after {state[1]}); the steps between ReadFromPravega and "
                "WriteToPravega must be element-wise (no GroupByKey, Reshuffle or other shuffle)"
            )
        state[1] = offset
        self._add(value)
        return ()

    def finish_bundle(self) -> Iterator[WindowedValue]:
        self._skipped.inc(self._dropped)
        if self._txn is None and not self._batch:
            return
        self._send(flush=True)
        txn, writer = self._txn, self._txn_writer
        assert txn is not None and writer is not None
        written = [state for state in self._inputs.values() if state[1] >= 0]
        records = [record for _, _, record in written]
        lasts = {record.key: last for _, last, record in written}
        progress = self._progress
        self._session.call(lambda: progress.commit(txn, records, lasts))
        self._txn = self._txn_writer = None
        self._session.call(writer.close)
        self._committed.inc()
        self._count_written()
        yield WindowedValue(_txn_text(txn.txn_id), Timestamp.now(), (GlobalWindow(),))


class _CommitTransactionsFn(_StreamDoFn):
    """Stage 2: commit each transaction id; emits the id once it is committed."""

    def __init__(
        self,
        controller_uri: str,
        scope: str,
        stream: str,
        lease_ms: int,
        fault_hook: Callable[[str, str], None] | None = None,
    ) -> None:
        super().__init__(controller_uri, scope, stream)
        self._lease_ms = lease_ms
        self._fault_hook = fault_hook
        self._committed = Metrics.counter(METRICS_NAMESPACE, "transactions_committed")
        self._failed = Metrics.counter(METRICS_NAMESPACE, "transactions_failed")

    def setup(self) -> None:
        super().setup()
        self._writer = TransactionalWriter(
            self._session.client.ctx, self._scope, self._stream, None, None, self._lease_ms, keep_alive=False
        )

    def process(self, text: str) -> Iterator[str]:
        txn_id = int(text, 16)

        async def commit() -> None:
            txn = await self._writer.get_transaction(txn_id)
            await txn.commit()

        try:
            self._session.call(commit)
        except errors.TransactionFailedError as exc:
            self._failed.inc()
            raise errors.TransactionFailedError(
                f"exactly-once write to {self._scope}/{self._stream}: transaction {text} cannot be committed "
                f"({exc}); its events are NOT in the stream. It was aborted, or its lease "
                f"({self._lease_ms} ms) ran out between the write and the commit stage — "
                "raise transaction_lease_ms if the pipeline can stall that long."
            ) from exc
        self._committed.inc()
        if self._fault_hook is not None:
            self._fault_hook("commit", text)
        yield text


class _WriteEventsFn(_BatchingDoFn):
    """At-least-once: the idempotent event writer, flushed at the end of each bundle."""

    def setup(self) -> None:
        super().setup()
        self._writer = self._session.call(lambda: self._session.client.create_writer(self._scope, self._stream))

    def finish_bundle(self) -> None:
        self._send(flush=True)
        self._count_written()

    async def _write_batch(self, batch: list[tuple[bytes, float]], flush: bool) -> None:
        writer = self._writer
        for framed, position in batch:
            await writer.write_framed(framed, position)
        if flush:
            await writer.flush()
