"""Apache Beam IO for Pravega streams: ``ReadFromPravega`` and ``WriteToPravega``."""

from .io import PravegaEvent, ReadFromPravega, SinkConflictError, SinkInUseError, WriteToPravega

__all__ = ["ReadFromPravega", "WriteToPravega", "PravegaEvent", "SinkInUseError", "SinkConflictError"]
