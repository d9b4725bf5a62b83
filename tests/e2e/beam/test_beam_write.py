"""WriteToPravega against a real server, on the DirectRunner and the embedded portable runner.

Neither local runner retries a failed bundle: a failure fails the pipeline. A retry is
therefore played the way a runner would do it: the write stage by running the same
pipeline again on the same input, the commit stage by committing the same (stable,
post-Reshuffle) transaction ids again until it succeeds.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import apache_beam as beam
import pytest
from apache_beam.transforms.display import DisplayData
from beam_testing import (
    Collector,
    FaultHook,
    VisibilityProbe,
    chunked_ints,
    counter,
    new_scope,
    options,
    read_all,
    run_async,
)

import pravega
from pravega_beam import WriteToPravega
from pravega_beam._sink import _CommitTransactionsFn

pytestmark = pytest.mark.parametrize("runner", ["direct", "portable"])

CHUNKS, PER_CHUNK = 4, 250
TOTAL = CHUNKS * PER_CHUNK


def _encode(i: int) -> bytes:
    return f"event-{i:05d}".encode()


def _key(i: int) -> str:
    return f"k{i % 9}"


def _setup(uri: str, segments: int = 3) -> str:
    scope = new_scope()
    with pravega.Client(uri) as client:
        client.create_scope(scope)
        client.create_stream(scope, "out", segments)
    return scope


def _write_pipeline(
    runner: str, uri: str, scope: str, hook: Any = None, exactly_once: bool = True, ids: Collector | None = None
) -> beam.Pipeline:
    p = beam.Pipeline(options=options(runner))
    written = chunked_ints(p, CHUNKS, PER_CHUNK) | WriteToPravega(
        uri, f"{scope}/out", serializer=_encode, routing_key_fn=_key, exactly_once=exactly_once, _fault_hook=hook
    )
    if ids is not None:
        _ = written | ids.sink()
    return p


def _assert_exactly_once(uri: str, scope: str) -> None:
    events = Counter(read_all(uri, scope, "out"))
    assert sorted(events) == [_encode(i) for i in range(TOTAL)]
    assert set(events.values()) == {1}


def _states(uri: str, scope: str, ids: list[str]) -> list[str]:
    async def go(client: Any) -> list[str]:
        return [await client.ctx.controller.transaction_state(scope, "out", int(t, 16)) for t in ids]

    return run_async(go, uri)


def test_exactly_once_write(server: Any, runner: str, tmp_path: Path) -> None:
    uri = server.controller_uri
    scope = _setup(uri)
    ids = Collector()
    hook = FaultHook(str(tmp_path))
    result = _write_pipeline(runner, uri, scope, hook, ids=ids).run()
    result.wait_until_finish()
    _assert_exactly_once(uri, scope)
    # One transaction per bundle (a bundle per chunk), each committed once.
    assert sorted(ids.items) == sorted(hook.ids("write")) == sorted(hook.ids("commit"))
    assert len(ids.items) == CHUNKS
    assert set(_states(uri, scope, ids.items)) == {"COMMITTED"}
    assert counter(result, "events_written") == TOTAL
    assert counter(result, "bytes_written") == sum(len(_encode(i)) for i in range(TOTAL))
    assert counter(result, "transactions_opened") == CHUNKS
    assert counter(result, "transactions_committed") == CHUNKS
    assert counter(result, "transactions_failed") == 0


def test_uncommitted_data_is_never_visible(server: Any, runner: str, tmp_path: Path) -> None:
    uri = server.controller_uri
    scope = _setup(uri)
    probe = VisibilityProbe(str(tmp_path), uri, scope, "out")
    _write_pipeline(runner, uri, scope, probe).run().wait_until_finish()
    records = probe.records()
    assert len(records) == CHUNKS
    for record in records:
        # Each transaction was open, held its bundle's bytes, and a reader saw none of
        # them: all commits come after the Reshuffle.
        assert record["state"] == "OPEN"
        assert record["txn_bytes"] == sum(len(_encode(i)) + 8 for i in range(PER_CHUNK))
        assert record["visible_events"] == 0
    _assert_exactly_once(uri, scope)


def test_failure_in_the_write_stage_then_retry(server: Any, runner: str, tmp_path: Path) -> None:
    uri = server.controller_uri
    scope = _setup(uri)
    hook = FaultHook(str(tmp_path), fail_write_at=3)
    with pytest.raises(Exception, match="injected failure in the write stage"):
        _write_pipeline(runner, uri, scope, hook).run().wait_until_finish()
    failed_attempt = hook.ids("write")
    assert len(failed_attempt) == 3
    assert read_all(uri, scope, "out") == []  # nothing committed

    _write_pipeline(runner, uri, scope, hook).run().wait_until_finish()  # the retry
    _assert_exactly_once(uri, scope)
    # The failed attempt's transactions were never committed (the failing bundle's is
    # aborted as soon as the DoFn notices; the others expire with their lease).
    states = _states(uri, scope, failed_attempt)
    assert states[-1] == "ABORTED" and "COMMITTED" not in states
    assert set(_states(uri, scope, hook.ids("commit"))) == {"COMMITTED"}


def test_failure_in_the_commit_stage_then_retry(server: Any, runner: str, tmp_path: Path) -> None:
    uri = server.controller_uri
    scope = _setup(uri)
    hook = FaultHook(str(tmp_path), fail_commit_once=True)
    with pytest.raises(Exception, match="injected failure in the commit stage"):
        _write_pipeline(runner, uri, scope, hook).run().wait_until_finish()
    ids = hook.ids("write")  # what the Reshuffle holds for the retried commit stage
    assert len(ids) == CHUNKS
    committed_before_retry = hook.ids("commit")
    assert len(committed_before_retry) == 1  # committed, then the bundle failed

    for attempt in range(CHUNKS + 1):  # noqa: B007
        p = beam.Pipeline(options=options(runner))
        _ = p | beam.Create(ids) | beam.ParDo(_CommitTransactionsFn(uri, scope, "out", 120_000, hook))
        try:
            p.run().wait_until_finish()
            break
        except Exception as exc:  # each id fails once after its first commit
            assert "injected failure in the commit stage" in str(exc)
    else:
        pytest.fail("the commit stage never succeeded")
    assert attempt >= 1
    _assert_exactly_once(uri, scope)
    assert Counter(hook.ids("commit"))[committed_before_retry[0]] >= 2  # committed again: a no-op


class _AbortFirst:
    """A hook that aborts the first transaction before the commit stage sees it."""

    def __init__(self, uri: str, scope: str) -> None:
        self.uri = uri
        self.scope = scope

    def __call__(self, stage: str, txn: str) -> None:
        if stage != "write":
            return

        async def abort(client: Any) -> None:
            await client.ctx.controller.abort_transaction(self.scope, "out", int(txn, 16))

        run_async(abort, self.uri)


def test_a_lost_transaction_fails_the_pipeline_loudly(server: Any, runner: str) -> None:
    uri = server.controller_uri
    scope = _setup(uri)
    with pytest.raises(Exception, match=r"cannot be committed .*events are NOT in the stream"):
        _write_pipeline(runner, uri, scope, _AbortFirst(uri, scope)).run().wait_until_finish()


def test_at_least_once_write(server: Any, runner: str) -> None:
    uri = server.controller_uri
    scope = _setup(uri)
    result = _write_pipeline(runner, uri, scope, exactly_once=False).run()
    result.wait_until_finish()
    _assert_exactly_once(uri, scope)  # no failures here, so no duplicates either
    assert counter(result, "events_written") == TOTAL


def test_display_data(server: Any, runner: str) -> None:
    write = WriteToPravega(server.controller_uri, "sc/out", transaction_lease_ms=30_000)
    items = {i.key: i.value for i in DisplayData.create_from(write).items}
    assert items == {
        "controller_uri": server.controller_uri,
        "stream": "sc/out",
        "exactly_once": True,
        "transaction_lease_ms": 30_000,
    }
