"""Fixtures for the PyFlink connector tests: one durable server and one PyFlink JVM (the
local mini-cluster runs inside PyFlink's gateway JVM, which every job of the session shares).

Temporary files, Flink logs and the JVM's temp dir go to one directory per session; the
connector jar is built once per source digest into the usual cache (``PRAVEGA_FLINK_CACHE``
overrides it).
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("pyflink")

from flink_testkit import FlinkRun

from pravega.testing import ServerProcess


@pytest.fixture(scope="session")
def flink_dirs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("flink")
    for name in ("tmp", "log"):
        (base / name).mkdir()
    # Read when the gateway JVM and the Python workers start: set before any job runs.
    os.environ["TMPDIR"] = str(base / "tmp")
    os.environ["FLINK_LOG_DIR"] = str(base / "log")
    os.environ["JVM_ARGS"] = f"-Djava.io.tmpdir={base / 'tmp'}"
    return base


@pytest.fixture(scope="session")
def flink_server(flink_dirs: Path) -> Iterator[ServerProcess]:
    """A durable server for all connector tests."""
    # Auto-scaling on a seconds time scale (only streams with a rate policy scale).
    autoscale = ["--autoscale-windows", "0.5,1,2,4", "--autoscale-cooldown", "1.5", "--autoscale-mute", "1.5"]
    with ServerProcess(flink_dirs / "server-data", extra_args=[*autoscale, "--autoscale-interval", "0.2"]) as proc:
        yield proc


@pytest.fixture
def run(flink_server: ServerProcess, flink_dirs: Path, tmp_path: Path) -> Iterator[FlinkRun]:
    """Per-test helpers: a fresh scope, environments, an event log written by the connector's test jar."""
    r = FlinkRun(flink_server.controller_uri, "fl" + uuid.uuid4().hex[:8], tmp_path, sys.executable)
    try:
        yield r
    finally:
        r.close()
