"""The PyFlink connector (its Java client) against a server with TLS and authentication on:
TLS and credentials ride in the controller URI's query string
(``tls://host:port?trust_cert=...&username=...&password=...``), which the builders take
as they are."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flink_testkit import FlinkRun, check_exactly_once

from pravega.client.security import uri_with_options
from pravega.testing import ServerProcess
from pravega.testing.secure import SecuritySetup, make_security_setup

USERS = {
    "admin": ("admin-pw", "prn::/,READ_UPDATE"),
    "viewer": ("viewer-pw", "prn::/scope:*/stream:*,READ"),
}


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> SecuritySetup:
    return make_security_setup(tmp_path_factory.mktemp("flinksec"), USERS)


@pytest.fixture(scope="module")
def secure_server(setup: SecuritySetup, flink_dirs: Path) -> Iterator[ServerProcess]:
    with ServerProcess(in_memory=True, extra_args=setup.server_args()) as proc:
        yield proc


def _uri(server: ServerProcess, setup: SecuritySetup, user: str) -> str:
    options = {"trust_cert": str(setup.pki.ca), "username": user, "password": USERS[user][0]}
    return uri_with_options(f"tls://localhost:{server.controller_port}", options)


def test_exactly_once_job_over_tls_with_credentials_and_a_refused_sink(
    secure_server: ServerProcess, setup: SecuritySetup, tmp_path: Path, flink_dirs: Path
) -> None:
    import sys

    from pyflink.common import Types, WatermarkStrategy
    from pyflink.datastream.connectors import DeliveryGuarantee

    run = FlinkRun(_uri(secure_server, setup, "admin"), "fs" + uuid.uuid4().hex[:8], tmp_path, sys.executable)
    try:
        src = run.stream("in", 2)
        out = run.stream("out", 2)
        guarded = run.stream("guarded", 1)
        expected = run.write_keyed(src, keys=4, per_key=100)
        env = run.env(parallelism=1, checkpoint_ms=300)
        (
            env.from_source(run.source(src, bounded=True).build(), WatermarkStrategy.no_watermarks(), "in")
            .map(lambda t: t + "|py", output_type=Types.STRING())
            .sink_to(run.sink(out, DeliveryGuarantee.EXACTLY_ONCE).build())
        )
        env.execute("secure-exactly-once")
        check_exactly_once(run.read(out), expected)

        # The viewer may read "in" but not write "guarded": the job fails, nothing is written.
        admin_uri, run.uri = run.uri, _uri(secure_server, setup, "viewer")
        try:
            source = run.source(src, bounded=True).build()
            sink = run.sink(guarded, DeliveryGuarantee.AT_LEAST_ONCE).build()
        finally:
            run.uri = admin_uri
        env = run.env(parallelism=1, checkpoint_ms=300, attempts=0)
        env.from_source(source, WatermarkStrategy.no_watermarks(), "in").sink_to(sink)
        with pytest.raises(Exception, match="Job execution failed"):
            env.execute("secure-refused")
        # Flink reports the task manager's shutdown as the cause; the writer's error is logged.
        refusal = f"does not grant READ_UPDATE on prn::/scope:{run.scope}/stream:guarded"
        logged = "".join(p.read_text(errors="replace") for p in (flink_dirs / "log").iterdir() if p.is_file())
        assert "AuthTokenCheckFailed" in logged and refusal in logged
        assert run.count(guarded) == 0
    finally:
        run.close()
