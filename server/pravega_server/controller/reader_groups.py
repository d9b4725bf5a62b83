"""Reader groups as the Java client keeps them on the controller, and subscribers
(reader groups whose positions hold back retention)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from ..storage.ops import Op, PutMeta
from . import naming
from .model import ReaderGroup, StreamConfig, Subscriber
from .status import InvalidArgument, Status

if TYPE_CHECKING:
    from .service import ControllerService


class ReaderGroups:
    """The reader groups of every scope; operations lock through ``ctl``."""

    def __init__(self, ctl: ControllerService) -> None:
        self.ctl = ctl
        self.by_scope: dict[str, dict[str, ReaderGroup]] = {}

    def load(self) -> None:
        for _, value in self.ctl.engine.meta_scan("rg/"):
            rg = ReaderGroup.from_json(value)
            self.by_scope.setdefault(rg.scope, {})[rg.name] = rg

    def get(self, scope: str, name: str) -> ReaderGroup | None:
        return self.by_scope.get(scope, {}).get(name)

    async def create(self, rg: ReaderGroup) -> tuple[Status, ReaderGroup | None]:
        """Store the configuration (generation 0) and create the ``_RG<group>`` state
        stream. An existing group is returned unchanged."""
        if not naming.is_valid_reader_group_name(rg.name):
            return Status.INVALID_RG_NAME, None
        if rg.retention_type not in (0, 1, 2):
            raise InvalidArgument(f"unknown reader group retention type {rg.retention_type}")
        rg_stream = naming.reader_group_stream(rg.name)
        async with self.ctl.locked(rg.scope, [(rg.scope, rg_stream)]):
            if not self.ctl.scope_exists(rg.scope):
                return Status.SCOPE_NOT_FOUND, None
            existing = self.get(rg.scope, rg.name)
            if existing is not None:
                return Status.SUCCESS, existing
            rg = ReaderGroup(**{**rg.__dict__})
            rg.generation = 0
            rg.reader_group_id = rg.reader_group_id or str(uuid.uuid4())
            ops: list[Op] = []
            stream = None
            if self.ctl.get_stream(rg.scope, rg_stream) is None:
                stream = self.ctl.new_stream(rg.scope, rg_stream, StreamConfig(min_segments=1))
                ops += self.ctl.create_ops(stream, stream.current.segments)
                ops.append(PutMeta(self.ctl.stream_key(rg.scope, rg_stream), stream.to_json()))
            ops.append(PutMeta(f"rg/{rg.scope}/{rg.name}", rg.to_json()))
            await self.ctl.engine.execute(ops)
            if stream is not None:
                self.ctl.put_stream(stream)
            self.by_scope.setdefault(rg.scope, {})[rg.name] = rg
        return Status.SUCCESS, rg

    async def update(self, rg: ReaderGroup) -> tuple[Status, int]:
        """Replace the configuration; ``rg.generation`` must be the current generation.
        Returns the new generation."""
        async with self.ctl.locked(rg.scope):
            existing = self.get(rg.scope, rg.name)
            if existing is None:
                return Status.RG_NOT_FOUND, 0
            if rg.reader_group_id and rg.reader_group_id != existing.reader_group_id:
                return Status.INVALID_CONFIG, existing.generation
            if rg.generation != existing.generation or rg.retention_type not in (0, 1, 2):
                return Status.INVALID_CONFIG, existing.generation
            new = ReaderGroup(**{**rg.__dict__})
            new.reader_group_id = existing.reader_group_id
            new.generation = existing.generation + 1
            await self.ctl.engine.execute([PutMeta(f"rg/{rg.scope}/{rg.name}", new.to_json())])
            self.by_scope[rg.scope][rg.name] = new
        return Status.SUCCESS, new.generation

    async def delete(self, scope: str, name: str, reader_group_id: str = "") -> Status:
        rg_stream = naming.reader_group_stream(name)
        async with self.ctl.locked(scope, [(scope, rg_stream)]):
            rg = self.get(scope, name)
            if rg is None or (reader_group_id and reader_group_id != rg.reader_group_id):
                return Status.RG_NOT_FOUND
            stream = self.ctl.get_stream(scope, rg_stream)
            ops: list[Op] = self.ctl.drop_stream_ops(stream) if stream is not None else []
            ops.append(PutMeta(f"rg/{scope}/{name}", None))
            await self.ctl.engine.execute(ops)
            if stream is not None:
                self.ctl.forget_stream(stream)
            self.by_scope[scope].pop(name, None)
        return Status.SUCCESS

    def subscribers(self, scope: str, stream: str) -> list[ReaderGroup]:
        return [
            rg
            for groups in self.by_scope.values()
            for rg in groups.values()
            if rg.retention_type != 0 and (scope, stream) in rg.streams()
        ]

    def subscriber_cuts(self, scope: str, name: str) -> list[dict[int, int] | None] | None:
        """The published cut of every subscriber group of the stream (None for a group that
        has published none), or None when the stream has no subscribers."""
        stream = self.ctl.get_stream(scope, name)
        groups = self.subscribers(scope, name)
        if stream is None or not groups:
            return None
        out: list[dict[int, int] | None] = []
        for rg in groups:
            sub = stream.subscribers.get(rg.scoped_name)
            out.append(dict(sub.cut) if sub is not None and sub.generation == rg.generation else None)
        return out

    def list_subscribers(self, scope: str, name: str) -> tuple[Status, list[str]]:
        if self.ctl.get_stream(scope, name) is None:
            return Status.STREAM_NOT_FOUND, []
        return Status.SUCCESS, sorted(rg.scoped_name for rg in self.subscribers(scope, name))

    async def update_subscriber_cut(
        self,
        scope: str,
        name: str,
        subscriber: str,
        generation: int,
        reader_group_id: str,
        cut: dict[int, int],
    ) -> Status:
        """Record a subscribing reader group's position (used for retention)."""
        async with self.ctl.locked(streams=[(scope, name)]):
            stream = self.ctl.get_stream(scope, name)
            if stream is None:
                return Status.STREAM_NOT_FOUND
            rg_scope, _, rg_name = subscriber.rpartition("/")
            rg = self.get(rg_scope or scope, rg_name)
            if rg is None or rg.retention_type == 0 or (scope, name) not in rg.streams():
                return Status.SUBSCRIBER_NOT_FOUND
            if reader_group_id and reader_group_id != rg.reader_group_id:
                return Status.SUBSCRIBER_NOT_FOUND
            if generation != rg.generation:
                return Status.GENERATION_MISMATCH
            if stream.validate_cut(cut) is not None:
                return Status.STREAM_CUT_NOT_VALID
            previous = stream.subscribers.get(rg.scoped_name)
            if previous is not None and previous.generation == generation and stream.is_before(cut, previous.cut):
                return Status.STREAM_CUT_NOT_VALID
            new = stream.copy()
            new.subscribers[rg.scoped_name] = Subscriber(generation, dict(cut))
            await self.ctl.engine.execute([PutMeta(self.ctl.stream_key(scope, name), new.to_json())])
            self.ctl.put_stream(new)
        return Status.SUCCESS
