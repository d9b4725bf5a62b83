"""A testcontainers module for Pravega: :class:`PravegaContainer`.

Runs this project's server image (``pravega-native:dev``, built by
``scripts/docker_setup.sh``) or, with :meth:`PravegaContainer.official`, the official
``pravega/pravega`` standalone image. Needs the ``testing`` extra
(``pip install 'pravega-native[testing]'``, which brings ``testcontainers>=4``).

>>> from pravega.testing.container import PravegaContainer      # doctest: +SKIP
>>> with PravegaContainer() as pravega:                          # doctest: +SKIP
...     client = pravega.get_client()
...     client.create_scope("demo")
...     pravega_client.StreamManager(pravega.get_controller_uri())

**Ports and the advertised address.** The controller hands clients the segment store's
address, so that address must be right from outside the container (the ``HOST_IP`` problem
of the official image). The container therefore listens on the same port numbers inside as
it is reached on outside: free ports are chosen on the host before the start (or the ones
given), published one-to-one, and the server advertises ``get_container_host_ip()`` and that
port. Any port works, so several servers can run side by side.

**Networks.** With a normal Docker daemon the ports are published from a bridge network.
Where the daemon has no bridge network (``dockerd --bridge=none``, as on this project's CI
machines) the container shares the host's network and binds 127.0.0.1 only; this is chosen
automatically, or forced with :meth:`~PravegaContainer.with_host_network`. In that mode the
Ryuk reaper (which needs a bridge) is switched off unless ``TESTCONTAINERS_RYUK_DISABLED`` is
set; containers carry the label ``org.testcontainers=true`` for cleanup.

**Readiness** is a wait strategy that pings both parts (a ``Hello`` handshake with the
segment store and a gRPC call to the controller), never a sleep.
"""

from __future__ import annotations

import importlib
import os
import re
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

try:
    from testcontainers.core.config import testcontainers_config
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import WaitStrategy
except ImportError as _exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "pravega.testing.container needs testcontainers-python 4: pip install 'pravega-native[testing]'"
    ) from _exc

from ..protocol import ProtocolError
from .ping import PingError, ping_controller, ping_segment_store

if TYPE_CHECKING:
    from typing import Self

    from pravega import Client

__all__ = [
    "PravegaContainer",
    "PravegaWaitStrategy",
    "docker_unavailable_reason",
    "DEFAULT_IMAGE",
    "OFFICIAL_IMAGE",
    "OFFICIAL_DEFAULT_TAG",
]

#: This project's image, as built by ``scripts/docker_setup.sh``.
DEFAULT_IMAGE = "pravega-native:dev"
#: The official standalone image (Java; one JVM with in-process ZooKeeper, data in memory).
OFFICIAL_IMAGE = "pravega/pravega"
#: Its newest release.
OFFICIAL_DEFAULT_TAG = "0.13.0"
#: Ports the official image and ours listen on by default.
CONTROLLER_PORT = 9090
SEGMENT_STORE_PORT = 12345
#: What each server prints once it serves.
READY_LOG = re.compile(r"pravega-server ready:")
OFFICIAL_READY_LOG = re.compile(r"Pravega Sandbox is running locally now")
#: Where the image keeps its data.
DATA_DIR = "/data"
#: Where with_tls() / with_auth() mount their files (read-only).
SECURITY_DIR = "/etc/pravega"

_RUNNING = {"created", "restarting", "running"}
PathOrName = Union[str, "os.PathLike[str]"]


class PravegaWaitStrategy(WaitStrategy):
    """Ready when the segment store answers ``Hello`` and the controller answers an RPC.

    Optionally first waits for ``log_message`` in the container's output. Fails at once,
    with the container's output, if the container exits while waiting.
    """

    def __init__(
        self,
        controller_port: int,
        segment_store_port: int,
        log_message: re.Pattern[str] | None = None,
        *,
        tls: bool = False,
    ) -> None:
        super().__init__()
        self.controller_port = controller_port
        self.segment_store_port = segment_store_port
        self.log_message = log_message
        self.tls = tls
        self._poll_interval = 0.05
        self.last_error: BaseException | None = None

    def wait_until_ready(self, container: Any) -> None:
        import grpc

        host = container.get_container_host_ip()
        ctrl = container.get_exposed_port(self.controller_port)
        store = container.get_exposed_port(self.segment_store_port)
        deadline = time.monotonic() + self._startup_timeout
        while True:
            wrapped = container.get_wrapped_container()
            wrapped.reload()
            if wrapped.status not in _RUNNING:
                raise RuntimeError(
                    f"the Pravega container exited ({wrapped.status}) before it was ready: {_output_tail(container)}"
                )
            try:
                if self.log_message is not None and not self.log_message.search(_output(container)):
                    raise PingError(f"no line matching {self.log_message.pattern!r} yet")
                ping_segment_store(host, store, timeout=1.0, tls=self.tls)
                ping_controller(host, ctrl, timeout=1.0, tls=self.tls)
                return
            except (OSError, ProtocolError, grpc.RpcError) as exc:  # PingError is an OSError
                self.last_error = exc
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"Pravega at {host} (controller {ctrl}, segment store {store}) was not ready after "
                    f"{self._startup_timeout:.0f} s; last error: {self.last_error!r}; output: {_output_tail(container)}"
                )
            time.sleep(self._poll_interval)


def _output(container: Any) -> str:
    out, err = container.get_logs()
    return out.decode(errors="replace") + err.decode(errors="replace")


def _output_tail(container: Any, limit: int = 2000) -> str:
    try:
        return _output(container)[-limit:]
    except Exception as exc:
        return f"<no output: {exc}>"


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _check_port(port: int | None) -> int | None:
    if port is not None and not (isinstance(port, int) and 0 < port < 65536):
        raise ValueError(f"not a port number 1-65535 (or None for a free one): {port!r}")
    return port


class PravegaContainer(DockerContainer):
    """A Pravega server in a container: controller (gRPC) and segment store (TCP).

    ``controller_port`` and ``segment_store_port`` are the ports the server is reached on;
    ``None`` (the default) picks free ones when the container starts. Other keyword
    arguments go to :class:`~testcontainers.core.container.DockerContainer`.

    >>> with PravegaContainer().with_data_volume("/tmp/pravega-data") as p:   # doctest: +SKIP
    ...     p.get_controller_uri()
    'tcp://127.0.0.1:41517'
    """

    def __init__(
        self,
        image: str = DEFAULT_IMAGE,
        controller_port: int | None = None,
        segment_store_port: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(image, **kwargs)
        self._controller_port = _check_port(controller_port)
        self._segment_store_port = _check_port(segment_store_port)
        self._rest_port: int | None = None  # REST API / health / metrics (this project's image)
        self._host_network: bool | None = None  # None: decided at start from the daemon
        self._advertised_host: str | None = None
        self._advertised_port: int | None = None
        self._data_volume: str | None = None
        self._volume_user: str | None = None
        self._in_memory = False
        self._server_args: list[str] = []
        self._log_level: str | None = None
        self._official = False
        self._startup_timeout = 30.0
        self._security_env: dict[str, str] = {}
        self._tls = False
        #: Seconds from ``start()`` (or ``restart()``) until the server was ready.
        self.startup_seconds: float | None = None

    # -- the official image ------------------------------------------------------------

    @classmethod
    def official(cls, tag: str = OFFICIAL_DEFAULT_TAG, *, java_opts: str = "-Xmx1g", **kwargs: Any) -> Self:
        """The official ``pravega/pravega:<tag>`` image in ``standalone`` mode.

        Its ports are fixed (controller 9090, segment store 12345), it keeps data in memory,
        learns the address to advertise from ``HOST_IP``, and starts in tens of seconds
        (JVM, in-process ZooKeeper), so the startup timeout is 120 s. ``java_opts`` caps its
        memory (it is known to run out of memory otherwise). The tag must be pinned.
        """
        if not tag or tag == "latest":
            raise ValueError("pin the official image's tag (e.g. '0.13.0'); ':latest' changes under you")
        container = cls(f"{OFFICIAL_IMAGE}:{tag}", CONTROLLER_PORT, SEGMENT_STORE_PORT, **kwargs)
        container._official = True
        container._startup_timeout = 120.0
        container.with_command("standalone")
        if java_opts:
            container.with_env("JAVA_OPTS", java_opts)
        return container

    @property
    def is_official(self) -> bool:
        return self._official

    # -- options -------------------------------------------------------------------------

    def with_controller_port(self, port: int) -> Self:
        """Reach the controller on ``port`` (default: a free port)."""
        self._fixed_ports_only("controller", port, CONTROLLER_PORT)
        self._controller_port = _check_port(port)
        return self

    def with_segment_store_port(self, port: int) -> Self:
        """Reach the segment store on ``port`` (default: a free port)."""
        self._fixed_ports_only("segment store", port, SEGMENT_STORE_PORT)
        self._segment_store_port = _check_port(port)
        return self

    def with_advertised_host(self, host: str, port: int | None = None) -> Self:
        """The segment-store address the controller hands to clients (default: the
        container host's address and the segment-store port). Set it when clients reach
        the container through another name, e.g. from another container."""
        if not host:
            raise ValueError("advertised host must not be empty")
        if self._official and port not in (None, SEGMENT_STORE_PORT):
            raise ValueError("the official image advertises its fixed segment-store port 12345")
        self._advertised_host = host
        self._advertised_port = _check_port(port)
        return self

    def with_data_volume(self, source: PathOrName, *, user: str | None = "auto") -> Self:
        """Keep the server's data in ``source``: a host directory (an absolute or
        ``./``-relative path or a ``Path``; created if missing) or a named Docker volume.
        Data then survives the container.

        A host directory is written with its owner's uid and gid (``user="auto"``), so the
        files stay the owner's and the server can write whoever owns the directory; pass
        ``user="uid:gid"`` to choose, or ``None`` for the image's own user (10001).
        """
        if self._official:
            raise ValueError("the official standalone image keeps its data in memory; it takes no data volume")
        if self._in_memory:
            raise ValueError("with_in_memory() and with_data_volume() exclude each other")
        text = os.fspath(source)
        if isinstance(source, os.PathLike) or os.path.isabs(text) or text.startswith(("./", "../", "~")):
            path = Path(text).expanduser().resolve()
            path.mkdir(parents=True, exist_ok=True)
            self._data_volume = str(path)
            if user == "auto":
                st = path.stat()
                user = f"{st.st_uid}:{st.st_gid}"
        else:
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", text):
                raise ValueError(f"not a host path nor a Docker volume name: {text!r}")
            self._data_volume = text
            if user == "auto":
                user = None  # a new named volume takes /data's owner from the image
        self._volume_user = user
        self.with_volume_mapping(self._data_volume, DATA_DIR, "rw")
        return self

    def with_in_memory(self) -> Self:
        """Keep everything in memory (lost when the container stops)."""
        if self._data_volume is not None:
            raise ValueError("with_in_memory() and with_data_volume() exclude each other")
        if not self._official:  # the official standalone image is always in memory
            self._in_memory = True
        return self

    def with_host_network(self, enabled: bool = True) -> Self:
        """Share the host's network (the server binds 127.0.0.1) instead of publishing
        ports from a bridge network. Default: only where the daemon has no bridge network."""
        self._host_network = bool(enabled)
        return self

    def with_log_level(self, level: str) -> Self:
        """The server's log level: DEBUG, INFO, WARNING (default) or ERROR."""
        if self._official:
            raise ValueError("with_log_level() applies to pravega-native images; the official one logs via logback")
        level = level.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError(f"unknown log level {level!r}")
        self._log_level = level
        return self

    def with_server_args(self, *args: str) -> Self:
        """Extra ``pravega-server`` options, e.g. ``"--no-fsync"``, ``"--tail-read-wait", "0.5"``."""
        if self._official:
            raise ValueError("with_server_args() applies to pravega-native images; use official(java_opts=...)")
        self._server_args.extend(str(a) for a in args)
        return self

    def with_tls(self, cert_file: PathOrName, key_file: PathOrName, client_ca_file: PathOrName | None = None) -> Self:
        """TLS on both ports with this PEM certificate and key; with ``client_ca_file``,
        clients must present a certificate signed by that CA. The files are mounted
        read-only, so the container's user (10001, or the one of ``with_data_volume``)
        must be able to read them. Clients then use ``tls://`` (:meth:`get_controller_uri`);
        the official client also needs a host name the certificate names as the advertised
        host (:meth:`with_advertised_host`, e.g. ``"localhost"``)."""
        self._pravega_native_only("with_tls()")
        self._tls = True
        self._mount_security("PRAVEGA_TLS_CERT", cert_file, "tls/cert.pem")
        self._mount_security("PRAVEGA_TLS_KEY", key_file, "tls/key.pem")
        if client_ca_file is not None:
            self._mount_security("PRAVEGA_TLS_CLIENT_CA", client_ca_file, "tls/client-ca.pem")
        return self

    def with_auth(
        self, password_file: PathOrName, token_key_file: PathOrName | None = None, token_ttl: float | None = None
    ) -> Self:
        """Authentication and authorization: users, password hashes and ACLs from
        ``password_file`` (made with ``pravega-server passwd``), delegation tokens signed
        with the key in ``token_key_file`` (default: one the server keeps in its data) and valid for
        ``token_ttl`` seconds (default 600). Files are mounted read-only (see :meth:`with_tls`)."""
        self._pravega_native_only("with_auth()")
        self._mount_security("PRAVEGA_AUTH_PASSWORD_FILE", password_file, "auth/passwords")
        if token_key_file is not None:
            self._mount_security("PRAVEGA_AUTH_TOKEN_KEY_FILE", token_key_file, "auth/token.key")
        if token_ttl is not None:
            if token_ttl <= 0:
                raise ValueError("the token lifetime must be positive")
            self._security_env["PRAVEGA_AUTH_TOKEN_TTL"] = str(float(token_ttl))
        return self

    def _pravega_native_only(self, what: str) -> None:
        if self._official:
            raise ValueError(f"{what} applies to pravega-native images; the official one is configured by JAVA_OPTS")

    def _mount_security(self, env: str, source: PathOrName, target: str) -> None:
        path = Path(os.fspath(source)).expanduser().resolve()
        if not path.is_file():
            raise ValueError(f"{env}: no such file {path}")
        inside = f"{SECURITY_DIR}/{target}"
        self.with_volume_mapping(str(path), inside, "ro")
        self._security_env[env] = inside

    def with_startup_timeout(self, seconds: float) -> Self:
        """How long ``start()`` waits for readiness (default 30 s; 120 s for the official image)."""
        if seconds <= 0:
            raise ValueError("the startup timeout must be positive")
        self._startup_timeout = float(seconds)
        return self

    def _fixed_ports_only(self, what: str, port: int, fixed: int) -> None:
        if self._official and port != fixed:
            raise ValueError(f"the official standalone image's {what} port is fixed at {fixed}")

    # -- lifecycle -----------------------------------------------------------------------

    def start(self, timeout: float | None = None) -> Self:
        """Create and start the container; return once both parts answer, or raise
        ``TimeoutError`` after ``timeout`` seconds (default: the startup timeout)."""
        if timeout is not None:
            self.with_startup_timeout(timeout)
        self._resolve_network()
        started = time.monotonic()
        super().start()
        self.startup_seconds = time.monotonic() - started
        return self

    def restart(self, timeout: float | None = None) -> Self:
        """Restart the same container (``docker restart``): same ports, same data."""
        if timeout is not None:
            self.with_startup_timeout(timeout)
        started = time.monotonic()
        self.get_wrapped_container().restart(timeout=10)
        self._wait_strategy.wait_until_ready(self)  # type: ignore[union-attr]
        self.startup_seconds = time.monotonic() - started
        return self

    def _resolve_network(self) -> None:
        if self._host_network is None:
            client = self.get_docker_client().client
            self._host_network = not client.networks.list(names=["bridge"])
        if self._host_network and "TESTCONTAINERS_RYUK_DISABLED" not in os.environ:
            # Ryuk is reached through a published port of a bridge network: unusable here.
            testcontainers_config.ryuk_disabled = True

    def _configure(self) -> None:
        """Called by ``DockerContainer.start()`` just before the container is created."""
        if self._host_network is None:
            self._resolve_network()
        bind_probe = "127.0.0.1" if self._host_network else "0.0.0.0"
        if self._controller_port is None:
            self._controller_port = _free_port(bind_probe)
        if self._segment_store_port is None:
            port = _free_port(bind_probe)
            while port == self._controller_port:
                port = _free_port(bind_probe)
            self._segment_store_port = port
        ctrl, store = self._controller_port, self._segment_store_port
        if self._rest_port is None and not self._official:
            port = _free_port(bind_probe)
            while port in (ctrl, store):
                port = _free_port(bind_probe)
            self._rest_port = port
        if self._host_network:
            self._kwargs["network_mode"] = "host"
            self.ports.clear()
        else:
            self.with_bind_ports(ctrl, ctrl)
            self.with_bind_ports(store, store)
            if self._rest_port is not None:
                self.with_bind_ports(self._rest_port, self._rest_port)
        # The container host's address as the Docker client sees it; known before the
        # container exists. (Tests that themselves run in a container on a bridge network
        # reach it by another address: they set with_advertised_host().)
        advertised = self._advertised_host or ("127.0.0.1" if self._host_network else self.get_docker_client().host())
        if self._official:
            self.with_env("HOST_IP", advertised)
        else:
            self.with_envs(
                PRAVEGA_HOST="127.0.0.1" if self._host_network else "0.0.0.0",
                PRAVEGA_CONTROLLER_PORT=str(ctrl),
                PRAVEGA_SEGMENT_STORE_PORT=str(store),
                PRAVEGA_ADVERTISED_HOST=advertised,
                # A free port, as for the others: on the host's network two containers cannot both take 9091.
                PRAVEGA_REST_PORT=str(self._rest_port),
            )
            if self._advertised_port is not None:
                self.with_env("PRAVEGA_ADVERTISED_PORT", str(self._advertised_port))
            if self._log_level:
                self.with_env("PRAVEGA_LOG_LEVEL", self._log_level)
            for key, value in self._security_env.items():
                self.with_env(key, value)
            args = (["--in-memory"] if self._in_memory else []) + self._server_args
            self.with_command(args)
            if self._volume_user:
                self._kwargs["user"] = self._volume_user
        if self._wait_strategy is None or isinstance(self._wait_strategy, PravegaWaitStrategy):
            strategy = PravegaWaitStrategy(ctrl, store, OFFICIAL_READY_LOG if self._official else None, tls=self._tls)
            # Declared int | timedelta, but it keeps float(timeout); a timedelta would drop the fraction.
            self.waiting_for(strategy.with_startup_timeout(self._startup_timeout))  # type: ignore[arg-type]

    # -- where it is ---------------------------------------------------------------------

    def get_container_host_ip(self) -> str:
        if self._host_network:
            return "127.0.0.1"
        return super().get_container_host_ip()

    def get_exposed_port(self, port: int) -> int:
        # Ports are published one-to-one (or shared with the host): the port is the port.
        if port in (self._controller_port, self._segment_store_port, self._rest_port):
            return int(port)
        return super().get_exposed_port(port)

    def get_controller_port(self) -> int:
        self._require_ports()
        return int(self._controller_port)  # type: ignore[arg-type]

    def get_segment_store_port(self) -> int:
        self._require_ports()
        return int(self._segment_store_port)  # type: ignore[arg-type]

    def get_controller_uri(self) -> str:
        """``tcp://host:port`` (``tls://`` with :meth:`with_tls`) of the controller: what
        clients, Beam and PyFlink take."""
        scheme = "tls" if self._tls else "tcp"
        return f"{scheme}://{self.get_container_host_ip()}:{self.get_controller_port()}"

    def get_rest_uri(self) -> str:
        """``http(s)://host:port`` of the REST API, health probes and ``/metrics``."""
        self._require_ports()
        if self._rest_port is None:
            raise RuntimeError("the official image's REST API is not published by this module")
        return f"{'https' if self._tls else 'http'}://{self.get_container_host_ip()}:{self._rest_port}"

    @property
    def rest_uri(self) -> str:
        return self.get_rest_uri()

    def get_segment_store_endpoint(self) -> str:
        """``host:port`` of the segment store, as reached from here."""
        return f"{self.get_container_host_ip()}:{self.get_segment_store_port()}"

    # The same names as pravega.testing.ServerProcess, so either serves as a test server.
    @property
    def controller_uri(self) -> str:
        return self.get_controller_uri()

    @property
    def segment_store_endpoint(self) -> str:
        return self.get_segment_store_endpoint()

    def get_client(self, **kwargs: Any) -> Client:
        """A :class:`pravega.Client` connected to this server (close it when done)."""
        from pravega import Client

        return Client(self.get_controller_uri(), **kwargs)

    def _require_ports(self) -> None:
        if self._controller_port is None or self._segment_store_port is None:
            raise RuntimeError("the ports are chosen when the container starts: call start() first")


def docker_unavailable_reason(image: str | None = DEFAULT_IMAGE) -> str | None:
    """``None`` if a Docker daemon answers (and ``image``, if given, is present), else
    why not, for a skip message."""
    try:  # by name: the repository's docker/ folder would shadow the SDK for a type checker
        docker: Any = importlib.import_module("docker")
    except ImportError:
        return "the docker SDK is not installed (pip install 'pravega-native[testing]')"
    try:
        client = docker.from_env(timeout=10)
    except Exception as exc:
        return f"no Docker daemon reachable ({type(exc).__name__}: {exc})"
    try:
        client.ping()
        if image is not None:
            try:
                client.images.get(image)
            except docker.errors.ImageNotFound:
                return f"Docker image {image} is not built (run: bash scripts/docker_setup.sh)"
    except Exception as exc:
        return f"no Docker daemon reachable ({type(exc).__name__}: {exc})"
    finally:
        client.close()
    return None
