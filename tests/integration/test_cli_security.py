"""``pravega-cli`` against a server with TLS and authentication: credentials and the CA
from options or the environment; wrong credentials exit 1 with a clear message."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pravega.testing import ServerProcess
from pravega.testing.secure import SecuritySetup, make_security_setup

CLI = Path(sys.executable).parent / "pravega-cli"
USERS = {"admin": ("admin-pw", "prn::/,READ_UPDATE")}


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> SecuritySetup:
    return make_security_setup(tmp_path_factory.mktemp("cli-security"), USERS)


@pytest.fixture(scope="module")
def server(setup: SecuritySetup) -> Iterator[ServerProcess]:
    with ServerProcess(in_memory=True, extra_args=setup.server_args()) as proc:
        yield proc


def cli(
    server: ServerProcess, setup: SecuritySetup, *args: str, password: str = "admin-pw"
) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PRAVEGA_CONTROLLER_URI": f"tls://localhost:{server.controller_port}",
        "PRAVEGA_REST_URI": f"https://localhost:{server.rest_port}",
        "PRAVEGA_TRUST_CERT": str(setup.pki.ca),
        "PRAVEGA_USERNAME": "admin",
    }
    return subprocess.run(
        [str(CLI), "--password", password, *args], capture_output=True, text=True, env=env, timeout=300
    )


def test_cli_with_tls_and_credentials(server: ServerProcess, setup: SecuritySetup) -> None:
    assert cli(server, setup, "scope", "create", "clisec").returncode == 0
    assert cli(server, setup, "stream", "create", "clisec/s").returncode == 0
    listed = cli(server, setup, "--json", "stream", "list", "clisec")
    assert listed.returncode == 0 and json.loads(listed.stdout) == ["s"]
    groups = cli(server, setup, "--json", "reader-group", "list", "clisec")  # through HTTPS with Basic credentials
    assert groups.returncode == 0 and json.loads(groups.stdout) == []


def test_wrong_password_exits_1_and_changes_nothing(server: ServerProcess, setup: SecuritySetup) -> None:
    done = cli(server, setup, "scope", "create", "clibad", password="wrong")
    assert done.returncode == 1 and "error" in done.stderr
    assert "clibad" not in json.loads(cli(server, setup, "--json", "scope", "list").stdout)
    rest = cli(server, setup, "reader-group", "list", "clisec", password="wrong")
    assert rest.returncode == 1 and "refused" in rest.stderr
