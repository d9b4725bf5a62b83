"""PravegaContainer's configuration, without starting anything (no Docker daemon needed).

The official pravega/pravega image cannot be pulled here, so its support is checked at
this level: image, command, HOST_IP, fixed ports, memory cap, readiness."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("testcontainers")

from pravega.testing.container import (
    DEFAULT_IMAGE,
    OFFICIAL_READY_LOG,
    PravegaContainer,
    PravegaWaitStrategy,
)

# A fixed API version: the docker SDK then does not ask a daemon for one.
NO_DAEMON = {"docker_client_kw": {"version": "1.41"}}


def configured(container: PravegaContainer, host_network: bool = True) -> PravegaContainer:
    container.with_host_network(host_network)
    container._configure()
    return container


def test_defaults_are_pinned_and_ports_are_chosen_at_start() -> None:
    c = PravegaContainer(**NO_DAEMON)
    assert c.image == DEFAULT_IMAGE and not DEFAULT_IMAGE.endswith(":latest")
    with pytest.raises(RuntimeError, match="start"):
        c.get_controller_uri()
    configured(c)
    ctrl, store = c.get_controller_port(), c.get_segment_store_port()
    assert ctrl != store and 0 < ctrl < 65536 and 0 < store < 65536
    assert c.get_controller_uri() == f"tcp://127.0.0.1:{ctrl}"
    assert c.controller_uri == c.get_controller_uri()
    assert c.segment_store_endpoint == f"127.0.0.1:{store}"
    assert c._kwargs["network_mode"] == "host" and c.ports == {}
    assert c.env == {
        "PRAVEGA_HOST": "127.0.0.1",
        "PRAVEGA_CONTROLLER_PORT": str(ctrl),
        "PRAVEGA_SEGMENT_STORE_PORT": str(store),
        "PRAVEGA_ADVERTISED_HOST": "127.0.0.1",
        "PRAVEGA_REST_PORT": str(c._rest_port),
    }
    assert c._rest_port not in (ctrl, store) and c.rest_uri == f"http://127.0.0.1:{c._rest_port}"
    assert isinstance(c._wait_strategy, PravegaWaitStrategy)
    assert (c._wait_strategy.controller_port, c._wait_strategy.segment_store_port) == (ctrl, store)


def test_options_are_fluent_and_validated(tmp_path: Path) -> None:
    c = PravegaContainer(**NO_DAEMON)
    assert c.with_controller_port(19090) is c
    assert c.with_segment_store_port(22345) is c
    assert c.with_advertised_host("pravega.example", 32345) is c
    assert c.with_log_level("info") is c
    assert c.with_server_args("--no-fsync") is c
    assert c.with_startup_timeout(10) is c
    assert c.with_data_volume(tmp_path / "d") is c
    with pytest.raises(ValueError):
        c.with_in_memory()
    with pytest.raises(ValueError):
        c.with_controller_port(70000)
    with pytest.raises(ValueError):
        c.with_log_level("chatty")
    configured(c, host_network=False)
    rest = c._rest_port
    assert c.ports == {"19090": 19090, "22345": 22345, str(rest): rest}  # published one-to-one
    assert c.env["PRAVEGA_HOST"] == "0.0.0.0"
    assert c.env["PRAVEGA_ADVERTISED_HOST"] == "pravega.example"
    assert c.env["PRAVEGA_ADVERTISED_PORT"] == "32345"
    assert c.env["PRAVEGA_LOG_LEVEL"] == "INFO"
    assert c._command == ["--no-fsync"]
    assert c.volumes == {str((tmp_path / "d").resolve()): {"bind": "/data", "mode": "rw"}}
    st = (tmp_path / "d").stat()
    assert c._kwargs["user"] == f"{st.st_uid}:{st.st_gid}"  # writes as the directory's owner


def test_named_volume_and_in_memory() -> None:
    c = configured(PravegaContainer(**NO_DAEMON).with_data_volume("pravega-test-data"))
    assert c.volumes == {"pravega-test-data": {"bind": "/data", "mode": "rw"}}
    assert "user" not in c._kwargs
    m = configured(PravegaContainer(**NO_DAEMON).with_in_memory())
    assert m._command == ["--in-memory"]
    with pytest.raises(ValueError):
        PravegaContainer(**NO_DAEMON).with_data_volume("not a name!")


def test_official_image_configuration() -> None:
    c = PravegaContainer.official("0.13.0", **NO_DAEMON)
    assert c.is_official and c.image == "pravega/pravega:0.13.0"
    assert c._command == "standalone"
    assert c._startup_timeout >= 90
    configured(c, host_network=False)
    assert c.get_controller_port() == 9090 and c.get_segment_store_port() == 12345
    assert c.ports == {"9090": 9090, "12345": 12345}
    assert c.env["JAVA_OPTS"] == "-Xmx1g"
    assert c.env["HOST_IP"]  # the address the segment store publishes to clients
    assert not any(k.startswith("PRAVEGA_") for k in c.env)
    assert isinstance(c._wait_strategy, PravegaWaitStrategy)
    assert c._wait_strategy.log_message is OFFICIAL_READY_LOG
    assert c._wait_strategy._startup_timeout == c._startup_timeout


def test_official_image_refuses_what_it_cannot_do() -> None:
    with pytest.raises(ValueError, match="pin"):
        PravegaContainer.official("latest", **NO_DAEMON)
    c = PravegaContainer.official(**NO_DAEMON).with_advertised_host("10.1.2.3")
    for bad in (
        lambda: c.with_controller_port(19090),
        lambda: c.with_segment_store_port(22345),
        lambda: c.with_data_volume("vol"),
        lambda: c.with_server_args("--x"),
        lambda: c.with_advertised_host("h", 1),
    ):
        with pytest.raises(ValueError):
            bad()
    assert c.with_controller_port(9090) is c and c.with_in_memory() is c
    configured(c)
    assert c.env["HOST_IP"] == "10.1.2.3"
    assert PravegaContainer.official("0.12.0", java_opts="", **NO_DAEMON).env == {}


def test_plugin_is_registered() -> None:
    from importlib.metadata import entry_points

    names = {ep.value for ep in entry_points(group="pytest11")}
    assert "pravega.testing.pytest_plugin" in names
