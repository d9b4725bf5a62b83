"""Segment containers: a server with ``--containers 2`` (a supervisor with the controller,
two container processes), placement, a container killed under load, the supervisor
killed in the middle of an operation, and the fixed container count of a data directory."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from pravega import naming
from pravega.aio import Client
from pravega.serializers import StringSerializer
from pravega.testing import ServerProcess
from pravega_server.cluster.placement import container_of_stream

STR = StringSerializer()


def run(fn: Callable[[], Awaitable[Any]], timeout: float = 120.0) -> Any:
    return asyncio.run(asyncio.wait_for(fn(), timeout))


def wait_for(check: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def streams_in_each_container(scope: str, per_container: int, count: int = 2) -> dict[int, list[str]]:
    """Stream names, ``per_container`` of them placed in each container."""
    found: dict[int, list[str]] = {i: [] for i in range(count)}
    n = 0
    while any(len(v) < per_container for v in found.values()):
        name = f"st{n}"
        n += 1
        owner = container_of_stream(scope, name, count)
        if len(found[owner]) < per_container:
            found[owner].append(name)
    return found


@pytest.fixture
def cluster(tmp_path: Path):
    with ServerProcess(tmp_path / "data", containers=2) as proc:
        yield proc


async def read_all(client: Client, scope: str, streams: list[str], expected: int, quiet: float = 3.0) -> list[str]:
    """Every event of ``streams`` through a reader group: until ``expected`` events
    arrived and nothing more came for ``quiet`` seconds."""
    group = await client.create_reader_group("check" + uuid.uuid4().hex[:6], scope, streams)
    reader = await group.create_reader("r", STR)
    events: list[str] = []
    last = time.monotonic()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ev = await reader.read_next_event(0.5)
        if ev is not None and ev.event is not None:
            events.append(ev.event)
            last = time.monotonic()
        elif len(events) >= expected and time.monotonic() - last > quiet:
            break
    return events


def test_streams_are_spread_over_containers_and_survive_a_restart(cluster: ServerProcess) -> None:
    assert len(cluster.container_endpoints) == 2
    scope = "sp" + uuid.uuid4().hex[:6]
    placed = streams_in_each_container(scope, 2)
    names = [n for v in placed.values() for n in v]

    async def write() -> None:
        async with Client(cluster.controller_uri) as client:
            await client.create_scope(scope)
            for name in names:
                await client.create_stream(scope, name, 2)
            for name in names:
                # getURI answers the owning container's endpoint
                host, port = await client.ctx.controller.get_endpoint(scope, name, 0)
                assert f"{host}:{port}" == cluster.container_endpoints[container_of_stream(scope, name, 2)]
                writer = await client.create_writer(scope, name, STR)
                for i in range(20):
                    await writer.write(f"{name}:{i}", routing_key=f"k{i}")
                await writer.flush()

    run(write)
    cluster.restart()

    async def check() -> None:
        async with Client(cluster.controller_uri) as client:
            events = await read_all(client, scope, names, 20 * len(names))
            assert Counter(events) == Counter(f"{n}:{i}" for n in names for i in range(20))

    run(check)


def test_a_container_refuses_segments_it_does_not_own(cluster: ServerProcess) -> None:
    from pravega.client.connection import SegmentStoreConnection, next_request_id
    from pravega.protocol import commands as c

    scope = "wh" + uuid.uuid4().hex[:6]
    placed = streams_in_each_container(scope, 1)
    name = placed[1][0]

    async def main() -> None:
        host, port = cluster.container_endpoints[0].rsplit(":", 1)
        conn = await SegmentStoreConnection.open((host, int(port)), 10.0)
        try:
            segment = naming.qualified_segment_name(scope, name, 0)
            reply = await conn.request(c.CreateSegment(next_request_id(), segment, 0, 0, ""))
            assert isinstance(reply, c.WrongHost), reply
        finally:
            conn.close()

    run(main)


def test_killed_container_recovers_while_the_other_keeps_serving(cluster: ServerProcess) -> None:
    scope = "kc" + uuid.uuid4().hex[:6]
    placed = streams_in_each_container(scope, 2)
    names = [n for v in placed.values() for n in v]
    acked: dict[str, list[str]] = {n: [] for n in names}
    errors: dict[str, list[str]] = {n: [] for n in names}

    async def main() -> None:
        async with Client(cluster.controller_uri) as client:
            await client.create_scope(scope)
            for name in names:
                await client.create_stream(scope, name, 2)
            stop = asyncio.Event()

            async def writer(name: str) -> None:
                w = await client.create_writer(scope, name, STR)
                i = 0
                while not stop.is_set():
                    event = f"{name}:{i}"
                    try:
                        fut = await w.write(event, routing_key=f"k{i % 5}")
                        await asyncio.wait_for(fut, 90)
                        acked[name].append(event)
                    except Exception as exc:  # recorded and asserted below
                        errors[name].append(repr(exc))
                        return
                    i += 1

            tasks = [asyncio.create_task(writer(n)) for n in names]
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, lambda: wait_for(lambda: all(len(acked[n]) >= 20 for n in names)))
            old = cluster.container_pids()[1]
            os.kill(old, signal.SIGKILL)
            before = {n: len(acked[n]) for n in names}
            # the supervisor restarts the container; its writers continue, the others never stop
            await loop.run_in_executor(
                None, lambda: wait_for(lambda: cluster.container_pids().get(1, old) != old, what="restart")
            )
            await loop.run_in_executor(
                None,
                lambda: wait_for(
                    lambda: all(len(acked[n]) >= before[n] + 20 for n in names), 120, "progress after the restart"
                ),
            )
            stop.set()
            await asyncio.gather(*tasks)
            events = await read_all(client, scope, names, sum(len(v) for v in acked.values()))
            counts = Counter(events)
            for name in names:
                for event in acked[name]:
                    assert counts[event] == 1, f"{event} read {counts[event]} times"

    run(main, timeout=400)
    for name in placed[0]:
        assert errors[name] == [], f"writer of {name} (container 0, not killed) saw {errors[name]}"
    assert all(not errs for errs in errors.values()), errors


def _intent_records(data_dir: Path) -> int:
    """Intent records (written or removed) in the controller's log so far."""
    return sum(wal.read_bytes().count(b"cintent/") for wal in (data_dir / "controller" / "wal").glob("*.wal"))


def _call_in_child(uri: str, code: str) -> subprocess.Popen:
    """Run a client call in a child process (it blocks while a container is stopped)."""
    prog = (
        "import asyncio, sys\n"
        "from pravega.aio import Client\n"
        "async def main():\n"
        f"    async with Client({uri!r}) as client:\n"
        f"        {code}\n"
        "asyncio.run(main())\n"
    )
    return subprocess.Popen([sys.executable, "-c", prog], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.mark.parametrize("operation", ["create", "scale", "commit"])
def test_supervisor_killed_mid_operation_completes_or_is_absent(tmp_path: Path, operation: str) -> None:
    """SIGSTOP the container that owns the stream, start the operation (the controller records
    it, then waits for the container), SIGKILL the supervisor (its containers die with it),
    restart: the recorded operation is complete and the stream works."""
    data = tmp_path / "data"
    scope, name = "mid", "st"
    owner = container_of_stream(scope, name, 2)
    with ServerProcess(data, containers=2) as server:
        txn_events = []

        async def prepare() -> Any:
            async with Client(server.controller_uri) as client:
                await client.create_scope(scope)
                if operation == "create":
                    return None
                await client.create_stream(scope, name, 2)
                w = await client.create_writer(scope, name, STR)
                for i in range(10):
                    await w.write(f"pre:{i}", routing_key=f"k{i}")
                await w.flush()
                if operation == "commit":
                    tw = await client.create_transactional_writer(scope, name, STR)
                    txn = await tw.begin()
                    for i in range(10):
                        await txn.write(f"txn:{i}", routing_key=f"k{i}")
                        txn_events.append(f"txn:{i}")
                    await txn.flush()
                    return txn.txn_id
                return None

        txn_id = run(prepare)
        pid = server.container_pids()[owner]
        recorded = _intent_records(data)
        os.kill(pid, signal.SIGSTOP)
        try:
            if operation == "create":
                code = f"await client.create_stream({scope!r}, {name!r}, 3)"
            elif operation == "scale":
                code = f"await client.scale_stream({scope!r}, {name!r}, [0, 1], [(0.0, 0.3), (0.3, 0.6), (0.6, 1.0)])"
            else:
                code = f"await client.ctx.controller.commit_transaction({scope!r}, {name!r}, {txn_id!r})"
            child = _call_in_child(server.controller_uri, code)
            try:
                wait_for(lambda: _intent_records(data) > recorded, what="the recorded operation")
                server.kill()
            finally:
                child.kill()
                child.wait()
        finally:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        wait_for(lambda: not _alive(pid), what="the stopped container to die with its supervisor")
        server.start()

        async def check() -> None:
            async with Client(server.controller_uri) as client:
                # The operation was recorded before the crash, so the restart finishes it.
                segments = await client.ctx.controller.get_current_segments(scope, name)
                if operation != "commit":
                    assert len(segments) == 3
                w = await client.create_writer(scope, name, STR)
                for i in range(10):
                    await w.write(f"post:{i}", routing_key=f"k{i}")
                await w.flush()
                events = await read_all(client, scope, [name], 10)
                expected = [f"post:{i}" for i in range(10)]
                if operation != "create":
                    expected += [f"pre:{i}" for i in range(10)]
                if operation == "commit":
                    expected += txn_events
                assert Counter(events) == Counter(expected)

        run(check)


def _alive(pid: int) -> bool:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return text.rsplit(")", 1)[1].split()[0] != "Z"


def test_container_count_is_fixed_at_creation(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with ServerProcess(data, containers=2):
        pass
    for other in (1, 3):
        proc = ServerProcess(data, containers=other)
        with pytest.raises(RuntimeError) as info:
            proc.start()
        proc.stop()
        assert "--containers 2" in str(info.value) and "fixed" in str(info.value)
    single = tmp_path / "single"
    with ServerProcess(single, containers=1):
        pass
    proc = ServerProcess(single, containers=2)
    with pytest.raises(RuntimeError) as info:
        proc.start()
    proc.stop()
    assert "--containers 1" in str(info.value)


def test_repair_covers_the_controller_and_every_container(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with ServerProcess(data, containers=2):
        pass
    done = subprocess.run(
        [sys.executable, "-m", "pravega_server", "repair", "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert [line.split(": ", 1)[0] for line in lines] == [
        str(data / "controller"),
        str(data / "containers" / "0"),
        str(data / "containers" / "1"),
    ]
    assert all("healthy" in line for line in lines)


def _tls_handshake(endpoint: str, ca: Path, client: tuple[Path, Path] | None) -> str:
    """'ok' if a TLS session with the container at ``endpoint`` carries a wire Hello
    round trip, else the error's class name."""
    import socket
    import ssl

    from pravega.protocol import commands as c
    from pravega.protocol.connection import Connection, Role

    host, port = endpoint.rsplit(":", 1)
    ctx = ssl.create_default_context(cafile=str(ca))
    ctx.check_hostname = False
    if client is not None:
        ctx.load_cert_chain(str(client[0]), str(client[1]))
    try:
        with socket.create_connection((host, int(port)), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                codec = Connection(Role.CLIENT)
                tls.sendall(codec.send(c.Hello(codec.negotiated_version, 5)))
                while True:
                    data = tls.recv(65536)
                    if not data:
                        return "closed"
                    codec.receive_data(data)
                    if isinstance(codec.next_event(), c.Hello):
                        return "ok"
    except (ssl.SSLError, OSError) as exc:
        return type(exc).__name__


def test_client_certificates_with_containers(tmp_path: Path) -> None:
    """With --tls-client-ca the containers demand a certificate from every client; the
    controller presents one from the supervisor's own CA, so streams spread over the
    containers are created, written and read, and a client without a certificate is
    refused by every container."""
    from pravega.testing.secure import make_security_setup

    setup = make_security_setup(tmp_path / "sec", {"admin": ("pw", "prn::/,READ_UPDATE")})
    args = setup.server_args(auth=False, client_certs=True)
    scope = "mtls"
    names = streams_in_each_container(scope, 1)
    streams = [s for ss in names.values() for s in ss]
    with ServerProcess(tmp_path / "data", containers=2, extra_args=args) as server:
        assert len(server.container_endpoints) == 2
        options: dict[str, Any] = {
            "trust_cert": str(setup.pki.ca),
            "client_cert": str(setup.pki.client_cert),
            "client_key": str(setup.pki.client_key),
        }

        async def body() -> list[str]:
            async with Client(server.controller_uri.replace("tcp://", "tls://"), **options) as client:
                await client.create_scope(scope)
                for name in streams:
                    await client.create_stream(scope, name, 2)
                    writer = await client.create_writer(scope, name, StringSerializer())
                    for i in range(20):
                        await writer.write(f"{name}-{i}", routing_key=str(i))
                    await writer.flush()
                    await writer.close()
                return await read_all(client, scope, streams, 20 * len(streams))

        got = run(body)
        assert Counter(got) == Counter(f"{n}-{i}" for n in streams for i in range(20))
        for endpoint in server.container_endpoints:
            endpoint = endpoint.replace("127.0.0.1", "localhost")
            assert _tls_handshake(endpoint, setup.pki.ca, None) != "ok"
            assert _tls_handshake(endpoint, setup.pki.ca, (setup.pki.client_cert, setup.pki.client_key)) == "ok"


def test_metrics_and_reader_groups_come_from_every_container(cluster: ServerProcess) -> None:
    """/metrics adds up the containers' segment-store counters; the REST API lists reader
    groups whose state tables live in either container; a dead container is left out of a
    scrape instead of failing it."""
    import requests
    from prometheus_client.parser import text_string_to_metric_families

    def scrape() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        reply = requests.get(f"{cluster.rest_uri}/metrics", timeout=60)
        assert reply.status_code == 200
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(reply.text)
            for s in family.samples
        }

    scope = "obs" + uuid.uuid4().hex[:6]
    names = streams_in_each_container(scope, 1)
    streams = [s for ss in names.values() for s in ss]
    groups = {}
    for index in names:  # a group whose state table lands in each container
        n = 0
        while container_of_stream(scope, f"g{index}-{n}_kvtable", 2) != index:
            n += 1
        groups[index] = f"g{index}-{n}"

    async def body() -> None:
        async with Client(cluster.controller_uri) as client:
            await client.create_scope(scope)
            for i, name in enumerate(streams):
                await client.create_stream(scope, name, 1)
                writer = await client.create_writer(scope, name, StringSerializer())
                for k in range(10 * (i + 1)):
                    await writer.write(f"{name}-{k}")
                await writer.flush()
                await writer.close()
            for group in groups.values():
                await client.create_reader_group(group, scope, streams)

    run(body)
    samples = scrape()
    for i, name in enumerate(streams):
        key = ("segmentstore_segment_write_events_total", (("scope", scope), ("stream", name)))
        assert samples.get(key) == 10 * (i + 1), (name, samples.get(key))
    assert samples[("segmentstore_segment_write_events_global_total", ())] >= 30
    assert samples[("controller_scopes", ())] >= 1
    listed = requests.get(f"{cluster.rest_uri}/v1/scopes/{scope}/readergroups", timeout=60).json()
    assert sorted(g["readerGroupName"] for g in listed["readerGroups"]) == sorted(groups.values())
    one = requests.get(f"{cluster.rest_uri}/v1/scopes/{scope}/readergroups/{groups[1]}", timeout=60)
    assert one.status_code == 200
    assert sorted(one.json()["streamList"]) == sorted(f"{scope}/{s}" for s in streams)

    # A container gone: the scrape answers with the other one's counters.
    pid = cluster.container_pids()[0]
    os.kill(pid, signal.SIGSTOP)
    try:
        partial = scrape()
        key = ("segmentstore_segment_write_events_total", (("scope", scope), ("stream", names[1][0])))
        assert partial.get(key) == samples[key]
        assert ("segmentstore_segment_write_events_total", (("scope", scope), ("stream", names[0][0]))) not in partial
    finally:
        os.kill(pid, signal.SIGCONT)
    wait_for(lambda: scrape().get(key) == samples[key] and len(scrape()) >= len(partial), what="both containers")
