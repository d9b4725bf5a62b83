#!/usr/bin/env bash
# Make Docker usable here and build the project's container image. Idempotent: on a
# machine where everything is in place it only checks, and rebuilds the image only when
# the sources changed.
#
#   1. install Debian's docker.io if dockerd is missing (apt-get; needs root);
#   2. start dockerd if no daemon answers: no bridge, no iptables (containers use host
#      networking), storage driver overlay2, falling back to vfs;
#   3. if the base image is missing and it is the local one, build it: a minimal Debian 12
#      root filesystem with python3 made by mmdebstrap and loaded with `docker import`
#      (about a minute, once per machine; no registry needed), with this machine's extra
#      CA certificates (the HTTPS proxy's) so pip works inside containers built on it;
#   4. build the project's wheel and its dependencies' wheels (pip, from PyPI or its
#      cache) and the image from docker/Dockerfile, installed offline from those wheels.
#
# Settings (environment):
#   PRAVEGA_IMAGE          image to build (default pravega-native:dev)
#   PRAVEGA_BASE_IMAGE     base image (default pravega-native-base:bookworm-py3.11, built
#                          here; e.g. python:3.11-slim where Docker Hub is reachable)
#   PRAVEGA_DEBIAN_MIRROR  Debian mirror for the local base (default http://deb.debian.org/debian)
#   PRAVEGA_DOCKERD_LOG    dockerd's log file (default /var/log/pravega-dockerd.log)
#   PRAVEGA_FORCE_BUILD=1  rebuild the project image even if the sources did not change
#
# Exit status 0 when the image is ready. Otherwise non-zero with the reason on stderr and
# in build/docker/setup-status, which the container tests show when they skip.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

IMAGE="${PRAVEGA_IMAGE:-pravega-native:dev}"
LOCAL_BASE="pravega-native-base:bookworm-py3.11"
BASE_IMAGE="${PRAVEGA_BASE_IMAGE:-$LOCAL_BASE}"
MIRROR="${PRAVEGA_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
DOCKERD_LOG="${PRAVEGA_DOCKERD_LOG:-/var/log/pravega-dockerd.log}"
STAGE="$root/build/docker"
STATUS="$STAGE/setup-status"
HASH_LABEL="org.pravega-native.source-hash"
export DOCKER_BUILDKIT=0   # the classic builder: no buildx plugin needed, same behaviour everywhere

mkdir -p "$STAGE"
t0=$SECONDS
say() { echo "docker_setup: $*" >&2; }
fail() {
  say "FAILED: $*"
  printf '%s\n' "$*" > "$STATUS"
  exit 1
}
is_root() { [ "$(id -u)" = 0 ]; }
daemon_up() { docker info > /dev/null 2>&1; }

# -- 1. the engine ----------------------------------------------------------------------
if ! command -v dockerd > /dev/null 2>&1 && ! daemon_up; then
  is_root || fail "Docker is not installed and installing it needs root (apt-get install docker.io)"
  command -v apt-get > /dev/null 2>&1 || fail "Docker is not installed and apt-get is not available"
  say "installing docker.io (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq > "$STAGE/apt.log" 2>&1 || true   # a failing third-party list must not stop us
  apt-get install -y -qq --no-install-recommends docker.io >> "$STAGE/apt.log" 2>&1 \
    || fail "apt-get install docker.io failed (see $STAGE/apt.log)"
fi
command -v docker > /dev/null 2>&1 || fail "the docker command line client is missing"

# -- 2. the daemon ----------------------------------------------------------------------
pid_alive() {  # running, and not a zombie left by a killed process
  case "$(ps -o stat= -p "$1" 2> /dev/null)" in Z*|"") return 1 ;; *) return 0 ;; esac
}
dockerd_running() {
  local pid
  for pid in $(pgrep -x dockerd 2> /dev/null); do
    pid_alive "$pid" && return 0
  done
  return 1
}
start_dockerd() {  # $1: storage driver
  local pidfile=/var/run/docker.pid
  if [ -f "$pidfile" ] && ! pid_alive "$(cat "$pidfile")"; then
    rm -f "$pidfile"   # left by a daemon that died
  fi
  say "starting dockerd (storage driver $1, log $DOCKERD_LOG)"
  setsid nohup dockerd --iptables=false --ip6tables=false --bridge=none --storage-driver="$1" \
    >> "$DOCKERD_LOG" 2>&1 < /dev/null &
  local pid=$!
  for _ in $(seq 1 150); do
    daemon_up && return 0
    pid_alive "$pid" || return 1
    sleep 0.2
  done
  kill "$pid" 2> /dev/null || true
  return 1
}
if ! daemon_up; then
  is_root || fail "no Docker daemon answers and starting one needs root (dockerd)"
  if dockerd_running; then
    for _ in $(seq 1 100); do daemon_up && break; sleep 0.2; done   # one is starting
  fi
  if ! daemon_up; then
    start_dockerd overlay2 || start_dockerd vfs \
      || fail "dockerd did not start (see $DOCKERD_LOG)"
  fi
fi
say "daemon ready: $(docker info --format '{{.ServerVersion}}, storage {{.Driver}}' 2> /dev/null)"

# -- 3. the base image ------------------------------------------------------------------
image_id() { docker image inspect --format '{{.Id}}' "$1" 2> /dev/null || true; }
if [ -z "$(image_id "$BASE_IMAGE")" ]; then
  if [ "$BASE_IMAGE" != "$LOCAL_BASE" ]; then
    say "base image $BASE_IMAGE is not here; docker build will try to pull it"
  else
    is_root || fail "building the local base image needs root (mmdebstrap)"
    if ! command -v mmdebstrap > /dev/null 2>&1; then
      say "installing mmdebstrap (apt-get)"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq > "$STAGE/apt.log" 2>&1 || true
      apt-get install -y -qq --no-install-recommends mmdebstrap >> "$STAGE/apt.log" 2>&1 \
        || fail "apt-get install mmdebstrap failed (see $STAGE/apt.log)"
    fi
    say "building the local base image $BASE_IMAGE (Debian 12 + python3, mmdebstrap; about a minute)"
    tb=$SECONDS
    rootfs="$STAGE/base-rootfs.tar"
    # The machine's own extra CA certificates (the HTTPS proxy's) go into the image's store.
    ca_hook='true'
    if compgen -G '/usr/local/share/ca-certificates/*.crt' > /dev/null; then
      ca_hook='cp /usr/local/share/ca-certificates/*.crt "$1/usr/local/share/ca-certificates/" && chroot "$1" update-ca-certificates > /dev/null'
    fi
    mmdebstrap --variant=minbase --mode=root \
      --include=python3,python3-venv,ca-certificates \
      --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
      --aptopt='Acquire::Languages "none"' \
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
      --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
      --dpkgopt='path-exclude=/usr/share/locale/*' \
      --customize-hook="$ca_hook" \
      bookworm "$rootfs" \
      "deb $MIRROR bookworm main" "deb $MIRROR bookworm-updates main" \
      "deb ${MIRROR%/debian}/debian-security bookworm-security main" \
      > "$STAGE/mmdebstrap.log" 2>&1 \
      || fail "mmdebstrap failed (see $STAGE/mmdebstrap.log)"
    docker import \
      --change 'ENV LANG=C.UTF-8' \
      --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
      --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
      --change 'CMD ["python3"]' \
      --message "Debian 12 minbase + python3 (mmdebstrap), built by scripts/docker_setup.sh" \
      "$rootfs" "$BASE_IMAGE" > /dev/null \
      || fail "docker import of the base root filesystem failed"
    rm -f "$rootfs"
    say "base image built in $((SECONDS - tb)) s"
  fi
fi

# -- 4. the project image ---------------------------------------------------------------
# Rebuild only when something the server runs changed: core/ and server/, the project
# file, the Dockerfile, the entry point or the base image. (connectors/ go into the wheel
# too but the server does not use them, so changes there alone do not cause a rebuild.)
source_hash() {
  {
    echo "base=$BASE_IMAGE $(image_id "$BASE_IMAGE")"
    find pyproject.toml README.md docker core server -type f \
      -not -path '*/__pycache__/*' -not -name '*.pyc' -not -path '*/target/*' -print0 \
      | sort -z | xargs -0 sha256sum
  } | sha256sum | cut -c1-32
}
want="$(source_hash)"
have="$(docker image inspect --format "{{index .Config.Labels \"$HASH_LABEL\"}}" "$IMAGE" 2> /dev/null || true)"
if [ "$want" = "$have" ] && [ "${PRAVEGA_FORCE_BUILD:-0}" != 1 ]; then
  say "image $IMAGE is up to date (sources $want)"
else
  say "building $IMAGE on $BASE_IMAGE"
  tw=$SECONDS
  python="$root/.venv/bin/python"
  [ -x "$python" ] || python=python3
  rm -rf "$STAGE/wheels"
  "$python" -m pip wheel --quiet --disable-pip-version-check --prefer-binary \
    --wheel-dir "$STAGE/wheels" ".[fast]" pip > "$STAGE/pip-wheel.log" 2>&1 \
    || fail "pip wheel of the project failed (see $STAGE/pip-wheel.log)"
  cp docker/entrypoint.sh "$STAGE/entrypoint.sh"
  old_id="$(image_id "$IMAGE")"
  tb=$SECONDS
  docker build --network host --quiet \
    --build-arg "BASE_IMAGE=$BASE_IMAGE" \
    --label "$HASH_LABEL=$want" \
    --label "org.opencontainers.image.title=pravega-native" \
    --label "org.opencontainers.image.source=docker/Dockerfile" \
    -t "$IMAGE" -f docker/Dockerfile "$STAGE" > "$STAGE/docker-build.log" 2>&1 \
    || fail "docker build failed (see $STAGE/docker-build.log)"
  new_id="$(image_id "$IMAGE")"
  if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then
    docker image rm "$old_id" > /dev/null 2>&1 || true   # the replaced build, if nothing uses it
  fi
  # The install stage's image is untagged and of no further use (~50 MB each build).
  docker image prune --force --filter label=org.pravega-native.stage=install > /dev/null 2>&1 || true
  say "image built: wheels $((tb - tw)) s, docker build $((SECONDS - tb)) s"
fi
size="$(docker image inspect --format '{{.Size}}' "$IMAGE")"
say "ready: $IMAGE ($((size / 1000000)) MB) in $((SECONDS - t0)) s"
printf 'ok %s\n' "$IMAGE" > "$STATUS"
