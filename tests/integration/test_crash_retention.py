"""Crash test with tiering and retention: writer processes (three with the official
client, one with ours) keep writing to a stream with a by_size retention policy (checked every 0.5 s) while the server,
which tiers and checkpoints constantly (the test session's settings), is SIGKILLed at
random moments and restarted.

Checks after the last restart:

* retention truncated the stream (its head moved) and tier 2 holds about the policy's
  size, not everything written: truncated data was deleted;
* every event read is well formed (no torn or foreign data), and none appears more
  often than it was written;
* nothing acknowledged is missing except what retention removed: retention cuts a
  prefix of each segment, so for each writer and routing key (one segment, appended in
  sequence order for events written once) a missing acknowledged event must come
  before the first one still there;
* the head does not move back after one more SIGKILL (truncated data stays gone).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from test_crash import (
    load_results,
    make_payload,
    parse_payload,
    read_everything,
    routing_key,
    start_writer,
    stop_writers,
)

import pravega
from pravega import RetentionPolicy
from pravega.testing import ServerProcess

pravega_client = pytest.importorskip("pravega_client")

KILLS = 4
WRITERS = 3
LIMIT = 1_000_000  # by_size retention: keep about 1 MB per stream


def head_positions(uri: str, scope: str, stream: str) -> dict[int, int]:
    with pravega.Client(uri) as client:
        return dict(client.stream_info(scope, stream).head.positions)


def du(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_blocks * 512
            except FileNotFoundError:
                pass
    return total


@pytest.mark.slow
def test_retention_and_tiering_survive_repeated_sigkill(tmp_path: Path) -> None:
    seed = int(os.environ.get("CRASH_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    server = ServerProcess(tmp_path / "data", extra_args=["--retention-interval", "0.5"]).start()
    try:
        scope, stream = "cr" + uuid.uuid4().hex[:6], "events"
        with pravega.Client(server.controller_uri) as client:
            client.create_scope(scope)
            client.create_stream(scope, stream, 4, retention=RetentionPolicy.by_size(LIMIT))
        stop_file = tmp_path / "stop"
        outs = [tmp_path / f"writer{i}.json" for i in range(WRITERS)]
        procs = [
            start_writer(
                server.controller_uri,
                scope,
                stream,
                f"w{i}",
                stop_file,
                out,
                **({"sync": ""} if i == WRITERS - 1 else {}),
            )
            for i, out in enumerate(outs)
        ]
        ours_out = tmp_path / "ours.json"
        outs.append(ours_out)
        procs.append(start_our_writer(server.controller_uri, scope, stream, "o0", stop_file, ours_out))
        kill_times: list[float] = []
        try:
            time.sleep(3.0)
            for _ in range(KILLS):
                time.sleep(rng.uniform(1.0, 4.0))
                assert all(p.poll() is None for p in procs), "a writer process died"
                server.kill()
                time.sleep(rng.uniform(0.05, 0.8))
                server.start()
                kill_times.append(time.time())
            time.sleep(5.0)
            stop_writers(procs, stop_file, outs)
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        results = load_results(outs)
        # Let retention and tiering settle on the final data, then read everything.
        time.sleep(3.0)
        heads = head_positions(server.controller_uri, scope, stream)
        acked = {make_payload(w, s) for w, r in results.items() for s in r["acked"]}
        events, _ = read_everything(server.controller_uri, scope, stream, set())
        problems = check(results, events)
        written = sum(len(make_payload(w, s)) for w, r in results.items() for s in r["acked"])
        tier2 = du(server.data_dir / "lts")
        server.kill()
        server.start()
        heads_after = head_positions(server.controller_uri, scope, stream)
        summary = {
            "seed": seed,
            "acked": len(acked),
            "read": len(events),
            "written_bytes": written,
            "tier2_bytes": tier2,
            "heads": heads,
            "problems": problems,
        }
        print(json.dumps(summary, indent=1))
        assert sum(heads.values()) > 0, "retention never truncated the stream"
        assert written > 4 * LIMIT, "the writers did not write enough to exercise retention"
        # Tier 2 holds about the retained data (4 segments x the limit, plus the chunks
        # straddling each head and what the last cycles did not cut yet), not all of it.
        assert tier2 < written / 2, (tier2, written)
        assert all(heads_after.get(s, 0) >= h for s, h in heads.items()), "truncated data came back"
        assert not problems, f"crash/retention test failed (seed {seed}): " + "; ".join(problems)
    finally:
        server.close()


def check(results: dict[str, dict], events: list[bytes]) -> list[str]:
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
        too_many = sorted(s for (w, s), n in counts.items() if w == wid and n > r["attempts"].get(s, 1))
        if too_many:
            problems.append(f"writer {wid}: events read more often than written: {too_many[:10]}")
        # Events written once, per routing key (one segment): in sequence order there.
        by_key: dict[int, list[int]] = defaultdict(list)
        for seq in r["acked"]:
            if seq not in r["attempts"]:
                by_key[seq % 8].append(seq)
        for key, seqs in by_key.items():
            present = [s for s in seqs if counts[(wid, s)]]
            if not present:
                continue  # all of this key's events were truncated away: allowed
            first = min(present)
            lost = sorted(s for s in seqs if s > first and not counts[(wid, s)])
            if lost:
                problems.append(f"writer {wid} key {key}: acknowledged events missing above the head: {lost[:10]}")
    return problems


# -- a writer process with our client ---------------------------------------------------


def start_our_writer(uri: str, scope: str, stream: str, wid: str, stop_file: Path, out: Path) -> subprocess.Popen:
    cmd = [sys.executable, str(Path(__file__).resolve()), "ours", uri, scope, stream, wid, str(stop_file), str(out)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(str(out) + ".log", "wb"))


async def _our_writer(args: argparse.Namespace) -> None:
    """Like the official-client writers of test_crash (same result file): 16 events in
    flight; a failed event is re-written by a new writer and counted as an attempt."""
    from pravega.aio import Client

    stop_file = Path(args.stop_file)
    acked: dict[int, float] = {}
    attempts: Counter[int] = Counter()
    failures: list[str] = []
    recreated = 0
    # One future may stand for several events (the client acknowledges in batches).
    pending: dict[asyncio.Future, list[int]] = {}
    retry: list[int] = []
    seq = 0
    async with Client(args.uri) as client:
        writer = await client.create_writer(args.scope, args.stream, pravega.BytesSerializer())
        deadline = None
        while True:
            if deadline is None and stop_file.exists():
                deadline = time.monotonic() + 45
            if deadline is not None and (not pending and not retry or time.monotonic() > deadline):
                break
            while sum(map(len, pending.values())) < 16 and (retry or deadline is None):
                if retry:
                    n = retry.pop(0)
                else:
                    n, seq = seq, seq + 1
                attempts[n] += 1
                fut = await writer.write(make_payload(args.id, n), routing_key(args.id, n))
                pending.setdefault(fut, []).append(n)
            done, _ = await asyncio.wait(list(pending), timeout=0.25, return_when=asyncio.FIRST_COMPLETED)
            broken = False
            for fut in done:
                seqs = pending.pop(fut)
                if fut.exception() is None:
                    for n in seqs:
                        acked[n] = time.time()
                else:
                    broken = True
                    failures.append(f"seqs {seqs[:3]}: {fut.exception()!r}"[:300])
                    retry.extend(seqs)
            if broken:
                recreated += 1
                for seqs in pending.values():
                    retry.extend(seqs)
                pending.clear()
                writer = await client.create_writer(args.scope, args.stream, pravega.BytesSerializer())
    result = {
        "writer": args.id,
        "issued": seq,
        "acked": acked,
        "attempts": {n: k for n, k in attempts.items() if k > 1},
        "unacked_at_end": sorted({n for seqs in pending.values() for n in seqs} | set(retry)),
        "failures": failures[:50],
        "recreated": recreated,
    }
    tmp = Path(args.out + ".tmp")
    tmp.write_text(json.dumps(result))
    tmp.rename(args.out)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["ours"])
    for name in ("uri", "scope", "stream", "id", "stop_file", "out"):
        p.add_argument(name)
    asyncio.run(_our_writer(p.parse_args()))
    os._exit(0)
