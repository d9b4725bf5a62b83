"""The supervisor's container processes: start, watch, restart.

The supervisor binds every container's listening socket itself and hands it to the
container process (inherited file descriptor), so a container restarted after a crash
serves on the same port; clients that reconnect meanwhile wait in the backlog.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import sys
from collections.abc import Callable

from ..transport.tcp import bind_listener
from .container import READY_PREFIX
from .control import ControlChannel

log = logging.getLogger(__name__)

Endpoint = tuple[str, int]
_READY = re.compile(re.escape(READY_PREFIX) + r" index=(\d+) segment-store=(\S+):(\d+)")

#: Longest wait for a container's ready line (recovery of a long log tail).
READY_TIMEOUT = 300.0


class ContainerStartError(OSError):
    pass


class ContainerSet:
    """``argv(index, fd)`` is the command line (after ``python -m pravega_server``) of container ``index``."""

    def __init__(
        self,
        count: int,
        host: str,
        ports: list[int],
        argv: Callable[[int, int], list[str]],
        advertised_host: str | None = None,
    ) -> None:
        self.count = count
        self.host = host
        self._argv = argv
        self.advertised_host = advertised_host or host
        self.sockets: list[socket.socket] = []
        for i in range(count):
            want = ports[i] if i < len(ports) else 0
            try:
                self.sockets.append(bind_listener(host, want))
            except OSError:
                if i == 0 or want == 0:
                    self.close_sockets()
                    raise
                self.sockets.append(bind_listener(host, 0))  # a recorded port now taken: another one
        self.ports = [s.getsockname()[1] for s in self.sockets]
        self.procs: list[asyncio.subprocess.Process | None] = [None] * count
        #: The supervisor's channel to each container (``control``; None while it starts).
        self.channels: list[ControlChannel | None] = [None] * count
        self.restarts = [0] * count
        self._watchers: list[asyncio.Task] = []
        self._stopping = False

    def endpoints(self) -> list[Endpoint]:
        return [(self.advertised_host, port) for port in self.ports]

    def pids(self) -> list[int]:
        return [p.pid if p is not None else 0 for p in self.procs]

    async def start(self) -> None:
        await asyncio.gather(*(self._spawn(i) for i in range(self.count)))
        self._watchers = [asyncio.ensure_future(self._watch(i)) for i in range(self.count)]

    async def _spawn(self, index: int) -> None:
        fd = self.sockets[index].fileno()
        old = self.channels[index]
        if old is not None:
            old.close()
            self.channels[index] = None
        ours, theirs = socket.socketpair()
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "pravega_server",
                *self._argv(index, fd),
                "--control-fd",
                str(theirs.fileno()),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                pass_fds=(fd, theirs.fileno()),
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self.procs[index] = proc
        self.channels[index] = ControlChannel(ours)
        assert proc.stdout is not None
        try:
            line = (await asyncio.wait_for(proc.stdout.readline(), READY_TIMEOUT)).decode(errors="replace")
        except TimeoutError:
            line = ""
        if _READY.search(line) is None:
            if proc.returncode is None:
                proc.kill()
            code = await proc.wait()
            raise ContainerStartError(f"container {index} did not start (exit code {code}); see its log above")
        log.info("container %d ready (pid %d) on port %d", index, proc.pid, self.ports[index])

    async def _watch(self, index: int) -> None:
        """Restart container ``index`` whenever it exits, until the set is stopped."""
        delay = 0.1
        while not self._stopping:
            proc = self.procs[index]
            if proc is not None:
                code = await proc.wait()
                if self._stopping:
                    return
                log.warning("container %d (pid %d) exited with %s; restarting it", index, proc.pid, code)
            try:
                await self._spawn(index)
                self.restarts[index] += 1
                delay = 0.1
            except ContainerStartError as exc:
                log.warning("%s; trying again in %.1f s", exc, delay)
                self.procs[index] = None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def stop(self, timeout: float = 10.0) -> None:
        self._stopping = True
        for task in self._watchers:
            task.cancel()
        for channel in self.channels:
            if channel is not None:
                channel.close()
        for proc in self.procs:
            if proc is not None and proc.returncode is None:
                proc.terminate()
        for proc in self.procs:
            if proc is None:
                continue
            try:
                await asyncio.wait_for(proc.wait(), timeout)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        self.close_sockets()

    def close_sockets(self) -> None:
        for s in self.sockets:
            s.close()
