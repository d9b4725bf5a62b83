"""A Python client for Pravega streams, plus the wire protocol shared with the server.

``pravega.Client`` is the synchronous entry point; ``pravega.aio.Client`` the asyncio one.
"""
from .errors import *  # noqa: F401,F403 - the exception classes
from .model import (
    RetentionPolicy, RetentionType, ScaleType, ScalingPolicy, SegmentRange, StreamConfiguration, StreamCut,
)
from .serializers import BytesSerializer, JsonSerializer, Serializer, StringSerializer
from .sync import Client, EventWriter

__all__ = [
    "Client", "EventWriter", "StreamCut", "StreamConfiguration", "ScalingPolicy", "RetentionPolicy",
    "ScaleType", "RetentionType", "SegmentRange", "Serializer", "BytesSerializer", "StringSerializer",
    "JsonSerializer",
]
