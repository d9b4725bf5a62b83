"""The checked-in controller gRPC stubs match core/pravega/protocol/controller.proto."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
GENERATED = ("controller_pb2.py", "controller_pb2.pyi", "controller_pb2_grpc.py")

if importlib.util.find_spec("grpc_tools") is None:
    pytest.skip("grpc_tools (grpcio-tools) is not installed; cannot regenerate the stubs", allow_module_level=True)


def test_generated_files_are_up_to_date(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHON=sys.executable)
    subprocess.run(["bash", str(ROOT / "scripts" / "gen_proto.sh"), str(tmp_path)], check=True, env=env, cwd=ROOT)
    for name in GENERATED:
        fresh = (tmp_path / "pravega" / "protocol" / name).read_text()
        checked_in = (ROOT / "core" / "pravega" / "protocol" / name).read_text()
        assert fresh == checked_in, f"{name} is out of date: run scripts/gen_proto.sh"


def test_grpc_module_imports_the_package_module() -> None:
    text = (ROOT / "core" / "pravega" / "protocol" / "controller_pb2_grpc.py").read_text()
    assert "from pravega.protocol import controller_pb2" in text


def test_service_has_every_rpc() -> None:
    sys.path.insert(0, str(ROOT / "core"))
    from pravega.protocol import controller_pb2 as pb

    service = pb.DESCRIPTOR.services_by_name["ControllerService"]
    assert pb.DESCRIPTOR.package == "io.pravega.controller.stream.api.grpc.v1"
    assert len(service.methods) == 47
    assert service.methods_by_name["getSegmentsImmediatlyFollowing"].output_type.name == "SuccessorResponse"
