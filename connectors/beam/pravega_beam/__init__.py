"""Apache Beam IO for Pravega streams: ``ReadFromPravega`` and ``WriteToPravega``."""

from .io import PravegaEvent, ReadFromPravega, WriteToPravega

__all__ = ["ReadFromPravega", "WriteToPravega", "PravegaEvent"]
