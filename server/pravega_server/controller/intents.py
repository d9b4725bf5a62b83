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
from collections.abc import Callable
from typing import Any

from ..storage import errors as store_errors
from ..storage import ops
from ..storage.engine import Engine
from ..storage.ops import Op, PutMeta
from . import model

log = logging.getLogger(__name__)

#: Prefix of the metadata keys of intents.
PREFIX = "intent/"


async def execute_two_phase(engine: Engine, intent_key: str, phase1: list[Op], phase2: list[Op]) -> None:
    """Run ``phase1`` together with a durable intent holding ``phase2``, then
    ``phase2`` with the intent's removal. Phase 1 may only create segments."""
    undo = [op.name for op in phase1 if isinstance(op, ops.CreateSegment)]
    intent = model.dumps({"batch": _encode_ops(phase2), "undo": undo})
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
            await engine.execute(_decode_ops(intent) + [PutMeta(key, None)])
            log.info("completed interrupted operation %s", key)
        except store_errors.StoreError:
            log.exception("cannot complete interrupted operation %s; undoing it", key)
            await engine.execute(_delete_ops(engine, intent["undo"]) + [PutMeta(key, None)])


def _delete_ops(engine: Engine, names: list[str]) -> list[Op]:
    return [ops.DeleteSegment(name) for name in names if engine.exists(name)]


def _encode_ops(batch: list[Op]) -> str:
    """``batch`` in the storage op codec (as in a BATCH record), base64 for the JSON record."""
    return base64.b64encode(b"".join(ops.encode_batch(batch))).decode()


def _decode_ops(intent: dict[str, Any]) -> list[Op]:
    if "batch" in intent:
        return ops.decode_batch(memoryview(base64.b64decode(intent["batch"])))
    return [_decode_legacy(op) for op in intent["ops"]]


def _decode_legacy(d: list[Any]) -> Op:
    """An operation of an intent written before intents used the op codec (a data
    directory left by an older server that crashed between the two phases)."""
    kind, args = d[0], d[1:]
    if kind == "create":
        return ops.CreateSegment(args[0], ops.SegmentKind(args[1]), args[2], args[3])
    if kind == "meta":
        return PutMeta(args[0], None if args[1] is None else base64.b64decode(args[1]))
    legacy: dict[str, Callable[..., Op]] = {
        "merge": ops.MergeSegments,
        "seal": ops.SealSegment,
        "delete": ops.DeleteSegment,
    }
    if kind not in legacy:
        raise ValueError(f"unknown intent operation {kind!r}")
    return legacy[kind](*args)
