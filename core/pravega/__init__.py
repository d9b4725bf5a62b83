"""A Python client for Pravega streams, plus the wire protocol shared with the server.

``pravega.Client`` is the synchronous entry point; ``pravega.aio.Client`` the asyncio one.

The names below are imported on first use (PEP 562), so that ``pravega.protocol`` and
``pravega.naming`` — which the server imports — do not pull in the whole client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import *  # noqa: F403 - the exception classes (cheap)
from .errors import __all__ as _error_names

# The lazy names below, for type checkers and editors (a test keeps this in step with _LAZY);
# ``X as X`` marks them as re-exported, also for users type-checking with --no-implicit-reexport.
if TYPE_CHECKING:
    from .model import RetentionPolicy as RetentionPolicy
    from .model import RetentionType as RetentionType
    from .model import ScaleType as ScaleType
    from .model import ScalingEvent as ScalingEvent
    from .model import ScalingPolicy as ScalingPolicy
    from .model import SegmentRange as SegmentRange
    from .model import StreamConfiguration as StreamConfiguration
    from .model import StreamCut as StreamCut
    from .serializers import BytesSerializer as BytesSerializer
    from .serializers import JsonSerializer as JsonSerializer
    from .serializers import Serializer as Serializer
    from .serializers import StringSerializer as StringSerializer
    from .sync import Client as Client
    from .sync import EventWriter as EventWriter

_LAZY = {
    "Client": ".sync",
    "EventWriter": ".sync",
    "StreamCut": ".model",
    "StreamConfiguration": ".model",
    "ScalingPolicy": ".model",
    "ScalingEvent": ".model",
    "RetentionPolicy": ".model",
    "ScaleType": ".model",
    "RetentionType": ".model",
    "SegmentRange": ".model",
    "Serializer": ".serializers",
    "BytesSerializer": ".serializers",
    "StringSerializer": ".serializers",
    "JsonSerializer": ".serializers",
}

__all__ = [*_LAZY, *_error_names]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pravega' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
