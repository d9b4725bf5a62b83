"""A container answers ``WrongHost`` for a segment it does not own."""

from __future__ import annotations

from pravega.protocol import commands as c

from ..auth.wire import WireGuard, _segments_of
from .placement import container_of


class PlacementGuard:
    """Checks every request that names segments (those carry a delegation token; the
    appends that follow a ``SetupAppend`` do not, so the hot path is not touched), then
    hands over to the token guard, if any."""

    def __init__(self, index: int, count: int, then: WireGuard | None = None) -> None:
        self.index = index
        self.count = count
        self.then = then

    def check(self, cmd: c.Command) -> c.Command | None:
        if getattr(cmd, "delegation_token", None) is None:
            return None
        for name in _segments_of(cmd):
            if name and container_of(name, self.count) != self.index:
                return c.WrongHost(getattr(cmd, "request_id", -1), name, "", "")
        return self.then.check(cmd) if self.then is not None else None
