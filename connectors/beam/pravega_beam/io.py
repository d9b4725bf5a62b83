"""Apache Beam transforms for Pravega streams.

Reading (a Splittable DoFn; unbounded, or bounded between two stream cuts)::

    events = p | ReadFromPravega("tcp://127.0.0.1:9090", "scope/in")
    events = p | ReadFromPravega(uri, "scope/in", start=cut1, end=cut2)   # batch

Writing (exactly-once by default: a transaction per bundle, committed after a
``Reshuffle``)::

    words | WriteToPravega(uri, "scope/out", serializer=StringSerializer(), routing_key_fn=lambda w: w)

Exactly once across a failed run and its re-run, and resuming where the committed
output ends: give the sink a durable ``sink_id`` and carry the input positions::

    (p | ReadFromPravega(uri, "scope/in", with_metadata=True, resume_from_sink="job")
       | beam.Map(lambda e: e._replace(event=f(e.event)))
       | WriteToPravega(uri, "scope/out", sink_id="job"))

(see ``WriteToPravega``'s ``sink_id`` and ``_progress`` for how it works).

Configuration errors raise ``ValueError`` when the transform is built.

Run on the DirectRunner (with several workers, e.g. ``--direct_num_workers=2
--direct_running_mode=multi_processing``, segments are read in parallel; see
``_direct_workers`` for the Beam bug this works around), or on the portable runner
(``--runner=PortableRunner --job_endpoint=embed --environment_type=LOOPBACK``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import apache_beam as beam
from apache_beam.options.pipeline_options import DirectOptions
from apache_beam.runners.direct.direct_runner import DirectRunner, SwitchingDirectRunner
from apache_beam.transforms import window

from pravega import StreamCut, naming
from pravega.client.controller import parse_controller_uri
from pravega.client.security import uri_with_options

from ._direct_workers import keep_deferred_work
from ._progress import SinkConflictError, SinkInUseError, new_run_id, table_segment
from ._sdf import PravegaEvent, _ReadFn, _ReadSpec, _UnboundedReadFn
from ._sink import _CommitTransactionsFn, _WriteEventsFn, _WriteTrackedFn, _WriteTransactionsFn

__all__ = ["ReadFromPravega", "WriteToPravega", "PravegaEvent", "SinkInUseError", "SinkConflictError"]

#: The controller's longest transaction lease (ms); longer leases are refused.
MAX_TRANSACTION_LEASE_MS = 600_000
DEFAULT_TRANSACTION_LEASE_MS = 120_000


def _controller(uri: Any) -> str:
    if not isinstance(uri, str):
        raise ValueError(f"controller_uri must be a string like 'tcp://127.0.0.1:9090', got {uri!r}")
    try:
        parse_controller_uri(uri)
    except ValueError:
        raise ValueError(f"controller_uri must look like 'tcp://host:port', got {uri!r}") from None
    return uri


def _with_client_options(uri: str, options: Mapping[str, Any] | None) -> str:
    """The URI the workers connect with: ``uri`` plus the client's TLS and credential
    options (see :data:`pravega.client.security.URI_OPTIONS`) in its query string."""
    if options is None:
        return uri
    if not isinstance(options, Mapping):
        raise ValueError(f"client_options must be a dict like {{'trust_cert': '/ca.pem'}}, got {options!r}")
    return uri_with_options(uri, options)


def _scoped(name: Any) -> tuple[str, str]:
    if not isinstance(name, str):
        raise ValueError(f"a stream is named 'scope/stream', got {name!r}")
    parts = name.split("/")
    if len(parts) != 2 or not naming.is_valid_scope_name(parts[0]) or not naming.is_valid_stream_name(parts[1]):
        raise ValueError(f"a stream is named 'scope/stream' (letters, digits, '.', '-'), got {name!r}")
    return parts[0], parts[1]


def _cut(value: Any, expected: str) -> StreamCut:
    """A stream cut from a StreamCut or its text; ``expected`` describes the forms allowed."""
    if isinstance(value, StreamCut):
        return value
    if isinstance(value, str):
        try:
            return StreamCut.from_text(value)
        except ValueError:
            pass
    raise ValueError(f"{expected}, got {value!r}")


def _cuts(value: Any, streams: list[tuple[str, str]], what: str, forms: str) -> dict[tuple[str, str], StreamCut]:
    """Stream cuts by stream from one cut (or its text) or a list of them; each must be
    of a stream read, at most one per stream."""
    expected = f"{what} must be {forms}a pravega.StreamCut (or its text 'sc1:...') or a list of them"
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    if not items:
        raise ValueError(f"{expected}, got {value!r}")
    out: dict[tuple[str, str], StreamCut] = {}
    for item in items:
        cut = _cut(item, expected)
        key = (cut.scope, cut.stream)
        if key not in streams:
            read = ", ".join(f"{s}/{t}" for s, t in streams)
            raise ValueError(
                f"the {what} stream cut is of {cut.scope}/{cut.stream}, which is not read (streams: {read})"
            )
        if key in out:
            raise ValueError(f"two {what} stream cuts of {cut.scope}/{cut.stream}")
        out[key] = cut
    return out


def _sink_id(value: Any) -> str:
    if not isinstance(value, str) or not naming.is_user_name(value) or len(value) > 200:
        raise ValueError(
            f"sink_id must be a name of letters, digits, '.' and '-' (at most 200), like 'orders-enrich', got {value!r}"
        )
    return value


def _callable_of(obj: Any, method: str, what: str) -> Callable[[Any], Any] | None:
    if obj is None:
        return None
    bound = getattr(obj, method, None)
    if callable(bound):
        return bound
    if callable(obj):
        return obj
    raise ValueError(f"{what} must be a callable or an object with .{method}(), got {obj!r}")


class ReadFromPravega(beam.PTransform):
    """Reads the events of one or more Pravega streams.

    Args:
      controller_uri: the controller, ``"tcp://host:port"``.
      stream: ``"scope/stream"`` or a list of them.
      start: ``"head"`` (default), ``"tail"`` (what is appended after the read starts),
        or a :class:`pravega.StreamCut` (or its text), or a list of them, one per stream
        (a stream without one starts at its head).
      end: ``None`` for an unbounded read that follows the streams through scaling and
        finishes when they are sealed and read to their end; or a stream cut (a list of
        them for several streams, one for every stream): a bounded (batch) read of the
        events between ``start`` and ``end``.
      deserializer: bytes -> value: a callable or a ``pravega.Serializer``; default:
        events stay ``bytes``.
      with_metadata: emit :class:`PravegaEvent` (stream, segment id, offset, event).
      timestamp_fn: value -> event time (a Beam ``Timestamp`` or seconds); default:
        the processing time when the event was read. The watermark then follows the
        stream's Pravega watermarks (``_MARK<stream>``, from writers' ``note_time``)
        where there are any: per restriction, the lower bound of the newest one whose
        stream cut its segments have passed; otherwise the lowest event time seen per
        segment (see ``idle_timeout``).
      idle_timeout: seconds (event time without Pravega watermarks only): a segment without new events for this
        long stops holding the watermark back; when all are idle the watermark moves to
        ``now - idle_timeout``. ``None``: only events move the watermark.
      max_poll_ms: how long a read waits for new data before it yields its thread
        (the runner then re-polls).
      resume_from_sink: ``"sink_id"`` or ``"scope/sink_id"`` (default scope: the read
        stream's): start each segment where the output committed by
        ``WriteToPravega(sink_id=...)`` ends, instead of at ``start`` (segments the sink
        has no record of start at ``start``; a bounded read still ends at ``end``).
        The last committed event is read again and the sink drops it. Use it with
        ``with_metadata=True``, as the sink needs the positions.
      client_options: TLS and credentials of the workers' client, as
        :class:`pravega.ClientConfig` fields: ``trust_cert``, ``tls``,
        ``disable_cert_verification``, ``client_cert``, ``client_key``, ``username``,
        ``password`` (they travel with the pipeline; display data shows only the URI).

    Each routing key's events come out in order (also across scaling); events of
    different keys and segments interleave. Every read, bounded or not, starts as one
    restriction per segment, which runners that parallelize read in parallel; a
    successor segment (after scaling) is read only once all its predecessors are read
    to their end, by the restriction that finished its lowest predecessor (the others
    announce their end in a small table ``<scope>/_BEAMREAD_ends`` in Pravega). A
    restriction holding several segments can be split dynamically by whole segments.
    The metric ``events_read/<scope>/<stream>/<segment id>`` counts the events of each
    segment (``events_read`` all of them).
    """

    def __init__(
        self,
        controller_uri: str,
        stream: str | Iterable[str],
        start: Any = "head",
        end: Any = None,
        deserializer: Any = None,
        with_metadata: bool = False,
        timestamp_fn: Callable[[Any], Any] | None = None,
        idle_timeout: float | None = 10.0,
        max_poll_ms: int = 200,
        resume_from_sink: str | None = None,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self._controller_uri = _controller(controller_uri)
        self._connect_uri = _with_client_options(self._controller_uri, client_options)
        names = [stream] if isinstance(stream, str) else list(stream) if isinstance(stream, (list, tuple)) else None
        if not names:
            raise ValueError(f"stream must be 'scope/stream' or a non-empty list of them, got {stream!r}")
        streams = [_scoped(n) for n in names]
        if len(set(streams)) != len(streams):
            raise ValueError(f"a stream is listed twice: {names!r}")
        starts: dict[tuple[str, str], str] = {}
        if isinstance(start, str) and start in ("head", "tail"):
            starts = dict.fromkeys(streams, start)
        else:
            cuts = _cuts(start, streams, "start", "'head', 'tail', ")
            # A stream without a start cut (or with StreamCut.unbounded) starts at its head.
            starts = {s: "head" if s not in cuts or cuts[s].is_unbounded else cuts[s].to_text() for s in streams}
        ends: dict[tuple[str, str], str | None] = dict.fromkeys(streams)
        if end is not None:
            cuts = _cuts(end, streams, "end", "None, ")
            missing = [f"{s}/{t}" for s, t in streams if (s, t) not in cuts]
            if missing:
                raise ValueError(f"a bounded read needs an end stream cut for every stream; none for {missing}")
            unbounded = {s for s, c in cuts.items() if c.is_unbounded}  # StreamCut.unbounded: no end
            if unbounded and len(unbounded) != len(streams):
                raise ValueError("end: either every stream has an end stream cut or none (StreamCut.unbounded)")
            if not unbounded:
                if "tail" in starts.values():
                    raise ValueError("a bounded read (end=...) starts at 'head' or a stream cut, not at 'tail'")
                ends = {s: cuts[s].to_text() for s in streams}
        if not isinstance(with_metadata, bool):
            raise ValueError(f"with_metadata must be True or False, got {with_metadata!r}")
        if timestamp_fn is not None and not callable(timestamp_fn):
            raise ValueError(f"timestamp_fn must be a callable value -> Timestamp or seconds, got {timestamp_fn!r}")
        if idle_timeout is not None and (not isinstance(idle_timeout, (int, float)) or idle_timeout <= 0):
            raise ValueError(f"idle_timeout must be None or seconds > 0, got {idle_timeout!r}")
        if isinstance(max_poll_ms, bool) or not isinstance(max_poll_ms, int) or not 1 <= max_poll_ms <= 60_000:
            raise ValueError(f"max_poll_ms must be an int in [1, 60000], got {max_poll_ms!r}")
        self._resume: str | None = None
        if resume_from_sink is not None:
            if not isinstance(resume_from_sink, str):
                raise ValueError(f"resume_from_sink must be 'sink_id' or 'scope/sink_id', got {resume_from_sink!r}")
            scope, _, sink = resume_from_sink.rpartition("/")
            if not scope:
                scopes = {s for s, _ in streams}
                if len(scopes) != 1:
                    raise ValueError(
                        f"resume_from_sink={resume_from_sink!r}: the streams are in several scopes, name the "
                        "sink's scope ('scope/sink_id')"
                    )
                scope = scopes.pop()
            elif not naming.is_valid_scope_name(scope):
                raise ValueError(f"resume_from_sink must be 'sink_id' or 'scope/sink_id', got {resume_from_sink!r}")
            self._resume = table_segment(scope, _sink_id(sink))
            self._resume_name = f"{scope}/{sink}"
        self._streams = streams
        self._starts = starts
        self._ends = ends
        self._deserialize = _callable_of(deserializer, "deserialize", "deserializer")
        self._with_metadata = with_metadata
        self._timestamp_fn = timestamp_fn
        self._idle_timeout = idle_timeout
        self._max_poll_ms = max_poll_ms

    @property
    def bounded(self) -> bool:
        return all(e is not None for e in self._ends.values())

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.PCollection:
        _check_runner(pbegin.pipeline)
        read_id = uuid.uuid4().hex  # names this run's announcements of finished segments
        specs = [
            _ReadSpec(self._connect_uri, s, t, self._starts[(s, t)], self._ends[(s, t)], self._resume, read_id)
            for s, t in self._streams
        ]
        fn_class = _ReadFn if self.bounded else _UnboundedReadFn
        fn = fn_class(self._deserialize, self._with_metadata, self._timestamp_fn, self._idle_timeout, self._max_poll_ms)
        return (
            pbegin
            | "Impulse" >> beam.Impulse()
            | "Streams" >> beam.FlatMap(_emit_all, specs)
            | "Read" >> beam.ParDo(fn)
        )

    def display_data(self) -> dict[str, Any]:
        data = {
            "controller_uri": self._controller_uri,
            "streams": ", ".join(f"{s}/{t}" for s, t in self._streams),
            "start": ", ".join(sorted(set(self._starts.values()))),
            "bounded": self.bounded,
            "with_metadata": self._with_metadata,
            "max_poll_ms": self._max_poll_ms,
        }
        if self.bounded:
            data["end"] = ", ".join(str(e) for e in self._ends.values())
        if self._resume is not None:
            data["resume_from_sink"] = self._resume_name
        return data


def _check_runner(pipeline: beam.Pipeline) -> None:
    """Beam's DirectRunner with several workers drops the remainders Splittable DoFns
    defer (events would be lost): make it keep them (see ``_direct_workers``), or refuse."""
    if isinstance(pipeline.runner, (SwitchingDirectRunner, DirectRunner)):
        workers = pipeline.options.view_as(DirectOptions).direct_num_workers
        if workers != 1:
            try:
                keep_deferred_work()
            except RuntimeError as exc:
                raise ValueError(
                    f"ReadFromPravega on the DirectRunner needs --direct_num_workers=1 (got {workers}): {exc}"
                ) from exc


def _emit_all(_: Any, specs: list[_ReadSpec]) -> list[_ReadSpec]:
    return specs


class WriteToPravega(beam.PTransform):
    """Writes a PCollection's elements as events of a Pravega stream.

    Args:
      controller_uri: the controller, ``"tcp://host:port"``.
      stream: ``"scope/stream"``; it must exist.
      serializer: value -> bytes: a callable or a ``pravega.Serializer``; default:
        elements must be ``bytes``.
      routing_key_fn: value -> routing key (``str`` or ``None``); events of one key stay
        in order within a bundle. Default: no key (spread over the segments).
      exactly_once: ``True`` (default): every element is in the stream exactly once, also
        when bundles are retried — each bundle goes into a transaction whose id is
        committed after a ``Reshuffle``; data appears when its transaction commits, and
        transactions of different bundles commit in no particular order. This holds
        within one run: a pipeline that fails as a whole and is run again writes again
        (use ``sink_id`` for that). ``False``: the idempotent event writer, flushed per
        bundle (a retried bundle writes again).
      transaction_lease_ms: how long a transaction may wait between the two stages
        without its writer (default 120000, at most 600000). Only with exactly_once.
      sink_id: a durable name of this sink (letters, digits, '.', '-'): exactly once
        across retried bundles *and* across a failed run followed by a re-run with the
        same ``sink_id``. Elements must then be :class:`PravegaEvent` (as
        ``ReadFromPravega(with_metadata=True)`` emits them; change the value with
        ``beam.Map(lambda e: e._replace(event=f(e.event)))``); ``serializer`` and
        ``routing_key_fn`` apply to ``e.event``. The sink records in a Pravega table
        (``<scope>/_BEAMSINK<sink_id>_progress``) which input positions have their
        output committed, and commits each bundle's transaction at the end of the
        bundle together with that record; input already covered is dropped. A re-run
        therefore writes exactly the output of the input not yet covered, and
        ``ReadFromPravega(..., resume_from_sink=sink_id)`` starts the read there. The
        bundles of one input segment commit in input order, so each routing key read
        from one segment keeps its order in the output, across bundles and runs.
        Between the read and this sink only element-wise steps are allowed (Map,
        FlatMap, Filter, ParDo): they are fused with the read; a shuffle (GroupByKey,
        Reshuffle) would hand one segment's input to bundles in any order, and is
        refused when the pipeline is built. All outputs of one input element must be written in
        the bundle that holds it (they are, when fused). Only one running pipeline may
        use a sink id: a second one fails at once with :class:`SinkInUseError`; after a
        run died, a new run takes the sink over once the old heartbeat is
        ``STALE_SECONDS`` (3 s) old.
      client_options: TLS and credentials of the workers' client, as for
        :class:`ReadFromPravega`.

    Returns the committed transaction ids (hex) with exactly_once, else an empty
    PCollection.
    """

    def __init__(
        self,
        controller_uri: str,
        stream: str,
        serializer: Any = None,
        routing_key_fn: Callable[[Any], str | None] | None = None,
        exactly_once: bool = True,
        transaction_lease_ms: int | None = None,
        sink_id: str | None = None,
        *,
        client_options: Mapping[str, Any] | None = None,
        _fault_hook: Callable[[str, str], None] | None = None,
    ) -> None:
        super().__init__()
        self._controller_uri = _controller(controller_uri)
        self._connect_uri = _with_client_options(self._controller_uri, client_options)
        if not isinstance(stream, str):
            raise ValueError(f"stream must be one 'scope/stream', got {stream!r}")
        self._scope, self._stream = _scoped(stream)
        self._serialize = _callable_of(serializer, "serialize", "serializer") or _bytes_only
        if routing_key_fn is not None and not callable(routing_key_fn):
            raise ValueError(f"routing_key_fn must be a callable value -> str | None, got {routing_key_fn!r}")
        if not isinstance(exactly_once, bool):
            raise ValueError(f"exactly_once must be True or False, got {exactly_once!r}")
        if transaction_lease_ms is not None:
            if not exactly_once:
                raise ValueError(
                    "transaction_lease_ms applies to exactly_once=True only (at-least-once writes use no transactions)"
                )
            if (
                isinstance(transaction_lease_ms, bool)
                or not isinstance(transaction_lease_ms, int)
                or not 1_000 <= transaction_lease_ms <= MAX_TRANSACTION_LEASE_MS
            ):
                raise ValueError(
                    f"transaction_lease_ms must be an int in [1000, {MAX_TRANSACTION_LEASE_MS}], "
                    f"got {transaction_lease_ms!r}"
                )
        if sink_id is not None:
            if not exactly_once:
                raise ValueError("sink_id applies to exactly_once=True only (it records committed transactions)")
            sink_id = _sink_id(sink_id)
        self._sink_id = sink_id
        self._routing_key_fn = routing_key_fn
        self._exactly_once = exactly_once
        self._lease_ms = transaction_lease_ms or DEFAULT_TRANSACTION_LEASE_MS
        self._fault_hook = _fault_hook

    def expand(self, pcoll: beam.PCollection) -> beam.PCollection:
        uri, scope, stream = self._connect_uri, self._scope, self._stream
        if not self._exactly_once:
            return pcoll | "WriteEvents" >> beam.ParDo(
                _WriteEventsFn(uri, scope, stream, self._serialize, self._routing_key_fn)
            )
        if not isinstance(pcoll.windowing.windowfn, window.GlobalWindows):
            # Transaction ids are emitted in the global window (a bundle spans windows).
            pcoll = pcoll | "GlobalWindow" >> beam.WindowInto(window.GlobalWindows())
        if self._sink_id is not None:
            _check_fed_by_read(pcoll)
            # No Reshuffle: the sink must stay fused with the read (see the docstring).
            return pcoll | "WriteCommitted" >> beam.ParDo(
                _WriteTrackedFn(
                    uri,
                    scope,
                    stream,
                    self._serialize,
                    self._routing_key_fn,
                    self._lease_ms,
                    self._sink_id,
                    new_run_id(),
                )
            )
        ids = pcoll | "WriteTransactions" >> beam.ParDo(
            _WriteTransactionsFn(
                uri, scope, stream, self._serialize, self._routing_key_fn, self._lease_ms, self._fault_hook
            )
        )
        return (
            ids
            | "StableIds" >> beam.Reshuffle()
            | "CommitTransactions"
            >> beam.ParDo(_CommitTransactionsFn(uri, scope, stream, self._lease_ms, self._fault_hook))
        )

    def display_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "controller_uri": self._controller_uri,
            "stream": f"{self._scope}/{self._stream}",
            "exactly_once": self._exactly_once,
        }
        if self._exactly_once:
            data["transaction_lease_ms"] = self._lease_ms
        if self._sink_id is not None:
            data["sink_id"] = self._sink_id
        return data


def _check_fed_by_read(pcoll: beam.PCollection) -> None:
    """A sink with a sink id must get its input from ReadFromPravega through
    element-wise steps only (see ``sink_id``): walk the producers back to the read."""
    todo: list[Any] = [pcoll]
    seen: set[int] = set()
    while todo:
        pc = todo.pop()
        if id(pc) in seen:
            continue
        seen.add(id(pc))
        applied = pc.producer
        transform = applied.transform if applied is not None else None
        if isinstance(transform, beam.ParDo) and isinstance(transform.fn, _ReadFn):
            continue  # the read
        if applied is None or not isinstance(transform, (beam.ParDo, beam.Flatten)):
            name = applied.full_label if applied is not None else "?"
            raise ValueError(
                f"WriteToPravega(sink_id=...) needs its input from ReadFromPravega(with_metadata=True) through "
                f"element-wise steps only (Map, FlatMap, Filter, ParDo, Flatten), which run fused with the read; "
                f"found {type(transform).__name__} at {name!r}. A shuffle (GroupByKey, Reshuffle) loses the input "
                "order the sink records its progress by."
            )
        todo.extend(applied.main_inputs.values())


def _bytes_only(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError(
        f"WriteToPravega without a serializer writes bytes, got {type(value).__name__}; pass serializer=..."
    )
