"""The REST API's authentication hook: an embedded server with an authenticator refuses
/v1 requests it does not accept (401, nothing changed) and serves the ones it accepts;
probes, metrics and the OpenAPI document stay open."""

from __future__ import annotations

import asyncio
import base64

import aiohttp

from pravega_server.app import PravegaServer, ServerConfig

GOOD = "Basic " + base64.b64encode(b"admin:secret").decode()
BAD = "Basic " + base64.b64encode(b"admin:wrong").decode()


class Refused(Exception):
    pass


def authenticate(header: str | None) -> str:
    if header != GOOD:
        raise Refused("wrong user name or password")
    return "admin"


async def scenario() -> None:
    config = ServerConfig(controller_port=0, segment_store_port=0, rest_port=0, rest_authenticator=authenticate)
    async with PravegaServer(config) as server, aiohttp.ClientSession() as http:
        base = f"http://127.0.0.1:{server.rest_port}"
        for header in (None, BAD):
            headers = {"Authorization": header} if header else {}
            async with http.post(f"{base}/v1/scopes", json={"scopeName": "locked"}, headers=headers) as reply:
                assert reply.status == 401
                assert "Basic" in reply.headers["WWW-Authenticate"]
                assert "authentication failed" in (await reply.json())["message"]
        assert server.controller is not None and not server.controller.scope_exists("locked")
        async with http.post(f"{base}/v1/scopes", json={"scopeName": "open"}, headers={"Authorization": GOOD}) as reply:
            assert reply.status == 201
        async with http.get(f"{base}/v1/scopes", headers={"Authorization": GOOD}) as reply:
            assert (await reply.json())["scopes"] == [{"scopeName": "open"}]
        for path in ("/health", "/health/readiness", "/v1/openapi.json", "/metrics"):
            async with http.get(base + path) as reply:
                assert reply.status == 200, path


def test_rest_requests_pass_through_the_authenticator() -> None:
    asyncio.run(scenario())


async def async_authenticator_scenario() -> None:
    async def check(header: str | None) -> str:
        await asyncio.sleep(0)
        return authenticate(header)

    config = ServerConfig(controller_port=0, segment_store_port=0, rest_port=0, rest_authenticator=check)
    async with PravegaServer(config) as server, aiohttp.ClientSession() as http:
        base = f"http://127.0.0.1:{server.rest_port}"
        async with http.get(f"{base}/v1/scopes", headers={"Authorization": BAD}) as reply:
            assert reply.status == 401
        async with http.get(f"{base}/v1/scopes", headers={"Authorization": GOOD}) as reply:
            assert reply.status == 200


def test_the_authenticator_may_be_a_coroutine_function() -> None:
    asyncio.run(async_authenticator_scenario())
