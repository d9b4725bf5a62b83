"""The PyFlink connector on a real standalone Flink cluster: one JobManager and two
TaskManagers as separate processes, the job submitted with ``flink run -py`` (the
documented deployment, ``examples/flink_cluster_job.py``). A TaskManager is SIGKILLed in
the middle of the job and replaced; the exactly-once sink's output holds every input event
once, in per-key order."""

from __future__ import annotations

import asyncio
import collections
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import pravega
import pravega.aio
from pravega.testing import ServerProcess

pytest.importorskip("pyflink")

from cluster_kit import FlinkCluster

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
JOB = EXAMPLES / "flink_cluster_job.py"
SQL_JOB = EXAMPLES / "flink_cluster_sql_job.py"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path_factory.mktemp("cluster-server")) as proc:
        yield proc


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[FlinkCluster]:
    c = FlinkCluster(tmp_path / "flink")
    try:
        yield c.start(taskmanagers=2)
    finally:
        c.stop()


class Feeder(threading.Thread):
    """Writes ``k<i>:<seq>`` (routing key ``k<i>``) until stopped, then seals the stream."""

    def __init__(self, uri: str, scope: str, stream: str, keys: int = 12) -> None:
        super().__init__(daemon=True)
        self.uri, self.scope, self.stream, self.keys = uri, scope, stream, keys
        self.seq: collections.Counter[str] = collections.Counter()
        self.stopping = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with pravega.Client(self.uri) as client:
                writer = client.create_writer(self.scope, self.stream, pravega.StringSerializer())
                i = 0
                while not self.stopping.is_set():
                    for _ in range(20):
                        key = f"k{i % self.keys}"
                        writer.write(f"{key}:{self.seq[key]}", routing_key=key)
                        self.seq[key] += 1
                        i += 1
                    time.sleep(0.02)
                writer.flush()
                writer.close()
                client.seal_stream(self.scope, self.stream)
        except BaseException as exc:  # reported by stop()
            self.error = exc

    def stop(self) -> dict[str, int]:
        self.stopping.set()
        self.join(60)
        assert not self.is_alive(), "the input writer did not finish"
        if self.error is not None:
            raise self.error
        return dict(self.seq)


def read_segments(uri: str, scope: str, stream: str) -> dict[int, list[str]]:
    async def go() -> dict[int, list[str]]:
        async with pravega.aio.Client(uri) as c:
            batch = c.batch_client()
            return {
                sl.segment_id: [e async for e in batch.read_segment(sl, pravega.StringSerializer())]
                for sl in await batch.list_segments(scope, stream)
            }

    return asyncio.run(go())


def wait_for(predicate, timeout: float, what: str, logs: Path) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}; Flink logs in {logs}")
        time.sleep(0.5)


@pytest.mark.parametrize("job_script", [JOB, SQL_JOB], ids=["datastream", "sql"])
def test_exactly_once_through_a_killed_taskmanager(
    server: ServerProcess, cluster: FlinkCluster, job_script: Path
) -> None:
    """The DataStream job and its SQL twin (csv format, exactly-once, routing-key column)."""
    import pravega_flink

    uri, scope = server.controller_uri, "cl" + uuid.uuid4().hex[:8]
    with pravega.Client(uri) as client:
        client.create_scope(scope)
        client.create_stream(scope, "in", 2)
        client.create_stream(scope, "out", 2)
    feeder = Feeder(uri, scope, "in")
    feeder.start()
    try:
        job = cluster.submit_python(
            job_script,
            ["--controller", uri, "--input", f"{scope}/in", "--output", f"{scope}/out", "--parallelism", "2"],
            pravega_flink.jar_path(),
        )
        count = lambda: sum(len(v) for v in read_segments(uri, scope, "out").values())
        wait_for(lambda: count() > 500, 180, "the first committed output", cluster.logs)
        # Both TaskManagers run a subtask (parallelism 2, one slot each): kill one.
        victim = cluster.taskmanagers[0]
        cluster.kill_taskmanager(victim)
        before = count()
        cluster.add_taskmanager()
        wait_for(lambda: cluster.live_taskmanagers() == 2, 120, "the replacement TaskManager", cluster.logs)
        wait_for(lambda: count() > before + 500, 180, "output after the failover", cluster.logs)
        assert cluster.job_state(job) == "RUNNING"
        history = cluster.rest(f"/jobs/{job}/exceptions")
        assert history.get("exceptionHistory", {}).get("entries"), "the job never saw the TaskManager fail"
    finally:
        expected = feeder.stop()
    wait_for(
        lambda: cluster.job_state(job) == "FINISHED", 180, "the job to finish after the input was sealed", cluster.logs
    )
    per_segment = read_segments(uri, scope, "out")
    seqs: dict[str, list[int]] = collections.defaultdict(list)
    for events in per_segment.values():
        for text in events:
            key, seq = text.strip().split(":")
            seqs[key].append(int(seq))
    for key, n in expected.items():
        got = seqs[key]
        assert got == list(range(n)), (
            f"key {key}: {len(got)} events for {n} written, {len(got) - len(set(got))} duplicates, "
            f"missing {sorted(set(range(n)) - set(got))[:10]}; output sample {[t for v in per_segment.values() for t in v][:3]}"
        )
