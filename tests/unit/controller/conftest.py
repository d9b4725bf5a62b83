from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(params=["memory", "disk"])
def data_dir(request: pytest.FixtureRequest, tmp_path: Path) -> Path | None:
    """Run a test on the in-memory engine and on an on-disk engine."""
    return None if request.param == "memory" else tmp_path / "data"
