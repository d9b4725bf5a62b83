#!/usr/bin/env bash
# Regenerate the controller gRPC stubs from core/pravega/protocol/controller.proto.
# The generated files are checked in; tests/unit/protocol/test_proto_sync.py fails
# when they are out of date. Usage: scripts/gen_proto.sh [OUTPUT_ROOT]
# (OUTPUT_ROOT defaults to core; the files land in OUTPUT_ROOT/pravega/protocol/).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
if [ -n "${PYTHON:-}" ]; then
  python="$PYTHON"
elif [ -x .venv/bin/python ]; then
  python=.venv/bin/python
else
  python=python3
fi
out="${1:-core}"
mkdir -p "$out/pravega/protocol"
"$python" -m grpc_tools.protoc -I core \
  --python_out="$out" --pyi_out="$out" --grpc_python_out="$out" \
  core/pravega/protocol/controller.proto
