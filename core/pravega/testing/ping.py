"""Liveness pings for a Pravega server: one gRPC call to the controller, one ``Hello``
handshake with the segment store.

Used by the container image's HEALTHCHECK (``python -m pravega_server.healthcheck``) and by
:class:`pravega.testing.container.PravegaContainer`'s wait strategy. Works against any
Pravega-compatible server, the official one included.

>>> ping_segment_store("127.0.0.1", 12345)     # doctest: +SKIP
17
>>> ping_controller("127.0.0.1", 9090)         # doctest: +SKIP
"""

from __future__ import annotations

import socket

from ..protocol import HEADER_SIZE, OLDEST_COMPATIBLE_VERSION, WIRE_VERSION, decode, encode, parse_header
from ..protocol.commands import Hello

__all__ = ["PingError", "ping_controller", "ping_segment_store", "ping_server"]


class PingError(ConnectionError):
    """The endpoint answered, but not as a Pravega server should."""


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise PingError(f"connection closed after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def ping_segment_store(host: str, port: int, timeout: float = 2.0) -> int:
    """Open a TCP connection, send ``Hello`` and return the server's protocol version.

    Raises ``OSError`` (refused, timeout) while nothing listens, :class:`PingError` if the
    peer does not answer with a ``Hello``.
    """
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(encode(Hello(WIRE_VERSION, OLDEST_COMPATIBLE_VERSION)))
        type_code, length = parse_header(_recv_exactly(sock, HEADER_SIZE))
        reply = decode(type_code, _recv_exactly(sock, length))
    if not isinstance(reply, Hello):
        raise PingError(f"segment store at {host}:{port} answered {type(reply).__name__}, not Hello")
    return reply.high_version


def ping_controller(host: str, port: int, timeout: float = 2.0) -> None:
    """Call the controller's ``getControllerServerList`` once (a cheap, read-only RPC).

    Raises ``grpc.RpcError`` while the controller is not serving.
    """
    import grpc

    from ..protocol import controller_pb2 as pb
    from ..protocol.controller_pb2_grpc import ControllerServiceStub

    # No proxy: a ping must reach the address it was given.
    with grpc.insecure_channel(f"{host}:{port}", options=[("grpc.enable_http_proxy", 0)]) as channel:
        ControllerServiceStub(channel).getControllerServerList(pb.ServerRequest(), timeout=timeout)


def ping_server(host: str, controller_port: int, segment_store_port: int, timeout: float = 2.0) -> None:
    """Ping both parts; raises on the first that is not ready."""
    ping_segment_store(host, segment_store_port, timeout)
    ping_controller(host, controller_port, timeout)
