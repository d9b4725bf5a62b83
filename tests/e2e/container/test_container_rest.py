"""The image's REST port: health probes, the /v1 API and metrics of a server in a
container, reached through the port the testcontainers module publishes."""

from __future__ import annotations

import uuid
from typing import Any

import requests


def test_rest_health_api_and_metrics_of_a_container(pravega_container_factory: Any) -> None:
    container = pravega_container_factory().with_in_memory()
    container.start()
    base = container.rest_uri
    assert requests.get(f"{base}/health/readiness", timeout=60).json() is True
    scope = f"ctr{uuid.uuid4().hex[:8]}"
    assert requests.post(f"{base}/v1/scopes", json={"scopeName": scope}, timeout=60).status_code == 201
    with container.get_client() as client:
        assert scope in client.list_scopes()  # the REST API and the controller share the model
        client.create_stream(scope, "s")
    streams = requests.get(f"{base}/v1/scopes/{scope}/streams", timeout=60).json()["streams"]
    assert [s["streamName"] for s in streams] == ["s"]
    metrics = requests.get(f"{base}/metrics", timeout=60).text
    assert "controller_streams" in metrics and "segmentstore_segments" in metrics
