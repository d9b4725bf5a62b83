"""The supervisor's private channel to each container: a socket pair, one JSON line each way.

The segment-store protocol has no request for what only an operator asks: a container's
metrics, or the reader groups whose state tables it holds. The supervisor asks those over a
socket pair it makes for each container process (the container inherits one end,
``--control-fd``): no port, nothing another process on the host can reach. A request is
``{"op": name, "id": n, ...}`` on one line; the answer is ``{"id": n, "ok": value}`` or
``{"id": n, "error": text}``. Requests on one channel are answered in order, one at a time;
the answer to a request the supervisor gave up waiting for is skipped by its id.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

#: A container's answers to the supervisor's requests: op -> handler(request) -> value.
Handlers = dict[str, Callable[[dict[str, Any]], Any]]

#: Longest answer line (a scrape of many segments' metrics fits easily).
LIMIT = 64 * 1024 * 1024


class ControlError(RuntimeError):
    """The container did not answer (dead, restarting, too slow) or refused the request."""


async def serve(sock: socket.socket, handlers: Handlers) -> None:
    """Answer the supervisor's requests on ``sock`` until it closes its end (container side)."""
    reader, writer = await asyncio.open_connection(sock=sock, limit=LIMIT)
    try:
        while line := await reader.readline():
            writer.write(json.dumps(_answer(handlers, line)).encode() + b"\n")
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


def _answer(handlers: Handlers, line: bytes) -> dict[str, Any]:
    request_id = None
    try:
        request = json.loads(line)
        request_id = request.get("id")
        handler = handlers.get(request.get("op"))
        if handler is None:
            return {"id": request_id, "error": f"unknown request {request.get('op')!r}"}
        return {"id": request_id, "ok": handler(request)}
    except Exception as exc:  # an answer, never a dead channel
        log.exception("control request failed")
        return {"id": request_id, "error": f"{type(exc).__name__}: {exc}"}


class ControlChannel:
    """The supervisor's end of one container's channel."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock: socket.socket | None = sock
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._lock = asyncio.Lock()
        self._ids = itertools.count(1)

    async def request(self, op: str, timeout: float = 5.0, **fields: Any) -> Any:
        async with self._lock:
            try:
                return await asyncio.wait_for(self._exchange({"op": op, "id": next(self._ids), **fields}), timeout)
            except TimeoutError as exc:
                raise ControlError(f"container did not answer {op!r} in {timeout:g} s") from exc
            except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
                self.close()
                raise ControlError(f"container channel failed on {op!r}: {exc!r}") from exc

    async def _exchange(self, request: dict[str, Any]) -> Any:
        if self._streams is None:
            if self._sock is None:
                raise ConnectionError("channel closed")
            self._streams = await asyncio.open_connection(sock=self._sock, limit=LIMIT)
            self._sock = None
        reader, writer = self._streams
        writer.write(json.dumps(request).encode() + b"\n")
        await writer.drain()
        while True:
            line = await reader.readline()
            if not line:
                raise ConnectionError("container closed the channel")
            answer = json.loads(line)
            if answer.get("id") == request["id"]:
                break  # else: the late answer to a request given up on
        if "error" in answer:
            raise ControlError(answer["error"])
        return answer["ok"]

    def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None


async def ask_all(channels: list[ControlChannel | None], op: str, **fields: Any) -> list[Any]:
    """Every live container's answer (None for one that did not answer)."""

    async def one(channel: ControlChannel | None) -> Any:
        if channel is None:
            return None
        try:
            return await channel.request(op, **fields)
        except ControlError as exc:
            log.info("%s", exc)
            return None

    waits: list[Awaitable[Any]] = [one(ch) for ch in channels]
    return list(await asyncio.gather(*waits))
