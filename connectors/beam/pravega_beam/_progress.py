"""The progress of a sink with a ``sink_id``, kept in a Pravega table segment (private).

``WriteToPravega(sink_id=...)`` writes the output of the input events it is given
(``PravegaEvent`` elements: stream, segment, offset) and records, per input segment,
the offset of the last input event whose output is committed. A re-run with the same
sink id drops what is covered and writes the rest; ``ReadFromPravega(resume_from_sink=
...)`` starts each segment at its recorded offset. This is the sink's table, one table
segment ``<scope>/_BEAMSINK<sink id>_progress/0.#epoch.0`` in the output stream's scope:

* ``lock``: ``{"run", "beat", "ms"}`` — the run holding the sink, a heartbeat counter
  and the wall time of the last beat. A run takes a missing or stale lock (no beat for
  ``STALE_SECONDS``); a run that sees the beat move fails at once with
  :class:`SinkInUseError`.
* ``in:<scope>/<stream>/<segment id>``: ``{"last", "pending"}`` — ``last``: offset of
  the last input event of that segment whose output is committed (``-1``: none);
  ``pending``: ``null`` or the intent ``{"txn", "last", "keys"}`` of a transaction
  being committed: it holds the output up to input offset ``last`` of every input key
  in ``keys``.

Committing a bundle's transaction T (all its events flushed, so T is complete):

1. intent: one atomic conditional update of the ``lock`` (still ours) and the input
   keys of the bundle (unchanged since the bundle read them), each with the pending T;
2. commit T at the controller (idempotent: committing a committed T succeeds);
3. done: the input keys get ``last`` from the intent and no pending.

Whoever finds a pending T (the next bundle of the segment, a retry, a re-run) finishes
it from T's state: OPEN or COMMITTING — commit it (it is complete, see above), then
done; COMMITTED — done; ABORTING, ABORTED or UNKNOWN (its lease ran out before the
commit) — drop the intent: its input is not covered and is written again. A crash
before the intent leaves an open transaction nobody names: its lease runs out and the
controller aborts it; its events were never visible.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from pravega import errors, naming
from pravega.client.transaction import ABORTED, COMMITTED, COMMITTING, OPEN, TransactionalWriter

from ._runtime import _Session

LOCK_KEY = b"lock"
#: How often the run holding a sink renews its lock.
HEARTBEAT_SECONDS = 1.0
#: A lock without a beat for this long belongs to a run that is gone.
STALE_SECONDS = 3.0
#: Version conditions of table updates.
NOT_EXISTS = -1
_CONFLICTS = (errors.BadKeyVersionError, errors.KeyDoesNotExistError)
_ATTEMPTS = 20


class SinkInUseError(RuntimeError):
    """Another running pipeline holds this sink id."""


class SinkConflictError(RuntimeError):
    """The progress record changed under a bundle: two bundles held the same input."""


def table_segment(scope: str, sink_id: str) -> str:
    return f"{scope}/{naming.INTERNAL_PREFIX}BEAMSINK{sink_id}_progress/0{naming.EPOCH_DELIMITER}0"


def input_key(stream: str, segment_id: int) -> bytes:
    return f"in:{stream}/{segment_id}".encode()


def _dump(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


@dataclass
class InputRecord:
    """The progress of one input segment as read (``version`` -1: no record yet)."""

    key: bytes
    version: int
    last: int
    pending: dict[str, Any] | None

    @classmethod
    def parse(cls, key: bytes, found: tuple[int, bytes] | None) -> InputRecord:
        if found is None:
            return cls(key, NOT_EXISTS, -1, None)
        value = json.loads(found[1])
        return cls(key, found[0], int(value["last"]), value["pending"])


async def committed_offsets(client: Any, table: str, stream: str) -> dict[int, int]:
    """{segment id: offset of the last input event whose output is committed} of one
    input stream (``"scope/stream"``); empty if the sink has no progress yet. Pending
    intents are not counted (a resume from here only reads a little more)."""
    prefix = f"in:{stream}/".encode()
    out: dict[int, int] = {}
    token = b""
    while True:
        try:
            entries, token = await client.segments.read_table_entries(table, token, 1000)
        except errors.NoSuchSegmentError:
            return {}
        for key, _version, value in entries:
            if key.startswith(prefix):
                last = int(json.loads(value)["last"])
                if last >= 0:
                    out[int(key[len(prefix) :])] = last
        if not entries or not token:
            return out


class Progress:
    """One sink's table, for the run ``run_id``; used on the client's loop only."""

    def __init__(self, client: Any, scope: str, stream: str, sink_id: str, run_id: str, lease_ms: int) -> None:
        self._client = client
        self._segments = client.segments
        self.scope = scope
        self.stream = stream
        self.sink_id = sink_id
        self.run_id = run_id
        self._lease_ms = lease_ms
        self.table = table_segment(scope, sink_id)
        self._lock_version = NOT_EXISTS
        self._beat = 0
        self._mutex: asyncio.Lock | None = None  # guards the lock key's version
        self.lost: str | None = None

    def _guard(self) -> asyncio.Lock:
        if self._mutex is None:
            self._mutex = asyncio.Lock()
        return self._mutex

    def _lock_value(self) -> bytes:
        self._beat += 1
        return _dump({"run": self.run_id, "beat": self._beat, "ms": int(time.time() * 1000)})

    # -- the lock -------------------------------------------------------------------------

    async def acquire(self) -> None:
        """Take the sink for this run: at once if it is free or already ours; after
        ``STALE_SECONDS`` without a beat if a gone run holds it. Raises
        :class:`SinkInUseError` as soon as the holder's beat moves."""
        await self._segments.create_table(self.table)
        seen: tuple[str, int] | None = None
        since = time.monotonic()
        while True:
            found = (await self._segments.read_table(self.table, [LOCK_KEY]))[0]
            expected = NOT_EXISTS
            if found is not None:
                version, raw = found
                lock = json.loads(raw)
                if lock["run"] == self.run_id:
                    async with self._guard():
                        self._lock_version = version
                    return
                holder = (lock["run"], int(lock["beat"]))
                if seen is None:
                    seen, since = holder, time.monotonic()
                elif holder != seen:
                    raise SinkInUseError(
                        f"sink id {self.sink_id!r} of {self.scope}/{self.stream} is in use by another running "
                        f"pipeline (run {lock['run']}, its heartbeat moved while this run waited); "
                        "two pipelines cannot write with the same sink_id at the same time"
                    )
                stale = time.time() * 1000 - lock["ms"] > STALE_SECONDS * 1000
                if not stale and time.monotonic() - since < STALE_SECONDS:
                    await asyncio.sleep(0.2)
                    continue
                expected = version
            try:
                async with self._guard():
                    (self._lock_version,) = await self._segments.update_table(
                        self.table, [(LOCK_KEY, expected, self._lock_value())]
                    )
                return
            except _CONFLICTS:
                continue  # someone else moved: look again

    async def heartbeat(self) -> None:
        """Renew the lock every ``HEARTBEAT_SECONDS`` until cancelled or lost."""
        while self.lost is None:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            try:
                async with self._guard():
                    await self._renew()
            except errors.PravegaError:
                continue  # transient: the next beat tries again

    async def _renew(self) -> None:
        """Renew the lock (the caller holds the guard); sets ``lost`` if another run took it."""
        try:
            (self._lock_version,) = await self._segments.update_table(
                self.table, [(LOCK_KEY, self._lock_version, self._lock_value())]
            )
            return
        except _CONFLICTS:
            pass
        found = (await self._segments.read_table(self.table, [LOCK_KEY]))[0]
        if found is not None and json.loads(found[1])["run"] == self.run_id:
            self._lock_version = found[0]  # another process of this run renewed it
        else:
            self.lost = f"the sink id {self.sink_id!r} was taken over by another run"

    async def release(self) -> None:
        if self.lost is not None:
            return
        async with self._guard():
            try:
                await self._segments.remove_table_keys(self.table, [(LOCK_KEY, self._lock_version)])
            except _CONFLICTS:
                pass  # renewed by another process of this run, or taken: not ours to remove

    # -- input records --------------------------------------------------------------------

    async def load(self, keys: list[bytes]) -> list[InputRecord]:
        """The records of these input keys, with every pending intent finished first."""
        for _ in range(_ATTEMPTS):
            found = await self._segments.read_table(self.table, keys)
            records = [InputRecord.parse(k, f) for k, f in zip(keys, found)]
            pending = [r.pending for r in records if r.pending is not None]
            if not pending:
                return records
            for intent in pending:
                await self._finish_intent(intent)
        raise SinkConflictError(f"{self.table}: records of {keys!r} keep changing")

    async def commit(self, txn: Any, records: list[InputRecord], lasts: dict[bytes, int]) -> None:
        """Record the intent, commit the (flushed) transaction, mark it done."""
        text = f"{txn.txn_id:032x}"
        intent = {"txn": text, "keys": sorted(k.decode() for k in lasts)}
        versions = await self._write_intent(records, intent, lasts)
        try:
            await txn.commit()
        except errors.TransactionFailedError as exc:
            await self._finish_intent(intent)  # aborted (lease ran out): drop the intent
            raise errors.TransactionFailedError(
                f"exactly-once write to {self.scope}/{self.stream}: transaction {text} could not be committed "
                f"({exc}); its input is not recorded as written and a re-run writes it again"
            ) from exc
        entries = [(r.key, v, _dump({"last": lasts[r.key], "pending": None})) for r, v in zip(records, versions)]
        try:
            await self._segments.update_table(self.table, entries)
        except _CONFLICTS:
            # Someone finished the intent for us (a retry or a run that took over).
            await self.load([r.key for r in records])

    async def _write_intent(
        self, records: list[InputRecord], intent: dict[str, Any], lasts: dict[bytes, int]
    ) -> list[int]:
        by_key = {k.decode(): v for k, v in lasts.items()}
        for _ in range(_ATTEMPTS):
            async with self._guard():
                if self.lost is not None:
                    raise SinkInUseError(self.lost)
                entries = [(LOCK_KEY, self._lock_version, self._lock_value())]
                entries += [
                    (r.key, r.version, _dump({"last": r.last, "pending": {**intent, "last": by_key}})) for r in records
                ]
                try:
                    versions = await self._segments.update_table(self.table, entries)
                except _CONFLICTS:
                    await self._renew()
                else:
                    self._lock_version = versions[0]
                    return versions[1:]
            # The lock was renewed meanwhile (retry), or an input record moved (conflict).
            fresh = await self._segments.read_table(self.table, [r.key for r in records])
            for i, (r, f) in enumerate(zip(records, fresh)):
                now = InputRecord.parse(r.key, f)
                if now.last != r.last or now.pending is not None:
                    raise SinkConflictError(
                        f"the progress of input {r.key.decode()[3:]} changed while a bundle wrote its output "
                        f"(last {r.last} -> {now.last}): two bundles held the same input. With a sink_id the "
                        "steps between ReadFromPravega and WriteToPravega must be element-wise (no shuffle)."
                    )
                records[i] = now
        raise SinkConflictError(f"{self.table}: could not record the intent of transaction {intent['txn']}")

    async def _finish_intent(self, intent: dict[str, Any]) -> None:
        """Bring an intent to its end from its transaction's state (module docstring)."""
        txn_id = int(intent["txn"], 16)
        committed = await self._settle(txn_id)
        keys = [k.encode() for k in intent["keys"]]
        for _ in range(_ATTEMPTS):
            found = await self._segments.read_table(self.table, keys)
            entries = []
            for key, f in zip(keys, found):
                r = InputRecord.parse(key, f)
                if r.pending is None or r.pending["txn"] != intent["txn"]:
                    continue  # finished already
                last = int(r.pending["last"][key.decode()]) if committed else r.last
                entries.append((key, r.version, _dump({"last": last, "pending": None})))
            if not entries:
                return
            try:
                await self._segments.update_table(self.table, entries)
                return
            except _CONFLICTS:
                continue
        raise SinkConflictError(f"{self.table}: could not finish the intent of transaction {intent['txn']}")

    async def _settle(self, txn_id: int) -> bool:
        """Commit the transaction if it still can be; whether it is committed."""
        controller = self._client.ctx.controller
        state = await controller.transaction_state(self.scope, self.stream, txn_id)
        if state == COMMITTED:
            return True
        if state not in (OPEN, COMMITTING):
            return False  # ABORTING, ABORTED, UNKNOWN: it never became visible
        writer: TransactionalWriter = TransactionalWriter(
            self._client.ctx, self.scope, self.stream, None, None, self._lease_ms, keep_alive=False
        )
        try:
            txn = await writer.get_transaction(txn_id)
            await txn.commit()
            return True
        except errors.TransactionFailedError:
            state = await controller.transaction_state(self.scope, self.stream, txn_id)
            if state in (ABORTED, "ABORTING", "UNKNOWN"):
                return False
            raise
        finally:
            await writer.close()


def new_run_id() -> str:
    return uuid.uuid4().hex


# -- one Progress (lock, heartbeat) per sink and run in a process --------------------------

_holders_lock = threading.Lock()
_holders: dict[tuple[str, str], tuple[Progress, int, asyncio.Future]] = {}


def hold(session: _Session, scope: str, stream: str, sink_id: str, run_id: str, lease_ms: int) -> Progress:
    """The run's :class:`Progress` of this sink, taking its lock on first use (blocks up
    to ``STALE_SECONDS`` when a gone run holds it; raises :class:`SinkInUseError`)."""
    key = (session.controller_uri, table_segment(scope, sink_id))
    with _holders_lock:
        held = _holders.get(key)
        if held is not None and held[0].run_id == run_id:
            _holders[key] = (held[0], held[1] + 1, held[2])
            return held[0]
        progress = Progress(session.client, scope, stream, sink_id, run_id, lease_ms)
        session.call(progress.acquire)

        async def start() -> asyncio.Future:
            return asyncio.ensure_future(progress.heartbeat())

        _holders[key] = (progress, 1, session.call(start))
        return progress


def unhold(session: _Session, progress: Progress) -> None:
    """Give the run's use back; the last one stops the heartbeat and frees the lock."""
    key = (session.controller_uri, progress.table)
    with _holders_lock:
        held = _holders.get(key)
        if held is None or held[0] is not progress:
            return
        if held[1] > 1:
            _holders[key] = (progress, held[1] - 1, held[2])
            return
        del _holders[key]
    task = held[2]

    async def stop() -> None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await progress.release()

    session.call(stop)
