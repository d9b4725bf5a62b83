"""Shared fixtures: a real ``pravega-server`` process per test module or per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pravega.testing import ServerProcess

# The tests' servers are split into two segment containers (a supervisor and two container
# processes) unless PRAVEGA_TEST_CONTAINERS says otherwise (scripts/test.sh runs the
# conformance tests again with 1). Set before any server starts, so subprocesses see it too.
os.environ.setdefault("PRAVEGA_TEST_CONTAINERS", "2")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A durable server shared by the tests of one module."""
    data = tmp_path_factory.mktemp("server") / "data"
    with ServerProcess(data) as proc:
        yield proc


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A durable server of the test's own, for tests that kill or restart it."""
    with ServerProcess(tmp_path / "data") as proc:
        yield proc
