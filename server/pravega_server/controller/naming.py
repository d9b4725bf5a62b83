"""Segment and table naming lives in the client package, shared with the server."""

from pravega.naming import *  # noqa: F403
from pravega.naming import _to_i32, _to_i64  # noqa: F401
