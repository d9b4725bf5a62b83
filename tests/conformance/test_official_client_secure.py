"""The official client (``pravega==0.3.8``) against one server with TLS and authentication on,
configured through its documented settings: a ``tls://`` URI with ``auth_enabled=True,
tls_enabled=True``, the trust store in ``pravega_client_tls_cert_path`` (a directory of
PEM files) and Basic credentials in ``pravega_client_auth_method/username/password``.

The client reads those variables when a ``StreamManager`` is made, so each test sets them
(monkeypatch) before making one. The server advertises ``localhost``: the client checks
the segment store's certificate by host name and cannot use an IP address there.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pravega
from pravega.testing import ServerProcess
from pravega.testing.certs import make_test_pki
from pravega.testing.secure import SecuritySetup, make_security_setup

pravega_client = pytest.importorskip("pravega_client")

SCOPE = "offsec"
USERS = {
    "admin": ("admin-pw", "prn::/,READ_UPDATE"),
    "reader": ("reader-pw", "prn::/scope:offsec/stream:*,READ;prn::/scope:offsec/reader-group:*,READ_UPDATE"),
}


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> SecuritySetup:
    return make_security_setup(tmp_path_factory.mktemp("offsec"), USERS)


@pytest.fixture(scope="module")
def secure_server(setup: SecuritySetup) -> Iterator[ServerProcess]:
    with ServerProcess(in_memory=True, extra_args=setup.server_args()) as proc:
        yield proc


def manager(
    monkeypatch: pytest.MonkeyPatch,
    server: ServerProcess,
    user: str,
    password: str,
    trust_dir: Path,
    *,
    disable_cert_verification: bool = False,
) -> Any:
    monkeypatch.setenv("pravega_client_auth_method", "Basic")
    monkeypatch.setenv("pravega_client_auth_username", user)
    monkeypatch.setenv("pravega_client_auth_password", password)
    monkeypatch.setenv("pravega_client_tls_cert_path", str(trust_dir))
    return pravega_client.StreamManager(
        f"tls://localhost:{server.controller_port}",
        auth_enabled=True,
        tls_enabled=True,
        disable_cert_verification=disable_cert_verification,
    )


def admin(monkeypatch: pytest.MonkeyPatch, server: ServerProcess, setup: SecuritySetup) -> Any:
    return manager(monkeypatch, server, "admin", USERS["admin"][0], setup.trust_dir)


def read_all(m: Any, stream: str, expected: int, timeout: float = 60.0) -> list[bytes]:
    group = m.create_reader_group("rg" + uuid.uuid4().hex[:8], SCOPE, stream)
    reader = group.create_reader("r1")

    async def loop() -> list[bytes]:
        got: list[bytes] = []
        deadline = time.monotonic() + timeout
        while len(got) < expected and time.monotonic() < deadline:
            piece = await reader.get_segment_slice_async()
            got.extend(bytes(e.data()) for e in piece)
            reader.release_segment(piece)
        return got

    try:
        return asyncio.run(loop())
    finally:
        reader.reader_offline()


def stream_length(server: ServerProcess, setup: SecuritySetup, stream: str) -> int:
    """Bytes in ``stream``, asked with our client (admin)."""
    with pravega.Client(
        f"tls://localhost:{server.controller_port}",
        username="admin",
        password=USERS["admin"][0],
        trust_cert=str(setup.pki.ca),
    ) as cl:
        return sum(cl.stream_info(SCOPE, stream).tail.positions.values())


@pytest.fixture(scope="module")
def scope(secure_server: ServerProcess, setup: SecuritySetup) -> str:
    with pytest.MonkeyPatch.context() as mp:
        assert admin(mp, secure_server, setup).create_scope(SCOPE) is True
    return SCOPE


def test_write_transaction_and_read_over_tls_with_basic_credentials(
    monkeypatch: pytest.MonkeyPatch, secure_server: ServerProcess, setup: SecuritySetup, scope: str
) -> None:
    m = admin(monkeypatch, secure_server, setup)
    assert m.create_stream(scope, "events", 2) is True
    writer = m.create_writer(scope, "events")
    for i in range(100):
        writer.write_event(f"e{i}", routing_key=f"k{i % 7}")
    writer.flush()
    txn_writer = m.create_transaction_writer(scope, "events", 7)
    txn = txn_writer.begin_txn()
    txn.write_event("in-txn", routing_key="k1")
    txn.commit()
    got = read_all(m, "events", 101)
    assert sorted(got) == sorted([f"e{i}".encode() for i in range(100)] + [b"in-txn"])


def test_disable_cert_verification_accepts_an_untrusted_certificate(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, secure_server: ServerProcess, scope: str
) -> None:
    other = make_test_pki(tmp_path / "other")  # a CA that did not sign the server's certificate
    trust = tmp_path / "trust"
    trust.mkdir()
    (trust / "ca.pem").write_bytes(other.ca.read_bytes())
    m = manager(monkeypatch, secure_server, "admin", USERS["admin"][0], trust, disable_cert_verification=True)
    assert m.create_stream(scope, "unverified", 1) is True
    writer = m.create_writer(scope, "unverified")
    writer.write_event("hello")
    writer.flush()
    assert read_all(m, "unverified", 1) == [b"hello"]


def test_read_only_user_reads_but_its_writes_and_creates_are_refused(
    monkeypatch: pytest.MonkeyPatch, secure_server: ServerProcess, setup: SecuritySetup, scope: str
) -> None:
    m = admin(monkeypatch, secure_server, setup)
    assert m.create_stream(scope, "guarded", 1) is True
    writer = m.create_writer(scope, "guarded")
    for i in range(10):
        writer.write_event(f"g{i}")
    writer.flush()
    before = stream_length(secure_server, setup, "guarded")

    ro = manager(monkeypatch, secure_server, "reader", USERS["reader"][0], setup.trust_dir)
    assert sorted(read_all(ro, "guarded", 10)) == sorted(f"g{i}".encode() for i in range(10))
    with pytest.raises(Exception, match="PermissionDenied") as info:
        ro.create_stream(scope, "not-allowed", 1)
    assert "lacks READ_UPDATE permission on prn::/scope:offsec/stream:not-allowed" in str(info.value)
    with pytest.raises(Exception, match="writing an event"):
        w = ro.create_writer(scope, "guarded")
        w.write_event("forbidden")
        w.flush()
    assert stream_length(secure_server, setup, "guarded") == before
    # The server keeps serving others.
    assert m.create_stream(scope, "after-refusals", 1) is True


def test_wrong_password_is_refused_and_creates_nothing(
    monkeypatch: pytest.MonkeyPatch, secure_server: ServerProcess, setup: SecuritySetup, scope: str
) -> None:
    # UNAUTHENTICATED is retried by the client (it may be a stale token): this takes its
    # full retry schedule, about a minute, before the error surfaces.
    bad = manager(monkeypatch, secure_server, "admin", "not-the-password", setup.trust_dir)
    with pytest.raises(Exception, match="Unauthenticated") as info:
        bad.create_stream(scope, "intruder", 1)
    assert "wrong user name or password" in str(info.value)
    m = admin(monkeypatch, secure_server, setup)
    assert "intruder" not in m.list_stream(scope)
    assert m.create_stream(scope, "still-serving", 1) is True


def test_short_lived_tokens_are_refreshed_by_the_client(monkeypatch: pytest.MonkeyPatch, setup: SecuritySetup) -> None:
    """Tokens valid for 3 s: new writers and readers keep getting fresh ones over 8 s."""
    with ServerProcess(in_memory=True, extra_args=[*setup.server_args(), "--auth-token-ttl", "3"]) as server:
        m = admin(monkeypatch, server, setup)
        m.create_scope(SCOPE)
        assert m.create_stream(SCOPE, "ttl", 2) is True
        writer = m.create_writer(SCOPE, "ttl")
        written: list[bytes] = []
        started = time.monotonic()
        while time.monotonic() - started < 8.0:  # writing for longer than two token lifetimes
            for _ in range(10):
                event = f"t{len(written)}"
                writer.write_event(event, routing_key=event)
                written.append(event.encode())
            writer.flush()
            fresh = m.create_writer(SCOPE, "ttl")  # a new SetupAppend, with the token of now
            event = f"t{len(written)}"
            fresh.write_event(event)
            fresh.flush()
            written.append(event.encode())
        assert sorted(read_all(m, "ttl", len(written))) == sorted(written)


@pytest.mark.parametrize("tls,auth", [(True, False), (False, True)], ids=["tls-only", "auth-only"])
def test_tls_without_auth_and_auth_without_tls(
    monkeypatch: pytest.MonkeyPatch, setup: SecuritySetup, tls: bool, auth: bool
) -> None:
    with ServerProcess(in_memory=True, extra_args=setup.server_args(tls=tls, auth=auth)) as server:
        if auth:
            monkeypatch.setenv("pravega_client_auth_method", "Basic")
            monkeypatch.setenv("pravega_client_auth_username", "admin")
            monkeypatch.setenv("pravega_client_auth_password", USERS["admin"][0])
        if tls:
            monkeypatch.setenv("pravega_client_tls_cert_path", str(setup.trust_dir))
        scheme, host = ("tls", "localhost") if tls else ("tcp", "127.0.0.1")
        m = pravega_client.StreamManager(
            f"{scheme}://{host}:{server.controller_port}", auth_enabled=auth, tls_enabled=tls
        )
        assert m.create_scope(SCOPE) is True
        assert m.create_stream(SCOPE, "combo", 1) is True
        writer = m.create_writer(SCOPE, "combo")
        for i in range(20):
            writer.write_event(f"c{i}")
        writer.flush()
        assert sorted(read_all(m, "combo", 20)) == sorted(f"c{i}".encode() for i in range(20))
