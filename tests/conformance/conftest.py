"""Fixtures for the official-client conformance tests: one server and one scope per module."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

pravega_client = pytest.importorskip("pravega_client")


@pytest.fixture(scope="module")
def manager(server) -> pravega_client.StreamManager:
    """A `StreamManager` of the official client, talking to the module's server."""
    return pravega_client.StreamManager(server.controller_uri)


@pytest.fixture(scope="module")
def scope(manager) -> Iterator[str]:
    """A scope of the module's own (streams inside are named per test)."""
    name = "conf" + uuid.uuid4().hex[:10]
    assert manager.create_scope(name) is True
    yield name
