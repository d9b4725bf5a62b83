"""Helpers for the PyFlink connector tests (imported by the test modules of this directory)."""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pravega
import pravega.aio
import pravega_flink
from pravega_flink import _jar


def jvm() -> Any:
    from pyflink.java_gateway import get_gateway

    return get_gateway().jvm


def testing() -> Any:
    """The package of the connector's test jar (``src/test/java``: failing operators, a
    transaction listener writing the event log), loaded into PyFlink's gateway JVM."""
    from pyflink.util.java_utils import add_jars_to_context_class_loader

    add_jars_to_context_class_loader([pravega_flink.jar_path().resolve().as_uri(), _jar.test_jar_path().as_uri()])
    return jvm().org.pravega.flink.testing


def event(key: int, seq: int) -> str:
    return f"k{key}:{seq}"


def parse(text: str) -> tuple[str, int]:
    """``"k3:17|..."`` -> ("k3", 17)."""
    key, _, rest = text.partition(":")
    return key, int(rest.split("|", 1)[0])


def wait_for(
    condition: Callable[[], Any],
    timeout: float,
    what: str,
    interval: float = 0.25,
    diagnose: Callable[[], str] | None = None,
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            details = ""
            if diagnose is not None:
                try:
                    details = "\n" + diagnose()
                except Exception as exc:
                    details = f"\n(diagnostics failed: {exc!r})"
            raise AssertionError(f"timed out after {timeout} s waiting for {what}{details}")
        time.sleep(interval)


def cancel(job: Any, timeout: float = 60) -> None:
    """Cancel a job started with ``execute_async`` and wait until it is gone (its local
    mini-cluster shuts down with it)."""
    job.cancel().result()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status = str(job.get_job_status().result())
        except Exception:
            return
        if status.rsplit(".", 1)[-1] in ("CANCELED", "FAILED", "FINISHED"):
            return
        time.sleep(0.2)
    raise AssertionError(f"job still not cancelled after {timeout} s")


class InputWriter(threading.Thread):
    """Writes ``k<i>:<seq>`` events (routing key ``k<i>``) in the background until stopped."""

    def __init__(
        self,
        client: pravega.Client,
        scope: str,
        stream: str,
        keys: int,
        pause: float,
        start_seq: dict[str, int] | None = None,
    ) -> None:
        super().__init__(daemon=True)
        self.writer = client.create_writer(scope, stream, pravega.StringSerializer())
        self.keys = keys
        self.pause = pause
        self.next_seq = collections.Counter(start_seq or {})
        self.written = 0
        self.stopped = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            i = 0
            while not self.stopped.is_set():
                for _ in range(10):
                    key = f"k{i % self.keys}"
                    self.writer.write(f"{key}:{self.next_seq[key]}", routing_key=key)
                    self.next_seq[key] += 1
                    self.written += 1
                    i += 1
                time.sleep(self.pause)
            self.writer.flush()
        except BaseException as exc:
            self.error = exc

    def stop(self) -> dict[str, int]:
        """Stop writing; returns the next sequence number per key once everything is flushed."""
        self.stopped.set()
        self.join(60)
        if self.is_alive():
            raise AssertionError(
                "the Python client's writer of the test input did not flush within 60 s "
                f"({self.written} events written): a client problem, not the connector's"
            )
        self.writer.close()
        if self.error is not None:
            raise self.error
        return dict(self.next_seq)


class FlinkRun:
    """A test's scope on the shared server, its Flink environments and the connector's event log."""

    def __init__(self, controller_uri: str, scope: str, tmp: Path, python: str) -> None:
        self.uri = controller_uri
        self.scope = scope
        self.tmp = tmp
        self.python = python
        self.client = pravega.Client(controller_uri)
        self.client.create_scope(scope)
        self.event_log = tmp / "connector-events.log"
        self.event_log.touch()
        self.testing = testing()
        self.checkpoints = tmp / "checkpoints"

    def close(self) -> None:
        self.client.close()

    # -- streams ------------------------------------------------------------------------

    def stream(self, name: str, segments: int) -> str:
        self.client.create_stream(self.scope, name, segments)
        return f"{self.scope}/{name}"

    def write(self, stream: str, events: Iterable[tuple[str, str]]) -> int:
        """Write (routing key, text) pairs; returns how many."""
        writer = self.client.create_writer(self.scope, stream.split("/")[1], pravega.StringSerializer())
        n = 0
        for key, text in events:
            writer.write(text, routing_key=key)
            n += 1
        writer.flush()
        writer.close()
        return n

    def write_keyed(self, stream: str, keys: int, per_key: int, start: int = 0) -> dict[str, int]:
        """``per_key`` events for each of ``keys`` keys, interleaved; returns the next sequence numbers."""
        self.write(stream, ((f"k{k}", event(k, s)) for s in range(start, start + per_key) for k in range(keys)))
        return {f"k{k}": start + per_key for k in range(keys)}

    def read_segments(self, stream: str) -> dict[int, list[str]]:
        """Every event of a stream by segment, each segment in order (whole segments)."""
        scope, name = stream.split("/")

        async def go() -> dict[int, list[str]]:
            async with pravega.aio.Client(self.uri) as c:
                batch = c.batch_client()
                out: dict[int, list[str]] = {}
                for sl in await batch.list_segments(scope, name):
                    out[sl.segment_id] = [e async for e in batch.read_segment(sl, pravega.StringSerializer())]
                return out

        return asyncio.run(go())

    def read(self, stream: str) -> list[str]:
        return [e for events in self.read_segments(stream).values() for e in events]

    def count(self, stream: str) -> int:
        return len(self.read(stream))

    # -- flink ---------------------------------------------------------------------------

    def env(
        self,
        parallelism: int = 1,
        checkpoint_ms: int = 500,
        restore_from: Path | None = None,
        attempts: int = 10,
        extra: dict[str, str] | None = None,
    ) -> Any:
        from pyflink.common import Configuration
        from pyflink.datastream import StreamExecutionEnvironment

        cfg = Configuration()
        settings = {
            "execution.checkpointing.interval": f"{checkpoint_ms} ms",
            "execution.checkpointing.dir": self.checkpoints.as_uri(),
            "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
            "execution.checkpointing.min-pause": "100 ms",
            "restart-strategy.type": "fixed-delay",
            "restart-strategy.fixed-delay.attempts": str(attempts),
            "restart-strategy.fixed-delay.delay": "200 ms",
            "jobmanager.execution.failover-strategy": "region",
            "python.executable": self.python,
            "python.fn-execution.bundle.time": "50",
            "parallelism.default": str(parallelism),
        }
        if restore_from is not None:
            settings["execution.state-recovery.path"] = str(restore_from)
        settings.update(extra or {})
        for k, v in settings.items():
            cfg.set_string(k, v)
        env = StreamExecutionEnvironment.get_execution_environment(cfg)
        env.set_parallelism(parallelism)
        pravega_flink.register(env)
        env.add_jars(_jar.test_jar_path().as_uri())
        return env

    def source(self, *streams: str, bounded: bool = False) -> Any:
        from pyflink.common import SimpleStringSchema

        b = (
            pravega_flink.PravegaSource.builder()
            .set_controller_uri(self.uri)
            .set_streams(*streams)
            .set_deserialization_schema(SimpleStringSchema())
        )
        if bounded:
            b.set_bounded()
        return b

    def sink(self, stream: str, guarantee: Any, committer_plan: str | None = None) -> Any:
        """A sink builder whose transaction steps go to the event log; ``committer_plan``
        (e.g. ``"retry,after"``) wraps its committer with the test jar's failing one."""
        from pyflink.common import SimpleStringSchema

        b = (
            pravega_flink.PravegaSink.builder()
            .set_controller_uri(self.uri)
            .set_stream(stream)
            .set_serialization_schema(SimpleStringSchema())
            .set_delivery_guarantee(guarantee)
            .set_routing_key_extractor(pravega_flink.RoutingKeyExtractor.delimited_prefix(":"))
        )
        b._j_builder.setTransactionListener(self.testing.LoggingTransactionListener(str(self.event_log)))
        if committer_plan is not None:
            markers = self.tmp / "committer-plan"
            markers.mkdir(exist_ok=True)
            b._j_builder.setCommitterFactory(
                self.testing.FailingCommitterFactory(committer_plan, str(markers), str(self.event_log))
            )
        return b

    def fail_once(self, stream: Any, after: int, where: str) -> Any:
        """``stream`` through the test jar's FailingIdentityMapper: the first subtask to pass
        ``after`` records throws, once per job (a user function failing its task; placed
        right after a source or right before a sink, that reader or writer fails with it).
        The failure is logged as ``injected-failure <where>``."""
        from pyflink.datastream import DataStream

        marker = self.tmp / ("failed-" + where.replace(" ", "-"))
        mapper = self.testing.FailingIdentityMapper(after, where, str(marker), str(self.event_log))
        return DataStream(stream._j_data_stream.map(mapper))

    def latest_checkpoint(self) -> Path:
        found = sorted(self.checkpoints.glob("*/chk-*/_metadata"), key=lambda p: int(p.parent.name[4:]))
        if not found:
            raise AssertionError(f"no retained checkpoint under {self.checkpoints}")
        return found[-1].parent

    # -- the connector's event log --------------------------------------------------------

    def log(self, kind: str | None = None) -> list[list[str]]:
        """Lines ``<millis> <kind> <args...>`` written by the test jar's listener and operators, split."""
        lines = [line.split() for line in self.event_log.read_text().splitlines() if line.strip()]
        return [ln for ln in lines if kind is None or ln[1] == kind]

    def diagnose(self, job: Any = None, stream: str | None = None) -> str:
        """What a timed-out test saw: the job's status, the output count, the last connector events."""
        status = "n/a"
        if job is not None:
            try:
                status = str(job.get_job_status().result())
            except Exception:
                status = "(mini-cluster gone)"
        count = self.count(stream) if stream else "n/a"
        tail = "\n".join(self.event_log.read_text().splitlines()[-20:])
        return f"job status {status}; output events {count}; last connector events:\n{tail}"

    def committed_events(self) -> int:
        return sum(int(ln[3]) for ln in self.log("commit"))


def check_exactly_once(
    events: list[str], expected: dict[str, int], per_segment: dict[int, list[str]] | None = None
) -> None:
    """Each key's sequence numbers are exactly 0..n-1; with ``per_segment``, in order."""
    seqs: dict[str, list[int]] = collections.defaultdict(list)
    sources = per_segment.values() if per_segment is not None else [events]
    for segment_events in sources:
        for text in segment_events:
            key, seq = parse(text)
            seqs[key].append(seq)
    assert set(seqs) == {k for k, n in expected.items() if n > 0}, (sorted(seqs), sorted(expected))
    for key, n in expected.items():
        got = seqs.get(key, [])
        if per_segment is None:
            got = sorted(got)
        dupes = len(got) - len(set(got))
        missing = sorted(set(range(n)) - set(got))
        assert got == list(range(n)), (
            f"key {key}: {len(got)} events for {n} written; {dupes} duplicates, missing {missing[:10]}, "
            f"out of order at {next((i for i, (a, b) in enumerate(zip(got, range(n))) if a != b), None)}"
        )


def check_at_least_once(events: list[str], expected: dict[str, int]) -> int:
    """Every event arrived at least once; returns the number of duplicates."""
    seen = collections.Counter(parse(t) for t in events)
    for key, n in expected.items():
        missing = [s for s in range(n) if (key, s) not in seen]
        assert not missing, f"key {key}: lost {len(missing)} events, e.g. {missing[:10]}"
    return sum(c - 1 for c in seen.values())
