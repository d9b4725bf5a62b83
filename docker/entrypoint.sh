#!/bin/sh
# Container entry point: run pravega-server with the environment as its configuration.
#
# The server reads PRAVEGA_DATA_DIR, PRAVEGA_HOST, PRAVEGA_CONTROLLER_PORT,
# PRAVEGA_SEGMENT_STORE_PORT, PRAVEGA_ADVERTISED_HOST, PRAVEGA_ADVERTISED_PORT,
# PRAVEGA_REST_PORT (REST API, health, metrics; default 9091) and PRAVEGA_LOG_LEVEL
# itself; arguments given to the container are passed on
# (e.g. `--in-memory`, `--no-fsync`). Security, from mounted files: PRAVEGA_TLS_CERT,
# PRAVEGA_TLS_KEY, PRAVEGA_TLS_CLIENT_CA (TLS on both ports), PRAVEGA_AUTH_PASSWORD_FILE,
# PRAVEGA_AUTH_TOKEN_KEY_FILE, PRAVEGA_AUTH_TOKEN_TTL (users, permissions, tokens); the
# HEALTHCHECK pings over TLS when PRAVEGA_TLS_CERT is set.
#
# The segment-store address the controller hands to clients (the advertised host) is,
# in order: PRAVEGA_ADVERTISED_HOST; HOST_IP (as in the official pravega/pravega image);
# 127.0.0.1 when the server binds a wildcard address (right for `docker run -p ...` on
# the machine the clients run on); else the bind address.
set -e
if [ -z "${PRAVEGA_ADVERTISED_HOST:-}" ]; then
    if [ -n "${HOST_IP:-}" ]; then
        export PRAVEGA_ADVERTISED_HOST="$HOST_IP"
    else
        case "${PRAVEGA_HOST:-}" in
            0.0.0.0|::|"[::]") export PRAVEGA_ADVERTISED_HOST=127.0.0.1 ;;
        esac
    fi
fi
exec pravega-server "$@"
