"""What a REST request acts on, for the authorizer: the same resources and permissions as
the controller's gRPC rules (creating a scope needs write permission on that scope,
listing a scope's streams read permission on the scope, ...)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

#: ``("scope", scope)``, ``("stream", scope, stream)`` or ``("reader-group", scope, group)``.
Resource = tuple[str, ...]
#: ``authorize(principal, resource, write)`` returns or raises to refuse with 403.
Authorizer = Callable[[Any, Resource, bool], None]

AUTHORIZER = web.AppKey("authorizer", object)
#: Where handlers find the authenticated principal (``request[PRINCIPAL]``).
PRINCIPAL: Any = web.RequestKey("principal", object) if hasattr(web, "RequestKey") else "principal"


def visible(request: web.Request, resource: Resource) -> bool:
    """Whether the caller may read ``resource``: listings leave out what it may not
    (as the gRPC listings do). Always true without an authorizer."""
    authorize: Authorizer | None = request.app.get(AUTHORIZER)  # type: ignore[assignment]
    if authorize is None:
        return True
    try:
        authorize(request.get(PRINCIPAL), resource, False)
    except Exception:
        return False
    return True


async def _body_name(request: web.Request, key: str) -> str | None:
    try:
        body = await request.json()  # aiohttp keeps the bytes: the handler reads them again
    except ValueError:
        return None
    value = body.get(key) if isinstance(body, dict) else None
    return value if isinstance(value, str) else None


async def resource_of(request: web.Request) -> tuple[Resource, bool] | None:
    """(resource, write?) of a /v1 request; None when authentication alone suffices
    (listing the scopes) or the request is malformed (its handler answers 400/404)."""
    info = request.match_info
    write = request.method not in ("GET", "HEAD", "OPTIONS")
    scope = info.get("scopeName")
    if scope is None:
        if not write:
            return None
        name = await _body_name(request, "scopeName")
        return (("scope", name), True) if name else None
    if "streamName" in info:
        return ("stream", scope, info["streamName"]), write
    if "readerGroupName" in info:
        return ("reader-group", scope, info["readerGroupName"]), write
    if request.path.endswith("/streams") and write:
        name = await _body_name(request, "streamName")
        return (("stream", scope, name), True) if name else None
    if request.path.endswith(("/streams", "/readergroups")):
        return ("scope", scope), False
    return ("scope", scope), write
