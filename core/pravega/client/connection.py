"""One TCP connection to a segment store, with replies matched to requests.

The protocol layer is the sans-I/O codec (:mod:`pravega.protocol`); this layer owns the
socket. Each request registers a future under its request id (ids are unique per
process); a reply with that id resolves it. Replies nobody waits for (the
acknowledgements of an append stream) go to the connection's ``on_reply`` listener.
When the connection fails, every waiter fails with :class:`ConnectionLostError`.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import ssl as _ssl
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from ..errors import AuthorizationError, ConnectionLostError
from ..protocol import commands as c
from ..protocol.connection import Connection, Role, Sentinel, versions_compatible
from ..protocol.errors import ProtocolError
from ..protocol.framing import OLDEST_COMPATIBLE_VERSION, WIRE_VERSION

log = logging.getLogger(__name__)

_request_ids = itertools.count(1)

#: The Rust client's request timeout; a tail read waits well under it on the server.
DEFAULT_TIMEOUT = 30.0


def next_request_id() -> int:
    return next(_request_ids)


Endpoint = tuple[str, int]

#: Opens a handshaken connection to a segment store: ``(endpoint, timeout) -> connection``.
#: The default is :meth:`SegmentStoreConnection.open` (TCP); tests plug in other transports.
ConnectionFactory = Callable[[Endpoint, float], Awaitable["SegmentStoreConnection"]]

if TYPE_CHECKING:
    from .security import TokenProvider


class SegmentStoreConnection(asyncio.Protocol):
    #: Fills in delegation tokens when the client has credentials (see security.py).
    tokens: TokenProvider | None = None

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.codec = Connection(Role.CLIENT)
        self.transport: asyncio.Transport | None = None
        self.waiters: dict[int, asyncio.Future] = {}
        self.on_reply: Callable[[c.Command], None] | None = None
        self.on_lost: Callable[[BaseException], None] | None = None
        self.closed = False
        self.error: BaseException | None = None
        self._hello: asyncio.Future | None = None
        self._drain: asyncio.Future | None = None
        self._paused = False

    # -- opening ------------------------------------------------------------

    @classmethod
    async def open(
        cls, endpoint: Endpoint, timeout: float = 10.0, *, ssl: _ssl.SSLContext | None = None
    ) -> SegmentStoreConnection:
        """Connect over TCP (TLS with ``ssl``) and exchange Hellos."""
        loop = asyncio.get_running_loop()
        host, port = endpoint
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(
                    lambda: cls(endpoint), host, port, ssl=ssl, server_hostname=host if ssl else None
                ),
                timeout,
            )
        except (TimeoutError, OSError) as exc:
            raise ConnectionLostError(f"cannot connect to segment store {host}:{port}: {exc}") from exc
        await conn.handshake(timeout)
        return conn

    async def handshake(self, timeout: float) -> None:
        """Exchange Hellos once a transport is attached (:meth:`connection_made`); closes
        the connection and raises ConnectionLostError if the store is silent or too old."""
        loop = asyncio.get_running_loop()
        self._hello = loop.create_future()
        self.send(c.Hello(WIRE_VERSION, OLDEST_COMPATIBLE_VERSION))
        try:
            hello: c.Hello = await asyncio.wait_for(asyncio.shield(self._hello), timeout)
        except TimeoutError:
            self.close()
            raise ConnectionLostError(f"no Hello from segment store {self.endpoint}") from None
        if not versions_compatible(hello.high_version, hello.low_version):
            self.close()
            raise ConnectionLostError(
                f"segment store {self.endpoint} speaks wire versions {hello.low_version}..{hello.high_version}, "
                f"we speak {OLDEST_COMPATIBLE_VERSION}..{WIRE_VERSION}"
            )

    # -- asyncio callbacks --------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(exc or ConnectionLostError(f"segment store {self.endpoint} closed the connection"))

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)
        self._drain = None

    def data_received(self, data: bytes) -> None:
        codec = self.codec
        try:
            codec.receive_data(data)
            while True:
                reply = codec.next_event()
                if isinstance(reply, Sentinel):  # NEED_DATA or CLOSED
                    break
                self._dispatch(reply)
        except ProtocolError as exc:
            log.warning("bad reply from %s: %s", self.endpoint, exc)
            self._fail(ConnectionLostError(f"malformed reply from {self.endpoint}: {exc}"))
            self.close()

    def _dispatch(self, reply: c.Command) -> None:
        if type(reply) is c.Hello:
            if self._hello is not None and not self._hello.done():
                self._hello.set_result(reply)
            return
        waiter = self.waiters.pop(reply.request_id, None)
        if waiter is not None:
            if not waiter.done():
                waiter.set_result(reply)
            return
        if self.on_reply is not None:
            self.on_reply(reply)
        elif type(reply) is not c.KeepAlive:
            log.debug("unexpected reply from %s: %r", self.endpoint, reply)

    def _fail(self, exc: BaseException) -> None:
        if self.closed:
            return
        self.closed = True
        self.error = exc
        if not isinstance(exc, ConnectionLostError):
            exc = ConnectionLostError(f"connection to {self.endpoint} lost: {exc}")
        for fut in (self._hello, self._drain, *self.waiters.values()):
            if fut is not None and not fut.done():
                fut.set_exception(exc)
        self.waiters.clear()
        if self.on_lost is not None:
            self.on_lost(exc)

    # -- sending --------------------------------------------------------------

    def send(self, cmd: c.Command) -> None:
        if self.closed or self.transport is None:
            raise ConnectionLostError(f"connection to {self.endpoint} is closed") from self.error
        self.transport.write(self.codec.send(cmd))

    def send_raw(self, frame: bytes | list[bytes]) -> None:
        """Write pre-encoded frames (the writer's hot path encodes blocks itself)."""
        if self.closed or self.transport is None:
            raise ConnectionLostError(f"connection to {self.endpoint} is closed") from self.error
        if isinstance(frame, list):
            self.transport.writelines(frame)
        else:
            self.transport.write(frame)

    async def drain(self) -> None:
        """Wait while the socket's write buffer is full (flow control)."""
        if self._paused and not self.closed:
            if self._drain is None:
                self._drain = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._drain)

    async def request(self, cmd: c.Command, timeout: float = DEFAULT_TIMEOUT) -> c.Command:
        if self.tokens is None or getattr(cmd, "delegation_token", None) != "":
            return await self._request(cmd, timeout)
        why = ""
        for attempt in range(2):
            reply = await self._request(await self.tokens.fill(cmd), timeout)
            if not isinstance(reply, c.AuthTokenCheckFailed):
                return reply
            why = reply.server_stack_trace
            if reply.error_code == c.AuthTokenCheckFailed.TOKEN_EXPIRED and attempt == 0:
                self.tokens.forget(cmd)  # fetch a fresh one and try once more
                continue
            break
        raise AuthorizationError(f"segment store refused {type(cmd).__name__}: {why}")

    async def _request(self, cmd: c.Command, timeout: float) -> c.Command:
        fut = asyncio.get_running_loop().create_future()
        rid = cmd.request_id
        self.waiters[rid] = fut
        try:
            self.send(cmd)
            # Not asyncio.wait_for: on Python 3.11 it swallows a cancellation that arrives
            # together with the reply, so a cancelled caller would carry on running.
            async with asyncio.timeout(timeout):
                return await fut
        except TimeoutError:
            self.waiters.pop(rid, None)
            # A late reply would now be out of step: this connection is unusable.
            self._fail(ConnectionLostError(f"no reply from {self.endpoint} within {timeout} s"))
            self.close()
            raise ConnectionLostError(f"request {type(cmd).__name__} to {self.endpoint} timed out") from None
        finally:
            self.waiters.pop(rid, None)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        self._fail(ConnectionLostError(f"connection to {self.endpoint} closed"))
