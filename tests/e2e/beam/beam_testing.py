"""Helpers of the Beam connector tests: runner options, output collection, a chunked
source, and fault hooks. DoFns and hooks here are pickled by reference, so they must
live in an importable module (not in a test function or conftest)."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import apache_beam as beam
from apache_beam.io.restriction_trackers import OffsetRange, OffsetRestrictionTracker
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.transforms.core import RestrictionProvider

from pravega import naming
from pravega.aio import Client

RUNNERS = {
    "direct": ["--direct_num_workers=1"],
    "portable": ["--runner=PortableRunner", "--job_endpoint=embed", "--environment_type=LOOPBACK"],
}


def options(runner: str, streaming: bool = False) -> PipelineOptions:
    return PipelineOptions(RUNNERS[runner] + (["--streaming"] if streaming else []))


# -- collecting output (the workers of both runners run in this process) ----------------

_collected: dict[str, list[Any]] = defaultdict(list)
_changed = threading.Condition()


class _Collect(beam.DoFn):
    def __init__(self, key: str) -> None:
        self._key = key

    def process(self, element: Any) -> tuple[()]:
        with _changed:
            _collected[self._key].append(element)
            _changed.notify_all()
        return ()


class Collector:
    """``pcoll | collector.sink()``; then ``collector.items`` in arrival order."""

    def __init__(self) -> None:
        self.key = uuid.uuid4().hex

    def sink(self) -> beam.PTransform:
        return beam.ParDo(_Collect(self.key))

    @property
    def items(self) -> list[Any]:
        with _changed:
            return list(_collected[self.key])

    def wait_for(self, count: int, timeout: float = 60.0) -> None:
        """Block until ``count`` items arrived (raises TimeoutError after ``timeout``)."""
        with _changed:
            if not _changed.wait_for(lambda: len(_collected[self.key]) >= count, timeout):
                raise TimeoutError(f"{len(_collected[self.key])} of {count} items arrived in {timeout} s")

    def wait_for_condition(self, check: Callable[[list[Any]], bool], timeout: float = 60.0) -> None:
        """Block until ``check(items)`` holds (raises TimeoutError after ``timeout``)."""
        with _changed:
            if not _changed.wait_for(lambda: check(list(_collected[self.key])), timeout):
                raise TimeoutError(f"condition not met in {timeout} s; {len(_collected[self.key])} items arrived")


def gauges(result: Any, name: str) -> list[int]:
    found = result.metrics().query(MetricsFilter().with_namespace("pravega").with_name(name))["gauges"]
    return [(g.committed or g.attempted).value for g in found]


def distribution_max(result: Any, name: str) -> int | None:
    found = result.metrics().query(MetricsFilter().with_namespace("pravega").with_name(name))["distributions"]
    values = [(d.committed or d.attempted).max for d in found]
    return max(values) if values else None


def counter(result: Any, name: str) -> int:
    found = result.metrics().query(MetricsFilter().with_namespace("pravega").with_name(name))["counters"]
    return sum(c.committed if c.committed is not None else c.attempted for c in found)


# -- output of worker processes (--direct_running_mode=multi_processing) -------------------


class AppendLines(beam.DoFn):
    """Appends each element as a JSON line ``[pid, element...]`` to ``<directory>/<pid>``:
    output of SDK worker processes, which do not share the test's memory. The workers
    import this module by name, so the test puts its directory on ``PYTHONPATH``."""

    def __init__(self, directory: str) -> None:
        self._directory = directory

    def setup(self) -> None:
        path = os.path.join(self._directory, str(os.getpid()))
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def process(self, element: Any) -> tuple[()]:
        line = json.dumps([os.getpid(), *element]) + "\n"
        os.write(self._fd, line.encode())  # one small O_APPEND write: lines never interleave
        return ()

    def teardown(self) -> None:
        os.close(self._fd)


def read_lines(directory: Path) -> list[list[Any]]:
    return [json.loads(line) for path in sorted(directory.iterdir()) for line in path.read_text().splitlines()]


# -- a source whose chunks arrive in separate bundles -------------------------------------


class _ChunkRange(RestrictionProvider):
    def initial_restriction(self, element: tuple[int, int]) -> OffsetRange:
        return OffsetRange(0, element[0])

    def create_tracker(self, restriction: OffsetRange) -> OffsetRestrictionTracker:
        return OffsetRestrictionTracker(restriction)

    def restriction_size(self, element: Any, restriction: OffsetRange) -> int:
        return restriction.size()


class _Chunks(beam.DoFn):
    """(chunks, per_chunk) -> the ints [0, chunks * per_chunk), one chunk per bundle."""

    def process(
        self, element: tuple[int, int], tracker: Any = beam.DoFn.RestrictionParam(_ChunkRange())
    ) -> Iterator[int]:
        chunk = tracker.current_restriction().start
        if not tracker.try_claim(chunk):
            return
        per_chunk = element[1]
        yield from range(chunk * per_chunk, (chunk + 1) * per_chunk)
        tracker.defer_remainder()


def chunked_ints(pbegin: Any, chunks: int, per_chunk: int, label: str = "Chunks") -> beam.PCollection:
    return (
        pbegin
        | f"{label}Impulse" >> beam.Impulse()
        | f"{label}Spec" >> beam.Map(lambda _: (chunks, per_chunk))
        | label >> beam.ParDo(_Chunks())
    )


# -- fault hooks (WriteToPravega(_fault_hook=...)) ----------------------------------------


class InjectedFault(RuntimeError):
    pass


class FaultHook:
    """Records every (stage, txn id) in ``directory/<stage>.ids``. Raises once where
    told: ``fail_write_at=n`` on the n-th "write" call (1-based) of the whole test (a
    marker file remembers it across runs); ``fail_commit_once=True`` after the first
    commit of each transaction id, so a retry of the commit succeeds."""

    def __init__(self, directory: str, fail_write_at: int | None = None, fail_commit_once: bool = False) -> None:
        self.directory = directory
        self.fail_write_at = fail_write_at
        self.fail_commit_once = fail_commit_once

    def __call__(self, stage: str, txn: str) -> None:
        path = Path(self.directory) / f"{stage}.ids"
        with open(path, "a") as fh:
            fh.write(txn + "\n")
        if stage == "write" and self.fail_write_at is not None:
            calls = len(path.read_text().split())
            marker = Path(self.directory) / "write.failed"
            if calls == self.fail_write_at and not marker.exists():
                marker.write_text(txn)
                raise InjectedFault(f"injected failure in the write stage after transaction {txn}")
        if stage == "commit" and self.fail_commit_once:
            marker = Path(self.directory) / f"commit.{txn}.failed"
            if not marker.exists():
                marker.write_text("")
                raise InjectedFault(f"injected failure in the commit stage after committing {txn}")

    def ids(self, stage: str) -> list[str]:
        path = Path(self.directory) / f"{stage}.ids"
        return path.read_text().split() if path.exists() else []


class VisibilityProbe:
    """At every "write" call (a transaction flushed, not committed) records what a
    reader can see of the stream and how much the transaction holds, in
    ``directory/probe.jsonl``."""

    def __init__(self, directory: str, controller_uri: str, scope: str, stream: str) -> None:
        self.directory = directory
        self.controller_uri = controller_uri
        self.scope = scope
        self.stream = stream

    def __call__(self, stage: str, txn: str) -> None:
        if stage != "write":
            return
        record = asyncio.run(self._look(int(txn, 16)))
        with open(Path(self.directory) / "probe.jsonl", "a") as fh:
            fh.write(json.dumps(record) + "\n")

    async def _look(self, txn_id: int) -> dict[str, Any]:
        async with Client(self.controller_uri) as client:
            state = await client.ctx.controller.transaction_state(self.scope, self.stream, txn_id)
            visible = await read_stream(client, self.scope, self.stream)
            parents = await client.ctx.controller.get_current_segments(self.scope, self.stream)
            held = 0
            for r in parents:
                parent = naming.qualified_segment_name(self.scope, self.stream, r.segment_id)
                name = naming.transaction_segment_name(parent, txn_id >> 64, txn_id & ((1 << 64) - 1))
                held += (await client.segments.info(name)).length
        return {"txn": f"{txn_id:032x}", "state": state, "visible_events": len(visible), "txn_bytes": held}

    def records(self) -> list[dict[str, Any]]:
        path = Path(self.directory) / "probe.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


# -- reading a stream directly -------------------------------------------------------------


async def read_stream(client: Client, scope: str, stream: str) -> list[bytes]:
    """Every event of the stream, from the head through all segments (any order)."""
    batch = client.batch_client()
    out: list[bytes] = []
    for piece in await batch.list_segments(scope, stream):
        out.extend([e async for e in batch.read_segment(piece)])
    return out


def read_all(controller_uri: str, scope: str, stream: str) -> list[bytes]:
    async def go() -> list[bytes]:
        async with Client(controller_uri) as client:
            return await read_stream(client, scope, stream)

    return asyncio.run(go())


def run_async(fn: Callable[[Client], Any], controller_uri: str) -> Any:
    async def go() -> Any:
        async with Client(controller_uri) as client:
            return await fn(client)

    return asyncio.run(go())


def new_scope() -> str:
    return "beam" + uuid.uuid4().hex[:8]


def segment_counters(result: Any, stream: str) -> dict[int, int]:
    """{segment id: events read} from the read's ``events_read/<stream>/<segment id>`` counters."""
    prefix = f"events_read/{stream}/"
    found = result.metrics().query(MetricsFilter().with_namespace("pravega"))["counters"]
    out: dict[int, int] = defaultdict(int)
    for c in found:
        if c.key.metric.name.startswith(prefix):
            out[int(c.key.metric.name[len(prefix) :])] += c.committed if c.committed is not None else c.attempted
    return dict(out)
