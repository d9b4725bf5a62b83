"""Container tests: skipped, naming the missing precondition, when Docker or the image is missing.

``bash scripts/test.sh`` runs ``scripts/docker_setup.sh`` first (installs and starts Docker,
builds ``pravega-native:dev``); its failure reason is kept in ``build/docker/setup-status``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest.importorskip("testcontainers", reason="the container tests need testcontainers (the 'testing' extra)")

from pravega.testing.container import DEFAULT_IMAGE, docker_unavailable_reason

ROOT = Path(__file__).resolve().parents[3]
STATUS = ROOT / "build" / "docker" / "setup-status"


@pytest.fixture(scope="session")
def image() -> str:
    return os.environ.get("PRAVEGA_TEST_IMAGE") or DEFAULT_IMAGE


@pytest.fixture(autouse=True, scope="session")
def _docker_available(image: str) -> None:
    reason = docker_unavailable_reason(image)
    if reason is None:
        return
    setup = STATUS.read_text().strip() if STATUS.exists() else "scripts/docker_setup.sh has not run"
    if setup.startswith("ok"):
        setup = "scripts/docker_setup.sh succeeded earlier"
    pytest.skip(f"Docker unavailable: {reason}; docker setup: {setup}")
