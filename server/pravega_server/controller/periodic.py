"""The controller's background loops (auto-scaling, retention, the transaction reaper)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class Periodic:
    """Runs ``step`` every ``interval`` seconds until stopped.

    A failing step is logged (``what`` names it) and the next round tries again: one
    bad stream must not stop the loop for the others.
    """

    def __init__(self, what: str, interval: float, step: Callable[[], Awaitable[None]]) -> None:
        self.what = what
        self.interval = interval
        self._step = step
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self._step()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s failed", self.what)
