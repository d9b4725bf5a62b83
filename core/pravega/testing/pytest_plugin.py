"""pytest plugin: a Pravega server for your tests, as a subprocess or in a container.

Installed with pravega-native (entry point ``pytest11``), so the fixtures are there in any
project that has it installed; ``-p no:pravega-native`` switches the plugin off.

Fixtures:

``pravega_server`` (module scope)
    A running server with ``controller_uri`` (``tcp://host:port``, what the clients, Beam
    and PyFlink take) and ``segment_store_endpoint``. By default a ``pravega-server``
    subprocess (:class:`pravega.testing.ServerProcess`); a container
    (:class:`pravega.testing.container.PravegaContainer`) when asked for with
    ``--pravega-container``, with ``PRAVEGA_TEST_CONTAINER=1``, or with the marker
    ``pravega_container`` on the module (``pytestmark = pytest.mark.pravega_container``).
    One process and at most one container serve the whole session: give scopes unique names.
``pravega_controller_uri`` (module scope)
    Just ``pravega_server.controller_uri``.
``pravega_container`` (session scope)
    Always the container (skips, naming the reason, when Docker or the image is missing).
``pravega_container_factory``
    ``factory(**kwargs) -> PravegaContainer``, not yet started: configure with ``with_*``,
    then ``start()``; stopped at the end of the test. For tests that restart or need
    their own ports or volumes.

Options: ``--pravega-image`` (or ``PRAVEGA_TEST_IMAGE``) names the image, default
``pravega-native:dev``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

MARKER = "pravega_container"
_TRUE = {"1", "true", "yes", "on"}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pravega", "Pravega test servers (pravega-native)")
    group.addoption(
        "--pravega-container",
        action="store_true",
        default=False,
        help="run the pravega_server fixture in a container (also: PRAVEGA_TEST_CONTAINER=1)",
    )
    group.addoption(
        "--pravega-image",
        default=None,
        help="image of container servers (default: $PRAVEGA_TEST_IMAGE or pravega-native:dev)",
    )


#: Server settings for every server a test session starts (read by ``pravega-server``
#: from the environment, so subprocesses started by tests inherit them): small chunks,
#: quick flushes, frequent checkpoints and small log files, so that tiering, checkpoints
#: and log deletion happen constantly under every test. A value set in the
#: environment before the session wins.
TEST_SERVER_ENV = {
    "PRAVEGA_CHUNK_SIZE": "256K",
    "PRAVEGA_FLUSH_AGE": "0.5",
    "PRAVEGA_CHECKPOINT_INTERVAL": "1",
    "PRAVEGA_LOG_FILE_SIZE": str(4 * 1024 * 1024),
}


def pytest_configure(config: pytest.Config) -> None:
    for key, value in TEST_SERVER_ENV.items():
        os.environ.setdefault(key, value)
    config.addinivalue_line(
        "markers", f"{MARKER}: the module's pravega_server fixture is a container, not a subprocess"
    )


def _image(config: pytest.Config) -> str:
    from .container import DEFAULT_IMAGE

    return config.getoption("--pravega-image") or os.environ.get("PRAVEGA_TEST_IMAGE") or DEFAULT_IMAGE


def _container_class_or_skip(config: pytest.Config) -> tuple[Any, str]:
    """(PravegaContainer, image), or skip naming the missing precondition."""
    try:
        from .container import PravegaContainer, docker_unavailable_reason
    except ImportError as exc:
        pytest.skip(f"container tests need testcontainers: {exc}")
    image = _image(config)
    reason = docker_unavailable_reason(image)
    if reason is not None:
        pytest.skip(f"no Pravega container: {reason}")
    return PravegaContainer, image


def wants_container(request: pytest.FixtureRequest) -> bool:
    """Whether ``pravega_server`` should be a container for this request."""
    if request.config.getoption("--pravega-container"):
        return True
    if os.environ.get("PRAVEGA_TEST_CONTAINER", "").strip().lower() in _TRUE:
        return True
    return request.node.get_closest_marker(MARKER) is not None


@pytest.fixture(scope="session")
def pravega_process_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A durable ``pravega-server`` subprocess shared by the session."""
    from .process import ServerProcess

    data = tmp_path_factory.mktemp("pravega-server") / "data"
    with ServerProcess(data) as server:
        yield server


@pytest.fixture(scope="session")
def pravega_container(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A :class:`~pravega.testing.container.PravegaContainer` shared by the session."""
    cls, image = _container_class_or_skip(request.config)
    with cls(image) as container:
        yield container


@pytest.fixture(scope="module")
def pravega_server(request: pytest.FixtureRequest) -> Any:
    """The server of this module's tests: a subprocess, or a container when asked for."""
    if wants_container(request):
        return request.getfixturevalue("pravega_container")
    return request.getfixturevalue("pravega_process_server")


@pytest.fixture(scope="module")
def pravega_controller_uri(pravega_server: Any) -> str:
    """``tcp://host:port`` of ``pravega_server``'s controller."""
    return pravega_server.controller_uri


@pytest.fixture
def pravega_container_factory(request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """Make containers of the test's own (configure, then ``start()``); all are stopped
    when the test ends."""
    made: list[Any] = []

    def factory(**kwargs: Any) -> Any:
        cls, image = _container_class_or_skip(request.config)
        container = cls(kwargs.pop("image", image), **kwargs)
        made.append(container)
        return container

    yield factory
    for container in reversed(made):
        try:
            container.stop()
        except Exception:
            pass


@pytest.fixture
def local_s3() -> Iterator[Any]:
    """A local S3-compatible server (:class:`pravega.testing.s3.LocalS3`) with a bucket;
    the AWS credential environment variables are set for it."""
    pytest.importorskip("moto", reason="the s3 tests need moto[server] (the test extra)")
    from .s3 import LocalS3

    with LocalS3() as s3:
        yield s3
