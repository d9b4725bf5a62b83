"""The aiohttp application: routes, error handling, the authentication hook, start/stop."""

from __future__ import annotations

import inspect
import json
import logging
import socket
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web

from ..controller.service import ControllerService
from ..controller.status import ControllerError, NotFound
from . import health, resources
from .authz import AUTHORIZER, PRINCIPAL, Authorizer, resource_of
from .openapi import document
from .shapes import BadRequest

log = logging.getLogger(__name__)

#: Checks the ``Authorization`` header's value (None when absent) and returns the
#: principal, or raises to refuse the request with 401. May be a coroutine function.
Authenticator = Callable[[str | None], Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

AUTHENTICATOR = web.AppKey("authenticator", object)
#: Paths served without authentication: probes, the scrape endpoint, the API's description.
OPEN_PATHS = ("/health", "/metrics", "/v1/openapi.json")


def _json_error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        text=json.dumps({"code": status, "message": message}),
        status=status,
        content_type="application/json",
        headers=headers,
    )


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error answers with a JSON body: 400 for invalid content, 404/405 for unknown
    routes, 500 (logged) for a failure of the server."""
    try:
        return await handler(request)
    except BadRequest as exc:
        return _json_error(400, str(exc))
    except NotFound as exc:
        return _json_error(404, str(exc))
    except ControllerError as exc:
        return _json_error(400 if exc.code == "INVALID_ARGUMENT" else 500, str(exc))
    except web.HTTPException as exc:
        if exc.content_type == "application/json" or exc.status < 400:
            raise
        return _json_error(exc.status, exc.reason, headers={k: v for k, v in exc.headers.items() if k == "Allow"})
    except Exception:
        log.exception("REST %s %s failed", request.method, request.path)
        return _json_error(500, "internal server error (see the server log)")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The one place authentication plugs in: with an authenticator configured, every
    request outside :data:`OPEN_PATHS` must pass it; its principal is ``request[PRINCIPAL]``."""
    authenticate = request.app.get(AUTHENTICATOR)
    if authenticate is None or request.path.startswith(OPEN_PATHS):
        return await handler(request)
    try:
        principal = authenticate(request.headers.get("Authorization"))  # type: ignore[operator]
        if inspect.isawaitable(principal):
            principal = await principal
    except Exception as exc:
        return _json_error(401, f"authentication failed: {exc}", {"WWW-Authenticate": 'Basic realm="pravega"'})
    request[PRINCIPAL] = principal
    authorize: Authorizer | None = request.app.get(AUTHORIZER)  # type: ignore[assignment]
    if authorize is not None and request.match_info.route.resource is not None:
        target = await resource_of(request)
        if target is not None:
            try:
                authorize(principal, *target)
            except Exception as exc:
                return _json_error(403, f"permission denied: {exc}")
    return await handler(request)


def build_app(
    controller: ControllerService,
    health_check: health.HealthCheck,
    *,
    authenticator: Authenticator | None = None,
    authorizer: Authorizer | None = None,
    metrics_handler: Handler | None = None,
    middlewares: Sequence[Any] = (),
    reader_group_tables: Callable[[str], Awaitable[dict[str, dict[str, Any]]]] | None = None,
) -> web.Application:
    """``authenticator`` guards every /v1 request (401); then ``authorizer`` decides on
    the resource the request acts on (403); see :mod:`.authz`."""
    app = web.Application(middlewares=[*middlewares, errors_middleware, auth_middleware], client_max_size=1024 * 1024)
    app[resources.CONTROLLER] = controller
    app[health.HEALTH] = health_check
    if reader_group_tables is not None:
        app[resources.GROUP_TABLES] = reader_group_tables
    if authenticator is not None:
        app[AUTHENTICATOR] = authenticator
        if authorizer is not None:
            app[AUTHORIZER] = authorizer
    for method, path, handler in (*resources.ROUTES, *health.ROUTES):
        app.router.add_route(method, path, handler)
    if metrics_handler is not None:
        app.router.add_get("/metrics", metrics_handler)
    spec = document(with_metrics=metrics_handler is not None)

    async def openapi(request: web.Request) -> web.Response:
        return web.json_response(spec)

    app.router.add_get("/v1/openapi.json", openapi)
    return app


#: Longest request line or header accepted (bytes).
MAX_LINE = 256 * 1024


class RestServer:
    """A running REST listener; :attr:`port` is the bound port."""

    def __init__(self, runner: web.AppRunner, port: int) -> None:
        self._runner = runner
        self.port = port

    async def stop(self) -> None:
        await self._runner.cleanup()


async def start_rest(app: web.Application, sock: socket.socket, ssl_context: Any = None) -> RestServer:
    """Serve ``app`` on ``sock`` (bound and listening; HTTPS with ``ssl_context``)."""
    # Long request lines and headers (aiohttp's default limit is 8190 bytes) reach the
    # handlers, which answer with the documented JSON errors; beyond this the HTTP parser
    # answers 400 in plain text before any handler runs.
    runner = web.AppRunner(app, access_log=None, handle_signals=False, max_line_size=MAX_LINE, max_field_size=MAX_LINE)
    await runner.setup()
    site = web.SockSite(runner, sock, ssl_context=ssl_context)
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    return RestServer(runner, sock.getsockname()[1])
