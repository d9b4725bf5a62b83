#!/usr/bin/env bash
# Set up the environment and run the demo: an embedded durable server, a write and a read.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh"
cd "$root"
exec .venv/bin/python examples/demo.py "$@"
