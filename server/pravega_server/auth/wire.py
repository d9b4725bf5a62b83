"""Delegation-token checks of segment-store commands.

Every request that carries a ``delegation_token`` is checked against the segment it
names: reads need READ, everything else READ_UPDATE. A refusal is the reply the
clients expect, ``AuthTokenCheckFailed`` (error code 1 = expired, the client then
fetches a new token; 0 = check failed).
"""

from __future__ import annotations

from pravega.protocol import commands as c

from .acl import ROOT, AclError, Permission, segment_resource
from .tokens import TokenError, TokenSigner

TOKEN_CHECK_FAILED = 0
TOKEN_EXPIRED = 1

_READS = frozenset(
    {
        c.ReadSegment,
        c.GetStreamSegmentInfo,
        c.GetSegmentAttribute,
        c.ReadTable,
        c.ReadTableKeys,
        c.ReadTableEntries,
        c.ReadTableEntriesDelta,
        c.GetTableSegmentInfo,
    }
)
_SEGMENT_FIELDS = ("segment", "segment_name", "parent_segment", "target", "target_segment_id")


def _segments_of(cmd: c.Command) -> list[str]:
    names = [getattr(cmd, f) for f in _SEGMENT_FIELDS if hasattr(cmd, f)]
    if hasattr(cmd, "source"):
        names.append(cmd.source)
    if hasattr(cmd, "source_segment_ids"):
        names.extend(cmd.source_segment_ids)
    return names


class WireGuard:
    def __init__(self, tokens: TokenSigner) -> None:
        self.tokens = tokens

    def check(self, cmd: c.Command) -> c.AuthTokenCheckFailed | None:
        """None if ``cmd`` may run, else the AuthTokenCheckFailed reply."""
        token = getattr(cmd, "delegation_token", None)
        if token is None:
            return None  # carries no token (appends after SetupAppend, Hello, keep-alives)
        needed = Permission.READ if type(cmd) in _READS else Permission.READ_UPDATE
        try:
            names = _segments_of(cmd)
            resources = [segment_resource(n) for n in names] if names else [ROOT]
            for resource in resources:
                self.tokens.check(token, resource, needed)
        except TokenError as exc:
            code = TOKEN_EXPIRED if exc.expired else TOKEN_CHECK_FAILED
            return c.AuthTokenCheckFailed(getattr(cmd, "request_id", -1), str(exc), code)
        except AclError as exc:
            return c.AuthTokenCheckFailed(getattr(cmd, "request_id", -1), str(exc), TOKEN_CHECK_FAILED)
        return None
