"""Reader groups found where the clients keep their state: a table segment per group.

This project's client and the official Rust-based one keep a reader group's state in the
table segment ``<scope>/<group>_kvtable/0.#epoch.0`` (the name of a key-value table's first
segment too: a table that does not parse as reader-group state is not a group). The Java
client registers its groups with the controller instead; the REST API lists both.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pravega import naming
from pravega.client.reader_group_state import state_from_entries
from pravega.errors import PravegaError

from ..storage.segments import Segment


def _state_table_pattern(scope: str) -> re.Pattern[str]:
    suffix = re.escape(f"{naming.KVTABLE_SUFFIX}/0{naming.EPOCH_DELIMITER}0")
    return re.compile(f"^{re.escape(scope)}/(?P<name>[^/]+){suffix}$")


def state_groups(segments: Mapping[str, Segment], scope: str) -> dict[str, dict[str, Any]]:
    """``name -> {"streams": [...], "online": [...]}`` of the scope's groups among ``segments``."""
    out: dict[str, dict[str, Any]] = {}
    pattern = _state_table_pattern(scope)
    for seg_name, seg in list(segments.items()):
        table = seg.table
        if seg.deleted or table is None:
            continue
        m = pattern.match(seg_name)
        if m is None:
            continue
        try:
            state = state_from_entries(table.entries)
        except PravegaError:
            continue  # a table of another kind (a key-value table's) that has the name
        if state is not None:
            out[m.group("name")] = {"streams": list(state.config.get("streams", [])), "online": state.online()}
    return out
