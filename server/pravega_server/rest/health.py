"""``/health``, ``/health/liveness`` and ``/health/readiness`` (Pravega's health endpoints).

The server hands in a callable returning its components' state, ``{"name": up?}``.
Alive: the event loop answers and the durable log has not failed. Ready: alive, and
every component is up. A component that is down makes readiness 503, not liveness.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

HealthCheck = Callable[[], dict[str, bool]]
HEALTH: web.AppKey[HealthCheck] = web.AppKey("health")
LOG_COMPONENT = "durableLog"


def _state(request: web.Request) -> tuple[dict[str, bool], bool, bool]:
    components = request.app[HEALTH]()
    alive = components.get(LOG_COMPONENT, True)
    ready = alive and all(components.values())
    return components, alive, ready


async def health(request: web.Request) -> web.Response:
    components, alive, ready = _state(request)
    body = {
        "name": "pravega-native",
        "status": "UP" if ready else ("DOWN" if not alive else "STARTING"),
        "readiness": ready,
        "liveness": alive,
        "details": {},
        "children": {
            name: {"name": name, "status": "UP" if up else "DOWN", "readiness": up, "liveness": up}
            for name, up in components.items()
        },
    }
    return web.json_response(body, status=200 if ready else 503)


async def liveness(request: web.Request) -> web.Response:
    _, alive, _ = _state(request)
    return web.json_response(alive, status=200 if alive else 503)


async def readiness(request: web.Request) -> web.Response:
    _, _, ready = _state(request)
    return web.json_response(ready, status=200 if ready else 503)


ROUTES = [
    ("GET", "/health", health),
    ("GET", "/health/liveness", liveness),
    ("GET", "/health/readiness", readiness),
]
