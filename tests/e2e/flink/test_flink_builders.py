"""Builder validation and configuration (no job runs): what ``build()`` rejects, with messages
that name the setting, and what reaches the Java objects; plus the jar's error paths."""

from __future__ import annotations

import pytest

import pravega
import pravega_flink
from pravega_flink import PravegaSink, PravegaSource, RoutingKeyExtractor, _jar


@pytest.fixture(scope="module")
def env(flink_dirs):
    from pyflink.datastream import StreamExecutionEnvironment

    e = StreamExecutionEnvironment.get_execution_environment()
    pravega_flink.register(e)
    return e


def _schema():
    from pyflink.common import SimpleStringSchema

    return SimpleStringSchema()


def test_source_build_names_every_missing_setting(env):
    with pytest.raises(ValueError) as err:
        PravegaSource.builder().build()
    message = str(err.value)
    assert "controller URI" in message and "setControllerUri" in message
    assert "no stream" in message and "scope/stream" in message
    assert "deserialization schema" in message


def test_source_rejects_bad_names_uris_and_cuts(env):
    with pytest.raises(ValueError, match="scope/stream"):
        PravegaSource.builder().add_stream("just-a-stream")
    with pytest.raises(ValueError, match="trust_cert: cannot read"):  # TLS options are checked at build
        (
            PravegaSource.builder()
            .set_controller_uri("tls://h:9090?trust_cert=/no/such/ca.pem")
            .set_stream("a/b")
            .set_deserialization_schema(_schema())
            .build()
        )
    with pytest.raises(ValueError, match="stream cut"):
        PravegaSource.builder().set_start_stream_cut("sc1:garbage!")
    with pytest.raises(ValueError, match="stream cut of sc/other given for stream sc/st"):
        PravegaSource.builder().add_stream("sc/st", start_cut=pravega.StreamCut("sc", "other", {0: 1}))
    with pytest.raises(TypeError):
        PravegaSource.builder().set_start_stream_cut(42)


def test_source_configuration_reaches_java(env):
    start = pravega.StreamCut("sc", "a", {0: 100, 1: 200})
    end = pravega.StreamCut("sc", "b", {(1 << 32) | 2: 50})
    source = (
        PravegaSource.builder()
        .set_controller_uri("tcp://127.0.0.1:9090")
        .set_streams("sc/a", "sc/b")
        .set_start_stream_cut(start)
        .set_end_stream_cut(str(end))
        .set_start_at_tail()
        .set_bounded()
        .set_read_length(65536)
        .set_deserialization_schema(_schema())
        .build()
    )
    j = source.get_java_function()
    assert j.getBoundedness().toString() == "BOUNDED"
    config = j.getConfig()
    assert config.getControllerUri() == "tcp://127.0.0.1:9090"
    assert config.isStartAtTail() and config.isBounded() and config.getReadLength() == 65536
    specs = {s.getScopedStream(): s for s in config.getStreams()}
    assert set(specs) == {"sc/a", "sc/b"}
    assert specs["sc/a"].getStartCut().toText() == start.to_text()
    assert specs["sc/a"].getEndCut() is None
    assert specs["sc/b"].getEndCut().toText() == end.to_text()


def test_sink_build_names_every_missing_setting(env):
    with pytest.raises(ValueError) as err:
        PravegaSink.builder().build()
    message = str(err.value)
    assert "controller URI" in message
    assert "stream is not set" in message and "scope/stream" in message
    assert "serialization schema" in message


def test_sink_exactly_once_needs_a_sane_transaction_timeout(env):
    from pyflink.common import Duration
    from pyflink.datastream.connectors import DeliveryGuarantee

    def builder():
        return (
            PravegaSink.builder()
            .set_controller_uri("tcp://127.0.0.1:9090")
            .set_stream("sc/out")
            .set_serialization_schema(_schema())
            .set_delivery_guarantee(DeliveryGuarantee.EXACTLY_ONCE)
        )

    with pytest.raises(ValueError, match="transaction timeout of at least 10000 ms"):
        builder().set_transaction_timeout(5_000).build()
    with pytest.raises(ValueError, match="ping interval"):
        builder().set_transaction_timeout(20_000).set_transaction_ping_interval(20_000).build()
    with pytest.raises(TypeError):
        builder().set_transaction_timeout(1.5)
    sink = builder().set_transaction_timeout(Duration.of_minutes(3)).build()
    config = sink.get_java_function().getConfig()
    assert config.getTransactionTimeoutMillis() == 180_000
    assert config.getPingIntervalMillis() == 18_000
    assert config.getDeliveryGuarantee().name() == "EXACTLY_ONCE"
    # The default: AT_LEAST_ONCE with a 10-minute lease.
    default = (
        PravegaSink.builder()
        .set_controller_uri("tcp://h:1")
        .set_stream("sc/out")
        .set_serialization_schema(_schema())
        .build()
        .get_java_function()
        .getConfig()
    )
    assert default.getDeliveryGuarantee().name() == "AT_LEAST_ONCE"
    assert default.getTransactionTimeoutMillis() == 600_000


def test_sink_routing_key_extractors(env):
    from pyflink.datastream.connectors import DeliveryGuarantee

    def key(extractor: RoutingKeyExtractor, text: str, element=None):
        return extractor._j_extractor.getRoutingKey(element, text.encode())

    assert key(RoutingKeyExtractor.json_field("user"), '{"user": "u7", "n": 1}') == "u7"
    assert key(RoutingKeyExtractor.json_field("n"), '{"user": "u7", "n": 1}') == "1"
    assert key(RoutingKeyExtractor.json_field("user"), "not json") is None
    assert key(RoutingKeyExtractor.delimited_prefix(":"), "k3:17") == "k3"
    assert key(RoutingKeyExtractor.fixed("all"), "x") == "all"
    assert key(RoutingKeyExtractor.none(), "x") is None
    with pytest.raises(ValueError, match="delimiter"):
        RoutingKeyExtractor.delimited_prefix("")
    sink = (
        PravegaSink.builder()
        .set_controller_uri("tcp://h:1")
        .set_stream("sc/out")
        .set_serialization_schema(_schema())
        .set_delivery_guarantee(DeliveryGuarantee.NONE)
        .set_routing_key_field("user")
        .build()
    )
    assert sink.get_java_function().getRoutingKeyExtractor().toString() == "jsonField(user)"


def test_unregistered_classes_and_unsupported_flink(env, monkeypatch, tmp_path):
    with pytest.raises(RuntimeError, match=r"pravega_flink.register\(env\)"):
        pravega_flink.pravega._java_class("source.NoSuchClass")
    with pytest.raises(pravega_flink.UnsupportedFlinkVersion, match="supports Flink 2.3"):
        _jar.check_flink_version("1.19.1")
    monkeypatch.setattr(_jar, "flink_version", lambda: "2.4.0")
    with pytest.raises(pravega_flink.UnsupportedFlinkVersion, match="PyFlink 2.4.0"):
        pravega_flink.register(env)


def test_missing_jdk_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PRAVEGA_FLINK_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("PRAVEGA_FLINK_JAR", raising=False)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-jdk"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(pravega_flink.ConnectorJarError, match="no JDK was found"):
        _jar.jar_path()


def test_compile_errors_are_reported(tmp_path):
    bad = tmp_path / "src" / "Broken.java"
    bad.parent.mkdir()
    bad.write_text("class Broken { int x = ; }")
    with pytest.raises(pravega_flink.ConnectorJarError, match="compiling the Pravega Flink connector failed"):
        _jar.build_jar(tmp_path / "out.jar", sources=bad.parent)


def test_pravega_watermark_options_reach_java_and_are_checked(env):
    """``with_pravega_watermarks`` / ``enable_watermark``: the settings reach the Java config,
    ``watermark_strategy()`` keeps source watermarks only when enabled, bad values are named."""
    from pravega_flink import TimestampExtractor

    def source():
        b = PravegaSource.builder().set_controller_uri("tcp://127.0.0.1:9090").set_stream("sc/a")
        return b.set_deserialization_schema(_schema())

    plain = source().build()
    assert not plain.get_java_function().getConfig().isPravegaWatermarks()
    j_plain = plain.watermark_strategy()._j_watermark_strategy
    assert "NoWatermarksGenerator" in j_plain.createWatermarkGenerator(None).getClass().getName()
    marked = (
        source().with_pravega_watermarks(TimestampExtractor.json_field("ts")).set_watermark_poll_interval(250).build()
    )
    config = marked.get_java_function().getConfig()
    assert config.isPravegaWatermarks() and config.getMarkPollMillis() == 250
    assert config.getTimestampExtractor().toString() == "jsonField(ts)"
    assert marked.watermark_strategy()._j_watermark_strategy.getClass().getSimpleName() == "PravegaWatermarkStrategy"
    with pytest.raises(ValueError, match="setWatermarkPollMillis"):
        source().with_pravega_watermarks().set_watermark_poll_interval(1).build()
    with pytest.raises(ValueError, match="delimiter"):
        TimestampExtractor.delimited_field("", 0)

    def sink():
        return PravegaSink.builder().set_controller_uri("tcp://127.0.0.1:9090").set_stream("sc/out")

    j_sink = sink().set_serialization_schema(_schema()).enable_watermark(True).build().get_java_function()
    assert j_sink.getConfig().isWatermarks() and j_sink.getConfig().getNoteIntervalMillis() == 1000
    assert not sink().set_serialization_schema(_schema()).build().get_java_function().getConfig().isWatermarks()
    with pytest.raises(ValueError, match="setWatermarkNoteIntervalMillis"):
        sink().set_serialization_schema(_schema()).enable_watermark(True).set_watermark_note_interval(0).build()
