"""Event-loop helpers shared by the sync facade, the embedded server and the connectors."""

from __future__ import annotations

import asyncio
from typing import Any


def quiet_grpc_poller(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """An exception handler that drops grpc.aio's spurious poller error.

    With several event loops in one process (a sync client's portal, an embedded
    server, a connector's loop), every loop bound to grpc's completion-queue poller
    wakes up for each completion and the losers log ``BlockingIOError`` from
    ``PollerCompletionQueue._handle_events`` (grpc/grpc#25364). Nothing is lost.
    """
    if isinstance(context.get("exception"), BlockingIOError) and "PollerCompletionQueue" in repr(context.get("handle")):
        return
    loop.default_exception_handler(context)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new loop with :func:`quiet_grpc_poller` installed."""
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(quiet_grpc_poller)
    return loop
