"""The asyncio API. ``pravega.aio.Client`` is the entry point; the synchronous facade
with the same names is ``pravega.Client``."""

from .client.batch import BatchClient, SegmentSlice
from .client.byte_stream import ByteStream
from .client.client import Client, StreamInfo
from .client.context import ClientConfig
from .client.kvt import KeyValueTable, TableEntry, Versioned
from .client.reader_group import (
    Checkpoint,
    CheckpointFailedError,
    CheckpointTimeoutError,
    EventBatch,
    EventRead,
    EventReader,
    ReaderGroup,
    ReaderGroupConfig,
    ReaderNotInGroupError,
)
from .client.synchronizer import StateSynchronizer
from .client.transaction import Transaction, TransactionalWriter
from .client.writer import EventWriter

__all__ = [
    "Client",
    "ClientConfig",
    "EventWriter",
    "StreamInfo",
    "BatchClient",
    "ByteStream",
    "KeyValueTable",
    "SegmentSlice",
    "StateSynchronizer",
    "TableEntry",
    "Transaction",
    "TransactionalWriter",
    "Versioned",
    "Checkpoint",
    "CheckpointFailedError",
    "EventBatch",
    "CheckpointTimeoutError",
    "EventRead",
    "EventReader",
    "ReaderGroup",
    "ReaderGroupConfig",
    "ReaderNotInGroupError",
]
