"""Reading a truncated stream: the server answers reads below a segment's head with
SegmentIsTruncated (start offset included), as Pravega's segment store does.

* Our reader positioned inside the truncated range moves on from the head (as Pravega's Java
  reader does), with no error and no duplicate.
* The official client (0.3.8) starts a new reader group at the new head. Its reader treats
  SegmentIsTruncated like the end of the segment and moves to the successors (its
  ``fetch_successors``), so a reader positioned inside the truncated range of an *active*
  segment stops reading that segment: a limitation of that client, not of the server.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

import pravega

pravega_client = pytest.importorskip("pravega_client")

SIZE = 1_000
HEADER = 8
TOTAL = 400
CUT_EVENT = 250


def _payload(i: int) -> bytes:
    return f"{i:08d}".encode().ljust(SIZE, b".")


def _setup(server) -> tuple[object, str, int]:
    manager = pravega_client.StreamManager(server.controller_uri)
    scope = "tr" + uuid.uuid4().hex[:8]
    manager.create_scope(scope)
    manager.create_stream(scope, "s", 1)
    writer = manager.create_writer(scope, "s")
    for i in range(TOTAL):
        writer.write_event_bytes(_payload(i))
    writer.flush()
    return manager, scope, 0


def _truncate(server, scope: str) -> None:
    with pravega.Client(server.controller_uri) as client:
        (sid,) = client.stream_info(scope, "s").tail.positions
        assert client.truncate_stream(pravega.StreamCut(scope, "s", {sid: CUT_EVENT * (SIZE + HEADER)}))


def test_official_reader_group_created_after_a_truncation_starts_at_the_head(server) -> None:
    manager, scope, _ = _setup(server)
    _truncate(server, scope)
    group = manager.create_reader_group("g" + uuid.uuid4().hex[:6], scope, "s")
    reader = group.create_reader("r")

    async def read() -> list[int]:
        got: list[int] = []
        deadline = time.monotonic() + 30
        while len(got) < TOTAL - CUT_EVENT and time.monotonic() < deadline:
            piece = await reader.get_segment_slice_async()
            got.extend(int(bytes(ev.data())[:8]) for ev in piece)
            reader.release_segment(piece)
        return got

    got = asyncio.run(read())
    reader.reader_offline()
    assert got == list(range(CUT_EVENT, TOTAL))


def test_our_reader_inside_the_truncated_range_moves_on_from_the_head(server) -> None:
    _, scope, _ = _setup(server)
    with pravega.Client(server.controller_uri) as client:
        group = client.create_reader_group("g" + uuid.uuid4().hex[:6], scope, ["s"])
        reader = group.create_reader("r", pravega.BytesSerializer())
        got = []
        while len(got) < 10:
            read = reader.read_next_event(timeout=2.0)
            if read is not None and not read.is_checkpoint:
                got.append(int(bytes(read.event)[:8]))
        reader.close()  # the group's position: event 10, below the truncation
        _truncate(server, scope)
        reader = group.create_reader("r2", pravega.BytesSerializer())
        deadline = time.monotonic() + 30
        while got[-1] < TOTAL - 1 and time.monotonic() < deadline:
            read = reader.read_next_event(timeout=2.0)
            if read is not None and not read.is_checkpoint:
                got.append(int(bytes(read.event)[:8]))
        reader.close()
    assert got == list(range(10)) + list(range(CUT_EVENT, TOTAL))
