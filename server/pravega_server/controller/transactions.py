"""Transactions: open, ping, commit (in place or rolling), abort, and the lease reaper.

A transaction has one segment per segment of the epoch it began in. Committing merges
them into their parents in one batch; a transaction begun before the stream's last
scale commits as a *rolling* transaction in two phases (see :mod:`.intents`).
"""

from __future__ import annotations

import heapq
import logging
from typing import TYPE_CHECKING

from ..storage.ops import CreateSegment, MergeSegments, Op, PutMeta, SealSegment
from . import model, naming
from .intents import execute_two_phase
from .model import SegmentRecord, Stream, Transaction
from .periodic import Periodic
from .status import InvalidArgument, Status

if TYPE_CHECKING:
    from ..storage.engine import Engine
    from .service import ControllerService

log = logging.getLogger(__name__)

COUNTER_KEY = "ctl/txn-counter"

#: A transaction's key in the reaper's queues: (deadline or completion time, scope, stream, high, low).
_Entry = tuple[int, str, str, int, int]


def txn_key(txn: Transaction) -> str:
    """The metadata key of ``txn``."""
    return f"txn/{txn.scope}/{txn.stream}/{txn.hex}"


class Transactions:
    """The transactions of every stream; operations lock the stream through ``ctl``."""

    def __init__(self, ctl: ControllerService, reaper_interval: float) -> None:
        self.ctl = ctl
        self.by_stream: dict[tuple[str, str], dict[tuple[int, int], Transaction]] = {}
        self._counter = 0
        # Stale entries are skipped when popped, so the reaper never scans every transaction.
        self._lease_heap: list[_Entry] = []
        self._done_heap: list[_Entry] = []
        self._reaper = Periodic("transaction reaper", reaper_interval, lambda: self.ctl.reap())

    @property
    def engine(self) -> Engine:
        return self.ctl.engine

    # == life cycle ===============================================================

    def load(self) -> None:
        """Load stored transactions. Leases are wall-clock deadlines, but nobody could
        ping while the server was down: open transactions get at least a fresh grace
        period (in memory; the next ping stores a new deadline), as a controller re-arms
        its timers on takeover."""
        ctl = self.ctl
        grace_deadline = ctl.now_ms() + min(ctl.restart_grace_ms, ctl.max_lease_ms)
        for _, value in self.engine.meta_scan("txn/"):
            txn = Transaction.from_json(value)
            if txn.state == model.TXN_OPEN:
                txn.lease_deadline_ms = max(txn.lease_deadline_ms, grace_deadline)
            self.remember(txn)
        counter = self.engine.meta_get(COUNTER_KEY)
        self._counter = int(counter) if counter else 0

    def start(self) -> None:
        self._reaper.start()

    async def stop(self) -> None:
        await self._reaper.stop()

    # == queries and bookkeeping ==================================================

    def get(self, scope: str, name: str, high: int, low: int) -> Transaction | None:
        return self.by_stream.get((scope, name), {}).get((high, low))

    def of_stream(self, scope: str, name: str) -> list[Transaction]:
        return list(self.by_stream.get((scope, name), {}).values())

    def forget_stream(self, scope: str, name: str) -> None:
        self.by_stream.pop((scope, name), None)

    def segment_names(self, stream: Stream, txn: Transaction) -> list[str]:
        if not 0 <= txn.epoch < len(stream.epochs):
            return []
        return [
            naming.transaction_segment_name(stream.segment_name(s.id), txn.high, txn.low)
            for s in stream.epochs[txn.epoch].segments
        ]

    def remember(self, txn: Transaction) -> None:
        """Put ``txn`` (durably stored already) into the model and the reaper's queues."""
        self.by_stream.setdefault((txn.scope, txn.stream), {})[txn.key] = txn
        entry = (txn.scope, txn.stream, txn.high, txn.low)
        if txn.state == model.TXN_OPEN:
            heapq.heappush(self._lease_heap, (txn.lease_deadline_ms, *entry))
        else:
            heapq.heappush(self._done_heap, (txn.completed_ms or 0, *entry))

    def state(self, scope: str, name: str, high: int, low: int) -> Status:
        txn = self.get(scope, name, high, low)
        if txn is None or self.ctl.get_stream(scope, name) is None:
            return Status.UNKNOWN
        return {model.TXN_OPEN: Status.OPEN, model.TXN_COMMITTED: Status.COMMITTED}.get(txn.state, Status.ABORTED)

    def list_completed(self, scope: str, name: str) -> list[Transaction]:
        return sorted(
            (t for t in self.of_stream(scope, name) if t.state != model.TXN_OPEN),
            key=lambda t: (t.completed_ms or 0, t.high, t.low),
        )

    # == operations ===============================================================

    def _check_lease(self, lease: int) -> None:
        if lease <= 0:
            raise InvalidArgument(f"transaction lease must be positive, not {lease}")
        if lease > self.ctl.max_lease_ms:
            raise InvalidArgument(f"transaction lease {lease} ms exceeds the maximum of {self.ctl.max_lease_ms} ms")

    async def create(self, scope: str, name: str, lease: int) -> tuple[Transaction, list[SegmentRecord]]:
        """Open a transaction; its segments exist once this returns."""
        self._check_lease(lease)
        ctl = self.ctl
        async with ctl.locked(streams=[(scope, name)]):
            stream = ctl.require_stream(scope, name)
            if stream.sealed:
                raise InvalidArgument(f"stream {scope}/{name} is sealed; no transaction can start")
            self._counter += 1
            counter = self._counter
            high, low = naming.make_txn_id(stream.current_epoch, counter)
            now = ctl.now_ms()
            txn = Transaction(scope, name, high, low, stream.current_epoch, model.TXN_OPEN, now + lease, now)
            ops: list[Op] = [CreateSegment(n) for n in self.segment_names(stream, txn)]
            ops.append(PutMeta(txn_key(txn), txn.to_json()))
            ops.append(PutMeta(COUNTER_KEY, str(counter).encode()))
            await self.engine.execute(ops)
            self.remember(txn)
            return txn, list(stream.current.segments)

    async def ping(self, scope: str, name: str, high: int, low: int, lease: int) -> Status:
        ctl = self.ctl
        async with ctl.locked(streams=[(scope, name)]):
            stream, txn = ctl.get_stream(scope, name), self.get(scope, name, high, low)
            if stream is None or txn is None:
                return Status.UNKNOWN
            if txn.state != model.TXN_OPEN:
                return Status.COMMITTED if txn.state == model.TXN_COMMITTED else Status.ABORTED
            if lease > ctl.max_lease_ms:
                return Status.LEASE_TOO_LARGE
            if lease <= 0:
                raise InvalidArgument(f"transaction lease must be positive, not {lease}")
            now = ctl.now_ms()
            if now > txn.lease_deadline_ms:
                await self.abort_locked(stream, txn)
                return Status.ABORTED
            new = txn.copy()
            new.lease_deadline_ms = now + lease
            await self.engine.execute([PutMeta(txn_key(new), new.to_json())])
            self.remember(new)
        return Status.OK

    def _completing(
        self, scope: str, name: str, high: int, low: int, target: str
    ) -> Status | tuple[Stream, Transaction]:
        """The stream and open transaction to move to ``target`` (COMMITTED or ABORTED),
        or the status that answers the request at once (called under the stream lock)."""
        stream = self.ctl.get_stream(scope, name)
        if stream is None:
            return Status.STREAM_NOT_FOUND
        txn = self.get(scope, name, high, low)
        if txn is None:
            return Status.TRANSACTION_NOT_FOUND
        if txn.state == target:
            return Status.SUCCESS
        if txn.state != model.TXN_OPEN:
            return Status.FAILURE
        return stream, txn

    async def commit(
        self,
        scope: str,
        name: str,
        high: int,
        low: int,
        writer_id: str = "",
        timestamp: int | None = None,
    ) -> Status:
        """Merge the transaction's segments into the stream (synchronously)."""
        ctl = self.ctl
        async with ctl.locked(streams=[(scope, name)]):
            found = self._completing(scope, name, high, low, model.TXN_COMMITTED)
            if isinstance(found, Status):
                return found
            stream, txn = found
            if ctl.now_ms() > txn.lease_deadline_ms:
                await self.abort_locked(stream, txn)
                return Status.FAILURE
            if stream.sealed or not 0 <= txn.epoch <= stream.current_epoch:
                return Status.FAILURE
            done = txn.copy()
            done.state = model.TXN_COMMITTED
            done.completed_ms = ctl.now_ms()
            done.writer_id = writer_id
            done.commit_timestamp = timestamp
            if txn.epoch == stream.current_epoch:
                merged_into = stream
                ops: list[Op] = []
                for parent in stream.current.segments:
                    parent_name = stream.segment_name(parent.id)
                    source = naming.transaction_segment_name(parent_name, high, low)
                    if self.engine.exists(source):
                        ops.append(MergeSegments(parent_name, source))
                    else:
                        log.warning("transaction segment %s is missing; committing without it", source)
                ops.append(PutMeta(txn_key(done), done.to_json()))
                await self.engine.execute(ops)
                into = stream.current.segments
            else:
                merged_into = new = await self._rolling_commit(stream, txn, done)
                ctl.put_stream(new)
                into = new.epochs[new.current_epoch - 1].segments  # the epoch holding the transaction's data
            self.remember(done)
            # Where the writer's data now ends: the lengths of the segments it merged into.
            names = [merged_into.segment_name(seg.id) for seg in into]
            if writer_id and timestamp is not None:
                await self.engine.refresh(names)  # lengths of segments in containers
            position = {seg.id: self.engine.segments[n].length for seg, n in zip(into, names, strict=True)}
        if writer_id and timestamp is not None:
            # As in Pravega, a commit with a writer id and a time notes that writer's time at
            # the committed position (it feeds the stream's watermarks).
            noted = await ctl.writers.note_timestamp(scope, name, writer_id, timestamp, position)
            if noted != Status.SUCCESS:
                log.info(
                    "commit of %s/%s by %s: its time %d was not noted (%s)", scope, name, writer_id, timestamp, noted
                )
        return Status.SUCCESS

    async def _rolling_commit(self, stream: Stream, txn: Transaction, done: Transaction) -> Stream:
        """Commit a transaction begun before the stream's last scale (its parents are
        sealed): epoch c+1 duplicates the transaction epoch's segments and receives the
        transaction's data, sealed at once; epoch c+2 duplicates the active segments,
        which are sealed. Readers see the current data, then the transaction, then new
        data; per routing key, order holds through the successor relation."""
        ctl = self.ctl
        new = stream.copy()
        txn_parents = stream.epochs[txn.epoch].segments
        active = stream.current.segments
        now = ctl.now_ms()
        dup_txn = new.allocate(new.current_epoch + 1, [(s.min_key, s.max_key) for s in txn_parents])
        new.add_epoch(now, dup_txn)
        dup_active = new.allocate(new.current_epoch + 1, [(s.min_key, s.max_key) for s in active])
        new.add_epoch(now, dup_active)
        phase1 = ctl.create_ops(new, dup_txn) + ctl.create_ops(new, dup_active)
        phase2: list[Op] = []
        for parent, dup in zip(txn_parents, dup_txn):
            source = naming.transaction_segment_name(stream.segment_name(parent.id), txn.high, txn.low)
            if self.engine.exists(source):
                phase2.append(MergeSegments(new.segment_name(dup.id), source))
            else:
                log.warning("transaction segment %s is missing; committing without it", source)
        phase2 += [SealSegment(new.segment_name(dup.id)) for dup in dup_txn]
        phase2 += ctl.seal_ops(stream.segment_name(s.id) for s in active)
        phase2.append(PutMeta(ctl.stream_key(new.scope, new.name), new.to_json()))
        phase2.append(PutMeta(txn_key(done), done.to_json()))
        await execute_two_phase(self.engine, f"intent/{stream.scope}/{stream.name}", phase1, phase2)
        return new

    async def abort(self, scope: str, name: str, high: int, low: int) -> Status:
        async with self.ctl.locked(streams=[(scope, name)]):
            found = self._completing(scope, name, high, low, model.TXN_ABORTED)
            if isinstance(found, Status):
                return found
            await self.abort_locked(*found)
        return Status.SUCCESS

    def abort_ops(self, stream: Stream, txn: Transaction) -> tuple[list[Op], Transaction]:
        """The batch that aborts ``txn``, and the aborted transaction to remember once durable."""
        done = txn.copy()
        done.state = model.TXN_ABORTED
        done.completed_ms = self.ctl.now_ms()
        ops = self.ctl.delete_ops(self.segment_names(stream, txn))
        ops.append(PutMeta(txn_key(done), done.to_json()))
        return ops, done

    async def abort_locked(self, stream: Stream, txn: Transaction) -> None:
        ops, done = self.abort_ops(stream, txn)
        await self.engine.execute(ops)
        self.remember(done)

    # == the reaper ===============================================================

    async def reap(self) -> None:
        """Abort open transactions whose lease expired; forget completed transactions
        older than the retention time."""
        now = self.ctl.now_ms()
        expired: dict[tuple[str, str], list[tuple[int, int]]] = {}
        while self._lease_heap and self._lease_heap[0][0] < now:
            deadline, scope, name, high, low = heapq.heappop(self._lease_heap)
            txn = self.get(scope, name, high, low)
            if txn is not None and txn.state == model.TXN_OPEN and txn.lease_deadline_ms == deadline:
                expired.setdefault((scope, name), []).append(txn.key)
        old: dict[tuple[str, str], list[tuple[int, int]]] = {}
        while self._done_heap and self._done_heap[0][0] + self.ctl.completed_txn_ttl_ms <= now:
            completed, scope, name, high, low = heapq.heappop(self._done_heap)
            txn = self.get(scope, name, high, low)
            if txn is not None and txn.state != model.TXN_OPEN and (txn.completed_ms or 0) == completed:
                old.setdefault((scope, name), []).append(txn.key)
        for scope, name in sorted(set(expired) | set(old)):
            try:
                await self._reap_stream(scope, name, expired.get((scope, name), []), old.get((scope, name), []))
            except Exception:
                # requeue, so the next round tries again
                for key in expired.get((scope, name), []) + old.get((scope, name), []):
                    txn = self.get(scope, name, *key)
                    if txn is not None:
                        self.remember(txn)
                raise

    async def _reap_stream(
        self,
        scope: str,
        name: str,
        expired: list[tuple[int, int]],
        old: list[tuple[int, int]],
    ) -> None:
        async with self.ctl.locked(streams=[(scope, name)]):
            stream = self.ctl.get_stream(scope, name)
            current = self.by_stream.get((scope, name), {})
            if stream is None:
                return
            for key in expired:
                txn = current.get(key)
                if txn is not None and txn.state == model.TXN_OPEN and txn.lease_deadline_ms < self.ctl.now_ms():
                    log.info("transaction %s on %s/%s expired; aborting it", txn.hex, scope, name)
                    await self.abort_locked(stream, txn)
            drop = [current[k] for k in old if k in current and current[k].state != model.TXN_OPEN]
            if drop:
                await self.engine.execute([PutMeta(txn_key(t), None) for t in drop])
                for t in drop:
                    current.pop(t.key, None)
