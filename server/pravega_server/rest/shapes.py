"""Conversions between Pravega's REST JSON shapes and the controller's model.

Retention is expressed as Pravega's REST API does: ``LIMITED_DAYS`` (``value`` in days, or
``timeBasedRetention`` with days/hours/minutes) and ``LIMITED_SIZE_MB`` (``value`` in MiB).
"""

from __future__ import annotations

from typing import Any

from ..controller.model import Stream, StreamConfig
from ..controller.scaling_history import ScaleEvent

SCALE_TYPES = {"FIXED_NUM_SEGMENTS": 0, "BY_RATE_IN_KBYTES_PER_SEC": 1, "BY_RATE_IN_EVENTS_PER_SEC": 2}
SCALE_NAMES = {v: k for k, v in SCALE_TYPES.items()}
DAY_MS = 86_400_000
MIB = 1024 * 1024
MAX_INT64 = 2**63 - 1


class BadRequest(ValueError):
    """The request's content is not valid (HTTP 400)."""


def _int(obj: dict[str, Any], key: str, default: int = 0, *, low: int = 0, high: int = 2**31 - 1) -> int:
    value = obj.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{key} must be an integer")
    if not low <= value <= high:
        raise BadRequest(f"{key} must be between {low} and {high}")
    return value


def _object(obj: Any, what: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise BadRequest(f"{what} must be a JSON object")
    return obj


def apply_scaling(config: StreamConfig, body: Any) -> None:
    scaling = _object(body, "scalingPolicy")
    kind = scaling.get("type", "FIXED_NUM_SEGMENTS")
    if kind not in SCALE_TYPES:
        raise BadRequest(f"scalingPolicy.type must be one of {sorted(SCALE_TYPES)}")
    config.scale_type = SCALE_TYPES[kind]
    config.min_segments = _int(scaling, "minSegments", 1, low=1, high=1000)
    config.target_rate = _int(scaling, "targetRate")
    config.scale_factor = _int(scaling, "scaleFactor")
    if config.scale_type and (config.target_rate <= 0 or config.scale_factor < 2):
        raise BadRequest("an auto-scaling policy needs targetRate > 0 and scaleFactor >= 2")
    if not config.scale_type:
        config.target_rate = config.scale_factor = 0


def _time_ms(obj: Any, what: str) -> int:
    t = _object(obj, what)
    days = _int(t, "days", high=10**6)
    hours = _int(t, "hours", high=10**6)
    minutes = _int(t, "minutes", high=10**8)
    return ((days * 24 + hours) * 60 + minutes) * 60_000


def apply_retention(config: StreamConfig, body: Any) -> None:
    if body is None:
        config.retention_type, config.retention_param, config.retention_max = 0, 0, 0
        return
    retention = _object(body, "retentionPolicy")
    kind = retention.get("type")
    if kind == "LIMITED_DAYS":
        if retention.get("timeBasedRetention") is not None:
            param = _time_ms(retention["timeBasedRetention"], "timeBasedRetention")
        else:
            param = _int(retention, "value", high=10**6) * DAY_MS
        limit = 0
        if retention.get("maxTimeBasedRetention") is not None:
            limit = _time_ms(retention["maxTimeBasedRetention"], "maxTimeBasedRetention")
        elif retention.get("maxValue") is not None:
            limit = _int(retention, "maxValue", high=10**6) * DAY_MS
        config.retention_type = 1
    elif kind == "LIMITED_SIZE_MB":
        param = _int(retention, "value", high=2**40) * MIB
        limit = _int(retention, "maxValue", high=2**40) * MIB
        config.retention_type = 2
    else:
        raise BadRequest("retentionPolicy.type must be LIMITED_DAYS or LIMITED_SIZE_MB")
    if param <= 0:
        raise BadRequest("a retention limit must be positive")
    if limit and limit < param:
        raise BadRequest("retentionPolicy.maxValue must not be less than value")
    config.retention_param, config.retention_max = param, limit


def apply_tags(config: StreamConfig, body: Any) -> None:
    if not isinstance(body, list) or not all(isinstance(t, str) for t in body):
        raise BadRequest("streamTags must be a list of strings")
    config.tags = list(dict.fromkeys(body))


def apply_request(config: StreamConfig, body: dict[str, Any]) -> StreamConfig:
    """``config`` with the fields a create/update request carries."""
    if body.get("scalingPolicy") is not None:
        apply_scaling(config, body["scalingPolicy"])
    if "retentionPolicy" in body:
        apply_retention(config, body["retentionPolicy"])
    if body.get("streamTags") is not None:
        apply_tags(config, body["streamTags"])
    if body.get("timestampAggregationTimeout") is not None:
        config.timestamp_aggregation_timeout = _int(body, "timestampAggregationTimeout", high=MAX_INT64)
    if body.get("rolloverSizeBytes") is not None:
        config.rollover_size_bytes = _int(body, "rolloverSizeBytes", high=MAX_INT64)
    problem = config.validate()
    if problem:
        raise BadRequest(problem)
    return config


def retention_json(config: StreamConfig) -> dict[str, Any] | None:
    if config.retention_type == 1:
        ms = config.retention_param
        out: dict[str, Any] = {
            "type": "LIMITED_DAYS",
            "value": ms // DAY_MS,
            "timeBasedRetention": {
                "days": ms // DAY_MS,
                "hours": ms % DAY_MS // 3_600_000,
                "minutes": ms % 3_600_000 // 60_000,
            },
        }
        if config.retention_max:
            out["maxValue"] = config.retention_max // DAY_MS
        return out
    if config.retention_type == 2:
        out = {"type": "LIMITED_SIZE_MB", "value": config.retention_param // MIB}
        if config.retention_max:
            out["maxValue"] = config.retention_max // MIB
        return out
    return None


def stream_json(stream: Stream) -> dict[str, Any]:
    config = stream.config
    out: dict[str, Any] = {
        "scopeName": stream.scope,
        "streamName": stream.name,
        "scalingPolicy": {
            "type": SCALE_NAMES[config.scale_type],
            "targetRate": config.target_rate,
            "scaleFactor": config.scale_factor,
            "minSegments": config.min_segments,
        },
        "tags": {"tags": list(config.tags)},
    }
    retention = retention_json(config)
    if retention is not None:
        out["retentionPolicy"] = retention
    return out


def scale_event_json(stream: Stream, event: ScaleEvent) -> dict[str, Any]:
    """Pravega's ``ScaleMetadata``: the epoch's segments after the scale, and how many
    splits and merges it made."""
    segments = stream.epochs[event.epoch].segments
    return {
        "timestamp": event.timestamp_ms,
        "segmentList": [
            {
                "number": s.id,
                "startTime": event.timestamp_ms,
                "keyStart": s.min_key,
                "keyEnd": s.max_key,
            }
            for s in segments
        ],
        "splits": event.splits,
        "merges": event.merges,
    }
