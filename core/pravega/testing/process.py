"""Run a ``pravega-server`` as a child process, for tests and benchmarks.

>>> with ServerProcess() as server:          # doctest: +SKIP
...     manager = pravega_client.StreamManager(server.controller_uri)

The first start binds free ports; restarts (after :meth:`kill` or :meth:`stop`) reuse
them and the same data directory, so clients can reconnect to the same addresses.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

READY = re.compile(r"pravega-server ready: controller=(\S+):(\d+) segment-store=(\S+):(\d+)")
REST = re.compile(r" rest=(\S+):(\d+)")
CONTAINERS = re.compile(r" containers=(\S+)")


def default_containers() -> int:
    """Containers of a test server: ``PRAVEGA_TEST_CONTAINERS`` (default 1, one process)."""
    return int(os.environ.get("PRAVEGA_TEST_CONTAINERS", "1") or 1)


class ServerProcess:
    def __init__(
        self,
        data_dir: Path | str | None = None,
        *,
        in_memory: bool = False,
        host: str = "127.0.0.1",
        extra_args: list[str] | None = None,
        log_level: str = "WARNING",
        python: str = sys.executable,
        ready_timeout: float = 30.0,
        containers: int | None = None,
    ) -> None:
        self._tmp: tempfile.TemporaryDirectory | None = None
        if data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="pravega-data-")
            data_dir = self._tmp.name
        self.data_dir = Path(data_dir)
        self.in_memory = in_memory
        self.host = host
        self.extra_args = list(extra_args or [])
        self.log_level = log_level
        self.python = python
        self.ready_timeout = ready_timeout
        self.controller_port = 0
        self.segment_store_port = 0
        #: The REST / health / metrics port (0 until started; a free one, kept across restarts).
        self.rest_port = 0
        self.rest_scheme = "http"
        self.proc: subprocess.Popen | None = None
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}.server.log"
        self.startup_seconds = 0.0
        #: Segment containers (``--containers``; 1: the single-process server).
        self.containers = default_containers() if containers is None else containers
        #: ``host:port`` of every container (the one segment store when there is one).
        self.container_endpoints: list[str] = []

    @property
    def controller_uri(self) -> str:
        return f"tcp://{self.host}:{self.controller_port}"

    @property
    def rest_uri(self) -> str:
        """``http(s)://host:port`` of the REST API, health and metrics."""
        return f"{self.rest_scheme}://{self.host}:{self.rest_port}"

    @property
    def segment_store_endpoint(self) -> str:
        return f"{self.host}:{self.segment_store_port}"

    def start(self) -> ServerProcess:
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("server already running")
        cmd = [
            self.python,
            "-m",
            "pravega_server",
            "--host",
            self.host,
            "--controller-port",
            str(self.controller_port),
            "--segment-store-port",
            str(self.segment_store_port),
            "--rest-port",
            str(self.rest_port),
            "--log-level",
            self.log_level,
            *(["--in-memory"] if self.in_memory else ["--data-dir", str(self.data_dir)]),
            "--containers",
            str(self.containers),
            *self.extra_args,
        ]
        log = open(self.log_path, "ab")
        started = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True)
        log.close()
        line = self._read_ready_line()
        self.startup_seconds = time.monotonic() - started
        m = READY.search(line)
        if m is None:
            self.kill()
            raise RuntimeError(f"pravega-server did not become ready: {line!r}; log: {self._log_tail()}")
        self.controller_port = int(m.group(2))
        self.segment_store_port = int(m.group(4))
        found = CONTAINERS.search(line)
        self.container_endpoints = found.group(1).split(",") if found else [self.segment_store_endpoint]
        rest = REST.search(line)
        if rest is not None:
            self.rest_port = int(rest.group(2))
            self.rest_scheme = "https" if " tls" in line else "http"
        return self

    def _read_ready_line(self) -> str:
        assert self.proc is not None and self.proc.stdout is not None
        result: list[str] = []

        def read() -> None:
            result.append(self.proc.stdout.readline())  # type: ignore[union-attr]

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(self.ready_timeout)
        return result[0] if result else ""

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def container_pids(self) -> dict[int, int]:
        """PID of each running container process by container index (empty for a
        single-process server), read from the supervisor's children in /proc."""
        if self.proc is None or self.containers == 1:
            return {}
        try:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        except OSError:
            return {}
        pids = {}
        for child in children:
            try:
                args = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"--container-index" in args:
                pids[int(args[args.index(b"--container-index") + 1])] = int(child)
        return pids

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final sync — a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self, timeout: float = 10.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode

    def restart(self) -> ServerProcess:
        self.stop()
        return self.start()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def rss_bytes(self) -> int:
        assert self.proc is not None
        with open(f"/proc/{self.proc.pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def close(self) -> None:
        self.stop()
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            try:
                os.unlink(self.log_path)
            except OSError:
                pass

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
