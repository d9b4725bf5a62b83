"""The REST API of a server with TLS and authentication on (the password file and ACLs of
``--auth-password-file``): HTTPS only, Basic credentials checked (401), the ACL applied
to the resource each request acts on (403), nothing changed by a refused request, and
the probes open to all."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from pravega.testing import ServerProcess
from pravega.testing.secure import SecuritySetup, make_security_setup

USERS = {
    "admin": ("admin-pw", "prn::/,READ_UPDATE"),
    "team": ("team-pw", "prn::/scope:rsec,READ_UPDATE;prn::/scope:rsec/stream:secret,NONE"),
    "reader": ("reader-pw", "prn::/scope:rsec/stream:shared,READ"),
}


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> SecuritySetup:
    return make_security_setup(tmp_path_factory.mktemp("rest-security"), USERS)


@pytest.fixture(scope="module")
def server(setup: SecuritySetup) -> Iterator[ServerProcess]:
    with ServerProcess(in_memory=True, extra_args=setup.server_args()) as proc:
        yield proc


def call(server: ServerProcess, setup: SecuritySetup, method: str, path: str, user: str | None, **kw: Any) -> Any:
    headers = {}
    if user is not None:
        password = kw.pop("password", USERS[user][0])
        headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    url = f"https://localhost:{server.rest_port}{path}"
    return requests.request(method, url, headers=headers, verify=str(setup.pki.ca), timeout=60, **kw)


def test_rest_is_https_with_the_server_certificate(server: ServerProcess, setup: SecuritySetup) -> None:
    assert server.rest_uri.startswith("https://")
    try:
        plain = requests.get(f"http://localhost:{server.rest_port}/health/readiness", timeout=30)
    except requests.exceptions.ConnectionError:
        pass  # the TLS listener hung up on the plaintext request
    else:
        assert plain.status_code >= 400  # or answered it with an error, never with the API
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"https://localhost:{server.rest_port}/health", timeout=30)  # untrusted without the CA
    assert call(server, setup, "GET", "/health/readiness", None).json() is True


def test_credentials_are_required_and_checked(server: ServerProcess, setup: SecuritySetup) -> None:
    none = call(server, setup, "POST", "/v1/scopes", None, json={"scopeName": "nobody"})
    assert none.status_code == 401 and "authentication" in none.json()["message"]
    wrong = call(server, setup, "POST", "/v1/scopes", "admin", password="nope", json={"scopeName": "nobody"})
    assert wrong.status_code == 401 and "wrong user name or password" in wrong.json()["message"]
    listed = call(server, setup, "GET", "/v1/scopes", "admin").json()["scopes"]
    assert {"scopeName": "nobody"} not in listed


def test_acls_decide_per_resource(server: ServerProcess, setup: SecuritySetup) -> None:
    assert call(server, setup, "POST", "/v1/scopes", "team", json={"scopeName": "other"}).status_code == 403
    assert call(server, setup, "POST", "/v1/scopes", "admin", json={"scopeName": "rsec"}).status_code == 201
    assert (
        call(server, setup, "POST", "/v1/scopes/rsec/streams", "team", json={"streamName": "shared"}).status_code == 201
    )
    denied = call(server, setup, "POST", "/v1/scopes/rsec/streams", "team", json={"streamName": "secret"})
    assert denied.status_code == 403 and "permission denied" in denied.json()["message"]
    assert call(server, setup, "GET", "/v1/scopes/rsec/streams/secret", "admin").status_code == 404  # not created
    assert call(server, setup, "GET", "/v1/scopes/rsec/streams/shared", "reader").status_code == 200
    seal = call(server, setup, "PUT", "/v1/scopes/rsec/streams/shared/state", "reader", json={"streamState": "SEALED"})
    assert seal.status_code == 403
    assert call(server, setup, "GET", "/v1/scopes/rsec/streams", "reader").status_code == 403  # no read on the scope
    assert call(server, setup, "GET", "/v1/scopes/rsec/streams", "team").status_code == 200
    assert call(server, setup, "PUT", "/v1/scopes/rsec/streams/shared/state", "team", json={"streamState": "SEALED"}).ok
    assert call(server, setup, "DELETE", "/v1/scopes/rsec/streams/shared", "reader").status_code == 403
    assert call(server, setup, "GET", "/v1/scopes/rsec/streams/shared", "admin").status_code == 200  # still there


def test_listings_leave_out_what_the_caller_cannot_read(server: ServerProcess, setup: SecuritySetup) -> None:
    call(server, setup, "POST", "/v1/scopes", "admin", json={"scopeName": "rsec"})
    call(server, setup, "POST", "/v1/scopes", "admin", json={"scopeName": "hidden"})
    for name in ("open", "secret"):
        call(server, setup, "POST", "/v1/scopes/rsec/streams", "admin", json={"streamName": name})
    admin_scopes = {s["scopeName"] for s in call(server, setup, "GET", "/v1/scopes", "admin").json()["scopes"]}
    assert {"rsec", "hidden"} <= admin_scopes
    team_scopes = {s["scopeName"] for s in call(server, setup, "GET", "/v1/scopes", "team").json()["scopes"]}
    assert team_scopes == {"rsec"}
    team_streams = {
        s["streamName"] for s in call(server, setup, "GET", "/v1/scopes/rsec/streams", "team").json()["streams"]
    }
    assert "open" in team_streams and "secret" not in team_streams
    admin_streams = call(server, setup, "GET", "/v1/scopes/rsec/streams", "admin").json()["streams"]
    assert "secret" in {s["streamName"] for s in admin_streams}
