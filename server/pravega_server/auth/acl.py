"""Permissions on resources, in the spirit of Pravega's ACL strings.

A resource is a path of ``kind:name`` components under the root ``prn::/``::

    prn::/                                     the cluster (every scope)
    prn::/scope:sc1                            a scope
    prn::/scope:sc1/stream:st1                 a stream
    prn::/scope:sc1/reader-group:rg1           a reader group
    prn::/scope:sc1/key-value-table:kvt1       a key-value table

An ACL is a ``;``-separated list of ``resource,PERMISSION`` entries, for example
``prn::/scope:sc1/stream:st1,READ_UPDATE;prn::/,READ``. A name may be ``*`` (any).
``prn::*`` is the same as ``prn::/``.

An entry applies to its resource and to everything under it; when several entries
apply, the most specific one decides (so ``prn::/scope:a,READ_UPDATE;prn::/scope:a/stream:s,NONE``
gives everything in scope ``a`` except stream ``s``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

ROOT = "prn::/"
_KINDS = ("scope", "stream", "reader-group", "key-value-table")


class AclError(ValueError):
    """An ACL string or resource name that cannot be parsed."""


class Permission(enum.IntEnum):
    NONE = 0
    READ = 1
    READ_UPDATE = 2


def parse_resource(text: str) -> tuple[tuple[str, str], ...]:
    """``prn::/scope:a/stream:b`` -> ``(("scope", "a"), ("stream", "b"))``."""
    text = text.strip()
    if text == "prn::*":
        return ()
    if not text.startswith(ROOT):
        raise AclError(f"a resource starts with {ROOT!r}: {text!r}")
    rest = text[len(ROOT) :]
    if not rest:
        return ()
    parts: list[tuple[str, str]] = []
    for piece in rest.split("/"):
        kind, sep, name = piece.partition(":")
        if not sep or not name or kind not in _KINDS:
            raise AclError(f"bad resource component {piece!r} in {text!r} (expected one of {', '.join(_KINDS)})")
        parts.append((kind, name))
    if parts[0][0] != "scope" or any(kind == "scope" for kind, _ in parts[1:]) or len(parts) > 2:
        raise AclError(f"a resource is a scope, optionally followed by one stream/reader-group/table: {text!r}")
    return tuple(parts)


def format_resource(parts: tuple[tuple[str, str], ...]) -> str:
    return ROOT + "/".join(f"{kind}:{name}" for kind, name in parts)


def scope_resource(scope: str) -> str:
    return f"{ROOT}scope:{scope}"


def stream_resource(scope: str, stream: str) -> str:
    """The resource of a stream name as the clients use it: reader-group state streams
    (``_RG<name>``) and key-value-table streams (``<name>_kvtable``) map to the reader
    group / table; ``_MARK<name>`` (watermarks) to the stream ``<name>``."""
    if stream.startswith("_RG") and len(stream) > 3:
        return f"{ROOT}scope:{scope}/reader-group:{stream[3:]}"
    if stream.endswith("_kvtable") and len(stream) > 8:
        return f"{ROOT}scope:{scope}/key-value-table:{stream[:-8]}"
    if stream.startswith("_MARK") and len(stream) > 5:
        stream = stream[5:]
    return f"{ROOT}scope:{scope}/stream:{stream}"


def reader_group_resource(scope: str, name: str) -> str:
    return f"{ROOT}scope:{scope}/reader-group:{name}"


def kvt_resource(scope: str, name: str) -> str:
    return f"{ROOT}scope:{scope}/key-value-table:{name}"


def segment_resource(segment: str) -> str:
    """The resource a segment belongs to: ``scope/stream/...`` -> the stream's resource."""
    parts = segment.split("/")
    if len(parts) < 3 or not parts[0] or not parts[1]:
        raise AclError(f"not a qualified segment name: {segment!r}")
    return stream_resource(parts[0], parts[1])


def _matches(pattern: tuple[tuple[str, str], ...], resource: tuple[tuple[str, str], ...]) -> bool:
    if len(pattern) > len(resource):
        return False
    return all(pk == rk and pn in ("*", rn) for (pk, pn), (rk, rn) in zip(pattern, resource, strict=False))


@dataclass(frozen=True)
class Acl:
    entries: tuple[tuple[tuple[tuple[str, str], ...], Permission], ...] = ()

    @classmethod
    def parse(cls, text: str) -> Acl:
        entries = []
        for item in text.split(";"):
            item = item.strip()
            if not item:
                continue
            resource, sep, perm = item.rpartition(",")
            if not sep:
                raise AclError(f"an ACL entry is 'resource,PERMISSION': {item!r}")
            try:
                permission = Permission[perm.strip().upper()]
            except KeyError:
                raise AclError(f"unknown permission {perm.strip()!r} (NONE, READ or READ_UPDATE)") from None
            entries.append((parse_resource(resource), permission))
        return cls(tuple(entries))

    def permission(self, resource: str) -> Permission:
        """The permission this ACL gives on ``resource`` (a ``prn::/...`` string)."""
        return self._permission(parse_resource(resource))

    def data_permission(self, resource: str) -> Permission:
        """The permission on the data of ``resource`` (its segments, for delegation tokens).

        The official client keeps a reader group's state in a table named like a
        key-value table (``<group>_kvtable``), so the data of a key-value table is also
        open to the permission held on the reader group of the same name. (Creating or
        deleting the table itself still takes the table's own permission.)
        """
        target = parse_resource(resource)
        held = self._permission(target)
        if len(target) == 2 and target[1][0] == "key-value-table":
            held = max(held, self._permission((target[0], ("reader-group", target[1][1]))))
        return held

    def _permission(self, target: tuple[tuple[str, str], ...]) -> Permission:
        best: Permission | None = None
        depth = -1
        for pattern, permission in self.entries:
            if not _matches(pattern, target):
                continue
            if len(pattern) > depth:
                best, depth = permission, len(pattern)
            elif len(pattern) == depth and best is not None and permission > best:
                best = permission
        return best if best is not None else Permission.NONE

    def __str__(self) -> str:
        return ";".join(f"{format_resource(p)},{perm.name}" for p, perm in self.entries)
