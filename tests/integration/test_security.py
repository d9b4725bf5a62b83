"""Our client against one server with TLS and authentication on.

The server runs with a test CA's certificate, a password file of three users and a
token key the tests also read (to make expired tokens). Every refusal is checked for
a clear error, for having written nothing, and for leaving the server serving others.
"""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

import pravega
from pravega.aio import Client
from pravega.client.connection import SegmentStoreConnection, next_request_id
from pravega.client.controller import ControllerClient
from pravega.protocol import commands as c
from pravega.testing import ServerProcess
from pravega.testing.secure import SecuritySetup, make_security_setup

SCOPE = "sec"
USERS = {
    "admin": ("admin-pw", "prn::/,READ_UPDATE"),
    # May read stream sec/shared through any reader group, nothing else.
    "reader": ("reader-pw", "prn::/scope:sec/stream:shared,READ;prn::/scope:sec/reader-group:*,READ_UPDATE"),
    # May read stream sec/shared's segments (no reader groups, no tables).
    "streamer": ("streamer-pw", "prn::/scope:sec/stream:shared,READ"),
    # May do anything in scope sec, except touching sec/secret.
    "team": ("team-pw", "prn::/scope:sec,READ_UPDATE;prn::/scope:sec/stream:secret,NONE"),
}


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> SecuritySetup:
    return make_security_setup(tmp_path_factory.mktemp("security"), USERS)


@pytest.fixture(scope="module")
def secure_server(setup: SecuritySetup) -> Iterator[ServerProcess]:
    with ServerProcess(in_memory=True, extra_args=setup.server_args()) as proc:
        yield proc


def uri(server: ServerProcess) -> str:
    return f"tls://localhost:{server.controller_port}"


def client(server: ServerProcess, setup: SecuritySetup, user: str | None, password: str | None = None) -> Client:
    if user is not None and password is None:
        password = USERS[user][0]
    return Client(uri(server), username=user, password=password, trust_cert=str(setup.pki.ca))


def run(coro: Coroutine[Any, Any, None]) -> None:
    return asyncio.run(coro)


async def _tail_length(server: ServerProcess, setup: SecuritySetup, stream: str) -> int:
    async with client(server, setup, "admin") as admin:
        info = await admin.stream_info(SCOPE, stream)
        return sum(info.tail.positions.values())


async def _write(cl: Client, stream: str, events: list[str]) -> None:
    writer = await cl.create_writer(SCOPE, stream, pravega.StringSerializer())
    try:
        for e in events:
            await writer.write(e, routing_key=e)
        await writer.flush()
    finally:
        await writer.close()


async def _read_all(cl: Client, stream: str, expected: int, timeout: float = 60.0) -> list[str]:
    group = await cl.create_reader_group("g" + uuid.uuid4().hex[:8], SCOPE, [stream])
    reader = await group.create_reader("r1", pravega.StringSerializer())
    got: list[str] = []
    deadline = time.monotonic() + timeout
    while len(got) < expected and time.monotonic() < deadline:
        ev = await reader.read_next_event(1.0)
        if ev is not None and not ev.is_checkpoint and ev.event is not None:
            got.append(ev.event)
    await reader.close()
    return got


@pytest.fixture(scope="module")
def streams(secure_server: ServerProcess, setup: SecuritySetup) -> None:
    async def main() -> None:
        async with client(secure_server, setup, "admin") as admin:
            await admin.create_scope(SCOPE)
            for name in ("shared", "secret", "team"):
                await admin.create_stream(SCOPE, name, pravega.ScalingPolicy.fixed(2))
            await _write(admin, "shared", [f"s{i}" for i in range(50)])

    run(main())


def test_write_and_read_over_tls_with_credentials(secure_server, setup, streams) -> None:
    async def main() -> None:
        async with client(secure_server, setup, "admin") as admin:
            assert SCOPE in await admin.list_scopes()
            got = await _read_all(admin, "shared", 50)
        assert sorted(got) == sorted(f"s{i}" for i in range(50))

    run(main())


def test_wrong_or_missing_password_is_refused(secure_server, setup, streams) -> None:
    async def main() -> None:
        for user, password in (("admin", "not-the-password"), ("nobody", "x"), (None, None)):
            async with client(secure_server, setup, user, password) as bad:
                with pytest.raises(pravega.AuthenticationError) as info:
                    await bad.create_scope("intruder")
                assert "password" in str(info.value) or "authentication is required" in str(info.value)
        async with client(secure_server, setup, "admin") as admin:
            assert "intruder" not in await admin.list_scopes()

    run(main())


def test_read_only_user_reads_but_cannot_write_or_create(secure_server, setup, streams) -> None:
    async def main() -> None:
        before = await _tail_length(secure_server, setup, "shared")
        async with client(secure_server, setup, "reader") as reader:
            got = await _read_all(reader, "shared", 50)
            assert len(set(got)) == 50
            with pytest.raises(
                pravega.AuthorizationError, match="READ_UPDATE permission on prn::/scope:sec/stream:new"
            ):
                await reader.create_stream(SCOPE, "new", pravega.ScalingPolicy.fixed(1))
            with pytest.raises(pravega.AuthorizationError, match="lacks READ permission"):
                await reader.stream_info(SCOPE, "secret")
            # The controller hands out a READ token; the segment store refuses the append.
            with pytest.raises(pravega.AuthorizationError, match="does not grant READ_UPDATE"):
                await _write(reader, "shared", ["forbidden"])
        assert await _tail_length(secure_server, setup, "shared") == before
        async with client(secure_server, setup, "admin") as admin:
            assert not await admin.stream_exists(SCOPE, "new")

    run(main())


def test_most_specific_acl_entry_wins(secure_server, setup, streams) -> None:
    async def main() -> None:
        async with client(secure_server, setup, "team") as team:
            await _write(team, "team", ["t1", "t2"])
            with pytest.raises(pravega.AuthorizationError, match="prn::/scope:sec/stream:secret"):
                await _write(team, "secret", ["leak"])
            with pytest.raises(pravega.AuthorizationError):
                await team.create_scope("other")
        assert await _tail_length(secure_server, setup, "secret") == 0
        assert await _tail_length(secure_server, setup, "team") > 0

    run(main())


def _tls_context(setup: SecuritySetup) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(setup.pki.ca))


def _token(setup: SecuritySetup, key: bytes, stream: str, permission: str, exp_offset: float) -> str:
    now = int(time.time())
    claims = {"sub": "admin", "aud": "segmentstore", "iat": now, "exp": now + int(exp_offset)}
    claims[f"prn::/scope:{SCOPE}/stream:{stream}"] = permission
    return jwt.encode(claims, key, algorithm="HS256")


def test_forged_expired_and_foreign_tokens_get_auth_token_check_failed(secure_server, setup, streams) -> None:
    key = setup.token_key_file.read_bytes().strip()
    segment = f"{SCOPE}/team/0.#epoch.0"
    cases = {
        "empty": ("", c.AuthTokenCheckFailed.TOKEN_CHECK_FAILED),
        "forged": (_token(setup, b"not-the-server-key-0123456789-0123456789", "team", "READ_UPDATE", 600), 0),
        "expired": (_token(setup, key, "team", "READ_UPDATE", -10), c.AuthTokenCheckFailed.TOKEN_EXPIRED),
        "other stream": (_token(setup, key, "shared", "READ_UPDATE", 600), 0),
        "read only": (_token(setup, key, "team", "READ", 600), 0),
        "garbage": ("not.a.jwt", 0),
    }

    async def main() -> None:
        before = await _tail_length(secure_server, setup, "team")
        conn = await SegmentStoreConnection.open(
            ("localhost", secure_server.segment_store_port), ssl=_tls_context(setup)
        )
        try:
            for name, (token, code) in cases.items():
                reply = await conn.request(c.SetupAppend(next_request_id(), uuid.uuid4().int, segment, token))
                assert isinstance(reply, c.AuthTokenCheckFailed), (name, reply)
                assert reply.error_code == code, (name, reply)
                assert reply.server_stack_trace, name
            # Reads: an expired token is refused, a valid READ token works on the same connection.
            reply = await conn.request(c.ReadSegment(segment, 0, 100, cases["expired"][0], next_request_id()))
            assert isinstance(reply, c.AuthTokenCheckFailed) and reply.error_code == 1
            reply = await conn.request(c.GetStreamSegmentInfo(next_request_id(), segment, cases["read only"][0]))
            assert isinstance(reply, c.StreamSegmentInfo) and reply.exists
            # A valid token sets up an append.
            good = _token(setup, key, "team", "READ_UPDATE", 600)
            reply = await conn.request(c.SetupAppend(next_request_id(), uuid.uuid4().int, segment, good))
            assert isinstance(reply, c.AppendSetup)
        finally:
            conn.close()
        assert await _tail_length(secure_server, setup, "team") == before

    run(main())


def test_plaintext_clients_on_tls_ports_fail_and_server_keeps_serving(secure_server, setup, streams) -> None:
    async def main() -> None:
        with pytest.raises(pravega.ConnectionLostError):
            await SegmentStoreConnection.open(("127.0.0.1", secure_server.segment_store_port), timeout=10.0)
        plain = ControllerClient(f"tcp://127.0.0.1:{secure_server.controller_port}", attempts=2, timeout=10.0)
        try:
            with pytest.raises(pravega.RetriesExhaustedError):
                await plain.list_scopes()
        finally:
            await plain.close()
        untrusting = Client(uri(secure_server), username="admin", password=USERS["admin"][0])
        async with untrusting:  # no trust_cert: the test CA is not in the system store
            untrusting.ctx.controller.attempts = 2
            with pytest.raises(pravega.RetriesExhaustedError):
                await untrusting.list_scopes()
        async with client(secure_server, setup, "admin") as admin:
            assert SCOPE in await admin.list_scopes()

    run(main())


def test_client_certificates_are_required_when_configured(setup: SecuritySetup) -> None:
    async def main(server: ServerProcess) -> None:
        base: dict[str, Any] = {"username": "admin", "password": USERS["admin"][0], "trust_cert": str(setup.pki.ca)}
        async with Client(uri(server), **base) as anonymous:
            anonymous.ctx.controller.attempts = 2
            with pytest.raises(pravega.RetriesExhaustedError):
                await anonymous.create_scope("mtls")
        with_cert: dict[str, Any] = {
            **base,
            "client_cert": str(setup.pki.client_cert),
            "client_key": str(setup.pki.client_key),
        }
        async with Client(uri(server), **with_cert) as cl:
            assert await cl.create_scope("mtls")
            await cl.create_stream("mtls", "s", pravega.ScalingPolicy.fixed(1))
            writer = await cl.create_writer("mtls", "s", pravega.StringSerializer())
            await writer.write("over mutual TLS")
            await writer.flush()
            await writer.close()
            info = await cl.stream_info("mtls", "s")
            assert sum(info.tail.positions.values()) > 0

    with ServerProcess(in_memory=True, extra_args=setup.server_args(client_certs=True)) as server:
        run(main(server))


def test_passwd_command_and_bad_password_file(tmp_path: Path) -> None:
    pw = tmp_path / "passwords"
    cmd = [sys.executable, "-m", "pravega_server", "passwd", "--file", str(pw), "--password-stdin"]
    done = subprocess.run(
        [*cmd, "--acl", "prn::/scope:a,READ", "alice"], input="s3cret\n", text=True, capture_output=True
    )
    assert done.returncode == 0, done.stderr
    line = pw.read_text().strip()
    assert line.startswith("alice:pbkdf2_sha256$") and line.endswith(":prn::/scope:a,READ")
    assert "s3cret" not in line
    bad = subprocess.run([*cmd, "--acl", "prn::/scope:a,WRITE", "bob"], input="x\n", text=True, capture_output=True)
    assert bad.returncode == 1 and "unknown permission 'WRITE'" in bad.stderr
    assert pw.read_text().strip() == line  # nothing written
    pw.write_text(line + "\nmalformed line\n")
    start = subprocess.run(
        [sys.executable, "-m", "pravega_server", "--in-memory", "--auth-password-file", str(pw)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert start.returncode == 2 and "expected 'user:hashed-password:acl'" in start.stderr


def test_healthcheck_probes_a_secured_server(secure_server: ServerProcess, setup: SecuritySetup) -> None:
    probe = [sys.executable, "-m", "pravega_server.healthcheck", "--host", "127.0.0.1"]
    ports = ["--controller-port", str(secure_server.controller_port)]
    ports += ["--segment-store-port", str(secure_server.segment_store_port)]
    healthy = subprocess.run([*probe, *ports, "--tls"], capture_output=True, text=True, timeout=60)
    assert healthy.returncode == 0, healthy.stderr
    plain = subprocess.run([*probe, *ports, "--timeout", "3"], capture_output=True, text=True, timeout=60)
    assert plain.returncode == 1 and "unhealthy" in plain.stderr


def test_healthcheck_probes_a_plaintext_server_with_auth(setup: SecuritySetup) -> None:
    with ServerProcess(in_memory=True, extra_args=setup.server_args(tls=False)) as server:
        done = subprocess.run(
            [sys.executable, "-m", "pravega_server.healthcheck", "--host", "127.0.0.1"]
            + ["--controller-port", str(server.controller_port)]
            + ["--segment-store-port", str(server.segment_store_port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr


def test_listings_show_only_what_the_user_may_read(secure_server, setup, streams) -> None:
    async def main() -> None:
        async with client(secure_server, setup, "admin") as admin:
            await admin.create_scope("elsewhere")
            assert {"sec", "elsewhere"} <= set(await admin.list_scopes())
            assert {"shared", "secret", "team"} <= set(await admin.list_streams(SCOPE))
        async with client(secure_server, setup, "team") as team:
            assert await team.list_scopes() == [SCOPE]
            listed = set(await team.list_streams(SCOPE))
            assert {"shared", "team"} <= listed and "secret" not in listed
        async with client(secure_server, setup, "reader") as reader:
            assert await reader.list_scopes() == []
            with pytest.raises(pravega.AuthorizationError, match="lacks READ permission on prn::/scope:sec"):
                await reader.list_streams(SCOPE)

    run(main())


def test_short_lived_tokens_are_refreshed(setup: SecuritySetup) -> None:
    """Tokens valid for 3 s: our client fetches new ones for new writers and reads."""

    async def main(server: ServerProcess) -> None:
        async with client(server, setup, "admin") as cl:
            await cl.create_scope(SCOPE)
            await cl.create_stream(SCOPE, "ttl", pravega.ScalingPolicy.fixed(2))
            assert cl.ctx.tokens is not None
            written: list[str] = []
            tokens: set[str] = set()
            started = time.monotonic()
            while time.monotonic() - started < 8.0:  # longer than two token lifetimes
                batch = [f"t{len(written) + i}" for i in range(10)]
                await _write(cl, "ttl", batch)  # a new writer: SetupAppend with a current token
                written.extend(batch)
                tokens.add(await cl.ctx.tokens.token(SCOPE, "ttl"))
            assert len(tokens) >= 2  # refreshed at least once
            assert sorted(await _read_all(cl, "ttl", len(written))) == sorted(written)

    with ServerProcess(in_memory=True, extra_args=[*setup.server_args(), "--auth-token-ttl", "3"]) as server:
        run(main(server))


def test_tables_and_transactions_under_auth(secure_server, setup, streams) -> None:
    """Key-value tables and transactions carry tokens for their own segments (table
    segments, transaction segments) and are refused without the permission."""

    async def main() -> None:
        async with client(secure_server, setup, "team") as team:
            assert await team.create_key_value_table(SCOPE, "kv", partitions=2)
            table = team.key_value_table(SCOPE, "kv", pravega.StringSerializer(), pravega.StringSerializer())
            await table.put("alice", "1")
            assert (await table.get("alice")).value == "1"  # type: ignore[union-attr]
            writer = await team.create_transactional_writer(SCOPE, "team", pravega.StringSerializer())
            txn = await writer.begin()
            await txn.write("in a transaction", routing_key="t")
            await txn.commit()
            await writer.close()
        async with client(secure_server, setup, "reader") as reader:
            with pytest.raises(pravega.AuthorizationError, match="key-value-table:kv"):
                await reader.create_key_value_table(SCOPE, "kv2")
            refused = await reader.create_transactional_writer(SCOPE, "shared", pravega.StringSerializer())
            with pytest.raises(
                pravega.AuthorizationError, match="READ_UPDATE permission on prn::/scope:sec/stream:shared"
            ):
                await refused.begin()
            await refused.close()
        async with client(secure_server, setup, "streamer") as streamer:
            with pytest.raises(pravega.AuthorizationError, match="key-value-table:kv"):
                await streamer.key_value_table(SCOPE, "kv", pravega.StringSerializer()).get("alice")

    run(main())


def test_tokens_survive_a_crash_without_a_key_file(setup: SecuritySetup, tmp_path: Path) -> None:
    """Without --auth-token-key-file the server keeps its signing key in the data
    directory: a token handed out before kill -9 is still good after the restart."""
    args = ["--auth-password-file", str(setup.password_file)]  # plaintext, auth, no key file
    segment = f"{SCOPE}/crash/0.#epoch.0"

    async def before(server: ServerProcess) -> str:
        async with Client(f"tcp://127.0.0.1:{server.controller_port}", username="admin", password="admin-pw") as cl:
            await cl.create_scope(SCOPE)
            await cl.create_stream(SCOPE, "crash", pravega.ScalingPolicy.fixed(1))
            await _write(cl, "crash", ["before"])
            assert cl.ctx.tokens is not None
            return await cl.ctx.tokens.token(SCOPE, "crash")

    async def after(server: ServerProcess, token: str) -> None:
        conn = await SegmentStoreConnection.open(("127.0.0.1", server.segment_store_port))
        try:
            reply = await conn.request(c.SetupAppend(next_request_id(), uuid.uuid4().int, segment, token))
            assert isinstance(reply, c.AppendSetup), reply
        finally:
            conn.close()

    with ServerProcess(tmp_path / "data", extra_args=args) as server:
        token = run_value(before(server))
        assert (tmp_path / "data" / "auth-token.key").exists()
        server.kill()
        server.start()
        run(after(server, token))


def run_value(coro: Coroutine[Any, Any, str]) -> str:
    return asyncio.run(coro)
