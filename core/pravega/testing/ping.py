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
import ssl

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


def _liveness_tls() -> ssl.SSLContext:
    """TLS for a liveness ping: encrypted, the certificate not checked (a ping proves the
    server answers, not who it is)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def ping_segment_store(host: str, port: int, timeout: float = 2.0, *, tls: bool = False) -> int:
    """Open a TCP connection (TLS with ``tls``), send ``Hello`` and return the server's
    protocol version.

    Raises ``OSError`` (refused, timeout) while nothing listens, :class:`PingError` if the
    peer does not answer with a ``Hello``.
    """
    with socket.create_connection((host, port), timeout=timeout) as raw:
        sock = _liveness_tls().wrap_socket(raw, server_hostname=host) if tls else raw
        sock.sendall(encode(Hello(WIRE_VERSION, OLDEST_COMPATIBLE_VERSION)))
        type_code, length = parse_header(_recv_exactly(sock, HEADER_SIZE))
        reply = decode(type_code, _recv_exactly(sock, length))
    if not isinstance(reply, Hello):
        raise PingError(f"segment store at {host}:{port} answered {type(reply).__name__}, not Hello")
    return reply.high_version


def ping_controller(host: str, port: int, timeout: float = 2.0, *, tls: bool = False) -> None:
    """Call the controller's ``getControllerServerList`` once (a cheap, read-only RPC).

    Raises ``grpc.RpcError`` while the controller is not serving (UNAUTHENTICATED is an
    answer: authentication is on). With ``tls``: a TLS
    handshake negotiating HTTP/2 (no RPC, as the server may require credentials).
    """
    import grpc

    from ..protocol import controller_pb2 as pb
    from ..protocol.controller_pb2_grpc import ControllerServiceStub

    if tls:
        # Checking the certificate needs a name it was issued for, which a liveness probe
        # does not know: complete a TLS handshake that negotiates HTTP/2 (gRPC) instead.
        with socket.create_connection((host, port), timeout=timeout) as raw:
            ctx = _liveness_tls()
            ctx.set_alpn_protocols(["h2"])
            with ctx.wrap_socket(raw, server_hostname=host) as sock:
                if sock.selected_alpn_protocol() != "h2":
                    raise PingError(f"controller at {host}:{port} does not speak gRPC over TLS")
        return
    # No proxy: a ping must reach the address it was given.
    with grpc.insecure_channel(f"{host}:{port}", options=[("grpc.enable_http_proxy", 0)]) as channel:
        try:
            ControllerServiceStub(channel).getControllerServerList(pb.ServerRequest(), timeout=timeout)
        except grpc.RpcError as exc:
            # A server with authentication on refuses the anonymous call: it answered.
            if exc.code() is not grpc.StatusCode.UNAUTHENTICATED:
                raise


def ping_server(
    host: str, controller_port: int, segment_store_port: int, timeout: float = 2.0, *, tls: bool = False
) -> None:
    """Ping both parts; raises on the first that is not ready."""
    ping_segment_store(host, segment_store_port, timeout, tls=tls)
    ping_controller(host, controller_port, timeout, tls=tls)
