"""Prometheus metrics, read at scrape time from the counters the server already keeps.

Nothing here runs on the append or read path: a custom collector (:mod:`.collector`)
walks the engine's segments, the connections and the controller's model when
Prometheus scrapes ``/metrics``. Names follow Pravega's where one applies
(``segmentstore_segment_write_bytes``, ``controller_...``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
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
    registry = registry_for(server)

    async def metrics(request: web.Request) -> web.Response:
        body = generate_latest(registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    return metrics


__all__ = ["ServerCollector", "metrics_handler", "registry_for"]
