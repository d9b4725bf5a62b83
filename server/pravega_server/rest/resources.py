"""Handlers of the ``/v1`` resources: scopes, streams, scaling events, reader groups.

Status codes follow Pravega's ``Controller.yaml``: 201 on create, 204 on delete, 404 for
a missing scope/stream/group, 409 when it exists already, 412 for a scope that is not
empty or a stream that is not sealed, 400 for invalid content. Error bodies are
``{"code": <status>, "message": "..."}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from pravega import naming

from ..controller.model import StreamConfig
from ..controller.service import ControllerService
from ..controller.status import ControllerError, Status
from .authz import visible
from .shapes import BadRequest, apply_request, scale_event_json, stream_json

CONTROLLER = web.AppKey("controller", ControllerService)


def error(status: int, message: str) -> web.Response:
    return web.json_response({"code": status, "message": message}, status=status)


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        raise BadRequest("the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def _controller(request: web.Request) -> ControllerService:
    return request.app[CONTROLLER]


def _all_scopes(controller: ControllerService) -> list[str]:
    names: list[str] = []
    token = ""
    while True:
        page, token = controller.list_scopes(token)
        if not page:
            return names
        names.extend(page)


# -- scopes -----------------------------------------------------------------------


async def list_scopes(request: web.Request) -> web.Response:
    names = sorted(n for n in _all_scopes(_controller(request)) if visible(request, ("scope", n)))
    return web.json_response({"scopes": [{"scopeName": n} for n in names]})


async def create_scope(request: web.Request) -> web.Response:
    body = await _body(request)
    name = body.get("scopeName")
    if not isinstance(name, str) or not naming.is_user_name(name):
        raise BadRequest("scopeName must be a valid scope name (letters, digits, '.' and '-')")
    status = await _controller(request).create_scope(name)
    if status == Status.SCOPE_EXISTS:
        return error(409, f"scope {name} already exists")
    if status != Status.SUCCESS:
        raise BadRequest(f"cannot create scope {name}: {status.value}")
    return web.json_response({"scopeName": name}, status=201)


async def get_scope(request: web.Request) -> web.Response:
    name = request.match_info["scopeName"]
    if not _controller(request).scope_exists(name):
        return error(404, f"scope {name} not found")
    return web.json_response({"scopeName": name})


async def delete_scope(request: web.Request) -> web.Response:
    name = request.match_info["scopeName"]
    status = await _controller(request).delete_scope(name)
    if status == Status.SCOPE_NOT_FOUND:
        return error(404, f"scope {name} not found")
    if status == Status.SCOPE_NOT_EMPTY:
        return error(412, f"scope {name} is not empty: delete its streams, tables and reader groups first")
    return web.Response(status=204)


# -- streams ----------------------------------------------------------------------


async def list_streams(request: web.Request) -> web.Response:
    scope = request.match_info["scopeName"]
    controller = _controller(request)
    filter_type = request.query.get("filter_type")
    filter_value = request.query.get("filter_value")
    if filter_type not in (None, "tag", "showInternalStreams", "showReaderGroups"):
        raise BadRequest("filter_type must be tag, showInternalStreams or showReaderGroups")
    if filter_type == "tag" and not filter_value:
        raise BadRequest("filter_type=tag needs a filter_value")
    if not controller.scope_exists(scope):
        return error(404, f"scope {scope} not found")
    streams = sorted((s for s in controller.all_streams() if s.scope == scope), key=lambda s: s.name)
    if filter_type == "showInternalStreams":
        chosen = [s for s in streams if s.name.startswith(naming.INTERNAL_PREFIX)]
    elif filter_type == "showReaderGroups":
        chosen = [s for s in streams if s.name.startswith(naming.READER_GROUP_STREAM_PREFIX)]
    else:
        chosen = [s for s in streams if not s.name.startswith(naming.INTERNAL_PREFIX)]
        if filter_type == "tag":
            chosen = [s for s in chosen if filter_value in s.config.tags]
    chosen = [s for s in chosen if visible(request, ("stream", scope, s.name))]
    return web.json_response({"streams": [stream_json(s) for s in chosen]})


async def create_stream(request: web.Request) -> web.Response:
    scope = request.match_info["scopeName"]
    body = await _body(request)
    name = body.get("streamName")
    if not isinstance(name, str) or not naming.is_user_name(name):
        raise BadRequest("streamName must be a valid stream name (letters, digits, '.' and '-')")
    config = apply_request(StreamConfig(), body)
    status = await _controller(request).create_stream(scope, name, config)
    if status == Status.SCOPE_NOT_FOUND:
        return error(404, f"scope {scope} not found")
    if status == Status.STREAM_EXISTS:
        return error(409, f"stream {scope}/{name} already exists")
    if status != Status.SUCCESS:
        raise BadRequest(f"cannot create stream {scope}/{name}: {status.value}")
    stream = _controller(request).get_stream(scope, name)
    assert stream is not None
    return web.json_response(stream_json(stream), status=201)


def _stream_or_404(request: web.Request) -> Any:
    scope, name = request.match_info["scopeName"], request.match_info["streamName"]
    stream = _controller(request).get_stream(scope, name)
    if stream is None or name.startswith(naming.INTERNAL_PREFIX):
        raise web.HTTPNotFound(
            text=json.dumps({"code": 404, "message": f"stream {scope}/{name} not found"}),
            content_type="application/json",
        )
    return stream


async def get_stream(request: web.Request) -> web.Response:
    return web.json_response(stream_json(_stream_or_404(request)))


async def update_stream(request: web.Request) -> web.Response:
    stream = _stream_or_404(request)
    body = await _body(request)
    config = apply_request(StreamConfig.from_dict(stream.config.to_dict()), body)
    if stream.sealed:
        return error(412, f"stream {stream.scope}/{stream.name} is sealed; its configuration cannot change")
    status = await _controller(request).update_stream(stream.scope, stream.name, config)
    if status != Status.SUCCESS:
        return error(404, f"stream {stream.scope}/{stream.name} not found")
    return web.json_response(stream_json(_stream_or_404(request)))


async def delete_stream(request: web.Request) -> web.Response:
    stream = _stream_or_404(request)
    status = await _controller(request).delete_stream(stream.scope, stream.name)
    if status == Status.STREAM_NOT_FOUND:
        return error(404, f"stream {stream.scope}/{stream.name} not found")
    if status == Status.STREAM_NOT_SEALED:
        return error(412, f"stream {stream.scope}/{stream.name} must be sealed before it is deleted")
    return web.Response(status=204)


async def update_stream_state(request: web.Request) -> web.Response:
    stream = _stream_or_404(request)
    body = await _body(request)
    if body.get("streamState") != "SEALED":
        raise BadRequest('streamState must be "SEALED"')
    status = await _controller(request).seal_stream(stream.scope, stream.name)
    if status != Status.SUCCESS:
        return error(404, f"stream {stream.scope}/{stream.name} not found")
    return web.json_response({"streamState": "SEALED"})


_INT64 = re.compile(r"-?\d{1,19}")


def _time_param(request: web.Request, key: str) -> int:
    text = request.query.get(key)
    if text is None:
        raise BadRequest(f"the query parameter {key} (milliseconds since the epoch) is required")
    if not _INT64.fullmatch(text) or not -(2**63) <= int(text) < 2**63:
        raise BadRequest(f"{key} must be an integer (milliseconds since the epoch)")
    return int(text)


async def scaling_events(request: web.Request) -> web.Response:
    stream = _stream_or_404(request)
    start, end = _time_param(request, "from"), _time_param(request, "to")
    if start > end:
        raise BadRequest("from must not be after to")
    events = _controller(request).scaling_events(stream.scope, stream.name, start, end)
    return web.json_response({"scalingEvents": [scale_event_json(stream, e) for e in events]})


# -- reader groups ------------------------------------------------------------------


#: The server's ``reader_group_tables(scope)``: groups found in their state tables.
GroupTables = Callable[[str], Awaitable[dict[str, dict[str, Any]]]]
GROUP_TABLES: web.AppKey[GroupTables] = web.AppKey("group_tables")


async def reader_groups(request: web.Request, scope: str) -> dict[str, dict[str, Any]]:
    """The scope's reader groups, found where the clients keep them: registered with the
    controller (the Java client), or a state table (this project's client and the official
    Rust-based one; in the container processes when the server has several), key-value
    tables excepted. Values: ``{"streams": [...], "online": [...]}``."""
    controller = _controller(request)
    out: dict[str, dict[str, Any]] = {}
    for name, rg in controller.reader_groups.by_scope.get(scope, {}).items():
        streams = sorted({f"{c.scope}/{c.stream}" for c in rg.starting_cuts})
        out[name] = {"streams": streams, "online": []}
    found = request.app.get(GROUP_TABLES)
    if found is not None:
        for name, group in (await found(scope)).items():
            if controller.kvts.get(scope, name) is None:
                out[name] = group
    return out


async def list_reader_groups(request: web.Request) -> web.Response:
    scope = request.match_info["scopeName"]
    controller = _controller(request)
    if not controller.scope_exists(scope):
        return error(404, f"scope {scope} not found")
    names = sorted(n for n in (await reader_groups(request, scope)) if visible(request, ("reader-group", scope, n)))
    return web.json_response({"readerGroups": [{"readerGroupName": n} for n in names]})


async def get_reader_group(request: web.Request) -> web.Response:
    scope, name = request.match_info["scopeName"], request.match_info["readerGroupName"]
    controller = _controller(request)
    if not controller.scope_exists(scope):
        return error(404, f"scope {scope} not found")
    group = (await reader_groups(request, scope)).get(name)
    if group is None:
        return error(404, f"reader group {scope}/{name} not found")
    return web.json_response(
        {
            "scopeName": scope,
            "readerGroupName": name,
            "streamList": group["streams"],
            "onlineReaderIds": group["online"],
        }
    )


ROUTES = [
    ("GET", "/v1/scopes", list_scopes),
    ("POST", "/v1/scopes", create_scope),
    ("GET", "/v1/scopes/{scopeName}", get_scope),
    ("DELETE", "/v1/scopes/{scopeName}", delete_scope),
    ("GET", "/v1/scopes/{scopeName}/streams", list_streams),
    ("POST", "/v1/scopes/{scopeName}/streams", create_stream),
    ("GET", "/v1/scopes/{scopeName}/streams/{streamName}", get_stream),
    ("PUT", "/v1/scopes/{scopeName}/streams/{streamName}", update_stream),
    ("DELETE", "/v1/scopes/{scopeName}/streams/{streamName}", delete_stream),
    ("PUT", "/v1/scopes/{scopeName}/streams/{streamName}/state", update_stream_state),
    ("GET", "/v1/scopes/{scopeName}/streams/{streamName}/scaling-events", scaling_events),
    ("GET", "/v1/scopes/{scopeName}/readergroups", list_reader_groups),
    ("GET", "/v1/scopes/{scopeName}/readergroups/{readerGroupName}", get_reader_group),
]

__all__ = ["CONTROLLER", "ROUTES", "BadRequest", "ControllerError", "error"]
