"""The official Python client (pravega 0.3.8) against this controller over gRPC.

Only controller calls are exercised (no segment store is running). The client's calls
block while holding the GIL, so the controller runs in a subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pravega_client = pytest.importorskip("pravega_client", reason="the official client (pravega==0.3.8) is not installed")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]


class ControllerProcess:
    def __init__(self, data_dir: Path, page_size: int) -> None:
        self.args = [
            sys.executable,
            str(HERE / "controller_harness.py"),
            "--data-dir",
            str(data_dir),
            "--page-size",
            str(page_size),
        ]
        self.proc: subprocess.Popen | None = None
        self.port = 0

    def __enter__(self) -> ControllerProcess:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(ROOT / "core"), str(ROOT / "server"), str(HERE)] + ([env["PYTHONPATH"]] if "PYTHONPATH" in env else [])
        )
        self.proc = subprocess.Popen(
            self.args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.startswith("PORT "), f"controller did not start: {line!r}"
        self.port = int(line.split()[1])
        return self

    def __exit__(self, *exc) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def test_stream_manager_against_controller(tmp_path: Path) -> None:
    with ControllerProcess(tmp_path / "data", page_size=2) as controller:
        manager = pravega_client.StreamManager(f"tcp://127.0.0.1:{controller.port}")
        assert manager.create_scope("sc1") is True
        assert manager.create_scope("sc1") is False
        assert manager.create_stream("sc1", "st1", 3) is True
        assert manager.create_stream("sc1", "st1", 3) is False
        for name in ("st2", "st3", "st4"):
            assert manager.create_stream("sc1", name, 1) is True
        # more than one page (page size 2) must come back complete
        assert sorted(manager.list_stream("sc1")) == ["st1", "st2", "st3", "st4"]
        assert "sc1" in manager.list_scope()

        scaling = pravega_client.StreamScalingPolicy.fixed_scaling_policy(2)
        retention = pravega_client.StreamRetentionPolicy.by_time(60_000)
        assert manager.create_stream_with_policy("sc1", "tagged", scaling, retention, ["a", "b"]) is True
        assert sorted(manager.get_stream_tags("sc1", "tagged")) == ["a", "b"]
        assert manager.update_stream_with_policy("sc1", "tagged", scaling, retention, ["c"]) is True
        assert manager.get_stream_tags("sc1", "tagged") == ["c"]
        assert manager.get_stream_tags("sc1", "st1") in ([], None)

        assert manager.seal_stream("sc1", "st1") is True
        assert manager.seal_stream("sc1", "st1") is True
        assert manager.delete_stream("sc1", "st1") is True
        assert manager.delete_stream("sc1", "st1") is False
        assert sorted(manager.list_stream("sc1")) == ["st2", "st3", "st4", "tagged"]

        for name in ("st2", "st3", "st4", "tagged"):
            assert manager.seal_stream("sc1", name) is True
            assert manager.delete_stream("sc1", name) is True
        assert manager.list_stream("sc1") == []
        assert manager.delete_scope("sc1") is True
        assert manager.delete_scope("sc1") is False
        assert "sc1" not in manager.list_scope()
