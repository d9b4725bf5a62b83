"""The image with TLS and authentication, configured through the testcontainers module's
``with_tls`` / ``with_auth`` (mounted files + environment): our client over ``tls://``
with credentials, refusals for a wrong password, and a healthy HEALTHCHECK."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import pravega
from pravega.aio import Client
from pravega.testing.container import PravegaContainer
from pravega.testing.secure import make_security_setup

USERS = {"admin": ("admin-pw", "prn::/,READ_UPDATE")}


def test_container_with_tls_and_auth(tmp_path: Path, image: str) -> None:
    setup = make_security_setup(tmp_path, USERS)
    # The container's user (10001) reads the mounted files.
    for path in (setup.pki.server_key, setup.password_file, setup.token_key_file):
        path.chmod(0o644)
    container = (
        PravegaContainer(image)
        .with_in_memory()
        .with_advertised_host("localhost")
        .with_tls(setup.pki.server_cert, setup.pki.server_key)
        .with_auth(setup.password_file, setup.token_key_file, token_ttl=120)
    )
    with container:
        uri = container.get_controller_uri()
        assert uri.startswith("tls://")
        port = container.get_controller_port()

        async def main() -> None:
            async with Client(
                f"tls://localhost:{port}", username="admin", password="admin-pw", trust_cert=str(setup.pki.ca)
            ) as cl:
                assert await cl.create_scope("boxed")
                await cl.create_stream("boxed", "s", pravega.ScalingPolicy.fixed(1))
                writer = await cl.create_writer("boxed", "s", pravega.StringSerializer())
                await writer.write("inside a container")
                await writer.flush()
                await writer.close()
                info = await cl.stream_info("boxed", "s")
                assert sum(info.tail.positions.values()) > 0
            async with Client(
                f"tls://localhost:{port}", username="admin", password="wrong", trust_cert=str(setup.pki.ca)
            ) as bad:
                with pytest.raises(pravega.AuthenticationError):
                    await bad.create_scope("nope")

        asyncio.run(main())
        wrapped = container.get_wrapped_container()
        code, output = wrapped.exec_run(["python", "-m", "pravega_server.healthcheck"])
        assert code == 0, output.decode(errors="replace")


def test_with_tls_refuses_missing_files(tmp_path: Path, image: str) -> None:
    with pytest.raises(ValueError, match="no such file"):
        PravegaContainer(image).with_tls(tmp_path / "nope.pem", tmp_path / "nope-key.pem")
    with pytest.raises(ValueError, match="official"):
        PravegaContainer.official().with_auth(tmp_path / "pw")
