"""A Pravega client on an event-loop thread, shared by the DoFns of a process (private).

Beam calls DoFns from its worker threads; our client is asyncio. A :class:`_Session`
is a :class:`pravega.sync.Portal` (a loop on a daemon thread) with an async
:class:`pravega.aio.Client`; work is submitted as coroutines and a failure inside one
is raised in the calling thread.

DoFns :func:`acquire` the session of their controller in ``setup`` and
:func:`release` it in ``teardown``; the last release closes it. One loop per process
(rather than per DoFn) keeps one connection pool, and avoids grpc.aio's trouble with
many loops (grpc/grpc#25364: each loop bound to grpc's poller wakes up for every
completion, and the losers log a spurious ``BlockingIOError``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

from pravega.aio import Client
from pravega.sync import Portal

T = TypeVar("T")


class _Session:
    def __init__(self, controller_uri: str) -> None:
        self.controller_uri = controller_uri
        self.portal = Portal()  # its loop drops grpc's spurious multi-loop poller error

        async def make() -> Client:
            return Client(controller_uri)

        try:
            self.client: Client = self.portal.call(make)
        except BaseException:
            self.portal.stop()
            raise
        self.users = 0

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self.portal.loop

    def call(self, make: Callable[[], Awaitable[T]]) -> T:
        """Run ``make()`` on the session's loop; wait for and return its result."""
        return self.portal.call(make)

    def _close(self) -> None:
        try:
            self.portal.call(self.client.close)
        finally:
            self.portal.stop()


_lock = threading.Lock()
_sessions: dict[str, _Session] = {}


def acquire(controller_uri: str) -> _Session:
    with _lock:
        session = _sessions.get(controller_uri)
        if session is None:
            session = _sessions[controller_uri] = _Session(controller_uri)
        session.users += 1
        return session


def release(session: _Session) -> None:
    with _lock:
        session.users -= 1
        if session.users > 0:
            return
        if _sessions.get(session.controller_uri) is session:
            del _sessions[session.controller_uri]
    session._close()


def run_once(controller_uri: str, work: Callable[[Client], Awaitable[T]]) -> T:
    """``await work(client)`` on the controller's session (for restriction providers,
    which have no setup/teardown)."""
    session = acquire(controller_uri)
    try:
        return session.call(lambda: work(session.client))
    finally:
        release(session)
