#!/usr/bin/env bash
# Set up the environment and run the whole test suite.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh"
cd "$root"
# Conventions that run: formatting, lint and types fail the run before any test starts.
.venv/bin/ruff format --check .
.venv/bin/ruff check .
# mypy over everything pyproject.toml configures (core, server, connectors; strict on the
# wire codec and the storage code).
.venv/bin/mypy
# Docker and the pravega-native image for tests/e2e/container; if this fails those tests
# skip, naming the reason (kept in build/docker/setup-status).
bash scripts/docker_setup.sh \
  || echo "test.sh: Docker setup failed; the container tests will skip: $(cat build/docker/setup-status 2>/dev/null)" >&2
remove_leftover_containers() {
  command -v docker > /dev/null 2>&1 || return 0
  local ids
  ids="$(docker ps -aq --filter label=org.testcontainers=true 2> /dev/null || true)"
  if [ -n "$ids" ]; then
    docker rm -f -v $ids > /dev/null 2>&1 || true
  fi
}
trap remove_leftover_containers EXIT
# The test servers run split into segment containers (--containers 2: a supervisor with the
# controller, two container processes; the default of tests/conftest.py), as on a multi-core
# machine by default; then the conformance tests with the official client once more against
# the single-process server (--containers 1, the embedded server's layout).
PRAVEGA_TEST_CONTAINERS=2 .venv/bin/python -m pytest "$@"
if [ "$#" -eq 0 ]; then
  PRAVEGA_TEST_CONTAINERS=1 .venv/bin/python -m pytest tests/conformance
fi
