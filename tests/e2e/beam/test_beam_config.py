"""Configuration of ReadFromPravega / WriteToPravega: errors at construction, display data."""

from __future__ import annotations

import inspect

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.transforms.display import DisplayData

from pravega import StreamCut, StringSerializer
from pravega_beam import ReadFromPravega, WriteToPravega

URI = "tcp://127.0.0.1:9090"
CUT = StreamCut("sc", "st", {0: 10, 1: 0})


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"controller_uri": "127.0.0.1"}, r"tcp://host:port"),
        ({"controller_uri": 9090}, r"tcp://127.0.0.1:9090"),
        ({"stream": "st"}, r"'scope/stream'"),
        ({"stream": "sc/st/x"}, r"'scope/stream'"),
        ({"stream": "sc/bad name"}, r"'scope/stream'"),
        ({"stream": []}, r"non-empty list"),
        ({"stream": ["sc/st", "sc/st"]}, r"listed twice"),
        ({"start": "middle"}, r"'head', 'tail', a pravega.StreamCut"),
        ({"start": StreamCut("sc", "other", {0: 0})}, r"start stream cut is of sc/other, which is not read"),
        ({"start": [CUT, CUT]}, r"two start stream cuts of sc/st"),
        ({"start": []}, r"or a list of them"),
        ({"stream": ["sc/st", "sc/two"], "end": CUT}, r"an end stream cut for every stream; none for \['sc/two'\]"),
        ({"stream": ["sc/st", "sc/two"], "end": [CUT, StreamCut.unbounded("sc", "two")]}, r"every stream .* or none"),
        ({"end": "sc1:garbage"}, r"end must be None, a pravega.StreamCut"),
        ({"end": StreamCut("xx", "st", {0: 0})}, r"end stream cut is of xx/st, which is not read"),
        ({"start": "tail", "end": CUT}, r"not at 'tail'"),
        ({"deserializer": 42}, r"callable or an object with .deserialize"),
        ({"timestamp_fn": "ts"}, r"timestamp_fn must be a callable"),
        ({"idle_timeout": 0}, r"idle_timeout must be None or seconds > 0"),
        ({"max_poll_ms": 0}, r"max_poll_ms must be an int in \[1, 60000\]"),
        ({"with_metadata": "yes"}, r"with_metadata must be True or False"),
        ({"resume_from_sink": "bad id"}, r"sink_id must be a name of letters"),
        ({"resume_from_sink": "bad scope/job"}, r"'sink_id' or 'scope/sink_id'"),
        ({"resume_from_sink": 7}, r"'sink_id' or 'scope/sink_id'"),
        ({"stream": ["sc/st", "other/st"], "resume_from_sink": "job"}, r"several scopes"),
    ],
)
def test_read_rejects_bad_configuration(kwargs: dict, message: str) -> None:
    args = {"controller_uri": URI, "stream": "sc/st", **kwargs}
    with pytest.raises(ValueError, match=message):
        ReadFromPravega(**args)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"controller_uri": "http://"}, r"tcp://host:port"),
        ({"stream": "only-stream"}, r"'scope/stream'"),
        ({"stream": ["sc/st"]}, r"one 'scope/stream'"),
        ({"serializer": 3}, r"callable or an object with .serialize"),
        ({"routing_key_fn": "key"}, r"routing_key_fn must be a callable"),
        ({"exactly_once": False, "transaction_lease_ms": 10_000}, r"exactly_once=True only"),
        ({"transaction_lease_ms": 900_000}, r"\[1000, 600000\]"),
        ({"transaction_lease_ms": 10.5}, r"\[1000, 600000\]"),
        ({"exactly_once": "yes"}, r"exactly_once must be True or False"),
        ({"sink_id": ""}, r"sink_id must be a name of letters, digits"),
        ({"sink_id": "a/b"}, r"sink_id must be a name of letters, digits"),
        ({"sink_id": 5}, r"sink_id must be a name of letters, digits"),
        ({"sink_id": "job", "exactly_once": False}, r"sink_id applies to exactly_once=True only"),
    ],
)
def test_write_rejects_bad_configuration(kwargs: dict, message: str) -> None:
    args = {"controller_uri": URI, "stream": "sc/st", **kwargs}
    with pytest.raises(ValueError, match=message):
        WriteToPravega(**args)


def test_good_configurations() -> None:
    ReadFromPravega(URI, ["sc/a", "sc/b"], start="tail")
    two = ReadFromPravega(URI, ["sc/st", "sc/b"], start=[CUT], end=[CUT.to_text(), StreamCut("sc", "b", {0: 5})])
    assert two.bounded
    ReadFromPravega(URI, "sc/st", start=CUT.to_text(), end=CUT, deserializer=StringSerializer())
    ReadFromPravega(
        "tls://controller.example:443", "sc/st", deserializer=bytes.decode, timestamp_fn=len, idle_timeout=None
    )
    WriteToPravega(URI, "sc/st", serializer=StringSerializer(), routing_key_fn=str, exactly_once=False)


def test_read_display_data() -> None:
    read = ReadFromPravega(URI, "sc/st", start=CUT, end=CUT, with_metadata=True)
    items = {i.key: i.value for i in DisplayData.create_from(read).items}
    assert items == {
        "controller_uri": URI,
        "streams": "sc/st",
        "start": CUT.to_text(),
        "end": CUT.to_text(),
        "bounded": True,
        "with_metadata": True,
        "max_poll_ms": 200,
    }


def test_unbounded_read_declares_an_unbounded_pcollection() -> None:
    p = beam.Pipeline()
    assert not (p | "U" >> ReadFromPravega(URI, "sc/st")).is_bounded
    assert (p | "B" >> ReadFromPravega(URI, "sc/st", end=CUT)).is_bounded


def test_several_direct_runner_workers_keep_what_reads_defer() -> None:
    from apache_beam.runners.portability.fn_api_runner import fn_runner

    p = beam.Pipeline(options=PipelineOptions(["--direct_num_workers=2"]))
    _ = p | ReadFromPravega(URI, "sc/st")
    # Building the read made the runner's multi-worker merge keep residuals (deferred work).
    assert "residual_roots" in inspect.getsource(fn_runner.ParallelBundleManager.process_bundle)


def test_sink_id_display_data() -> None:
    read = ReadFromPravega(URI, "sc/st", with_metadata=True, resume_from_sink="job")
    write = WriteToPravega(URI, "sc/out", sink_id="job")
    assert {i.key: i.value for i in DisplayData.create_from(read).items}["resume_from_sink"] == "sc/job"
    assert {i.key: i.value for i in DisplayData.create_from(write).items}["sink_id"] == "job"
    other_scope = ReadFromPravega(URI, "sc/st", resume_from_sink="elsewhere/job")
    assert {i.key: i.value for i in DisplayData.create_from(other_scope).items}["resume_from_sink"] == "elsewhere/job"
