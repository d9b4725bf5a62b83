"""What every client object shares: configuration, the controller client, the pool."""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

from .. import naming
from . import security
from .connection import ConnectionFactory, Endpoint, SegmentStoreConnection
from .controller import ControllerClient
from .pool import ConnectionPool


@dataclass(frozen=True)
class ClientConfig:
    controller_uri: str = "tcp://127.0.0.1:9090"
    #: Time one segment-store request may take (the server long-polls tail reads < 30 s).
    request_timeout: float = 30.0
    connect_timeout: float = 10.0
    #: A writer sends blocks of at most this many bytes...
    max_block_size: int = 1024 * 1024
    #: ...and keeps at most this many blocks unacknowledged per segment.
    max_inflight_blocks: int = 2
    #: Bytes a writer buffers (sent or not) before ``write`` waits for acknowledgements.
    max_buffered_bytes: int = 32 * 1024 * 1024
    #: How long a writer keeps trying to reach a segment store before failing its events.
    reconnect_timeout: float = 120.0
    transaction_lease_ms: int = 90_000
    shared_connections_per_endpoint: int = 2
    #: TLS on both connections: None = as the URI scheme says (tls://, ssl://, tcps://, pravegas://).
    tls: bool | None = None
    #: PEM file of the CA certificate(s) to trust (default: the system's trust store).
    trust_cert: str | None = None
    #: Encrypt but accept any server certificate (tests only).
    disable_cert_verification: bool = False
    #: Client certificate and key (PEM) for servers that verify clients.
    client_cert: str | None = None
    client_key: str | None = None
    #: Credentials for a server with authentication on (Basic, as Pravega's clients).
    username: str | None = None
    password: str | None = None


class ClientContext:
    """``connection_factory`` opens the segment-store connections (default: TCP)."""

    def __init__(self, config: ClientConfig, connection_factory: ConnectionFactory | None = None) -> None:
        base_uri, uri_options = security.split_uri_options(config.controller_uri)
        if uri_options:  # e.g. tls://host:9090?trust_cert=/ca.pem&username=u&password=p
            config = replace(config, controller_uri=base_uri, **uri_options)
        self.config = config
        tls = security.tls_enabled(config)
        self.controller = ControllerClient(
            config.controller_uri,
            tls=tls,
            channel_credentials=security.grpc_credentials(config) if tls else None,
            metadata=security.auth_metadata(config),
        )
        if connection_factory is None and tls:
            connection_factory = functools.partial(SegmentStoreConnection.open, ssl=security.ssl_context(config))
        self.tokens = (
            security.TokenProvider(self.controller.get_delegation_token) if config.username is not None else None
        )
        if self.tokens is not None:
            connection_factory = _with_tokens(connection_factory or SegmentStoreConnection.open, self.tokens)
        self.pool = ConnectionPool(config.shared_connections_per_endpoint, config.connect_timeout, connection_factory)
        self._endpoints: dict[tuple[str, str, int], Endpoint] = {}

    async def endpoint_of(self, segment: str) -> Endpoint:
        """The segment store holding a qualified segment name (transaction segments too).

        Answers are cached; callers :meth:`forget_endpoint` after a connection failure or
        ``WrongHost``, so the next call asks the controller again.
        """
        key = naming.parse_any_segment_name(segment)
        endpoint = self._endpoints.get(key)
        if endpoint is None:
            endpoint = await self.controller.get_endpoint(*key)
            self._endpoints[key] = endpoint
        return endpoint

    def forget_endpoint(self, segment: str) -> None:
        try:
            self._endpoints.pop(naming.parse_any_segment_name(segment), None)
        except ValueError:
            pass

    async def close(self) -> None:
        self.pool.close()
        await self.controller.close()


def _with_tokens(connect: ConnectionFactory, tokens: security.TokenProvider) -> ConnectionFactory:
    async def open_with_tokens(endpoint: Endpoint, timeout: float) -> SegmentStoreConnection:
        conn = await connect(endpoint, timeout)
        conn.tokens = tokens
        return conn

    return open_with_tokens
