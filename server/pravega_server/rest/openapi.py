"""The OpenAPI 3 document of the REST API, served at ``/v1/openapi.json``.

Shapes and status codes follow Pravega's ``Controller.yaml`` (swagger 2) where this
server implements the resource. ``tests/integration/test_rest_openapi.py`` checks that
the documented paths are exactly the served routes and fuzzes the API against it.
"""

from __future__ import annotations

from typing import Any

NAME_PATTERN = r"^[A-Za-z0-9.\-]{1,255}$"

_ref = lambda name: {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "invalid request content",
        401: "authentication failed",
        403: "permission denied",
        404: "not found",
        409: "already exists",
        412: "precondition failed",
        500: "internal server error",
    }
    return {str(c): _json(_ref("Error"), text[c]) for c in (*codes, 401, 403, 500)}


def _name(param: str, description: str) -> dict[str, Any]:
    return {
        "name": param,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "pattern": NAME_PATTERN},
    }


SCOPE = _name("scopeName", "scope name")
STREAM = _name("streamName", "stream name")
GROUP = _name("readerGroupName", "reader group name")
_int32 = {"type": "integer", "format": "int32", "minimum": 0, "maximum": 2**31 - 1}
_int64 = {"type": "integer", "format": "int64", "minimum": 0, "maximum": 2**63 - 1}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {"code": {"type": "integer"}, "message": {"type": "string"}},
    },
    "ScopeProperty": {
        "type": "object",
        "required": ["scopeName"],
        "properties": {"scopeName": {"type": "string"}},
    },
    "ScopesList": {"type": "object", "properties": {"scopes": {"type": "array", "items": _ref("ScopeProperty")}}},
    "CreateScopeRequest": {
        "type": "object",
        "required": ["scopeName"],
        "properties": {"scopeName": {"type": "string", "pattern": NAME_PATTERN}},
    },
    "ScalingConfig": {
        "type": "object",
        "properties": {
            "type": {
                "type": "string",
                "enum": ["FIXED_NUM_SEGMENTS", "BY_RATE_IN_KBYTES_PER_SEC", "BY_RATE_IN_EVENTS_PER_SEC"],
            },
            "targetRate": _int32,
            "scaleFactor": _int32,
            "minSegments": {**_int32, "minimum": 1, "maximum": 1000},
        },
    },
    "TimeBasedRetention": {
        "type": "object",
        "properties": {"days": _int64, "hours": _int64, "minutes": _int64},
    },
    "RetentionConfig": {
        "type": "object",
        "properties": {
            "type": {"type": "string", "enum": ["LIMITED_DAYS", "LIMITED_SIZE_MB"]},
            "value": _int64,
            "timeBasedRetention": _ref("TimeBasedRetention"),
            "maxValue": _int64,
            "maxTimeBasedRetention": _ref("TimeBasedRetention"),
        },
    },
    "TagsList": {"type": "object", "properties": {"tags": {"type": "array", "items": {"type": "string"}}}},
    "StreamProperty": {
        "type": "object",
        "required": ["scopeName", "streamName", "scalingPolicy"],
        "properties": {
            "scopeName": {"type": "string"},
            "streamName": {"type": "string"},
            "scalingPolicy": _ref("ScalingConfig"),
            "retentionPolicy": _ref("RetentionConfig"),
            "tags": _ref("TagsList"),
        },
    },
    "StreamsList": {"type": "object", "properties": {"streams": {"type": "array", "items": _ref("StreamProperty")}}},
    "CreateStreamRequest": {
        "type": "object",
        "required": ["streamName"],
        "properties": {
            "streamName": {"type": "string", "pattern": NAME_PATTERN},
            "scalingPolicy": _ref("ScalingConfig"),
            "retentionPolicy": _ref("RetentionConfig"),
            "streamTags": {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 256}},
            "timestampAggregationTimeout": _int64,
            "rolloverSizeBytes": _int64,
        },
    },
    "UpdateStreamRequest": {
        "type": "object",
        "properties": {
            "scalingPolicy": _ref("ScalingConfig"),
            "retentionPolicy": _ref("RetentionConfig"),
            "streamTags": {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 256}},
            "timestampAggregationTimeout": _int64,
            "rolloverSizeBytes": _int64,
        },
    },
    "StreamState": {
        "type": "object",
        "required": ["streamState"],
        "properties": {"streamState": {"type": "string", "enum": ["SEALED"]}},
    },
    "Segment": {
        "type": "object",
        "properties": {
            "number": {"type": "integer", "format": "int64"},
            "startTime": {"type": "integer", "format": "int64"},
            "keyStart": {"type": "number"},
            "keyEnd": {"type": "number"},
        },
    },
    "ScaleMetadata": {
        "type": "object",
        "properties": {
            "timestamp": {"type": "integer", "format": "int64"},
            "segmentList": {"type": "array", "items": _ref("Segment")},
            "splits": {"type": "integer", "format": "int64"},
            "merges": {"type": "integer", "format": "int64"},
        },
    },
    "ScalingEventList": {
        "type": "object",
        "properties": {"scalingEvents": {"type": "array", "items": _ref("ScaleMetadata")}},
    },
    "ReaderGroupsList": {
        "type": "object",
        "properties": {
            "readerGroups": {
                "type": "array",
                "items": {"type": "object", "properties": {"readerGroupName": {"type": "string"}}},
            }
        },
    },
    "ReaderGroupProperty": {
        "type": "object",
        "properties": {
            "scopeName": {"type": "string"},
            "readerGroupName": {"type": "string"},
            "streamList": {"type": "array", "items": {"type": "string"}},
            "onlineReaderIds": {"type": "array", "items": {"type": "string"}},
        },
    },
    "HealthResult": {
        "type": "object",
        "required": ["name", "status", "readiness", "liveness"],
        "properties": {
            "name": {"type": "string"},
            "status": {"type": "string", "enum": ["UP", "DOWN", "STARTING"]},
            "readiness": {"type": "boolean"},
            "liveness": {"type": "boolean"},
            "details": {"type": "object"},
            "children": {"type": "object"},
        },
    },
}


def _body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(schema)}}}


def _op(op_id: str, summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"operationId": op_id, "summary": summary, "responses": responses, **extra}


_probe = {"503": _json({"type": "boolean"}, "not alive / not ready")}

PATHS: dict[str, Any] = {
    "/v1/scopes": {
        "get": _op("listScopes", "List the scopes", {"200": _json(_ref("ScopesList"), "the scopes"), **_errors()}),
        "post": _op(
            "createScope",
            "Create a scope",
            {"201": _json(_ref("ScopeProperty"), "created"), **_errors(400, 409)},
            requestBody=_body("CreateScopeRequest"),
        ),
    },
    "/v1/scopes/{scopeName}": {
        "parameters": [SCOPE],
        "get": _op("getScope", "A scope", {"200": _json(_ref("ScopeProperty"), "the scope"), **_errors(404)}),
        "delete": _op("deleteScope", "Delete an empty scope", {"204": {"description": "deleted"}, **_errors(404, 412)}),
    },
    "/v1/scopes/{scopeName}/streams": {
        "parameters": [SCOPE],
        "get": _op(
            "listStreams",
            "List the streams of a scope",
            {"200": _json(_ref("StreamsList"), "the streams"), **_errors(400, 404)},
            parameters=[
                {
                    "name": "filter_type",
                    "in": "query",
                    "schema": {"type": "string", "enum": ["tag", "showInternalStreams", "showReaderGroups"]},
                },
                {"name": "filter_value", "in": "query", "schema": {"type": "string"}},
            ],
        ),
        "post": _op(
            "createStream",
            "Create a stream",
            {"201": _json(_ref("StreamProperty"), "created"), **_errors(400, 404, 409)},
            requestBody=_body("CreateStreamRequest"),
        ),
    },
    "/v1/scopes/{scopeName}/streams/{streamName}": {
        "parameters": [SCOPE, STREAM],
        "get": _op("getStream", "A stream", {"200": _json(_ref("StreamProperty"), "the stream"), **_errors(404)}),
        "put": _op(
            "updateStream",
            "Change a stream's policies",
            {"200": _json(_ref("StreamProperty"), "updated"), **_errors(400, 404, 412)},
            requestBody=_body("UpdateStreamRequest"),
        ),
        "delete": _op(
            "deleteStream", "Delete a sealed stream", {"204": {"description": "deleted"}, **_errors(404, 412)}
        ),
    },
    "/v1/scopes/{scopeName}/streams/{streamName}/state": {
        "parameters": [SCOPE, STREAM],
        "put": _op(
            "updateStreamState",
            "Seal a stream",
            {"200": _json(_ref("StreamState"), "sealed"), **_errors(400, 404)},
            requestBody=_body("StreamState"),
        ),
    },
    "/v1/scopes/{scopeName}/streams/{streamName}/scaling-events": {
        "parameters": [SCOPE, STREAM],
        "get": _op(
            "getScalingEvents",
            "A stream's scaling events between two times",
            {"200": _json(_ref("ScalingEventList"), "the events"), **_errors(400, 404)},
            parameters=[
                {"name": "from", "in": "query", "required": True, "schema": {"type": "integer", "format": "int64"}},
                {"name": "to", "in": "query", "required": True, "schema": {"type": "integer", "format": "int64"}},
            ],
        ),
    },
    "/v1/scopes/{scopeName}/readergroups": {
        "parameters": [SCOPE],
        "get": _op(
            "listReaderGroups",
            "List the reader groups of a scope",
            {"200": _json(_ref("ReaderGroupsList"), "the groups"), **_errors(404)},
        ),
    },
    "/v1/scopes/{scopeName}/readergroups/{readerGroupName}": {
        "parameters": [SCOPE, GROUP],
        "get": _op(
            "getReaderGroup",
            "A reader group",
            {"200": _json(_ref("ReaderGroupProperty"), "the group"), **_errors(404)},
        ),
    },
    "/health": {
        "get": _op(
            "health",
            "Health of the server and its components",
            {"200": _json(_ref("HealthResult"), "up"), "503": _json(_ref("HealthResult"), "not ready")},
        )
    },
    "/health/liveness": {
        "get": _op("liveness", "Whether the server is alive", {"200": _json({"type": "boolean"}, "alive"), **_probe})
    },
    "/health/readiness": {
        "get": _op("readiness", "Whether the server serves", {"200": _json({"type": "boolean"}, "ready"), **_probe})
    },
}

METRICS_PATH = {
    "/metrics": {
        "get": _op(
            "metrics",
            "Prometheus metrics (text exposition format)",
            {"200": {"description": "metrics", "content": {"text/plain": {"schema": {"type": "string"}}}}},
        )
    }
}


def document(with_metrics: bool) -> dict[str, Any]:
    """The OpenAPI document; ``/metrics`` is in it when the REST port serves it."""
    paths = {**PATHS, **(METRICS_PATH if with_metrics else {})}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "pravega-native REST API",
            "version": "1.0.0",
            "description": "Pravega's controller REST API (/v1), health probes and metrics.",
        },
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"basicAuth": {"type": "http", "scheme": "basic"}},
        },
        "paths": paths,
    }
