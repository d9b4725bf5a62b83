"""What every client object shares: configuration, the controller client, the pool."""

from __future__ import annotations

from dataclasses import dataclass

from .. import naming
from .connection import ConnectionFactory, Endpoint
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


class ClientContext:
    """``connection_factory`` opens the segment-store connections (default: TCP)."""

    def __init__(self, config: ClientConfig, connection_factory: ConnectionFactory | None = None) -> None:
        self.config = config
        self.controller = ControllerClient(config.controller_uri)
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
