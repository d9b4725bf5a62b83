"""Prometheus metrics, read at scrape time from the counters the server already keeps.

Nothing here runs on the append or read path: a custom collector (:mod:`.collector`)
walks the engine's segments, the connections and the controller's model when
Prometheus scrapes ``/metrics``, and reads the histograms those paths fill
(:mod:`pravega_server.stats`, plain objects without a lock). Names follow Pravega's where one applies
(``segmentstore_segment_write_bytes``, ``controller_...``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from .collector import ServerCollector

if TYPE_CHECKING:
    from ..app import PravegaServer


def registry_for(server: PravegaServer) -> CollectorRegistry:
    """A registry of this server's own (several servers may share a process)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ServerCollector(server))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry


def metrics_handler(server: PravegaServer) -> Any:
    """An aiohttp handler serving the Prometheus text format."""
    return rest_metrics(server)[0]


def rest_metrics(server: PravegaServer) -> tuple[Any, Any]:
    """(handler of ``/metrics``, middleware timing the REST requests): the REST API's own
    request counts and latency histogram go into the same registry as the server's."""
    registry = registry_for(server)
    latency = Histogram(
        "rest_request_duration_seconds",
        "Time to answer a REST request, by route and method",
        ["method", "route"],
        registry=registry,
    )
    answered = Counter(
        "rest_requests",
        "REST requests answered, by route, method and status",
        ["method", "route", "status"],
        registry=registry,
    )

    async def metrics(request: web.Request) -> web.Response:
        await server.before_scrape()
        body = generate_latest(registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    @web.middleware
    async def timing(request: web.Request, handler: Any) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            resource = request.match_info.route.resource
            route = resource.canonical if resource is not None else "unmatched"
            latency.labels(request.method, route).observe(time.perf_counter() - started)
            answered.labels(request.method, route, str(status)).inc()

    return metrics, timing


__all__ = ["ServerCollector", "metrics_handler", "registry_for", "rest_metrics"]
