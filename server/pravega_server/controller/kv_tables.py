"""Key-value tables: a scope-level object owning one table segment per partition."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..storage.ops import CreateSegment, Op, PutMeta, SegmentKind
from . import naming
from .model import KeyValueTable, SegmentRecord
from .status import InvalidArgument, NotFound, Status

if TYPE_CHECKING:
    from .service import ControllerService


class KeyValueTables:
    """The key-value tables of every scope; operations lock the scope through ``ctl``."""

    def __init__(self, ctl: ControllerService) -> None:
        self.ctl = ctl
        self.by_scope: dict[str, dict[str, KeyValueTable]] = {}

    def load(self) -> None:
        for _, value in self.ctl.engine.meta_scan("kvt/"):
            kvt = KeyValueTable.from_json(value)
            self.by_scope.setdefault(kvt.scope, {})[kvt.name] = kvt

    async def create(
        self,
        scope: str,
        name: str,
        partitions: int,
        primary_key_length: int = 0,
        secondary_key_length: int = 0,
        rollover_size_bytes: int = 0,
    ) -> Status:
        if not naming.is_valid_table_name(name):
            return Status.INVALID_TABLE_NAME
        if partitions < 1:
            raise InvalidArgument(f"partitionCount must be at least 1, not {partitions}")
        if partitions > 100_000:
            raise InvalidArgument(f"partitionCount {partitions} is too large")
        if primary_key_length < 0 or secondary_key_length < 0 or rollover_size_bytes < 0:
            raise InvalidArgument("key lengths and rolloverSizeBytes must not be negative")
        async with self.ctl.locked(scope):
            if not self.ctl.scope_exists(scope):
                return Status.SCOPE_NOT_FOUND
            if name in self.by_scope.get(scope, {}):
                return Status.TABLE_EXISTS
            kvt = KeyValueTable(
                scope,
                name,
                partitions,
                primary_key_length,
                secondary_key_length,
                rollover_size_bytes,
                self.ctl.now_ms(),
            )
            names = kvt.segment_names()
            if any(self.ctl.engine.exists(n) for n in names):
                # e.g. the table of a (client-side) reader group of the same name
                return Status.TABLE_EXISTS
            ops: list[Op] = [CreateSegment(n, SegmentKind.TABLE) for n in names]
            ops.append(PutMeta(f"kvt/{scope}/{name}", kvt.to_json()))
            await self.ctl.engine.execute(ops)
            self.by_scope.setdefault(scope, {})[name] = kvt
        return Status.SUCCESS

    def get(self, scope: str, name: str) -> KeyValueTable | None:
        return self.by_scope.get(scope, {}).get(name)

    def segments(self, scope: str, name: str) -> list[SegmentRecord]:
        kvt = self.get(scope, name)
        if kvt is None:
            raise NotFound(f"key-value table {scope}/{name} does not exist")
        return kvt.segments()

    def list(self, scope: str, token: str = "") -> tuple[Status, list[str], str]:
        if not self.ctl.scope_exists(scope):
            return Status.SCOPE_NOT_FOUND, [], token
        page, token = self.ctl.page(self.by_scope.get(scope, {}), token)
        return Status.SUCCESS, page, token

    async def delete(self, scope: str, name: str) -> Status:
        async with self.ctl.locked(scope):
            kvt = self.get(scope, name)
            if kvt is None:
                return Status.TABLE_NOT_FOUND
            ops = self.ctl.delete_ops(kvt.segment_names())
            ops.append(PutMeta(f"kvt/{scope}/{name}", None))
            await self.ctl.engine.execute(ops)
            self.by_scope[scope].pop(name, None)
        return Status.SUCCESS
