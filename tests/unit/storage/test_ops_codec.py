"""The storage op codec: every operation's bytes (as written by earlier versions, so
existing logs stay readable), round trips, and the controller's intent record using it."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest

from pravega_server.controller import intents, model
from pravega_server.storage.engine import Engine
from pravega_server.storage.ops import (
    NO_VERSION,
    NOT_EXISTS,
    OPS,
    CreateSegment,
    DeleteSegment,
    MergeSegments,
    Op,
    PutMeta,
    SealSegment,
    SegmentKind,
    TableRemove,
    TableUpdate,
    TierSegment,
    TruncateSegment,
    UpdateAttribute,
    decode_batch,
    encode_batch,
)

#: (operation, its encoding after the batch's count: code byte and fields, hex).
GOLDEN: list[tuple[Op, str]] = [
    (CreateSegment("sc/st/0.#epoch.0"), "010000001073632f73742f302e2365706f63682e3000000000000000000000"),
    (CreateSegment("tbl", SegmentKind.TABLE, 2, 1000), "010000000374626c010200000000000003e8"),
    (
        CreateSegment("t#transient.ü", SegmentKind.TRANSIENT, 1, 0),
        "010000000e74237472616e7369656e742ec3bc02010000000000000000",
    ),
    (SealSegment("a/b/1"), "0200000005612f622f31"),
    (DeleteSegment("x"), "03000000017800"),
    (DeleteSegment("tbl", must_be_empty=True), "030000000374626c01"),
    (TruncateSegment("a/b/1", 12345678901), "0400000005612f622f3100000002dfdc1c35"),
    (
        MergeSegments("a/b/1", "a/b/1#transaction.00ff"),
        "0500000005612f622f3100000016612f622f31237472616e73616374696f6e2e30306666",
    ),
    (
        UpdateAttribute("a/b/1", 0x0123456789ABCDEF0011223344556677, -5),
        "0600000005612f622f31000000100123456789abcdef0011223344556677fffffffffffffffb8000000000000000",
    ),
    (
        UpdateAttribute("a/b/1", 1, 2**63 - 1, 7),
        "0600000005612f622f3100000010000000000000000000000000000000017fffffffffffffff0000000000000007",
    ),
    (
        TableUpdate("tbl", ((b"k1", NO_VERSION, b"v1"), (b"", NOT_EXISTS, b"\x00" * 3)), 42),
        "070000000374626c000000000000002a0000000000000002000000026b31800000000000000000000002763100000000ffffffffffffffff00000003000000",
    ),
    (TableUpdate("tbl", ()), "070000000374626cffffffffffffffff0000000000000000"),
    (
        TableRemove("tbl", ((b"k1", 3), (b"k2", NO_VERSION))),
        "080000000374626cffffffffffffffff0000000000000002000000026b310000000000000003000000026b328000000000000000",
    ),
    (TableRemove("tbl", (), 9), "080000000374626c00000000000000090000000000000000"),
    (PutMeta("stream/sc/st", b'{"a": 1}'), "090000000c73747265616d2f73632f737401000000087b2261223a20317d"),
    (PutMeta("intent/sc/st"), "090000000c696e74656e742f73632f737400"),
    (PutMeta("empty", b""), "0900000005656d7074790100000000"),
    (
        TierSegment("a/b/1", 7, 4096, 8192, "a/b/1/7.4096"),
        "0a00000005612f622f310000000000000007000000000000100000000000000020000000000c612f622f312f372e34303936",
    ),
]

#: All of GOLDEN as one batch record payload.
GOLDEN_BATCH = (
    "00000012010000001073632f73742f302e2365706f63682e3000000000000000000000010000000374626c01020000000000"
    "0003e8010000000e74237472616e7369656e742ec3bc020100000000000000000200000005612f622f310300000001780003"
    "0000000374626c010400000005612f622f3100000002dfdc1c350500000005612f622f3100000016612f622f31237472616e"
    "73616374696f6e2e303066660600000005612f622f31000000100123456789abcdef0011223344556677fffffffffffffffb"
    "80000000000000000600000005612f622f3100000010000000000000000000000000000000017fffffffffffffff00000000"
    "00000007070000000374626c000000000000002a0000000000000002000000026b3180000000000000000000000276310000"
    "0000ffffffffffffffff00000003000000070000000374626cffffffffffffffff0000000000000000080000000374626cff"
    "ffffffffffffff0000000000000002000000026b310000000000000003000000026b32800000000000000008000000037462"
    "6c00000000000000090000000000000000090000000c73747265616d2f73632f737401000000087b2261223a20317d090000"
    "000c696e74656e742f73632f7374000900000005656d70747901000000000a00000005612f622f3100000000000000070000"
    "00000000100000000000000020000000000c612f622f312f372e34303936"
)


@pytest.mark.parametrize(("op", "encoded"), GOLDEN, ids=lambda v: type(v).__name__ if not isinstance(v, str) else "")
def test_each_op_keeps_its_bytes_and_round_trips(op: Op, encoded: str) -> None:
    payload = b"".join(encode_batch([op]))
    assert payload == b"\x00\x00\x00\x01" + bytes.fromhex(encoded)
    assert decode_batch(memoryview(payload)) == [op]


def test_every_op_class_is_covered() -> None:
    assert {type(op) for op, _ in GOLDEN} == set(OPS.values())


def test_a_batch_round_trips() -> None:
    ops = [op for op, _ in GOLDEN]
    payload = b"".join(encode_batch(ops))
    assert payload.hex() == GOLDEN_BATCH
    assert decode_batch(memoryview(payload)) == ops
    assert decode_batch(memoryview(b"".join(encode_batch([])))) == []


def test_an_unknown_op_code_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown operation code 99"):
        decode_batch(memoryview(b"\x00\x00\x00\x01\x63"))


async def _engine_with_segments() -> Engine:
    engine = await Engine.open(None)
    await engine.execute([CreateSegment("s/t/0"), CreateSegment("s/t/0#transaction.1"), CreateSegment("s/t/1")])
    return engine


@pytest.mark.parametrize("legacy", [False, True])
def test_a_leftover_intent_is_completed(legacy: bool) -> None:
    """A stored intent (the current form, or the JSON form of earlier versions) holding
    a merge, a seal, a delete, a creation and a metadata write is carried out."""
    phase2: list[Op] = [
        MergeSegments("s/t/0", "s/t/0#transaction.1"),
        SealSegment("s/t/0"),
        DeleteSegment("s/t/1"),
        CreateSegment("s/t/2", SegmentKind.STREAM, 1, 10),
        PutMeta("stream/s/t", b"new"),
        PutMeta("stream/s/old"),
    ]
    if legacy:
        record: dict[str, Any] = {
            "ops": [
                ["merge", "s/t/0", "s/t/0#transaction.1"],
                ["seal", "s/t/0"],
                ["delete", "s/t/1"],
                ["create", "s/t/2", 0, 1, 10],
                ["meta", "stream/s/t", base64.b64encode(b"new").decode()],
                ["meta", "stream/s/old", None],
            ],
            "undo": [],
        }
        assert intents._decode_ops(record) == phase2
    else:
        record = {"batch": intents._encode_ops(phase2), "undo": []}
        assert intents._decode_ops(record) == phase2

    async def main() -> None:
        engine = await _engine_with_segments()
        await engine.execute([PutMeta("stream/s/old", b"x"), PutMeta("intent/s/t", model.dumps(record))])
        await intents.resolve_intents(engine)
        assert engine.get("s/t/0").sealed and not engine.exists("s/t/0#transaction.1")
        assert not engine.exists("s/t/1") and engine.get("s/t/2").target_rate == 10
        assert engine.meta_get("stream/s/t") == b"new" and engine.meta_get("stream/s/old") is None
        assert engine.meta_get("intent/s/t") is None

    asyncio.run(main())


def test_an_intent_that_cannot_complete_is_undone() -> None:
    async def main() -> None:
        engine = await _engine_with_segments()
        await engine.execute([CreateSegment("s/t/new")])
        record = {"batch": intents._encode_ops([SealSegment("s/t/missing")]), "undo": ["s/t/new"]}
        await engine.execute([PutMeta("intent/s/t", model.dumps(record))])
        await intents.resolve_intents(engine)
        assert not engine.exists("s/t/new") and engine.meta_get("intent/s/t") is None

    asyncio.run(main())


def test_two_phase_stores_its_intent_in_the_op_codec() -> None:
    async def main() -> None:
        engine = await _engine_with_segments()
        seen: list[bytes] = []
        real = engine.execute

        async def watch(ops: list[Op]) -> list:
            for op in ops:
                if isinstance(op, PutMeta) and op.key == "intent/k" and op.value is not None:
                    seen.append(op.value)
            return await real(ops)

        engine.execute = watch  # type: ignore[method-assign]
        phase2: list[Op] = [MergeSegments("s/t/new", "s/t/0#transaction.1"), SealSegment("s/t/new")]
        await intents.execute_two_phase(engine, "intent/k", [CreateSegment("s/t/new")], phase2)
        assert len(seen) == 1 and intents._decode_ops(model.loads(seen[0])) == phase2
        assert engine.get("s/t/new").sealed and engine.meta_get("intent/k") is None

    asyncio.run(main())


def test_update_and_remove_conditions_survive_encoding() -> None:
    ops: list[Op] = [
        TableUpdate("t", ((b"k", NOT_EXISTS, b"v"),), 5),
        TableRemove("t", ((b"k", NO_VERSION),)),
        UpdateAttribute("s", (1 << 128) - 1, -1),
        TruncateSegment("s", 0),
    ]
    assert decode_batch(memoryview(b"".join(encode_batch(ops)))) == ops
