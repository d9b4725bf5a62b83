"""Opening and releasing the one segment of a single-segment stream.

Byte streams and state synchronizers both use a stream of exactly one segment through a
:class:`ConditionalAppender` (writes) and a :class:`SegmentReader` (reads).
"""

from __future__ import annotations

from .. import errors, naming
from .conditional import ConditionalAppender
from .context import ClientContext
from .segment_reader import SegmentReader


async def open_single_segment(ctx: ClientContext, scope: str, stream: str, what: str) -> tuple[str, int, int]:
    """(qualified name, segment id, head offset) of the one segment of ``scope/stream``;
    InterfaceError naming ``what`` ("a byte stream") if the stream has more at its head."""
    head = await ctx.controller.get_segments_at(scope, stream, 0)
    if len(head) != 1:
        raise errors.InterfaceError(f"{what} needs a stream with exactly one segment; {scope}/{stream} has {len(head)}")
    ((segment_id, head_offset),) = head.items()
    return naming.qualified_segment_name(scope, stream, segment_id), segment_id, head_offset


async def close_segment_io(reader: SegmentReader | None, appender: ConditionalAppender | None) -> None:
    """Release the reader's and the appender's connections (either may be None)."""
    if reader is not None:
        reader.close()
    if appender is not None:
        await appender.close()
