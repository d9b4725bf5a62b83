"""``--containers``: a count, or ``auto`` (the data directory's count, else one per core)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pravega_server.__main__ import default_containers, parse_args


def test_auto_is_one_per_core_for_a_new_directory_and_one_in_memory(tmp_path: Path) -> None:
    cores = len(os.sched_getaffinity(0))
    assert default_containers(tmp_path / "new") == min(cores, 256)
    assert default_containers(None) == 1
    assert parse_args(["--data-dir", str(tmp_path / "new")]).containers == min(cores, 256)
    assert parse_args(["--in-memory"]).containers == 1
    assert parse_args(["--in-memory", "--containers", "3"]).containers == 3


def test_auto_keeps_the_count_the_directory_was_created_with(tmp_path: Path) -> None:
    several = tmp_path / "several"
    several.mkdir()
    (several / "containers.json").write_text(json.dumps({"containers": 3}))
    assert parse_args(["--data-dir", str(several), "--containers", "auto"]).containers == 3
    single = tmp_path / "single"
    (single / "wal").mkdir(parents=True)
    assert parse_args(["--data-dir", str(single)]).containers == 1


def test_bad_counts_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    for bad in ("many", "0", "257"):
        with pytest.raises(SystemExit):
            parse_args(["--in-memory", "--containers", bad])
        assert "--containers" in capsys.readouterr().err
