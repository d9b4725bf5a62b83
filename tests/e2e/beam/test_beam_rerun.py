"""Exactly-once across a failed pipeline and its re-run (``WriteToPravega(sink_id=...)``),
and resuming with ``ReadFromPravega(resume_from_sink=...)``.

The pipeline (``eo_pipeline.py``) runs as a process of its own, killed with SIGKILL
from here at random moments: while it writes, after some or all of its output is
committed and before it returns. Then it is run again with the same sink id, as a user
would. The output must hold every input event exactly once, each key's events in
input order.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import apache_beam as beam
import pytest
from beam_testing import counter, new_scope, options, read_all
from eo_pipeline import _Transform

import pravega
from pravega_beam import ReadFromPravega, WriteToPravega

PIPELINE = str(Path(__file__).resolve().parent / "eo_pipeline.py")
KEYS = 9


def _event(i: int) -> bytes:
    return f"k{i % KEYS}:{i // KEYS:05d}".encode()


def _setup(uri: str) -> str:
    scope = new_scope()
    with pravega.Client(uri) as client:
        client.create_scope(scope)
        client.create_stream(scope, "in", 3)
        client.create_stream(scope, "out", 2)
    return scope


def _write_input(uri: str, scope: str, first: int, count: int) -> None:
    with pravega.Client(uri) as client:
        writer = client.create_writer(scope, "in")
        for i in range(first, first + count):
            writer.write(_event(i), routing_key=f"k{i % KEYS}")
        writer.flush()


def _tail(uri: str, scope: str) -> str:
    with pravega.Client(uri) as client:
        return client.stream_info(scope, "in").tail.to_text()


def _start(uri: str, scope: str, runner: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, PIPELINE, "--uri", uri, "--scope", scope, "--runner", runner, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: the kill takes its workers too
    )


def _kill(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()


def _outputs(uri: str, scope: str) -> list[bytes]:
    return read_all(uri, scope, "out")


def _wait_for_output(uri: str, scope: str, count: int, proc: subprocess.Popen[str], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while len(_outputs(uri, scope)) < count:
        if proc.poll() is not None:
            return  # finished (or failed) meanwhile
        if time.monotonic() > deadline:
            raise TimeoutError(f"fewer than {count} output events after {timeout} s")
        time.sleep(0.05)


def _assert_exactly_once_in_order(uri: str, scope: str, total: int) -> None:
    out = _outputs(uri, scope)
    counts = Counter(out)
    twice = [e for e, n in counts.items() if n > 1]
    assert not twice, f"{len(twice)} events written more than once, e.g. {twice[:3]}"
    assert sorted(counts) == sorted(_event(i) + b":out" for i in range(total))
    # read_all reads each output segment in order, and each key lives in one segment.
    per_key: dict[bytes, list[int]] = defaultdict(list)
    for e in out:
        key, seq, _ = e.split(b":")
        per_key[key].append(int(seq))
    for key, seqs in per_key.items():
        assert seqs == sorted(seqs), f"{key!r} out of order"


def _run_to_end(uri: str, scope: str, runner: str, *extra: str) -> subprocess.CompletedProcess[str]:
    proc = _start(uri, scope, runner, *extra)
    try:
        stdout, stderr = proc.communicate(timeout=180)
    finally:
        _kill(proc)
    assert proc.returncode == 0, stderr[-3000:]
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


RUNNERS = ["direct", "portable"]
TOTAL = 900


@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_killed_bounded_pipeline_rerun_writes_each_event_once(server: Any, runner: str, seed: int) -> None:
    _kill_and_rerun(server, runner, seed)


@pytest.mark.slow
@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize("seed", range(4, 10))
def test_killed_bounded_pipeline_rerun_many_seeds(server: Any, runner: str, seed: int) -> None:
    _kill_and_rerun(server, runner, seed)


def _kill_and_rerun(server: Any, runner: str, seed: int) -> None:
    rng = random.Random(seed)
    uri = server.controller_uri
    scope = _setup(uri)
    _write_input(uri, scope, 0, TOTAL)
    args = ["--end", _tail(uri, scope), "--delay-ms", "2"]
    # Kill points: a share of the output committed (1.0: all of it, before the
    # pipeline returned), or a random time after the start.
    for attempt in range(2):
        proc = _start(uri, scope, runner, *args)
        try:
            if rng.random() < 0.6:
                _wait_for_output(uri, scope, int(TOTAL * rng.choice([0.1, 0.4, 0.7, 1.0])), proc)
            else:
                time.sleep(rng.uniform(0.2, 4.0))
        finally:
            _kill(proc)
        if attempt == 0 and seed == 3:
            assert len(_outputs(uri, scope)) > 0  # at least one run killed after commits
    _run_to_end(uri, scope, runner, *args)
    _assert_exactly_once_in_order(uri, scope, TOTAL)


def test_kill_after_all_commits_before_return(server: Any) -> None:
    """The case of the issue: every output committed, then the process dies."""
    uri = server.controller_uri
    scope = _setup(uri)
    _write_input(uri, scope, 0, TOTAL)
    args = ["--end", _tail(uri, scope)]
    proc = _start(uri, scope, "direct", *args)
    try:
        _wait_for_output(uri, scope, TOTAL, proc)
    finally:
        _kill(proc)
    assert len(_outputs(uri, scope)) == TOTAL
    done = _run_to_end(uri, scope, "direct", *args)
    assert "finished" in done.stdout
    _assert_exactly_once_in_order(uri, scope, TOTAL)


@pytest.mark.parametrize("runner", RUNNERS)
def test_failing_user_function_then_rerun_writes_each_event_once(server: Any, runner: str) -> None:
    uri = server.controller_uri
    scope = _setup(uri)
    _write_input(uri, scope, 0, TOTAL)
    args = ["--end", _tail(uri, scope), "--delay-ms", "1"]
    failing = _start(uri, scope, runner, *args, "--fail-at", _event(TOTAL - 20).decode())
    try:
        _, stderr = failing.communicate(timeout=180)
    finally:
        _kill(failing)
    assert failing.returncode != 0
    assert "the user function fails on" in stderr
    assert len(_outputs(uri, scope)) < TOTAL
    _run_to_end(uri, scope, runner, *args)
    _assert_exactly_once_in_order(uri, scope, TOTAL)


class _Feeder:
    """Keeps writing input events (in order per key) until stopped."""

    def __init__(self, uri: str, scope: str) -> None:
        self.uri, self.scope = uri, scope
        self.written = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with pravega.Client(self.uri) as client:
            writer = client.create_writer(self.scope, "in")
            while not self._stop.is_set():
                for i in range(self.written, self.written + 30):
                    writer.write(_event(i), routing_key=f"k{i % KEYS}")
                writer.flush()
                self.written += 30
                time.sleep(0.05)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.written


@pytest.mark.parametrize("runner", RUNNERS)
def test_unbounded_pipeline_killed_and_restarted_resumes(server: Any, runner: str) -> None:
    uri = server.controller_uri
    scope = _setup(uri)
    feeder = _Feeder(uri, scope)
    try:
        for _ in range(2):
            proc = _start(uri, scope, runner)
            try:
                _wait_for_output(uri, scope, len(_outputs(uri, scope)) + 200, proc)
            finally:
                _kill(proc)
            assert proc.returncode == -signal.SIGKILL
    finally:
        total = feeder.stop()
    proc = _start(uri, scope, runner)
    try:
        _wait_for_output(uri, scope, total, proc, timeout=90)
        time.sleep(0.5)  # a duplicate, if there were one, would have time to show
    finally:
        _kill(proc)
    _assert_exactly_once_in_order(uri, scope, total)


def test_second_pipeline_with_the_same_sink_id_fails_at_once(server: Any) -> None:
    uri = server.controller_uri
    scope = _setup(uri)
    _write_input(uri, scope, 0, 90)
    first = _start(uri, scope, "direct")  # unbounded: runs until killed
    try:
        _wait_for_output(uri, scope, 90, first)
        assert first.poll() is None
        started = time.monotonic()
        second = _start(uri, scope, "direct")
        try:
            _, stderr = second.communicate(timeout=60)
        finally:
            _kill(second)
        print(f"the second pipeline failed after {time.monotonic() - started:.1f} s")
        assert second.returncode != 0
        assert "is in use by another running pipeline" in stderr, stderr[-3000:]
        assert first.poll() is None  # the first one goes on
        _write_input(uri, scope, 90, 90)
        _wait_for_output(uri, scope, 180, first)
    finally:
        _kill(first)
    _assert_exactly_once_in_order(uri, scope, 180)


def test_resume_reads_only_past_the_committed_output(server: Any) -> None:
    """A second bounded run resumes each segment at its last committed event: it reads
    that one event again (the sink drops it) and then only what is new."""
    uri = server.controller_uri
    scope = _setup(uri)

    def run() -> Any:
        p = beam.Pipeline(options=options("direct"))
        _ = (
            p
            | ReadFromPravega(uri, f"{scope}/in", end=_tail(uri, scope), with_metadata=True, resume_from_sink="job")
            | beam.ParDo(_Transform(None, 0.0))
            | WriteToPravega(uri, f"{scope}/out", routing_key_fn=lambda v: v.split(b":")[0].decode(), sink_id="job")
        )
        result = p.run()
        result.wait_until_finish()
        return result

    _write_input(uri, scope, 0, 90)
    first = run()
    assert (counter(first, "events_read"), counter(first, "events_skipped")) == (90, 0)
    _write_input(uri, scope, 90, 90)
    second = run()
    segments = 3  # every input segment holds some of the keys
    assert counter(second, "events_read") == 90 + segments
    assert counter(second, "events_skipped") == segments
    _assert_exactly_once_in_order(uri, scope, 180)


def test_a_shuffle_between_read_and_sink_is_refused() -> None:
    """After a shuffle the sink could see a segment's input out of order: it could not
    keep the order nor know what a re-run must skip. Refused when the pipeline is built."""
    uri = "tcp://127.0.0.1:9090"
    p = beam.Pipeline(options=options("direct"))
    events = p | ReadFromPravega(uri, "sc/in", with_metadata=True)
    _ = events | "Direct" >> WriteToPravega(uri, "sc/out", sink_id="job")  # element-wise: fine
    _ = (
        (events, events | beam.Map(lambda e: e))
        | beam.Flatten()
        | "Merged" >> WriteToPravega(uri, "sc/out", sink_id="j")
    )
    with pytest.raises(ValueError, match=r"found GroupByKey at 'Reshuffle/.*A shuffle"):
        _ = events | beam.Reshuffle() | "Shuffled" >> WriteToPravega(uri, "sc/out", sink_id="job")
    with pytest.raises(ValueError, match=r"needs its input from ReadFromPravega.*found Impulse"):
        _ = p | beam.Create([b"x"]) | "Created" >> WriteToPravega(uri, "sc/out", sink_id="job")
