"""Transactions: events that become visible all at once, or never (spec §3.3).

>>> writer = await client.create_transactional_writer("sc", "st", StringSerializer())   # doctest: +SKIP
>>> txn = await writer.begin()
>>> await txn.write("a", routing_key="k1")
>>> await txn.write("b", routing_key="k2")
>>> await txn.commit()          # both events appear in the stream together

A transaction has a segment of its own beside each segment of the stream's epoch it
was created in (``<parent>#transaction.<id>``); events are routed by key into those
segments with the ordinary append protocol, invisible to readers. ``commit`` waits
until every event is stored, then asks the controller to merge the transaction
segments into their parents; ``abort`` has them deleted.

A transaction is known by its 128-bit id alone: any process can continue writing to
an open transaction, commit it or abort it with
:meth:`TransactionalWriter.get_transaction`.

The controller aborts a transaction whose lease runs out. A :class:`Transaction`
renews its lease in the background (at a third of the lease) while it is open,
unless the writer was created with ``keep_alive=False``.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Generic, TypeVar

from .. import errors, naming
from ..model import SegmentRange
from ..protocol.framing import frame_event
from ..routing import KeyRanges, key_position
from ..serializers import BytesSerializer, Serializer
from .context import ClientContext
from .segment_writer import SegmentWriter

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Transaction states as the controller names them (``checkTransactionState``).
OPEN, COMMITTING, COMMITTED, ABORTING, ABORTED, UNKNOWN = (
    "OPEN",
    "COMMITTING",
    "COMMITTED",
    "ABORTING",
    "ABORTED",
    "UNKNOWN",
)

_NO_TIMESTAMP = -(2**63)


class TransactionalWriter(Generic[T]):
    """Use :meth:`pravega.aio.Client.create_transactional_writer`; then :meth:`begin`
    a transaction per unit of work."""

    def __init__(
        self,
        ctx: ClientContext,
        scope: str,
        stream: str,
        serializer: Serializer[T] | None = None,
        writer_id: str | None = None,
        lease_ms: int | None = None,
        keep_alive: bool = True,
    ) -> None:
        self.ctx = ctx
        self.scope = scope
        self.stream = stream
        self.serializer: Serializer[T] = serializer or BytesSerializer()  # type: ignore[assignment]
        #: Named to the controller on commit (watermarks); a random one by default.
        self.writer_id = writer_id or uuid.uuid4().hex
        self.lease_ms = lease_ms if lease_ms is not None else ctx.config.transaction_lease_ms
        if self.lease_ms <= 0:
            raise errors.InterfaceError(f"a transaction lease must be positive, not {self.lease_ms}")
        self.keep_alive = keep_alive
        self._open: set[Transaction[T]] = set()
        self._closed = False

    async def _start(self) -> TransactionalWriter[T]:
        if not await self.ctx.controller.stream_exists(self.scope, self.stream):
            raise errors.NoSuchStreamError(f"no stream {self.scope}/{self.stream}")
        return self

    async def begin(self) -> Transaction[T]:
        """Open a new transaction on the stream's current segments."""
        self._check_open()
        txn_id, ranges = await self.ctx.controller.create_transaction(self.scope, self.stream, self.lease_ms)
        if not ranges:
            raise errors.StreamSealedError(f"stream {self.scope}/{self.stream} is sealed")
        return self._track(Transaction(self, txn_id, ranges, OPEN))

    async def get_transaction(self, txn_id: int) -> Transaction[T]:
        """The transaction with this id, to write to, commit or abort it (from any process).

        Raises :class:`~pravega.errors.TransactionFailedError` if the controller does not
        know it. A committed or aborted transaction is returned too: committing a
        committed one succeeds, anything else on it raises ``TransactionFailedError``.
        """
        self._check_open()
        if not 0 <= txn_id < 2**128:
            raise errors.InterfaceError(f"a transaction id is a 128-bit unsigned integer, not {txn_id}")
        state = await self.ctx.controller.transaction_state(self.scope, self.stream, txn_id)
        if state == UNKNOWN:
            raise errors.TransactionFailedError(f"transaction {txn_id:032x} of {self.scope}/{self.stream} is unknown")
        ranges: list[SegmentRange] = []
        if state == OPEN:
            epoch = naming.txn_epoch(txn_id >> 64)
            ranges = await self.ctx.controller.get_epoch_segments(self.scope, self.stream, epoch)
            if not ranges:
                raise errors.TransactionFailedError(f"epoch {epoch} of {self.scope}/{self.stream} is unknown")
        return self._track(Transaction(self, txn_id, ranges, state))

    def _track(self, txn: Transaction[T]) -> Transaction[T]:
        if txn._state == OPEN:
            self._open.add(txn)
            if self.keep_alive:
                txn._start_keep_alive()
        return txn

    async def close(self) -> None:
        """Stop the keep-alives and release the connections of the open transactions
        (they stay open on the server until committed, aborted or expired)."""
        if self._closed:
            return
        self._closed = True
        for txn in list(self._open):
            await txn._release()
        self._open.clear()

    async def __aenter__(self) -> TransactionalWriter[T]:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise errors.InterfaceError("the transactional writer is closed")


class Transaction(Generic[T]):
    """One transaction. Events written are invisible until :meth:`commit`."""

    def __init__(self, writer: TransactionalWriter[T], txn_id: int, ranges: list[SegmentRange], state: str) -> None:
        self._writer = writer
        self.ctx = writer.ctx
        self.scope = writer.scope
        self.stream = writer.stream
        self.serializer = writer.serializer
        #: The 128-bit transaction id (hand it to another process to resume).
        self.txn_id = txn_id
        high, low = txn_id >> 64, txn_id & ((1 << 64) - 1)
        self._ranges: KeyRanges[str] = KeyRanges()
        for r in ranges:
            parent = naming.qualified_segment_name(self.scope, self.stream, r.segment_id)
            self._ranges.add(r.min_key, r.max_key, naming.transaction_segment_name(parent, high, low))
        self._writers: dict[str, SegmentWriter] = {}
        self._state = state
        self._keep_alive: asyncio.Task | None = None

    def __repr__(self) -> str:
        return f"<Transaction {self.txn_id:032x} on {self.scope}/{self.stream} ({self._state})>"

    @property
    def segments(self) -> list[str]:
        """The transaction's segment names, one per parent segment."""
        return self._ranges.values()

    # -- writing --------------------------------------------------------------------

    async def write(self, event: T, routing_key: str | None = None) -> asyncio.Future:
        """Queue ``event`` in the transaction; the returned future completes once it is
        stored (still invisible). Events of one routing key keep their order."""
        return await self.write_framed(frame_event(self.serializer.serialize(event)), key_position(routing_key))

    async def write_framed(self, framed: bytes, position: float) -> asyncio.Future:
        """Queue an already framed event at a routing-key position in [0, 1)."""
        self._check_writable()
        writer = self._writer_for(self._ranges.get(position))
        fut = writer.append(framed, position)
        if not writer.has_space:
            await writer.wait_for_space()
        return fut

    def _writer_for(self, segment: str) -> SegmentWriter:
        writer = self._writers.get(segment)
        if writer is None:
            writer = SegmentWriter(self.ctx, segment, on_sealed=self._on_sealed)
            self._writers[segment] = writer
        return writer

    def _on_sealed(self, writer: SegmentWriter) -> None:
        # A transaction segment disappears (or is sealed) only when the transaction
        # ended: it was aborted, timed out or was committed meanwhile.
        writer._fail(
            errors.TransactionFailedError(
                f"transaction {self.txn_id:032x} is no longer open (segment {writer.segment} is gone)"
            )
        )

    async def flush(self) -> None:
        """Wait until every event written so far is stored in the transaction."""
        await asyncio.gather(*(w.flush() for w in self._writers.values()))

    # -- completion -----------------------------------------------------------------

    async def commit(self, timestamp: int | None = None) -> None:
        """Flush, then commit: the events become visible, atomically per segment.

        ``timestamp`` (ms) is the writer's event time for watermarks. Committing a
        committed transaction succeeds; an aborted, expired or unknown one raises
        :class:`~pravega.errors.TransactionFailedError`.
        """
        if self._state == COMMITTED:
            return
        if self._state == ABORTED:
            raise errors.TransactionFailedError(f"transaction {self.txn_id:032x} was aborted")
        try:
            await self.flush()
        except errors.TransactionFailedError:
            await self._refresh_failure()
            raise
        ts = _NO_TIMESTAMP if timestamp is None else timestamp
        try:
            await self.ctx.controller.commit_transaction(
                self.scope, self.stream, self.txn_id, self._writer.writer_id, ts
            )
        except errors.TransactionFailedError:
            await self._refresh_failure()
            raise
        self._state = COMMITTED
        await self._release()

    async def abort(self) -> None:
        """Drop the transaction and its events. Raises
        :class:`~pravega.errors.TransactionFailedError` if it was already committed."""
        if self._state == ABORTED:
            return
        await self.ctx.controller.abort_transaction(self.scope, self.stream, self.txn_id)
        self._state = ABORTED
        await self._release(flush=False)

    async def _refresh_failure(self) -> None:
        try:
            state = await self.status()
        except errors.PravegaError:
            return
        if state not in (OPEN, COMMITTING):
            await self._release(flush=False)

    async def status(self) -> str:
        """The controller's view: "OPEN", "COMMITTING", "COMMITTED", "ABORTING",
        "ABORTED" or "UNKNOWN"."""
        state = await self.ctx.controller.transaction_state(self.scope, self.stream, self.txn_id)
        if state in (COMMITTED, ABORTED, UNKNOWN):
            self._state = COMMITTED if state == COMMITTED else ABORTED
        return state

    async def is_open(self) -> bool:
        return await self.status() == OPEN

    async def ping(self, lease_ms: int | None = None) -> None:
        """Renew the lease: the transaction may stay open ``lease_ms`` more (default:
        the writer's lease). Raises :class:`~pravega.errors.TransactionFailedError` if
        it is no longer open."""
        lease = lease_ms if lease_ms is not None else self._writer.lease_ms
        status = await self.ctx.controller.ping_transaction(self.scope, self.stream, self.txn_id, lease)
        if status == "OK":
            return
        if status == "LEASE_TOO_LARGE":
            raise errors.InvalidArgumentError(f"lease {lease} ms is larger than the controller allows")
        if status == "COMMITTED":
            self._state = COMMITTED
        elif status in ("ABORTED", "UNKNOWN", "MAX_EXECUTION_TIME_EXCEEDED"):
            self._state = ABORTED
        raise errors.TransactionFailedError(f"transaction {self.txn_id:032x} is not open: {status}")

    # -- keep-alive -------------------------------------------------------------------

    def _start_keep_alive(self) -> None:
        if self._keep_alive is None:
            self._keep_alive = asyncio.ensure_future(self._ping_forever())

    async def _ping_forever(self) -> None:
        interval = self._writer.lease_ms / 3000.0
        while self._state == OPEN:
            await asyncio.sleep(interval)
            if self._state != OPEN:
                return
            try:
                await self.ping()
            except errors.TransactionFailedError as exc:
                log.info("%s: keep-alive stops: %s", self, exc)
                return
            except errors.PravegaError as exc:  # transient: try again next round
                log.warning("%s: keep-alive ping failed: %s", self, exc)

    def _stop_keep_alive(self) -> None:
        task, self._keep_alive = self._keep_alive, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def _release(self, flush: bool = True) -> None:
        """Stop pinging and close the segment writers."""
        self._stop_keep_alive()
        self._writer._open.discard(self)
        writers, self._writers = list(self._writers.values()), {}
        for w in writers:
            if not flush:
                _abandon(w, errors.TransactionFailedError(f"transaction {self.txn_id:032x} ended"))
            try:
                await w.close()
            except errors.PravegaError:
                pass

    def _check_writable(self) -> None:
        if self._state != OPEN:
            raise errors.TransactionFailedError(f"transaction {self.txn_id:032x} is {self._state.lower()}")
        if self._writer._closed:
            raise errors.InterfaceError("the transactional writer is closed")


def _abandon(writer: SegmentWriter, exc: BaseException) -> None:
    """Fail a segment writer's unsent events without "exception never retrieved" noise:
    after an abort nobody is expected to wait for them."""
    futures = [b.future for b in (*writer._inflight, *writer._queued)]
    if writer._buf_future is not None:
        futures.append(writer._buf_future)
    writer._fail(exc)
    writer.sealed = True  # nothing more to send
    for fut in futures:
        if fut.done() and not fut.cancelled():
            fut.exception()
