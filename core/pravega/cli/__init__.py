"""``pravega-cli``: look at and manage scopes, streams, reader groups and key-value tables.

Built on the asyncio client (:class:`pravega.aio.Client`). Every command prints a table
(or, with ``--json``, one JSON document) and exits with a code scripts can test:
:data:`OK` (0), :data:`FAILED` (1: not found, refused, unreachable) or :data:`USAGE` (2).
"""

from __future__ import annotations

OK = 0
FAILED = 1
USAGE = 2
