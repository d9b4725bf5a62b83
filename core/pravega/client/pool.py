"""Connections to segment stores, per endpoint.

Short requests (metadata, table operations, conditional writes) share a few pooled
connections per endpoint; replies are matched by request id, so many requests can be
in flight on one connection. Long-lived streams of work (an append session, a reader
that long-polls the tail) get a dedicated connection of their own, because a parked
tail read would hold up every reply queued behind it.
"""

from __future__ import annotations

import asyncio
import itertools

from ..protocol import commands as c
from .connection import DEFAULT_TIMEOUT, ConnectionFactory, Endpoint, SegmentStoreConnection


class ConnectionPool:
    """``connect`` opens every connection (default: TCP, :meth:`SegmentStoreConnection.open`)."""

    def __init__(
        self, shared_per_endpoint: int = 2, connect_timeout: float = 10.0, connect: ConnectionFactory | None = None
    ) -> None:
        self.shared_per_endpoint = shared_per_endpoint
        self.connect_timeout = connect_timeout
        self.connect: ConnectionFactory = connect or SegmentStoreConnection.open
        self._shared: dict[Endpoint, list[SegmentStoreConnection]] = {}
        self._opening: dict[Endpoint, asyncio.Future] = {}
        self._turn = itertools.count()
        self._dedicated: set[SegmentStoreConnection] = set()
        self._closed = False

    async def shared(self, endpoint: Endpoint) -> SegmentStoreConnection:
        conns = self._shared.setdefault(endpoint, [])
        conns[:] = [conn for conn in conns if not conn.closed]
        if len(conns) >= self.shared_per_endpoint:
            return conns[next(self._turn) % len(conns)]
        opening = self._opening.get(endpoint)
        if opening is None:
            opening = asyncio.ensure_future(self.connect(endpoint, self.connect_timeout))
            self._opening[endpoint] = opening
            try:
                conn = await opening
            finally:
                self._opening.pop(endpoint, None)
            if self._closed:
                conn.close()
            conns.append(conn)
            return conn
        return await asyncio.shield(opening)

    async def request(self, endpoint: Endpoint, cmd: c.Command, timeout: float = DEFAULT_TIMEOUT) -> c.Command:
        conn = await self.shared(endpoint)
        return await conn.request(cmd, timeout)

    async def dedicated(self, endpoint: Endpoint) -> SegmentStoreConnection:
        conn = await self.connect(endpoint, self.connect_timeout)
        self._dedicated = {d for d in self._dedicated if not d.closed}
        self._dedicated.add(conn)
        return conn

    def close(self) -> None:
        self._closed = True
        for conns in self._shared.values():
            for conn in conns:
                conn.close()
        self._shared.clear()
        for conn in list(self._dedicated):
            conn.close()
        self._dedicated.clear()
