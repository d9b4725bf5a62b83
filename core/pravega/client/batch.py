"""Batch reads: a stream's data between two stream cuts, as independent segment slices.

>>> batch = client.batch_client()                                       # doctest: +SKIP
>>> slices = await batch.list_segments("sc", "st", start_cut, end_cut)
>>> async def drain(s):
...     return [e async for e in batch.read_segment(s, StringSerializer())]
>>> results = await asyncio.gather(*(drain(s) for s in slices))

Each :class:`SegmentSlice` names a segment and a byte range of it; together the
slices hold exactly the events between the cuts, each once. Slices are independent
(no ordering between them, no reader group), so they can be read in parallel — by
tasks, or by other processes after handing them over as text
(:meth:`SegmentSlice.to_text` / :meth:`SegmentSlice.from_text`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from typing import TypeVar

from .. import errors, naming
from ..model import StreamCut
from ..serializers import BytesSerializer, Serializer
from .context import ClientContext
from .segment_reader import EventParser, SegmentClient, SegmentReader

T = TypeVar("T")


@dataclass(frozen=True)
class SegmentSlice:
    """The bytes ``[start_offset, end_offset)`` of one segment of a stream."""

    scope: str
    stream: str
    segment_id: int
    start_offset: int
    end_offset: int

    @property
    def segment(self) -> str:
        """The qualified segment name."""
        return naming.qualified_segment_name(self.scope, self.stream, self.segment_id)

    @property
    def length(self) -> int:
        return self.end_offset - self.start_offset

    def to_text(self) -> str:
        """A stable JSON form, to hand the slice to another process."""
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_text(cls, text: str) -> SegmentSlice:
        try:
            d = json.loads(text)
            return cls(
                str(d["scope"]), str(d["stream"]), int(d["segment_id"]), int(d["start_offset"]), int(d["end_offset"])
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise errors.InterfaceError(f"malformed segment slice: {exc}") from None


class BatchClient:
    """Use :meth:`pravega.aio.Client.batch_client`."""

    def __init__(self, ctx: ClientContext) -> None:
        self.ctx = ctx
        self.segments = SegmentClient(ctx)

    async def list_segments(
        self, scope: str, stream: str, start_cut: StreamCut | None = None, end_cut: StreamCut | None = None
    ) -> list[SegmentSlice]:
        """The slices holding exactly the data from ``start_cut`` (default: the head)
        to ``end_cut`` (default: the current tail).

        Segments in ``start_cut`` start at its offsets, later ones at 0; segments in
        ``end_cut`` end at its offsets, the others (sealed) at their length — or, with
        no end cut, active segments at their current length. Empty slices are left out.
        """
        for cut in (start_cut, end_cut):
            if cut is not None and (cut.scope, cut.stream) != (scope, stream):
                raise errors.InterfaceError(f"a stream cut of {cut.scope}/{cut.stream} used for {scope}/{stream}")
        head = await self.ctx.controller.get_segments_at(scope, stream, 0)
        start = dict(start_cut.positions) if start_cut is not None and not start_cut.is_unbounded else dict(head)
        end = dict(end_cut.positions) if end_cut is not None and not end_cut.is_unbounded else {}
        ids = await self.ctx.controller.get_segments_between(scope, stream, start, end)
        names = [naming.qualified_segment_name(scope, stream, sid) for sid in ids]
        infos = await asyncio.gather(*(self.segments.info(name) for name in names))
        out = []
        for sid, info in zip(ids, infos):
            first = start.get(sid, 0)
            last = end.get(sid, info.length)
            if last > info.length:
                raise errors.InterfaceError(
                    f"the end cut's offset {last} of segment {sid} is beyond its length {info.length}"
                )
            if last > first:
                out.append(SegmentSlice(scope, stream, sid, first, last))
        return out

    async def read_segment(self, segment: SegmentSlice, serializer: Serializer[T] | None = None) -> AsyncIterator[T]:
        """The events of a slice, in order. Raises
        :class:`~pravega.errors.SegmentTruncatedError` if the slice was truncated away."""
        async for _, event in self.read_segment_with_offsets(segment, serializer):
            yield event

    async def read_segment_with_offsets(
        self,
        segment: SegmentSlice,
        serializer: Serializer[T] | None = None,
    ) -> AsyncIterator[tuple[int, T]]:
        """(offset of the event in its segment, event) for every event of a slice."""
        ser: Serializer = serializer or BytesSerializer()
        reader = SegmentReader(self.ctx, segment.segment, segment.start_offset)
        parser = EventParser(segment.start_offset)
        try:
            while reader.offset < segment.end_offset:
                result = await reader.read()
                data = result.data
                if result.offset + len(data) > segment.end_offset:
                    data = data[: segment.end_offset - result.offset]
                for offset, payload in parser.feed(data):
                    yield offset, ser.deserialize(payload)
                if not result.data and result.end_of_segment:
                    break
            if parser.pending or parser.offset < segment.end_offset:
                raise errors.ServerError(
                    f"{segment.segment}: the slice ends at {segment.end_offset}, inside an event or past the end"
                )
        finally:
            reader.close()
