"""The append path below the transport: Engine.append's outcomes and the replies the
per-connection AppendProcessor makes of them (driven through its ReplySlots seam)."""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path
from typing import Any

import pytest

from pravega.protocol import commands as c
from pravega.protocol.framing import frame_event
from pravega_server.service.appends import AppendProcessor
from pravega_server.service.replies import UNSPECIFIED, closes_connection, error_reply
from pravega_server.storage import errors
from pravega_server.storage.engine import Engine
from pravega_server.storage.ops import CreateSegment, DeleteSegment, SealSegment, SegmentKind
from pravega_server.storage.segments import MIN_EVENT_NUMBER

SEG = "s/t/0.#epoch.0"
W = 0x0123456789ABCDEF0011223344556677


class Recorder:
    """A connection's reply slots, recording what would leave in order."""

    def __init__(self) -> None:
        self.slots: list[list[Any]] = []
        self.failures: list[str] = []

    def slot(self) -> list[Any]:
        slot: list[Any] = []
        self.slots.append(slot)
        return slot

    def fill(self, slot: list[Any], reply: c.Command, close: bool = False) -> None:
        slot.append((reply, close))

    def acknowledge(
        self, slot: list[Any], writer_id: int, event_number: int, previous: int, request_id: int, offset: int
    ) -> None:
        slot.append((c.DataAppended(writer_id, event_number, previous, request_id, offset), False))

    def protocol_failure(self, message: str) -> None:
        self.failures.append(message)

    async def replies(self) -> list[tuple[c.Command, bool]]:
        """All replies, once every slot is filled."""
        for _ in range(1000):
            if all(self.slots):
                return [s[0] for s in self.slots]
            await asyncio.sleep(0.01)
        raise AssertionError(f"unfilled reply slots: {self.slots}")


async def open_engine(tmp_path: Path | None) -> Engine:
    engine = await Engine.open(tmp_path)
    await engine.execute([CreateSegment(SEG, SegmentKind.STREAM)])
    return engine


def block(n: int, size: int = 10) -> bytes:
    return b"".join(frame_event(b"x" * size) for _ in range(n))


@pytest.mark.parametrize("in_memory", [False, True])
def test_engine_append_outcomes(tmp_path: Path, in_memory: bool) -> None:
    async def main() -> None:
        engine = await open_engine(None if in_memory else tmp_path)
        seg = engine.get(SEG)
        acked: list[int] = []
        assert engine.append(seg, W, 3, block(3), lambda: acked.append(3), events=3) == (MIN_EVENT_NUMBER, 54)
        # A resend of stored events writes nothing and is acknowledged once durable.
        assert engine.append(seg, W, 2, block(2), lambda: acked.append(2), events=2) == (3, 54)
        assert engine.append(seg, W, 3, block(1), lambda: acked.append(-3)) == (3, 54)
        with pytest.raises(errors.EventNumberOverlap):
            engine.append(seg, W, 5, block(3), lambda: acked.append(5), events=3)
        await engine.barrier()
        await asyncio.sleep(0)
        assert sorted(acked) == [-3, 2, 3]
        assert seg.length == 54 and seg.writers[W] == 3
        with pytest.raises(errors.BadOffset):
            engine.append(seg, W, 4, block(1), lambda: None, expected_offset=0)
        await engine.execute([SealSegment(SEG)])
        with pytest.raises(errors.SegmentSealed):
            engine.append(seg, W, 4, block(1), lambda: None)
        await engine.execute([DeleteSegment(SEG)])
        with pytest.raises(errors.NoSuchSegment):
            engine.append(seg, W, 4, block(1), lambda: None)
        engine.close()

    asyncio.run(main())


def test_processor_replies() -> None:
    async def main() -> None:
        engine = await open_engine(None)
        rec = Recorder()
        proc = AppendProcessor(engine, rec)
        proc.setup_append(c.SetupAppend(1, W, SEG, ""))
        await rec.replies()  # the number reported is the durable one when the reply is made
        proc.append_block_end(c.AppendBlockEnd(W, 60, block(2), 2, 2, 2))
        proc.append_block_end(c.AppendBlockEnd(W, 0, block(1), 1, 2, 3))  # resend
        proc.conditional_append(c.ConditionalAppend(W, 3, 0, b"late", 4))  # offset check fails
        proc.conditional_append(c.ConditionalAppend(W, 3, 36, b"ok", 5))
        got = await rec.replies()
        assert got == [
            (c.AppendSetup(1, SEG, W, MIN_EVENT_NUMBER), False),
            (c.DataAppended(W, 2, MIN_EVENT_NUMBER, 2, 36), False),
            (c.DataAppended(W, 2, 2, 3, 36), False),
            (c.ConditionalCheckFailed(W, 3, 4), False),
            (c.DataAppended(W, 3, 2, 5, 46), False),
        ]
        assert engine.read(engine.get(SEG), 36, 100) == frame_event(b"ok")

    asyncio.run(main())


def test_processor_overlap_unknown_writer_and_sealed() -> None:
    async def main() -> None:
        engine = await open_engine(None)
        rec = Recorder()
        proc = AppendProcessor(engine, rec)
        proc.append_block_end(c.AppendBlockEnd(W, 10, block(1), 1, 1, 1))
        proc.setup_append(c.SetupAppend(2, W, SEG, ""))
        proc.append_block_end(c.AppendBlockEnd(W, 0, block(2), 2, 2, 3))
        proc.append_block_end(c.AppendBlockEnd(W, 0, block(2), 2, 3, 4))
        got = await rec.replies()
        assert got[0] == (c.InvalidEventNumber(W, 1, "append without SetupAppend", 1), True)
        assert got[3] == (c.InvalidEventNumber(W, 4, "block overlaps stored events", 3), True)

        rec = Recorder()
        proc = AppendProcessor(engine, rec)
        proc.setup_append(c.SetupAppend(5, W, SEG, ""))
        await rec.replies()
        await engine.execute([SealSegment(SEG)])
        proc.append_block_end(c.AppendBlockEnd(W, 0, block(1), 1, 4, 6))
        got = await rec.replies()
        assert got[1] == (c.SegmentIsSealed(6, SEG, "", 36), False)

    asyncio.run(main())


def test_malformed_append_block_is_a_protocol_failure() -> None:
    async def main() -> None:
        engine = await open_engine(None)
        rec = Recorder()
        proc = AppendProcessor(engine, rec)
        proc.setup_append(c.SetupAppend(1, W, SEG, ""))
        proc.append_block(c.AppendBlock(W, b"\x00\x00\x00\x07garbage!"))
        proc.append_block_end(c.AppendBlockEnd(W, 0, b"", 1, 1, 2))
        assert rec.failures == ["malformed AppendBlock data"]
        assert engine.get(SEG).length == 0

    asyncio.run(main())


def test_error_mapping() -> None:
    assert error_reply(3, errors.NoSuchSegment("a")) == c.NoSuchSegment(3, "a", "", -1)
    assert error_reply(3, errors.SegmentSealed("a"), 7) == c.SegmentIsSealed(3, "a", "", 7)
    assert error_reply(3, errors.SegmentExists("a")) == c.SegmentAlreadyExists(3, "a", "")
    assert error_reply(3, errors.TableNotEmpty("a")) == c.TableSegmentNotEmpty(3, "a", "")
    failed = error_reply(3, errors.StorageUnavailable("a", "disk full"))
    assert isinstance(failed, c.ErrorMessage) and failed.error_code == UNSPECIFIED
    assert not closes_connection(errors.InvalidArgument("a"))


def test_after_a_refused_append_the_connection_refuses_the_rest(tmp_path: Path) -> None:
    """Once the log refused a block, later blocks on that connection are refused too,
    even a resend of stored events: otherwise the resend of the refused block could
    look like a duplicate and be dropped."""

    async def main() -> None:
        engine = await open_engine(tmp_path)
        rec = Recorder()
        proc = AppendProcessor(engine, rec)
        proc.setup_append(c.SetupAppend(1, W, SEG, ""))
        proc.append_block_end(c.AppendBlockEnd(W, 0, block(2), 2, 2, 2))
        await rec.replies()
        engine.log.close()  # the log refuses every write from now on
        proc.append_block_end(c.AppendBlockEnd(W, 0, block(1), 1, 3, 3))
        proc.append_block_end(c.AppendBlockEnd(W, 0, block(2), 2, 2, 4))
        got = await rec.replies()
        assert got[1] == (c.DataAppended(W, 2, MIN_EVENT_NUMBER, 2, 36), False)
        messages = []
        for (reply, close), request_id in zip(got[2:], (3, 4)):
            assert close and isinstance(reply, c.ErrorMessage) and reply.request_id == request_id
            messages.append(reply.message)
        assert all("storage unavailable" in m for m in messages) and "closed" in messages[0]
        assert engine.get(SEG).length == 36 and engine.get(SEG).writers[W] == 2
        engine.close()

    asyncio.run(main())


def test_a_log_that_cannot_take_writes_is_storage_unavailable(tmp_path: Path) -> None:
    async def main() -> None:
        engine = await open_engine(tmp_path)
        seg = engine.get(SEG)
        engine.log.close()  # the log refuses every write from now on
        with pytest.raises(errors.StorageUnavailable, match="closed") as info:
            engine.append(seg, W, 1, block(1), lambda: None)
        assert closes_connection(info.value)
        with pytest.raises(errors.StorageUnavailable, match="closed"):
            await engine.execute([SealSegment(SEG)])
        assert seg.writers.get(W) is None and not seg.sealed

    asyncio.run(main())


def test_java_append_block_with_a_partial_event_and_padding_is_reassembled() -> None:
    """A Java client's AppendBlock: whole events, then the start of an event embedded as
    a PartialEvent (type -2) and unused space as Padding (type -1); the AppendBlockEnd
    carries the rest of the partial event."""

    async def main() -> None:
        engine = await open_engine(None)
        rec = Recorder()
        proc = AppendProcessor(engine, rec)
        proc.setup_append(c.SetupAppend(1, W, SEG, ""))
        await rec.replies()
        whole = frame_event(b"first") + frame_event(b"second")
        third = frame_event(b"third event")
        head, tail = third[:5], third[5:]
        embedded = struct.pack(">ii", -2, len(head)) + head + struct.pack(">ii", -1, 3) + b"\x00\x00\x00"
        proc.append_block(c.AppendBlock(W, whole + embedded))
        proc.append_block_end(c.AppendBlockEnd(W, len(whole), tail, 3, 3, 2))
        got = await rec.replies()
        assert got[1] == (c.DataAppended(W, 3, MIN_EVENT_NUMBER, 2, len(whole + third)), False)
        assert engine.read(engine.get(SEG), 0, 1000) == whole + third

    asyncio.run(main())
