"""One segment operation as an idempotent request to the container that owns it.

Each step is safe to run again: a create answered ``SegmentAlreadyExists``, a seal
answered ``SegmentIsSealed``, a delete, truncate or merge whose segment is already gone
count as done. That is what lets the controller finish an interrupted operation by
running all its steps again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import ssl as _ssl
import time
from collections.abc import Callable

from pravega.client.connection import Endpoint, SegmentStoreConnection, next_request_id
from pravega.client.pool import ConnectionPool
from pravega.errors import ConnectionLostError
from pravega.protocol import commands as c

from ..storage import errors as store_errors
from ..storage import ops
from . import placement

log = logging.getLogger(__name__)

#: How long a step waits for a container that does not answer (it is being restarted): for
#: ever by default. A recorded operation that gave up would leave its intent to be run again
#: at the next start, possibly over newer metadata of the same stream; waiting holds the
#: stream's lock instead, and the operation completes once the container is back.
STEP_DEADLINE = float("inf")


class StepFailed(store_errors.StoreError):
    """A container refused a step for a reason that running it again will not change."""


class ContainerUnavailable(store_errors.StorageUnavailable):
    """A container did not answer within the step deadline."""


class ContainerClient:
    """Requests from the controller to the containers (shared connections per container)."""

    def __init__(
        self,
        endpoints: Callable[[], list[Endpoint]],
        deadline: float = STEP_DEADLINE,
        *,
        ssl: _ssl.SSLContext | None = None,
        token: Callable[[], str] | None = None,
    ) -> None:
        """``ssl``: the containers serve TLS; ``token``: a delegation token granting
        everything (authentication is on)."""
        self._endpoints = endpoints
        self.deadline = deadline
        self.token = token
        connect = functools.partial(SegmentStoreConnection.open, ssl=ssl) if ssl is not None else None
        self.pool = ConnectionPool(shared_per_endpoint=2, connect_timeout=5.0, connect=connect)

    def sign(self, cmd: c.Command) -> c.Command:
        """``cmd`` with its delegation token filled in (authentication on)."""
        if self.token is None or getattr(cmd, "delegation_token", None) != "":
            return cmd
        return dataclasses.replace(cmd, delegation_token=self.token())  # type: ignore[type-var]

    @property
    def count(self) -> int:
        return len(self._endpoints())

    def endpoint_of(self, segment: str) -> Endpoint:
        endpoints = self._endpoints()
        return endpoints[placement.container_of(segment, len(endpoints))]

    async def request(self, segment: str, make: Callable[[int], c.Command]) -> c.Command:
        """Send ``make(request_id)`` to the owner of ``segment``; retry while the
        container is unreachable (a dead container is restarted by the supervisor)."""
        started = time.monotonic()
        delay = 0.05
        while True:
            endpoint = self.endpoint_of(segment)
            try:
                return await self.pool.request(endpoint, self.sign(make(next_request_id())), timeout=30.0)
            except (ConnectionLostError, OSError) as exc:
                if time.monotonic() - started > self.deadline:
                    where = f"{endpoint[0]}:{endpoint[1]}"
                    raise ContainerUnavailable(segment, f"container {where} unavailable: {exc}") from exc
                level = logging.WARNING if delay >= 1.0 else logging.INFO
                log.log(level, "container for %s unavailable (%s); retrying", segment, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

    def close(self) -> None:
        self.pool.close()


def internal_ssl_context(server_cert_file: str, client: tuple[str, str] | None = None) -> _ssl.SSLContext:
    """The controller's TLS context towards its own containers (on this host): it trusts
    the server's own certificate; ``client`` (certificate and key files, see
    ``internal_pki``) is presented where client certificates are required."""
    ctx = _ssl.SSLContext(_ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(cafile=server_cert_file)
    ctx.verify_flags |= _ssl.VERIFY_X509_PARTIAL_CHAIN
    if client is not None:
        ctx.load_cert_chain(*client)
    return ctx


async def run_step(client: ContainerClient, op: ops.Op) -> int | None:
    """Run one segment operation on its container. Returns the merge's new target
    length (None for the others and for a merge already done)."""
    if isinstance(op, ops.CreateSegment):
        if op.kind == ops.SegmentKind.TABLE:
            reply = await client.request(op.name, lambda rid: c.CreateTableSegment(rid, op.name, ""))
        else:
            reply = await client.request(
                op.name, lambda rid: c.CreateSegment(rid, op.name, op.target_rate, op.scale_type, "")
            )
        _expect(op, reply, c.SegmentCreated, c.SegmentAlreadyExists)
        return None
    if isinstance(op, ops.SealSegment):
        reply = await client.request(op.name, lambda rid: c.SealSegment(rid, op.name, ""))
        _expect(op, reply, c.SegmentSealed, c.SegmentIsSealed, c.NoSuchSegment)
        return None
    if isinstance(op, ops.DeleteSegment):
        if op.must_be_empty:
            reply = await client.request(op.name, lambda rid: c.DeleteTableSegment(rid, op.name, True, ""))
        else:
            reply = await client.request(op.name, lambda rid: c.DeleteSegment(rid, op.name, ""))
        _expect(op, reply, c.SegmentDeleted, c.NoSuchSegment)
        return None
    if isinstance(op, ops.TruncateSegment):
        reply = await client.request(op.name, lambda rid: c.TruncateSegment(rid, op.name, op.offset, ""))
        _expect(op, reply, c.SegmentTruncated, c.NoSuchSegment, c.SegmentIsTruncated)
        return None
    if isinstance(op, ops.MergeSegments):
        reply = await client.request(op.source, lambda rid: c.MergeSegments(rid, op.target, op.source, "", ()))
        if isinstance(reply, c.NoSuchSegment) and reply.segment == op.source:
            return None  # merged before (the source goes away when it is merged)
        _expect(op, reply, c.SegmentsMerged)
        assert isinstance(reply, c.SegmentsMerged)
        return reply.new_target_write_offset
    raise StepFailed(_name(op), f"{type(op).__name__} is not run on containers by the controller")


def _expect(op: ops.Op, reply: c.Command, *ok: type[c.Command]) -> None:
    if not isinstance(reply, ok):
        detail = getattr(reply, "server_stack_trace", "") or ""
        raise StepFailed(_name(op), f"{type(op).__name__}: container answered {type(reply).__name__} {detail}".strip())


def _name(op: ops.Op) -> str:
    return str(getattr(op, "name", None) or getattr(op, "target", ""))
