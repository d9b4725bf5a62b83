"""Two-phase operations tied together by a durable *intent* record.

A rolling transaction has to merge into segments it creates, and the engine validates
a batch against the state before it, so it runs as two batches: the first creates the
segments and stores an intent holding the second batch; the second runs the rest and
removes the intent. At start-up a leftover intent is completed or, failing that, its
first phase undone.
"""

from __future__ import annotations

import base64
import logging

from ..storage import errors as store_errors
from ..storage.engine import Engine
from ..storage.ops import CreateSegment, DeleteSegment, MergeSegments, Op, PutMeta, SealSegment, SegmentKind
from . import model

log = logging.getLogger(__name__)

#: Prefix of the metadata keys of intents.
PREFIX = "intent/"


async def execute_two_phase(engine: Engine, intent_key: str, phase1: list[Op], phase2: list[Op]) -> None:
    """Run ``phase1`` together with a durable intent holding ``phase2``, then
    ``phase2`` with the intent's removal. Phase 1 may only create segments."""
    undo = [op.name for op in phase1 if isinstance(op, CreateSegment)]
    intent = model.dumps({"ops": [_encode_op(op) for op in phase2], "undo": undo})
    await engine.execute(phase1 + [PutMeta(intent_key, intent)])
    try:
        await engine.execute(phase2 + [PutMeta(intent_key, None)])
    except store_errors.StoreError:
        log.exception("second phase of %s failed; undoing the first", intent_key)
        await engine.execute(_delete_ops(engine, undo) + [PutMeta(intent_key, None)])
        raise


async def resolve_intents(engine: Engine) -> None:
    """Complete (or undo) every intent left by an interrupted operation."""
    for key, value in list(engine.meta_scan(PREFIX)):
        intent = model.loads(value)
        try:
            await engine.execute([_decode_op(op) for op in intent["ops"]] + [PutMeta(key, None)])
            log.info("completed interrupted operation %s", key)
        except store_errors.StoreError:
            log.exception("cannot complete interrupted operation %s; undoing it", key)
            await engine.execute(_delete_ops(engine, intent["undo"]) + [PutMeta(key, None)])


def _delete_ops(engine: Engine, names: list[str]) -> list[Op]:
    return [DeleteSegment(name) for name in names if engine.exists(name)]


def _encode_op(op: Op) -> list:
    if isinstance(op, MergeSegments):
        return ["merge", op.target, op.source]
    if isinstance(op, SealSegment):
        return ["seal", op.name]
    if isinstance(op, DeleteSegment):
        return ["delete", op.name]
    if isinstance(op, CreateSegment):
        return ["create", op.name, int(op.kind), op.scale_type, op.target_rate]
    if isinstance(op, PutMeta):
        return ["meta", op.key, None if op.value is None else base64.b64encode(op.value).decode()]
    raise TypeError(f"cannot record {op!r} in an intent")


def _decode_op(d: list) -> Op:
    kind = d[0]
    if kind == "merge":
        return MergeSegments(d[1], d[2])
    if kind == "seal":
        return SealSegment(d[1])
    if kind == "delete":
        return DeleteSegment(d[1])
    if kind == "create":
        return CreateSegment(d[1], SegmentKind(d[2]), d[3], d[4])
    if kind == "meta":
        return PutMeta(d[1], None if d[2] is None else base64.b64decode(d[2]))
    raise ValueError(f"unknown intent operation {kind!r}")
