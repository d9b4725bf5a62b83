"""Leader election with a lease, on a state synchronizer.

Several participants share one small state through a :class:`StateSynchronizer`:
``{"leader": name or None, "until": lease end (epoch seconds), "term": n}``. Every
``LEASE / 4`` seconds each participant runs one conditional update:

* the leader renews its lease;
* anyone else takes over (term + 1) if there is no leader or the lease ran out;
* otherwise it writes nothing.

Because an update is appended only at the revision it was computed from, two
participants can never both win the same term, and a new leader can only be chosen
after the old lease has ended — so at most one participant holds a valid lease at any
time. The demo stops the first leader abruptly (no goodbye: the others wait for its
lease to run out), then makes the second one resign (immediate hand-over).

Run: ``python examples/leader_election.py`` (starts a server child process), or
``--controller tcp://host:port`` to use a running server. Exits non-zero if two
leaders ever overlapped.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

try:
    import pravega  # noqa: F401
except ImportError:  # running from a source checkout without an installed package
    _root = Path(__file__).resolve().parents[1]
    _paths = [str(_root / "core"), str(_root / "server")]
    sys.path[:0] = _paths
    os.environ["PYTHONPATH"] = os.pathsep.join(_paths + [p for p in [os.environ.get("PYTHONPATH")] if p])

from pravega.aio import Client, StateSynchronizer
from pravega.serializers import JsonSerializer

LEASE = 1.0  # seconds


def merge(state: dict, update: dict) -> dict:
    """The synchronizer's apply function: an update overwrites the fields it names."""
    return {**state, **update}


@dataclass
class Term:
    term: int
    leader: str
    start: float  # when the leader took over (its clock)
    until: float = 0.0  # the end of its last lease


@dataclass
class Referee:
    """Checks, across participants, that leases never overlap."""

    started: float = field(default_factory=time.time)
    terms: dict[int, Term] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)

    def t(self) -> str:
        return f"{time.time() - self.started:6.2f}s"

    def acquired(self, name: str, state: dict, now: float) -> None:
        term = state["term"]
        previous = self.terms.get(term - 1)
        if term in self.terms:
            self.violations.append(f"term {term} won twice: {self.terms[term].leader} and {name}")
        for other in self.terms.values():
            if other.leader != name and other.until > now:
                self.violations.append(
                    f"{name} took over at {now:.3f} while {other.leader}'s lease runs to {other.until:.3f}"
                )
        self.terms[term] = Term(term, name, now, state["until"])
        if previous is None:
            print(f"[{self.t()}] LEADER {name} elected (term {term})", flush=True)
        else:
            print(f"[{self.t()}] HANDOVER term {term}: {previous.leader} -> {name}", flush=True)

    def renewed(self, name: str, state: dict) -> None:
        self.terms[state["term"]].until = state["until"]

    def ended(self, name: str, term: int, why: str) -> None:
        print(f"[{self.t()}] {name} stops leading (term {term}): {why}", flush=True)
        if why == "resigned":
            self.terms[term].until = time.time()


async def participant(name: str, uri: str, scope: str, referee: Referee, resign: asyncio.Event) -> None:
    async with Client(uri) as client:
        sync: StateSynchronizer = await client.create_synchronizer(
            scope, "election", {"leader": None, "until": 0.0, "term": 0}, JsonSerializer(), apply=merge
        )
        leading_term = 0
        while True:
            now = time.time()

            def step(state: dict) -> dict | None:
                nonlocal now
                now = time.time()  # update() may call this again after a conflict
                if state["leader"] == name and state["until"] > now:
                    if resign.is_set():
                        return {"leader": None, "until": 0.0}
                    return {"until": now + LEASE}
                if state["leader"] is None or state["until"] <= now:
                    return {"leader": name, "until": now + LEASE, "term": state["term"] + 1}
                return None

            state = await sync.update(step)
            if state["leader"] == name and state["until"] > now:
                if leading_term != state["term"]:
                    leading_term = state["term"]
                    referee.acquired(name, state, now)
                else:
                    referee.renewed(name, state)
            elif leading_term:
                referee.ended(name, leading_term, "resigned" if resign.is_set() else "lease lost")
                leading_term = 0
                if resign.is_set():
                    return
            await asyncio.sleep(LEASE / 4)


async def elect(uri: str, participants: int, hold: float) -> int:
    scope = "election" + uuid.uuid4().hex[:8]
    async with Client(uri) as client:
        await client.create_scope(scope)
    referee = Referee()
    names = [f"p{i + 1}" for i in range(participants)]
    resign = {n: asyncio.Event() for n in names}
    tasks = {n: asyncio.ensure_future(participant(n, uri, scope, referee, resign[n])) for n in names}

    async def current_leader(after_term: int) -> Term:
        while True:
            newest = max(referee.terms.values(), key=lambda t: t.term, default=None)
            if newest is not None and newest.term > after_term:
                return newest
            for _n, task in tasks.items():
                if task.done() and not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
            await asyncio.sleep(0.05)

    first = await asyncio.wait_for(current_leader(0), 15)
    await asyncio.sleep(hold)
    print(f"[{referee.t()}] stopping {first.leader} abruptly (its lease must run out first)", flush=True)
    tasks[first.leader].cancel()
    stopped_at = time.time()
    second = await asyncio.wait_for(current_leader(first.term), 15)
    print(f"[{referee.t()}] hand-over took {second.start - stopped_at:.2f}s (lease {LEASE}s)", flush=True)
    await asyncio.sleep(hold)
    print(f"[{referee.t()}] {second.leader} resigns", flush=True)
    resign[second.leader].set()
    third = await asyncio.wait_for(current_leader(second.term), 15)
    await asyncio.sleep(hold / 2)
    for task in tasks.values():
        task.cancel()
    await asyncio.gather(*tasks.values(), return_exceptions=True)
    leaders = [referee.terms[t].leader for t in sorted(referee.terms)]
    print(f"terms: {', '.join(f'{t}={n}' for t, n in zip(sorted(referee.terms), leaders))}")
    if third.leader in (first.leader, second.leader):
        referee.violations.append(f"{third.leader} led again after stopping")
    if referee.violations:
        for v in referee.violations:
            print("VIOLATION:", v)
        return 1
    print("OK: exactly one leader at a time")
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--controller", help="controller URI of a running server (default: start one)")
    p.add_argument("--participants", type=int, default=3)
    p.add_argument("--hold", type=float, default=1.5, help="seconds a leader keeps leading before it is stopped")
    args = p.parse_args()
    if args.participants < 3:
        p.error("the demo needs at least 3 participants (two leaders are stopped)")
    if args.controller:
        return asyncio.run(elect(args.controller, args.participants, args.hold))
    from pravega.testing import ServerProcess

    with ServerProcess(in_memory=True) as server:
        print(f"server up: controller {server.controller_uri}", flush=True)
        return asyncio.run(elect(server.controller_uri, args.participants, args.hold))


if __name__ == "__main__":
    sys.exit(main())
