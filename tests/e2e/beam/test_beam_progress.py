"""The sink's progress table (``pravega_beam._progress``) against a real server: what a
re-run does with the intent of a run that died between recording a transaction and
marking it done, for each state the transaction can be in; and the sink's lock."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from beam_testing import new_scope, read_stream, run_async

from pravega.aio import Client
from pravega_beam._progress import HEARTBEAT_SECONDS, STALE_SECONDS, Progress, SinkInUseError, input_key

KEY = input_key("sc/in", 3)


async def _scope(client: Client) -> str:
    scope = new_scope()
    await client.create_scope(scope)
    await client.create_stream(scope, "out", 1)
    return scope


async def _dead_run_with_intent(client: Client, scope: str, then: str) -> tuple[Progress, int]:
    """A run records the intent of a flushed transaction holding one event (input up
    to offset 40), does ``then`` to the transaction ("nothing", "commit", "abort"), and
    dies without marking the intent done."""
    run = Progress(client, scope, "out", "job", "run-1", 30_000)
    await run.acquire()
    (record,) = await run.load([KEY])
    assert record.last == -1
    writer = await client.create_transactional_writer(scope, "out")
    txn = await writer.begin()
    await txn.write(b"out-of-input-40")
    await txn.flush()
    await run._write_intent([record], {"txn": f"{txn.txn_id:032x}", "keys": [KEY.decode()]}, {KEY: 40})
    if then == "commit":
        await txn.commit()
    elif then == "abort":
        await txn.abort()
    await writer.close()
    await run.release()  # a dead run's lock would go stale; released here to keep the test short
    return run, txn.txn_id


@pytest.mark.parametrize(
    ("then", "state", "last", "visible"),
    [
        ("nothing", "COMMITTED", 40, 1),  # open: complete, so the re-run commits it
        ("commit", "COMMITTED", 40, 1),  # committed: the re-run marks it done
        ("abort", "ABORTED", -1, 0),  # aborted (or expired): its input is written again
    ],
)
def test_rerun_finishes_the_intent_of_a_dead_run(server: Any, then: str, state: str, last: int, visible: int) -> None:
    async def go(client: Client) -> None:
        scope = await _scope(client)
        _, txn_id = await _dead_run_with_intent(client, scope, then)
        rerun = Progress(client, scope, "out", "job", "run-2", 30_000)
        await rerun.acquire()
        (record,) = await rerun.load([KEY])
        assert (record.last, record.pending) == (last, None)
        assert await client.ctx.controller.transaction_state(scope, "out", txn_id) == state
        assert len(await read_stream(client, scope, "out")) == visible

    run_async(go, server.controller_uri)


def test_commit_records_the_input_and_a_second_bundle_of_the_same_input_conflicts(server: Any) -> None:
    async def go(client: Client) -> None:
        scope = await _scope(client)
        run = Progress(client, scope, "out", "job", "run-1", 30_000)
        await run.acquire()
        (first,) = await run.load([KEY])
        (second,) = await run.load([KEY])  # a second bundle holding the same input
        writer = await client.create_transactional_writer(scope, "out")
        txn = await writer.begin()
        await txn.write(b"x")
        await txn.flush()
        await run.commit(txn, [first], {KEY: 10})
        assert (await run.load([KEY]))[0].last == 10
        other = await writer.begin()
        await other.write(b"y")
        await other.flush()
        with pytest.raises(RuntimeError, match="two bundles held the same input"):
            await run.commit(other, [second], {KEY: 20})
        assert await read_stream(client, scope, "out") == [b"x"]
        await writer.close()

    run_async(go, server.controller_uri)


def test_lock_held_by_a_live_run_fails_a_second_run_at_once(server: Any) -> None:
    async def go(client: Client) -> None:
        scope = await _scope(client)
        live = Progress(client, scope, "out", "job", "run-1", 30_000)
        await live.acquire()
        beating = asyncio.ensure_future(live.heartbeat())
        try:
            # It fails on the first beat it sees (a lock without beats would be taken over).
            with pytest.raises(SinkInUseError, match="in use by another running pipeline"):
                await Progress(client, scope, "out", "job", "run-2", 30_000).acquire()
        finally:
            beating.cancel()

    run_async(go, server.controller_uri)


def test_lock_of_a_dead_run_is_taken_over_once_stale(server: Any) -> None:
    async def go(client: Client) -> None:
        scope = await _scope(client)
        dead = Progress(client, scope, "out", "job", "run-1", 30_000)
        await dead.acquire()  # and never beats again
        started = time.monotonic()
        await Progress(client, scope, "out", "job", "run-2", 30_000).acquire()
        assert time.monotonic() - started >= STALE_SECONDS - HEARTBEAT_SECONDS
        # The dead run, were it alive after all, cannot commit any more.
        await dead._guard().acquire()
        await dead._renew()
        assert dead.lost is not None

    run_async(go, server.controller_uri)
