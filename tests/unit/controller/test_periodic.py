"""The controller's background loop: a failing round is logged and the loop goes on;
stop() ends it."""

from __future__ import annotations

import asyncio
import logging

import pytest

from pravega_server.controller.periodic import Periodic


def test_a_failing_round_does_not_stop_the_loop(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        rounds: list[int] = []

        async def step() -> None:
            rounds.append(len(rounds))
            if len(rounds) == 1:
                raise RuntimeError("first round fails")

        loop = Periodic("test loop", 0.01, step)
        loop.start()
        loop.start()  # a second start keeps the one loop
        for _ in range(3000):
            if len(rounds) >= 3:
                break
            await asyncio.sleep(0.01)
        await loop.stop()
        stopped_at = len(rounds)
        assert stopped_at >= 3
        await asyncio.sleep(0.05)
        assert len(rounds) == stopped_at
        await loop.stop()  # stopping twice is harmless

    with caplog.at_level(logging.ERROR, logger="pravega_server.controller.periodic"):
        asyncio.run(main())
    assert [r.getMessage() for r in caplog.records] == ["test loop failed"]
