"""The REST API (Pravega's ``/v1`` controller API), health probes and the OpenAPI document.

An aiohttp application served from the server's own event loop on its own port
(Pravega's default 9091). :func:`start_rest` returns a running :class:`RestServer`.
"""

from __future__ import annotations

from .app import Authenticator, RestServer, build_app, start_rest

__all__ = ["Authenticator", "RestServer", "build_app", "start_rest"]
