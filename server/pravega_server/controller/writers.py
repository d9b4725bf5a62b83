"""Writers' marks for watermarking: each writer's last reported time and position."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..storage.ops import Op, PutMeta
from .model import WriterMark
from .status import Status

if TYPE_CHECKING:
    from .service import ControllerService


def mark_key(scope: str, stream: str, writer: str) -> str:
    return f"wmark/{scope}/{stream}/{writer}"


class WriterMarks:
    """The writer marks of every stream; operations lock the stream through ``ctl``."""

    def __init__(self, ctl: ControllerService) -> None:
        self.ctl = ctl
        self.by_stream: dict[tuple[str, str], dict[str, WriterMark]] = {}

    def load(self) -> None:
        for key, value in self.ctl.engine.meta_scan("wmark/"):
            _, scope, stream, writer = key.split("/", 3)
            self.by_stream.setdefault((scope, stream), {})[writer] = WriterMark.from_json(value)

    def drop_ops(self, scope: str, stream: str) -> list[Op]:
        """The batch part that forgets every mark of a stream."""
        return [PutMeta(mark_key(scope, stream, w), None) for w in self.by_stream.get((scope, stream), {})]

    def forget_stream(self, scope: str, stream: str) -> None:
        self.by_stream.pop((scope, stream), None)

    def marks(self, scope: str, name: str) -> dict[str, WriterMark]:
        return dict(self.by_stream.get((scope, name), {}))

    async def note_timestamp(
        self,
        scope: str,
        name: str,
        writer: str,
        timestamp: int,
        position: dict[int, int],
    ) -> Status:
        async with self.ctl.locked(streams=[(scope, name)]):
            stream = self.ctl.get_stream(scope, name)
            if stream is None or not writer or any(stream.segment(sid) is None for sid in position):
                return Status.INVALID_POSITION
            previous = self.by_stream.get((scope, name), {}).get(writer)
            if previous is not None and timestamp < previous.timestamp:
                return Status.INVALID_TIME
            mark = WriterMark(timestamp, dict(position))
            await self.ctl.engine.execute([PutMeta(mark_key(scope, name, writer), mark.to_json())])
            self.by_stream.setdefault((scope, name), {})[writer] = mark
            self.ctl.watermarks.noted(scope, name, writer)
        return Status.SUCCESS

    async def remove(self, scope: str, name: str, writer: str) -> Status:
        async with self.ctl.locked(streams=[(scope, name)]):
            if self.ctl.get_stream(scope, name) is None:
                return Status.STREAM_DOES_NOT_EXIST
            marks = self.by_stream.get((scope, name), {})
            if writer not in marks:
                return Status.UNKNOWN_WRITER
            await self.ctl.engine.execute([PutMeta(mark_key(scope, name, writer), None)])
            marks.pop(writer, None)
            self.ctl.watermarks.forget(scope, name, writer)
        return Status.SUCCESS
