"""PyFlink wrappers of the Java ``PravegaSource`` and ``PravegaSink`` (in the style of
``pyflink.datastream.connectors.kafka``).

>>> env = StreamExecutionEnvironment.get_execution_environment()      # doctest: +SKIP
>>> register(env)                                                      # adds the connector jar
>>> source = (PravegaSource.builder()
...           .set_controller_uri("tcp://127.0.0.1:9090")
...           .set_stream("scope/in")
...           .set_deserialization_schema(SimpleStringSchema())
...           .build())
>>> sink = (PravegaSink.builder()
...         .set_controller_uri("tcp://127.0.0.1:9090")
...         .set_stream("scope/out")
...         .set_serialization_schema(SimpleStringSchema())
...         .set_delivery_guarantee(DeliveryGuarantee.EXACTLY_ONCE)
...         .set_routing_key_extractor(RoutingKeyExtractor.delimited_prefix(":"))
...         .build())
>>> env.from_source(source, WatermarkStrategy.no_watermarks(), "pravega") \\
...    .map(str.upper, Types.STRING()).sink_to(sink)

Exactly-once needs checkpointing (``env.enable_checkpointing(ms)``): Python functions have no
checkpoint hooks, so positions (source) and transactions (sink) are handled in Java.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from ._jar import check_flink_version, jar_path

__all__ = [
    "PravegaSource",
    "PravegaSourceBuilder",
    "PravegaSink",
    "PravegaSinkBuilder",
    "RoutingKeyExtractor",
    "TimestampExtractor",
    "register",
]

_PACKAGE = "org.pravega.flink"

try:  # PyFlink is an optional dependency of pravega-native
    from pyflink.datastream.connectors import Sink as _Sink
    from pyflink.datastream.connectors import Source as _Source
except ImportError:  # pragma: no cover - exercised only without PyFlink
    _Source = _Sink = object


_registered_jar: Path | None = None


def register(env: Any) -> Path:
    """Add the connector jar to a ``StreamExecutionEnvironment`` (``pipeline.jars`` and the
    client class loader) after checking the Flink version; returns the jar's path. Builds the
    jar first if this is a source install (see :mod:`pravega_flink._jar`). A process keeps
    using the jar it registered first, so one JVM never loads two different builds."""
    global _registered_jar
    if _registered_jar is None:
        check_flink_version()
        _registered_jar = jar_path().resolve()
    else:
        check_flink_version()
    env.add_jars(_registered_jar.as_uri())
    return _registered_jar


def _jvm() -> Any:
    from pyflink.java_gateway import get_gateway

    return get_gateway().jvm


def _java_class(name: str) -> Any:
    """A connector class, or a clear error when the jar was not registered."""
    from py4j.java_gateway import JavaClass

    obj = _jvm()
    for part in f"{_PACKAGE}.{name}".split("."):
        obj = getattr(obj, part)
    if not isinstance(obj, JavaClass):
        raise RuntimeError(
            f"the Pravega connector's Java classes are not loaded ({_PACKAGE}.{name}): call "
            "pravega_flink.register(env) on the StreamExecutionEnvironment before building sources or sinks"
        )
    return obj


def _call(what: str, fn: Any, *args: Any) -> Any:
    """Call into Java; a Java IllegalArgumentException becomes a ValueError with its message."""
    from py4j.protocol import Py4JJavaError

    try:
        return fn(*args)
    except Py4JJavaError as exc:
        java = exc.java_exception
        if java.getClass().getName() == "java.lang.IllegalArgumentException":
            raise ValueError(java.getMessage()) from None
        raise RuntimeError(f"{what} failed: {java.toString()}") from exc


def _cut_text(cut: Any) -> str | None:
    """A ``pravega.StreamCut`` or its text form (``"sc1:..."``) as text; None stays None."""
    if cut is None:
        return None
    if isinstance(cut, str):
        return cut
    to_text = getattr(cut, "to_text", None)
    if callable(to_text):
        return to_text()
    raise TypeError(f"expected a pravega.StreamCut or its text form, got {type(cut).__name__}")


def _j_cut(cut: Any) -> Any:
    text = _cut_text(cut)
    if text is None:
        return None
    return _call("parsing a stream cut", _java_class("client.StreamCut").fromText, text)


def _millis(value: Any, name: str) -> int:
    """Milliseconds from an int, a ``pyflink.common.Duration`` or a ``datetime.timedelta``."""
    j_duration = getattr(value, "_j_duration", None)
    if j_duration is not None:  # pyflink.common.Duration
        return int(j_duration.toMillis())
    to_millis = getattr(value, "to_milliseconds", None)  # pyflink.common.Time
    if callable(to_millis):
        return int(to_millis())
    if isinstance(value, datetime.timedelta):
        return int(value.total_seconds() * 1000)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            f"{name} takes milliseconds (int), a pyflink.common.Duration or a datetime.timedelta, got {value!r}"
        )
    return value


# -- source --------------------------------------------------------------------------------


class TimestampExtractor:
    """Where the source finds each event's time (milliseconds) for the record timestamp, read
    from the event's bytes on the Java side (no Python function in the data path):

    * :meth:`json_field` — a top-level numeric field of the event's JSON text;
    * :meth:`delimited_field` — field ``i`` of the event text split at a delimiter.

    Events without a readable time get no timestamp.
    """

    def __init__(self, j_extractor: Any) -> None:
        self._j_extractor = j_extractor

    @staticmethod
    def _factory() -> Any:
        return _java_class("source.TimestampExtractors")

    @staticmethod
    def json_field(name: str) -> TimestampExtractor:
        return TimestampExtractor(_call("json_field", TimestampExtractor._factory().jsonField, name))

    @staticmethod
    def delimited_field(delimiter: str, index: int) -> TimestampExtractor:
        return TimestampExtractor(
            _call("delimited_field", TimestampExtractor._factory().delimitedField, delimiter, index)
        )

    def __repr__(self) -> str:
        return f"TimestampExtractor({self._j_extractor.toString()})"


class PravegaSource(_Source):
    """A FLIP-27 source reading Pravega streams (see :class:`PravegaSourceBuilder`)."""

    def __init__(self, j_source: Any) -> None:
        super().__init__(j_source)

    @staticmethod
    def builder() -> PravegaSourceBuilder:
        return PravegaSourceBuilder()

    def watermark_strategy(self) -> Any:
        """The ``WatermarkStrategy`` to pass to ``env.from_source`` with this source: with
        :meth:`PravegaSourceBuilder.with_pravega_watermarks` one that keeps the watermarks the
        source emits per split and the timestamps it gives records; otherwise
        ``WatermarkStrategy.no_watermarks()``. (PyFlink applies only the Java side of a
        strategy in ``from_source``: a Python timestamp assigner would be ignored there, so
        timestamps come from a :class:`TimestampExtractor`.)"""
        from pyflink.common import WatermarkStrategy

        return WatermarkStrategy(self.get_java_function().watermarkStrategy())


class PravegaSourceBuilder:
    """Builds a :class:`PravegaSource`. Required: controller URI, at least one stream and a
    deserialization schema; ``build()`` raises ``ValueError`` naming whatever is missing.

    Streams start at their head (or tail with :meth:`set_start_at_tail`), or at a start
    stream cut; they are read without end unless an end stream cut is given or the source is
    :meth:`set_bounded`. Each segment is a split; after a scale, successor segments are read
    only when all their predecessors are finished, so each routing key stays in order.
    """

    def __init__(self) -> None:
        self._j_builder = _java_class("source.PravegaSource").builder()

    def build(self) -> PravegaSource:
        return PravegaSource(_call("building the PravegaSource", self._j_builder.build))

    def set_controller_uri(self, controller_uri: str) -> PravegaSourceBuilder:
        """The controller, e.g. ``"tcp://127.0.0.1:9090"``."""
        self._j_builder.setControllerUri(controller_uri)
        return self

    def set_stream(self, stream: str) -> PravegaSourceBuilder:
        """Read one stream, ``"scope/stream"`` (replaces the streams set so far)."""
        return self.set_streams(stream)

    def set_streams(self, *streams: str) -> PravegaSourceBuilder:
        """Read these streams (``"scope/stream"`` each), replacing the streams set so far."""
        from pyflink.util.java_utils import to_jarray

        gateway_string = _jvm().java.lang.String
        _call("setStreams", self._j_builder.setStreams, to_jarray(gateway_string, list(streams)))
        return self

    def add_stream(self, stream: str, start_cut: Any = None, end_cut: Any = None) -> PravegaSourceBuilder:
        """Also read ``"scope/stream"``, optionally from ``start_cut`` to ``end_cut``
        (``pravega.StreamCut`` or its text form)."""
        _call(
            "addStream",
            self._j_builder.addStreamWithCutTexts,
            stream,
            _cut_text(start_cut) or "",
            _cut_text(end_cut) or "",
        )
        return self

    def set_start_stream_cut(self, cut: Any) -> PravegaSourceBuilder:
        """Start the cut's stream at ``cut`` (the stream is added if not named yet)."""
        self._j_builder.setStartStreamCut(_j_cut(cut))
        return self

    def set_end_stream_cut(self, cut: Any) -> PravegaSourceBuilder:
        """Stop reading the cut's stream at ``cut`` (the stream is added if not named yet)."""
        self._j_builder.setEndStreamCut(_j_cut(cut))
        return self

    def set_start_at_tail(self, at_tail: bool = True) -> PravegaSourceBuilder:
        """Streams without a start cut start at their tail (only new events)."""
        self._j_builder.setStartAtTail(at_tail)
        return self

    def set_bounded(self, bounded: bool = True) -> PravegaSourceBuilder:
        """Bounded reading: stop at the end cuts, or at each stream's tail as of the job's start."""
        self._j_builder.setBounded(bounded)
        return self

    def set_deserialization_schema(self, schema: Any) -> PravegaSourceBuilder:
        """How event bytes become records, e.g. ``pyflink.common.SimpleStringSchema()``."""
        self._j_builder.setDeserializationSchema(schema._j_deserialization_schema)
        return self

    def set_read_length(self, num_bytes: int) -> PravegaSourceBuilder:
        """Bytes asked for per read request (default 1 MiB)."""
        self._j_builder.setReadLength(num_bytes)
        return self

    def set_request_timeout(self, millis: Any) -> PravegaSourceBuilder:
        """Timeout of one request to the controller or a segment store (default 10 s)."""
        self._j_builder.setRequestTimeoutMillis(_millis(millis, "set_request_timeout"))
        return self

    def set_retry_budget(self, millis: Any) -> PravegaSourceBuilder:
        """How long failing requests are retried before the task fails (default 60 s)."""
        self._j_builder.setRetryBudgetMillis(_millis(millis, "set_retry_budget"))
        return self

    def with_pravega_watermarks(self, timestamp_extractor: TimestampExtractor | None = None) -> PravegaSourceBuilder:
        """Emit Flink watermarks from the streams' Pravega watermarks: what writers noted
        (``EventWriter.note_time``, or a sink with :meth:`PravegaSinkBuilder.enable_watermark`),
        aggregated by the controller into ``_MARK<stream>``. Each segment split's watermark is
        the lower bound of the newest watermark whose position the split has reached; Flink
        takes the minimum over the splits. Pass ``source.watermark_strategy()`` to
        ``env.from_source``. ``timestamp_extractor`` gives records their event time."""
        if timestamp_extractor is None:
            self._j_builder.withPravegaWatermarks()
        else:
            self._j_builder.withPravegaWatermarks(timestamp_extractor._j_extractor)
        return self

    def set_timestamp_extractor(self, extractor: TimestampExtractor) -> PravegaSourceBuilder:
        """Give each record the event time found in its bytes (see :class:`TimestampExtractor`)."""
        self._j_builder.setTimestampExtractor(extractor._j_extractor)
        return self

    def set_watermark_poll_interval(self, millis: Any) -> PravegaSourceBuilder:
        """How often the watermark streams are polled (default 1 s); a split waiting at its
        segment's tail this long with no newer watermark to reach is marked idle."""
        self._j_builder.setWatermarkPollMillis(_millis(millis, "set_watermark_poll_interval"))
        return self

    def set_metrics_refresh_interval(self, millis: Any) -> PravegaSourceBuilder:
        """How often segment lengths are fetched for the ``unreadBytes`` metric (0: never)."""
        self._j_builder.setMetricsRefreshMillis(_millis(millis, "set_metrics_refresh_interval"))
        return self


# -- sink ----------------------------------------------------------------------------------


class RoutingKeyExtractor:
    """How the sink picks each event's routing key (events with one key keep their order and
    land in the same segment as with any other Pravega client). Built on the Java side, so it
    works without a Python function in the data path:

    * :meth:`json_field` — a top-level field of the event's JSON text;
    * :meth:`delimited_prefix` — the event text up to a delimiter (``"user-7:clicked"`` → ``"user-7"``);
    * :meth:`field` — field ``i`` of a ``Row``/tuple element;
    * :meth:`fixed` — one key for everything; :meth:`none` — random segments (the default).
    """

    def __init__(self, j_extractor: Any) -> None:
        self._j_extractor = j_extractor

    @staticmethod
    def _factory() -> Any:
        return _java_class("sink.RoutingKeyExtractors")

    @staticmethod
    def none() -> RoutingKeyExtractor:
        return RoutingKeyExtractor(RoutingKeyExtractor._factory().none())

    @staticmethod
    def fixed(key: str) -> RoutingKeyExtractor:
        return RoutingKeyExtractor(RoutingKeyExtractor._factory().fixed(key))

    @staticmethod
    def json_field(name: str) -> RoutingKeyExtractor:
        return RoutingKeyExtractor(RoutingKeyExtractor._factory().jsonField(name))

    @staticmethod
    def delimited_prefix(delimiter: str) -> RoutingKeyExtractor:
        return RoutingKeyExtractor(_call("delimited_prefix", RoutingKeyExtractor._factory().delimitedPrefix, delimiter))

    @staticmethod
    def field(index: int) -> RoutingKeyExtractor:
        return RoutingKeyExtractor(_call("field", RoutingKeyExtractor._factory().field, index))

    def __repr__(self) -> str:
        return f"RoutingKeyExtractor({self._j_extractor.toString()})"


class PravegaSink(_Sink):
    """A Sink V2 writing to a Pravega stream (see :class:`PravegaSinkBuilder`)."""

    def __init__(self, j_sink: Any) -> None:
        super().__init__(j_sink)

    @staticmethod
    def builder() -> PravegaSinkBuilder:
        return PravegaSinkBuilder()


class PravegaSinkBuilder:
    """Builds a :class:`PravegaSink`. Required: controller URI, stream and serialization schema.

    Delivery guarantees (``pyflink.datastream.connectors.DeliveryGuarantee``):

    * ``NONE`` — plain appends, flushed at the end of input and on close;
    * ``AT_LEAST_ONCE`` (default) — every checkpoint waits until all events are durable;
    * ``EXACTLY_ONCE`` — one Pravega transaction per checkpoint and subtask, committed once the
      checkpoint completes; readers see nothing before. Needs checkpointing.
    """

    def __init__(self) -> None:
        self._j_builder = _java_class("sink.PravegaSink").builder()

    def build(self) -> PravegaSink:
        return PravegaSink(_call("building the PravegaSink", self._j_builder.build))

    def set_controller_uri(self, controller_uri: str) -> PravegaSinkBuilder:
        """The controller, e.g. ``"tcp://127.0.0.1:9090"``."""
        self._j_builder.setControllerUri(controller_uri)
        return self

    def set_stream(self, stream: str) -> PravegaSinkBuilder:
        """The stream to write, ``"scope/stream"`` (it must exist)."""
        _call("setStream", self._j_builder.setStream, stream)
        return self

    def set_serialization_schema(self, schema: Any) -> PravegaSinkBuilder:
        """How records become event bytes, e.g. ``pyflink.common.SimpleStringSchema()``."""
        self._j_builder.setSerializationSchema(schema._j_serialization_schema)
        return self

    def set_delivery_guarantee(self, guarantee: Any) -> PravegaSinkBuilder:
        """``DeliveryGuarantee.NONE``, ``AT_LEAST_ONCE`` (default) or ``EXACTLY_ONCE``."""
        self._j_builder.setDeliveryGuarantee(guarantee._to_j_delivery_guarantee())
        return self

    def set_transaction_timeout(self, millis: Any) -> PravegaSinkBuilder:
        """The lease of each transaction (EXACTLY_ONCE; default 10 minutes, at least 10 s). The
        running writer renews it; it must outlast checkpoint interval + restart time, or
        transactions of completed checkpoints can expire before their commit."""
        self._j_builder.setTransactionTimeoutMillis(_millis(millis, "set_transaction_timeout"))
        return self

    def set_transaction_ping_interval(self, millis: Any) -> PravegaSinkBuilder:
        """How often open transactions are pinged (default: a tenth of the timeout, at most 30 s)."""
        self._j_builder.setTransactionPingIntervalMillis(_millis(millis, "set_transaction_ping_interval"))
        return self

    def set_routing_key_extractor(self, extractor: RoutingKeyExtractor) -> PravegaSinkBuilder:
        """See :class:`RoutingKeyExtractor`."""
        self._j_builder.setRoutingKeyExtractor(extractor._j_extractor)
        return self

    def set_routing_key_field(self, json_field: str) -> PravegaSinkBuilder:
        """Route by a top-level field of each event's JSON text (``RoutingKeyExtractor.json_field``)."""
        self._j_builder.setRoutingKeyField(json_field)
        return self

    def enable_watermark(self, enable: bool = True) -> PravegaSinkBuilder:
        """Note event time for Pravega watermarks (the old connector's ``enableWatermark``):
        writers tell the controller the sink's current Flink watermark with the positions their
        events reached, so readers of the stream get watermarks. NONE / AT_LEAST_ONCE note after
        each checkpoint and, in between, when the watermark advanced (at most once per
        :meth:`set_watermark_note_interval`, flushing first); EXACTLY_ONCE notes after each
        transaction's commit, with the watermark at its checkpoint."""
        self._j_builder.enableWatermark(enable)
        return self

    def set_watermark_note_interval(self, millis: Any) -> PravegaSinkBuilder:
        """NONE / AT_LEAST_ONCE with :meth:`enable_watermark`: least time between notes (default 1 s)."""
        self._j_builder.setWatermarkNoteIntervalMillis(_millis(millis, "set_watermark_note_interval"))
        return self

    def set_max_block_size(self, num_bytes: int) -> PravegaSinkBuilder:
        """Largest append block sent to the segment store (default 1 MiB)."""
        self._j_builder.setMaxBlockBytes(num_bytes)
        return self

    def set_linger(self, millis: Any) -> PravegaSinkBuilder:
        """Buffered events are sent at least this often (default 5 ms)."""
        self._j_builder.setLingerMillis(_millis(millis, "set_linger"))
        return self

    def set_request_timeout(self, millis: Any) -> PravegaSinkBuilder:
        """Timeout of one request (default 10 s)."""
        self._j_builder.setRequestTimeoutMillis(_millis(millis, "set_request_timeout"))
        return self

    def set_retry_budget(self, millis: Any) -> PravegaSinkBuilder:
        """How long an unreachable controller or segment store is retried before failing (60 s)."""
        self._j_builder.setRetryBudgetMillis(_millis(millis, "set_retry_budget"))
        return self
