"""The Beam connector against a server with TLS and authentication on: the client's TLS
and credential options pass through ``client_options`` to the workers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import apache_beam as beam
import pytest
from beam_testing import Collector, new_scope, options, read_all

import pravega
from pravega.client.security import uri_with_options
from pravega.testing import ServerProcess
from pravega.testing.secure import SecuritySetup, make_security_setup
from pravega_beam import ReadFromPravega, WriteToPravega

USERS = {
    "admin": ("admin-pw", "prn::/,READ_UPDATE"),
    "viewer": ("viewer-pw", "prn::/scope:*/stream:*,READ;prn::/scope:*/reader-group:*,READ_UPDATE"),
}


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> SecuritySetup:
    return make_security_setup(tmp_path_factory.mktemp("beamsec"), USERS)


@pytest.fixture(scope="module")
def secure_server(setup: SecuritySetup) -> Iterator[ServerProcess]:
    with ServerProcess(in_memory=True, extra_args=setup.server_args()) as proc:
        yield proc


def _options(setup: SecuritySetup, user: str) -> dict[str, Any]:
    return {"trust_cert": str(setup.pki.ca), "username": user, "password": USERS[user][0]}


def test_write_and_bounded_read_with_tls_and_credentials(secure_server: ServerProcess, setup: SecuritySetup) -> None:
    uri = f"tls://localhost:{secure_server.controller_port}"
    admin = _options(setup, "admin")
    scope = new_scope()
    with pravega.Client(uri, **admin) as client:
        client.create_scope(scope)
        client.create_stream(scope, "out", 2)

    p = beam.Pipeline(options=options("direct"))
    _ = (
        p
        | beam.Create([f"e{i}" for i in range(200)])
        | WriteToPravega(
            uri, f"{scope}/out", serializer=str.encode, routing_key_fn=lambda v: v[-1], client_options=admin
        )
    )
    p.run().wait_until_finish()
    assert sorted(read_all(uri_with_options(uri, admin), scope, "out")) == sorted(f"e{i}".encode() for i in range(200))

    with pravega.Client(uri, **admin) as client:
        end = client.stream_info(scope, "out").tail
    collector = Collector()
    p = beam.Pipeline(options=options("direct"))
    _ = (
        p
        | ReadFromPravega(
            uri,
            f"{scope}/out",
            end=end.to_text(),
            deserializer=bytes.decode,
            client_options=_options(setup, "viewer"),
        )
        | collector.sink()
    )
    p.run().wait_until_finish()
    assert sorted(collector.items) == sorted(f"e{i}" for i in range(200))


def test_write_without_permission_fails_the_pipeline_and_writes_nothing(
    secure_server: ServerProcess, setup: SecuritySetup
) -> None:
    uri = f"tls://localhost:{secure_server.controller_port}"
    admin = _options(setup, "admin")
    scope = new_scope()
    with pravega.Client(uri, **admin) as client:
        client.create_scope(scope)
        client.create_stream(scope, "guarded", 1)
    p = beam.Pipeline(options=options("direct"))
    _ = (
        p
        | beam.Create([b"a", b"b"])
        | WriteToPravega(uri, f"{scope}/guarded", client_options=_options(setup, "viewer"))
    )
    with pytest.raises(Exception, match="READ_UPDATE"):
        p.run().wait_until_finish()
    with pravega.Client(uri, **admin) as client:
        assert sum(client.stream_info(scope, "guarded").tail.positions.values()) == 0


def test_client_options_are_checked_when_the_pipeline_is_built(secure_server: ServerProcess) -> None:
    uri = f"tls://localhost:{secure_server.controller_port}"
    with pytest.raises(ValueError, match="unknown client options"):
        ReadFromPravega(uri, "sc/st", client_options={"trustcert": "x"})
    with pytest.raises(ValueError, match="must be True or False"):
        WriteToPravega(uri, "sc/st", client_options={"tls": "yes"})
    display = WriteToPravega(uri, "sc/st", client_options={"password": "hidden"}).display_data()
    assert "hidden" not in str(display)
