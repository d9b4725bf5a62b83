"""PyFlink connector for Pravega streams: ``PravegaSource`` (FLIP-27) and ``PravegaSink``
(Sink V2, with exactly-once through Flink checkpoints and Pravega transactions).

The work happens in a Java jar (Python functions have no checkpoint hooks); these classes are
thin builders over it in the style of ``pyflink.datastream.connectors.kafka``. Call
:func:`register` on the execution environment first: it adds the jar (building it on first
use in a source install).
"""

from ._jar import ConnectorJarError, UnsupportedFlinkVersion, jar_path
from .pravega import (
    PravegaSink,
    PravegaSinkBuilder,
    PravegaSource,
    PravegaSourceBuilder,
    RoutingKeyExtractor,
    TimestampExtractor,
    register,
)

__all__ = [
    "PravegaSource",
    "PravegaSourceBuilder",
    "PravegaSink",
    "PravegaSinkBuilder",
    "RoutingKeyExtractor",
    "TimestampExtractor",
    "register",
    "jar_path",
    "ConnectorJarError",
    "UnsupportedFlinkVersion",
]
