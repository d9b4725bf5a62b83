"""The server's auth package on its own: ACL parsing and matching, password hashing and
file handling, delegation tokens, the Authorization header."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import jwt
import pytest

from pravega_server.auth import AuthConfig, AuthenticationFailed, Authenticator, PermissionDenied
from pravega_server.auth.acl import Acl, AclError, Permission, segment_resource, stream_resource
from pravega_server.auth.passwords import PasswordFileError, hash_password, load, set_user, verify_password
from pravega_server.auth.tokens import TokenError, TokenExpired, TokenSigner, load_secret

R, W, N = Permission.READ, Permission.READ_UPDATE, Permission.NONE


def test_acl_most_specific_entry_wins_and_wildcards_match() -> None:
    acl = Acl.parse(
        "prn::/,READ;prn::/scope:a,READ_UPDATE;prn::/scope:a/stream:secret,NONE;prn::/scope:*/stream:x,READ_UPDATE"
    )
    assert acl.permission("prn::/") == R
    assert acl.permission("prn::/scope:b") == R
    assert acl.permission("prn::/scope:a/stream:s") == W
    assert acl.permission("prn::/scope:a/stream:secret") == N
    assert acl.permission("prn::/scope:b/stream:x") == W
    assert Acl.parse("").permission("prn::/scope:a") == N
    assert Acl.parse("prn::*,READ_UPDATE").permission("prn::/scope:z/key-value-table:t") == W
    assert str(Acl.parse("prn::/scope:a/stream:s , READ")) == "prn::/scope:a/stream:s,READ"
    # The official client's reader-group state lives in "<group>_kvtable".
    groups = Acl.parse("prn::/scope:a/reader-group:*,READ_UPDATE")
    assert groups.data_permission(stream_resource("a", "rg1_kvtable")) == W
    assert groups.permission(stream_resource("a", "rg1_kvtable")) == N  # not the table itself
    assert groups.data_permission("prn::/scope:a/stream:rg1") == N


@pytest.mark.parametrize(
    "text",
    ["prn::/scope:a", "prn::/scope:a,WRITE", "scope:a,READ", "prn::/stream:s,READ", "prn::/scope:a/bogus:x,READ"],
)
def test_bad_acls_are_refused_with_a_reason(text: str) -> None:
    with pytest.raises(AclError):
        Acl.parse(text)


def test_segment_and_internal_stream_names_map_to_resources() -> None:
    assert segment_resource("sc/st/0.#epoch.3") == "prn::/scope:sc/stream:st"
    assert segment_resource("sc/st/1.#epoch.0#transaction.00000000000000010000000000000002") == (
        "prn::/scope:sc/stream:st"
    )
    assert stream_resource("sc", "_RGgroup") == "prn::/scope:sc/reader-group:group"
    assert stream_resource("sc", "t_kvtable") == "prn::/scope:sc/key-value-table:t"
    assert stream_resource("sc", "_MARKst") == "prn::/scope:sc/stream:st"
    with pytest.raises(AclError):
        segment_resource("no-slashes")


def test_password_hashes_verify_and_differ_per_salt() -> None:
    h1, h2 = hash_password("pw", iterations=1000), hash_password("pw", iterations=1000)
    assert h1 != h2 and ":" not in h1
    assert verify_password("pw", h1) and not verify_password("pw2", h1)
    assert not verify_password("pw", "garbage")


def test_password_file_replaces_users_and_refuses_bad_lines(tmp_path: Path) -> None:
    f = tmp_path / "pw"
    set_user(f, "u", "one", "prn::/,READ")
    set_user(f, "v", "two", "prn::/scope:a,READ_UPDATE")
    set_user(f, "u", "three", "prn::/scope:b,READ")
    users = load(f)
    assert set(users) == {"u", "v"} and verify_password("three", users["u"].password_hash)
    assert f.stat().st_mode & 0o077 == 0
    with pytest.raises(PasswordFileError):
        set_user(f, "bad:name", "x", "prn::/,READ")
    f.write_text(f.read_text() + "oops\n")
    with pytest.raises(PasswordFileError, match=":3: expected"):
        load(f)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_authenticate_header(tmp_path: Path) -> None:
    f = tmp_path / "pw"
    set_user(f, "alice", "s3cret", "prn::/scope:a,READ_UPDATE")
    auth = Authenticator(AuthConfig(f))
    principal = auth.authenticate(_basic("alice", "s3cret"))
    assert principal.name == "alice" and principal.require("prn::/scope:a/stream:s", W) == W
    assert auth.authenticate(_basic("alice", "s3cret")).name == "alice"  # cached path
    with pytest.raises(PermissionDenied, match="lacks READ permission on prn::/scope:b"):
        principal.require("prn::/scope:b", R)
    for header in (None, "", "Bearer x", "Basic !!!", "Basic " + base64.b64encode(b"nocolon").decode()):
        with pytest.raises(AuthenticationFailed):
            auth.authenticate(header)
    with pytest.raises(AuthenticationFailed, match="wrong user name or password"):
        auth.authenticate(_basic("alice", "wrong"))


def test_tokens_grant_expire_and_refuse_forgeries(tmp_path: Path) -> None:
    signer = TokenSigner(b"k" * 32, ttl=600)
    token = signer.issue("alice", "prn::/scope:a/stream:s", W)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] > time.time() and claims["prn::/scope:a/stream:s"] == "READ_UPDATE"
    signer.check(token, "prn::/scope:a/stream:s", W)
    with pytest.raises(TokenError, match="does not grant READ on prn::/scope:a/stream:t"):
        signer.check(token, "prn::/scope:a/stream:t", R)
    with pytest.raises(TokenExpired):
        signer.check(signer.issue("alice", "prn::/scope:a/stream:s", W, ttl=-5), "prn::/scope:a/stream:s", R)
    forged = TokenSigner(b"x" * 32).issue("alice", "prn::/", W)
    with pytest.raises(TokenError) as info:
        signer.check(forged, "prn::/scope:a/stream:s", R)
    assert not info.value.expired
    with pytest.raises(TokenError):
        signer.check("", "prn::/scope:a/stream:s", R)
    short = tmp_path / "key"
    short.write_text("short")
    with pytest.raises(ValueError, match="shorter than 32 bytes"):
        load_secret(short)


def test_embedded_server_shares_its_authenticator(tmp_path: Path) -> None:
    """Other APIs of a running server (HTTP) check credentials with the server's own
    authenticator; a durable server keeps its token key in the data directory."""
    import asyncio

    from pravega_server.app import PravegaServer, ServerConfig

    f = tmp_path / "pw"
    set_user(f, "alice", "s3cret", "prn::/scope:a,READ")

    async def main() -> None:
        config = ServerConfig(data_dir=tmp_path / "data", controller_port=0, segment_store_port=0, auth=AuthConfig(f))
        async with PravegaServer(config) as server:
            assert server.authenticator is not None
            assert server.authenticator.authenticate(_basic("alice", "s3cret")).name == "alice"
        async with PravegaServer(ServerConfig(controller_port=0, segment_store_port=0)) as plain:
            assert plain.authenticator is None

    asyncio.run(main())
    assert len((tmp_path / "data" / "auth-token.key").read_text().strip()) == 64
