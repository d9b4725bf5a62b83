"""The REST API through a real HTTP client (requests) against a real server process:
every /v1 endpoint, the health probes and the OpenAPI document."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

import pravega
from pravega.testing import ServerProcess
from pravega_server.rest.resources import ROUTES


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with ServerProcess() as proc:
        yield proc


@pytest.fixture
def api(server: ServerProcess) -> Iterator[Any]:
    with requests.Session() as session:
        base = server.rest_uri

        class Api:
            def __getattr__(self, method: str) -> Any:
                return lambda path, **kw: session.request(method.upper(), base + path, timeout=60, **kw)

        yield Api()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_scopes_create_get_list_delete(api: Any) -> None:
    scope = unique("rsc")
    created = api.post("/v1/scopes", json={"scopeName": scope})
    assert created.status_code == 201 and created.json() == {"scopeName": scope}
    assert api.post("/v1/scopes", json={"scopeName": scope}).status_code == 409
    assert api.get(f"/v1/scopes/{scope}").json() == {"scopeName": scope}
    assert {"scopeName": scope} in api.get("/v1/scopes").json()["scopes"]
    assert api.delete(f"/v1/scopes/{scope}").status_code == 204
    missing = api.get(f"/v1/scopes/{scope}")
    assert missing.status_code == 404 and scope in missing.json()["message"]
    assert api.delete(f"/v1/scopes/{scope}").status_code == 404


@pytest.mark.parametrize(
    "body",
    [{"scopeName": "bad/name"}, {"scopeName": ""}, {"scopeName": 7}, {}, ["x"], "not json"],
)
def test_invalid_scope_requests_are_400(api: Any, body: Any) -> None:
    if body == "not json":
        reply = api.post("/v1/scopes", data=b"{not json", headers={"Content-Type": "application/json"})
    else:
        reply = api.post("/v1/scopes", json=body)
    assert reply.status_code == 400
    assert reply.json()["code"] == 400 and reply.json()["message"]


def test_a_scope_with_streams_is_not_deleted(api: Any) -> None:
    scope = unique("rfull")
    api.post("/v1/scopes", json={"scopeName": scope})
    assert api.post(f"/v1/scopes/{scope}/streams", json={"streamName": "s"}).status_code == 201
    assert api.delete(f"/v1/scopes/{scope}").status_code == 412
    assert api.get(f"/v1/scopes/{scope}").status_code == 200


def test_stream_lifecycle(api: Any, server: ServerProcess) -> None:
    scope = unique("rst")
    api.post("/v1/scopes", json={"scopeName": scope})
    body = {
        "streamName": "s1",
        "scalingPolicy": {"type": "BY_RATE_IN_EVENTS_PER_SEC", "targetRate": 100, "scaleFactor": 2, "minSegments": 3},
        "retentionPolicy": {"type": "LIMITED_SIZE_MB", "value": 10},
        "streamTags": ["red", "big"],
    }
    created = api.post(f"/v1/scopes/{scope}/streams", json=body)
    assert created.status_code == 201, created.text
    prop = created.json()
    assert prop["scopeName"] == scope and prop["streamName"] == "s1"
    assert prop["scalingPolicy"] == body["scalingPolicy"]
    assert prop["retentionPolicy"] == {"type": "LIMITED_SIZE_MB", "value": 10}
    assert prop["tags"] == {"tags": ["red", "big"]}
    assert api.post(f"/v1/scopes/{scope}/streams", json=body).status_code == 409
    assert api.post(f"/v1/scopes/{unique('none')}/streams", json=body).status_code == 404
    assert api.get(f"/v1/scopes/{scope}/streams/s1").json() == prop

    # What the REST API created is what the client sees.
    with pravega.Client(server.controller_uri) as client:
        config = client.get_stream_configuration(scope, "s1")
        assert config.scaling.min_num_segments == 3 and config.scaling.target_rate == 100
        assert config.retention.retention_param == 10 * 1024 * 1024
        client.create_stream(scope, "s2")

    listed = api.get(f"/v1/scopes/{scope}/streams").json()["streams"]
    assert [s["streamName"] for s in listed] == ["s1", "s2"]
    tagged = api.get(f"/v1/scopes/{scope}/streams", params={"filter_type": "tag", "filter_value": "red"}).json()
    assert [s["streamName"] for s in tagged["streams"]] == ["s1"]
    assert api.get(f"/v1/scopes/{scope}/streams", params={"filter_type": "bogus"}).status_code == 400

    update = {"retentionPolicy": {"type": "LIMITED_DAYS", "value": 2}, "scalingPolicy": {"minSegments": 4}}
    updated = api.put(f"/v1/scopes/{scope}/streams/s1", json=update)
    assert updated.status_code == 200, updated.text
    assert updated.json()["retentionPolicy"]["type"] == "LIMITED_DAYS"
    assert updated.json()["retentionPolicy"]["value"] == 2
    assert updated.json()["scalingPolicy"] == {
        "type": "FIXED_NUM_SEGMENTS",
        "targetRate": 0,
        "scaleFactor": 0,
        "minSegments": 4,
    }
    assert updated.json()["tags"] == {"tags": ["red", "big"]}  # not in the update: kept
    bad = api.put(f"/v1/scopes/{scope}/streams/s1", json={"scalingPolicy": {"type": "BY_RATE_IN_KBYTES_PER_SEC"}})
    assert bad.status_code == 400

    assert api.delete(f"/v1/scopes/{scope}/streams/s1").status_code == 412  # not sealed
    assert api.put(f"/v1/scopes/{scope}/streams/s1/state", json={"streamState": "OPEN"}).status_code == 400
    sealed = api.put(f"/v1/scopes/{scope}/streams/s1/state", json={"streamState": "SEALED"})
    assert sealed.status_code == 200 and sealed.json() == {"streamState": "SEALED"}
    with pravega.Client(server.controller_uri) as client:
        assert client.stream_info(scope, "s1").sealed
    assert api.put(f"/v1/scopes/{scope}/streams/s1", json=update).status_code == 412
    assert api.delete(f"/v1/scopes/{scope}/streams/s1").status_code == 204
    assert api.get(f"/v1/scopes/{scope}/streams/s1").status_code == 404
    assert api.delete(f"/v1/scopes/{scope}/streams/s1").status_code == 404
    assert api.put(f"/v1/scopes/{scope}/streams/s1/state", json={"streamState": "SEALED"}).status_code == 404


@pytest.mark.parametrize(
    "policy",
    [
        {"type": "FIXED_NUM_SEGMENTS", "minSegments": 0},
        {"type": "BY_RATE_IN_EVENTS_PER_SEC", "targetRate": 0, "scaleFactor": 2},
        {"type": "NOPE"},
        {"minSegments": "three"},
        "fixed",
    ],
)
def test_invalid_scaling_policies_are_400(api: Any, policy: Any) -> None:
    scope = unique("rbad")
    api.post("/v1/scopes", json={"scopeName": scope})
    reply = api.post(f"/v1/scopes/{scope}/streams", json={"streamName": "s", "scalingPolicy": policy})
    assert reply.status_code == 400, reply.text
    assert api.get(f"/v1/scopes/{scope}/streams/s").status_code == 404  # nothing created


def test_time_based_retention_round_trips(api: Any) -> None:
    scope = unique("rret")
    api.post("/v1/scopes", json={"scopeName": scope})
    retention = {"type": "LIMITED_DAYS", "timeBasedRetention": {"days": 1, "hours": 2, "minutes": 30}}
    reply = api.post(f"/v1/scopes/{scope}/streams", json={"streamName": "s", "retentionPolicy": retention})
    assert reply.status_code == 201
    assert reply.json()["retentionPolicy"]["timeBasedRetention"] == {"days": 1, "hours": 2, "minutes": 30}


def test_scaling_events(api: Any, server: ServerProcess) -> None:
    scope = unique("rscale")
    api.post("/v1/scopes", json={"scopeName": scope})
    api.post(f"/v1/scopes/{scope}/streams", json={"streamName": "s", "scalingPolicy": {"minSegments": 1}})
    before = int(time.time() * 1000) - 60_000
    with pravega.Client(server.controller_uri) as client:
        client.scale_stream(scope, "s", [0], [(0.0, 0.5), (0.5, 1.0)])
    after = int(time.time() * 1000) + 60_000
    reply = api.get(f"/v1/scopes/{scope}/streams/s/scaling-events", params={"from": before, "to": after})
    assert reply.status_code == 200, reply.text
    events = reply.json()["scalingEvents"]
    assert len(events) == 2
    assert [len(e["segmentList"]) for e in events] == [1, 2]
    assert events[1]["splits"] == 1 and events[1]["merges"] == 0
    assert [(s["keyStart"], s["keyEnd"]) for s in events[1]["segmentList"]] == [(0.0, 0.5), (0.5, 1.0)]
    last = events[1]["timestamp"]
    only_last = api.get(f"/v1/scopes/{scope}/streams/s/scaling-events", params={"from": last, "to": after})
    assert len(only_last.json()["scalingEvents"]) == 1
    path = f"/v1/scopes/{scope}/streams/s/scaling-events"
    assert api.get(path, params={"from": after, "to": before}).status_code == 400
    assert api.get(path, params={"from": "yesterday", "to": after}).status_code == 400
    assert api.get(path, params={"to": after}).status_code == 400
    assert api.get(f"/v1/scopes/{scope}/streams/nope/scaling-events", params={"from": 0, "to": 1}).status_code == 404


def test_reader_groups_of_this_client_and_of_the_official_one(api: Any, server: ServerProcess) -> None:
    import pravega_client

    scope = unique("rrg")
    api.post("/v1/scopes", json={"scopeName": scope})
    api.post(f"/v1/scopes/{scope}/streams", json={"streamName": "s"})
    assert api.get(f"/v1/scopes/{scope}/readergroups").json() == {"readerGroups": []}
    with pravega.Client(server.controller_uri) as client:
        group = client.create_reader_group("ours", scope, ["s"])
        reader = group.create_reader("reader-1")
        reader.read_next_event(timeout=0.5)
        manager = pravega_client.StreamManager(server.controller_uri)
        manager.create_reader_group("theirs", scope, "s")
        listed = api.get(f"/v1/scopes/{scope}/readergroups").json()
        assert listed == {"readerGroups": [{"readerGroupName": "ours"}, {"readerGroupName": "theirs"}]}
        ours = api.get(f"/v1/scopes/{scope}/readergroups/ours").json()
        assert ours == {
            "scopeName": scope,
            "readerGroupName": "ours",
            "streamList": [f"{scope}/s"],
            "onlineReaderIds": ["reader-1"],
        }
        theirs = api.get(f"/v1/scopes/{scope}/readergroups/theirs").json()
        assert theirs["readerGroupName"] == "theirs"
        assert theirs["streamList"] == [f"{scope}/s"]  # the official client's state, read in its own layout
        client.create_key_value_table(scope, "table")
        assert "table" not in {
            g["readerGroupName"] for g in api.get(f"/v1/scopes/{scope}/readergroups").json()["readerGroups"]
        }
        reader.close()
    assert api.get(f"/v1/scopes/{scope}/readergroups/nope").status_code == 404
    assert api.get(f"/v1/scopes/{unique('none')}/readergroups").status_code == 404


def test_health_probes(api: Any) -> None:
    health = api.get("/health")
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "UP" and body["readiness"] is True and body["liveness"] is True
    assert set(body["children"]) == {"controller", "segmentStore", "durableLog"}
    assert api.get("/health/liveness").json() is True
    assert api.get("/health/readiness").json() is True


def test_unknown_routes_and_methods_answer_json(api: Any) -> None:
    missing = api.get("/v1/nothing")
    assert missing.status_code == 404 and missing.json()["code"] == 404
    wrong = api.patch("/v1/scopes")
    assert wrong.status_code == 405 and wrong.json()["code"] == 405


def test_openapi_document_describes_exactly_the_routes(api: Any) -> None:
    doc = api.get("/v1/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops if m != "parameters"}
    served = {(m, p) for m, p, _ in ROUTES} | {("GET", "/health"), ("GET", "/health/liveness")}
    served |= {("GET", "/health/readiness"), ("GET", "/metrics")}
    assert documented == served


def test_a_taken_rest_port_stops_the_start_before_the_data_dir_is_touched(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        data = tmp_path / "data"
        done = subprocess.run(
            [sys.executable, "-m", "pravega_server", "--data-dir", str(data), "--controller-port", "0",
             "--segment-store-port", "0", "--rest-port", str(port)],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert done.returncode == 1
    assert f"cannot bind the REST API to 127.0.0.1:{port}" in done.stderr
    assert not data.exists()
