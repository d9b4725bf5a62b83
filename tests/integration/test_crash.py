"""Crash test: official-client writers keep writing while the server is SIGKILLed and restarted.

Several writer *processes* (the official client blocks inside Rust while holding the GIL, so
processes keep the killer and the writers independent) write events with routing keys and unique,
self-checking payloads ``"<writer>:<seq>:<check>:<padding>"`` to a 4-segment stream: two with a
window of ``write_event_async`` futures in flight, one with blocking ``write_event`` calls.  Meanwhile the test SIGKILLs the server several
times at random moments and restarts it on the same data directory and ports.

Every writer keeps its `StreamWriter` across outages: the Rust writer reconnects, re-sends the
unacknowledged events with the same writer id and event numbers, and the server must drop what it
already has.  Only when a future fails (or hangs past a bound) does the writer re-create its
`StreamWriter` and write that event *again*; such events are counted as retried.

Checks after the last restart, reading everything back with a reader group:

* every acknowledged event is present;
* no event appears more often than the test wrote it (an event written once appears at most once);
* every event read is well formed (no torn or foreign data);
* every writer made progress after the last restart (the client recovers).

This file doubles as the writer/verifier program (``python test_crash.py writer|verify ...``),
which `test_fuzz_wire.py` reuses.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import subprocess
import sys
import time
import uuid
from collections import Counter, deque
from pathlib import Path

import pytest

KILLS = 5
WRITERS = 3
WINDOW = 16  # write_event_async futures in flight per writer
WRITE_TIMEOUT = 40.0  # a future not done after this long is treated as failed and re-written
QUIET_SECONDS = 3.0  # read-back ends this long after the last new event (once all acked are seen)
READ_BACK_TIMEOUT = 60.0


# ---------------------------------------------------------------------------------------------
# Payloads
# ---------------------------------------------------------------------------------------------


def make_payload(writer: str, seq: int) -> bytes:
    check = hashlib.sha256(f"{writer}:{seq}".encode()).hexdigest()[:16]
    pad = (check * 64)[: (seq * 37) % 700]
    return f"{writer}:{seq}:{check}:{pad}".encode()


def parse_payload(data: bytes) -> tuple[str, int] | None:
    """``(writer, seq)`` of a well-formed payload, None for anything torn or foreign."""
    try:
        writer, seq_text, _check, _pad = data.decode("ascii").split(":")
        seq = int(seq_text)
    except ValueError:
        return None
    return (writer, seq) if make_payload(writer, seq) == data else None


def routing_key(writer: str, seq: int) -> str:
    return f"{writer}-k{seq % 8}"


# ---------------------------------------------------------------------------------------------
# Writer process
# ---------------------------------------------------------------------------------------------


def writer_main(argv: list[str]) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--uri", required=True)
    p.add_argument("--scope", required=True)
    p.add_argument("--stream", required=True)
    p.add_argument("--id", required=True)
    p.add_argument("--stop-file", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--window", type=int, default=WINDOW)
    p.add_argument("--rate", type=float, default=0.0, help="events/s cap (0: as fast as acks allow)")
    p.add_argument("--stop-grace", type=float, default=45.0)
    p.add_argument("--sync", action="store_true", help="blocking write_event, one event at a time")
    args = p.parse_args(argv)
    if args.sync:
        _sync_writer(args)
    else:
        asyncio.run(_writer(args))


def _save(args: argparse.Namespace, result: dict) -> None:
    tmp = Path(args.out + ".tmp")
    tmp.write_text(json.dumps(result))
    tmp.rename(args.out)
    os._exit(0)  # skip the client's drop-time flush of possibly dead writers


def _sync_writer(args: argparse.Namespace) -> None:
    """``write_event`` (max_inflight_events=0): returns once the event is acknowledged."""
    import pravega_client

    wid = args.id
    stop_file = Path(args.stop_file)
    attempts: Counter[int] = Counter()
    acked: dict[int, float] = {}
    failures: list[str] = []
    recreated = 0
    manager = pravega_client.StreamManager(args.uri)
    writer = manager.create_writer(args.scope, args.stream)
    seq = 0
    while not stop_file.exists():
        attempts[seq] += 1
        try:
            writer.write_event(make_payload(wid, seq).decode(), routing_key(wid, seq))
        except Exception as exc:
            if len(failures) < 50:
                failures.append(f"{time.time():.3f} seq {seq}: {exc!r}"[:300])
            recreated += 1
            time.sleep(0.5)
            writer = manager.create_writer(args.scope, args.stream)
            continue
        acked[seq] = time.time()
        seq += 1
    _save(
        args,
        {
            "writer": wid,
            "issued": seq + (1 if attempts[seq] else 0),
            "acked": acked,
            "attempts": {s: n for s, n in attempts.items() if n > 1},
            "unacked_at_end": [],
            "failures": failures,
            "recreated": recreated,
        },
    )


async def _writer(args: argparse.Namespace) -> None:
    import pravega_client

    wid = args.id
    stop_file = Path(args.stop_file)
    attempts: Counter[int] = Counter()
    acked: dict[int, float] = {}
    failures: list[str] = []
    recreated = 0
    manager = pravega_client.StreamManager(args.uri)
    writer = manager.create_writer(args.scope, args.stream)
    pending: dict[asyncio.Future, tuple[int, float]] = {}
    abandoned: dict[asyncio.Future, int] = {}
    retry: deque[int] = deque()
    next_seq = 0
    stop_deadline: float | None = None
    started = time.monotonic()

    def issue(seq: int) -> None:
        attempts[seq] += 1
        fut = asyncio.ensure_future(writer.write_event_async(make_payload(wid, seq).decode(), routing_key(wid, seq)))
        pending[fut] = (seq, time.monotonic())

    while True:
        now = time.monotonic()
        if stop_deadline is None and stop_file.exists():
            stop_deadline = now + args.stop_grace
        stopping = stop_deadline is not None
        if stopping and (not pending and not retry or now > stop_deadline):
            break
        while len(pending) < args.window and (retry or not stopping):
            if args.rate and not retry and next_seq >= args.rate * (time.monotonic() - started):
                break
            if retry:
                issue(retry.popleft())
            else:
                issue(next_seq)
                next_seq += 1
        if not pending:
            await asyncio.sleep(0.01)
            continue
        done, _ = await asyncio.wait(list(pending), timeout=0.25, return_when=asyncio.FIRST_COMPLETED)
        broken = False
        for fut in done:
            seq, _ = pending.pop(fut)
            exc = fut.exception()
            if exc is None:
                acked[seq] = time.time()
            else:
                broken = True
                if len(failures) < 50:
                    failures.append(f"{time.time():.3f} seq {seq}: {exc!r}"[:300])
                retry.append(seq)
        now = time.monotonic()
        for fut, (seq, issued) in list(pending.items()):
            if now - issued > WRITE_TIMEOUT:
                broken = True
                del pending[fut]
                abandoned[fut] = seq
                if len(failures) < 50:
                    failures.append(f"{time.time():.3f} seq {seq}: no ack after {WRITE_TIMEOUT} s")
                retry.append(seq)
        # A late ack of an abandoned attempt is still an ack.
        for fut, seq in list(abandoned.items()):
            if fut.done():
                del abandoned[fut]
                if fut.exception() is None:
                    acked.setdefault(seq, time.time())
        if broken:
            # The writer reported an error: start over with a new writer (new writer id), which
            # re-writes the failed events.  Its older futures stay tracked in `pending`.
            recreated += 1
            for fut, (seq, _) in list(pending.items()):
                abandoned[fut] = seq
            for seq in sorted(abandoned.values()):
                if seq not in retry:
                    retry.append(seq)
            pending.clear()
            await asyncio.sleep(0.5)
            try:
                writer = manager.create_writer(args.scope, args.stream)
            except Exception as exc:
                failures.append(f"create_writer: {exc!r}"[:300])
    for fut, seq in abandoned.items():
        if fut.done() and fut.exception() is None:
            acked.setdefault(seq, time.time())
    result = {
        "writer": wid,
        "issued": next_seq,
        "acked": acked,
        "attempts": {s: n for s, n in attempts.items() if n > 1},
        "unacked_at_end": sorted({s for s, _ in pending.values()} | set(retry) | set(abandoned.values())),
        "failures": failures,
        "recreated": recreated,
    }
    _save(args, result)


def start_writer(uri: str, scope: str, stream: str, wid: str, stop_file: Path, out: Path, **extra) -> subprocess.Popen:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "writer",
        "--uri",
        uri,
        "--scope",
        scope,
        "--stream",
        stream,
        "--id",
        wid,
        "--stop-file",
        str(stop_file),
        "--out",
        str(out),
    ]
    for k, v in extra.items():
        cmd += [f"--{k.replace('_', '-')}"] + ([str(v)] if v != "" else [])
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(str(out) + ".log", "wb"))


def load_results(paths: list[Path]) -> dict[str, dict]:
    results = {}
    for path in paths:
        data = json.loads(path.read_text())
        data["acked"] = {int(k): v for k, v in data["acked"].items()}
        data["attempts"] = {int(k): v for k, v in data["attempts"].items()}
        results[data["writer"]] = data
    return results


# ---------------------------------------------------------------------------------------------
# Read back and verify
# ---------------------------------------------------------------------------------------------


def read_everything(uri: str, scope: str, stream: str, must_see: set[bytes]) -> tuple[list[bytes], float]:
    """All events of the stream, read by a fresh reader group: until every ``must_see`` payload was
    read and nothing new arrived for `QUIET_SECONDS`, or `READ_BACK_TIMEOUT` passed."""
    import pravega_client

    manager = pravega_client.StreamManager(uri)
    group = manager.create_reader_group("verify" + uuid.uuid4().hex[:8], scope, stream)
    reader = group.create_reader("verifier")
    events: list[bytes] = []

    async def main() -> float:
        started = last_new = time.monotonic()
        missing = set(must_see)
        while True:
            now = time.monotonic()
            if not missing and now - last_new >= QUIET_SECONDS:
                return now - started
            if now - started > READ_BACK_TIMEOUT:
                return now - started
            piece = await reader.get_segment_slice_async()
            batch = [bytes(ev.data()) for ev in piece]
            reader.release_segment(piece)
            if batch:
                last_new = time.monotonic()
                events.extend(batch)
                missing.difference_update(batch)

    elapsed = asyncio.run(main())
    reader.reader_offline()
    return events, elapsed


def verify(uri: str, scope: str, stream: str, results: dict[str, dict], kill_times: list[float] | None = None) -> dict:
    """Check the stream against the writers' records; returns a report with a list of problems."""
    acked_payloads = {make_payload(w, s) for w, r in results.items() for s in r["acked"]}
    events, elapsed = read_everything(uri, scope, stream, acked_payloads)
    problems: list[str] = []
    counts: Counter[tuple[str, int]] = Counter()
    torn = []
    for data in events:
        parsed = parse_payload(data)
        if parsed is None or parsed[0] not in results:
            torn.append(data[:80])
        else:
            counts[parsed] += 1
    if torn:
        problems.append(f"{len(torn)} torn/foreign events, e.g. {torn[:3]}")
    for wid, r in results.items():
        missing = sorted(s for s in r["acked"] if counts[(wid, s)] == 0)
        if missing:
            problems.append(f"writer {wid}: {len(missing)} acknowledged events missing, e.g. seq {missing[:10]}")
        too_many = sorted(
            (s, counts[(wid, s)], r["attempts"].get(s, 1))
            for (w, s) in counts
            if w == wid and counts[(w, s)] > r["attempts"].get(s, 1)
        )
        if too_many:
            problems.append(
                f"writer {wid}: {len(too_many)} events appear more often than written, "
                f"e.g. (seq, copies, writes) {too_many[:10]}"
            )
        never_issued = sorted(s for (w, s) in counts if w == wid and s >= r["issued"])
        if never_issued:
            problems.append(f"writer {wid}: events never written were read: {never_issued[:10]}")
        if kill_times:
            after = sum(1 for t in r["acked"].values() if t > kill_times[-1])
            if after == 0:
                problems.append(f"writer {wid}: no event acknowledged after the last restart")
    retried_dups = sum(1 for (w, s), n in counts.items() if n > 1)
    return {
        "events_read": len(events),
        "distinct": len(counts),
        "acked": len(acked_payloads),
        "retried_and_duplicated": retried_dups,
        "read_seconds": round(elapsed, 2),
        "problems": problems,
    }


def verify_main(argv: list[str]) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--uri", required=True)
    p.add_argument("--scope", required=True)
    p.add_argument("--stream", required=True)
    p.add_argument("--report", required=True)
    p.add_argument("results", nargs="+")
    args = p.parse_args(argv)
    report = verify(args.uri, args.scope, args.stream, load_results([Path(r) for r in args.results]))
    Path(args.report).write_text(json.dumps(report))
    os._exit(0)


def run_verify_process(
    uri: str, scope: str, stream: str, result_paths: list[Path], report: Path, timeout: float = 120
) -> dict:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "verify",
        "--uri",
        uri,
        "--scope",
        scope,
        "--stream",
        stream,
        "--report",
        str(report),
        *map(str, result_paths),
    ]
    proc = subprocess.run(cmd, capture_output=True, timeout=timeout)
    assert report.exists(), f"verifier failed (rc {proc.returncode}): {proc.stderr.decode(errors='replace')[-3000:]}"
    return json.loads(report.read_text())


def stop_writers(procs: list[subprocess.Popen], stop_file: Path, outs: list[Path], timeout: float = 60) -> None:
    stop_file.touch()
    deadline = time.monotonic() + timeout
    for proc, out in zip(procs, outs):
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            log = Path(str(out) + ".log")
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            pytest.fail(f"writer {out.name} did not stop within {timeout} s; log: {tail}")
        assert out.exists(), (
            f"writer {out.name} exited with {proc.returncode} without results: "
            + (Path(str(out) + ".log").read_text(errors="replace")[-2000:])
        )


# ---------------------------------------------------------------------------------------------
# The test
# ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_acknowledged_events_survive_repeated_sigkill(fresh_server, tmp_path: Path) -> None:
    import pravega_client

    seed = int(os.environ.get("CRASH_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    server = fresh_server
    manager = pravega_client.StreamManager(server.controller_uri)
    scope, stream = "crash" + uuid.uuid4().hex[:6], "events"
    assert manager.create_scope(scope)
    assert manager.create_stream(scope, stream, 4)

    stop_file = tmp_path / "stop"
    outs = [tmp_path / f"writer{i}.json" for i in range(WRITERS)]
    # The last writer uses blocking write_event (one event at a time), the others async windows.
    procs = [
        start_writer(
            server.controller_uri, scope, stream, f"w{i}", stop_file, out, **({"sync": ""} if i == WRITERS - 1 else {})
        )
        for i, out in enumerate(outs)
    ]
    kill_times: list[float] = []
    restart_seconds: list[float] = []
    try:
        time.sleep(2.0)
        for _ in range(KILLS):
            time.sleep(rng.uniform(1.0, 3.5))
            assert all(p.poll() is None for p in procs), "a writer process died"
            server.kill()
            time.sleep(rng.uniform(0.05, 1.0))
            server.start()
            kill_times.append(time.time())
            restart_seconds.append(server.startup_seconds)
        time.sleep(4.0)
        stop_writers(procs, stop_file, outs)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    results = load_results(outs)
    report = verify(server.controller_uri, scope, stream, results, kill_times)
    summary = {
        "seed": seed,
        "restart_seconds": [round(s, 2) for s in restart_seconds],
        "writers": {
            w: {
                "issued": r["issued"],
                "acked": len(r["acked"]),
                "rewritten": len(r["attempts"]),
                "recreated": r["recreated"],
                "first_failures": r["failures"][:3],
            }
            for w, r in results.items()
        },
        **report,
    }
    print(json.dumps(summary, indent=1))
    assert server.alive()
    assert all(len(r["acked"]) > 0 for r in results.values())
    assert not report["problems"], f"crash test failed (seed {seed}): " + "; ".join(report["problems"])


if __name__ == "__main__":
    mode, rest = sys.argv[1], sys.argv[2:]
    {"writer": writer_main, "verify": verify_main}[mode](rest)
