"""The file moves of a log repair, ordered so that a crash at any point loses nothing.

1. the salvaged log is written to ``DIR/wal.repair`` and synced, then ``COMPLETE`` is
   written there (and synced);
2. ``DIR/wal`` is renamed to ``DIR/damaged/<UTC time>/wal`` (kept untouched for inspection);
3. ``DIR/wal.repair`` is renamed to ``DIR/wal``.

A crash between 2 and 3 leaves a complete ``wal.repair`` and no ``wal``:
:func:`finish_repair` (called before every recovery) completes step 3. An incomplete
``wal.repair`` (no ``COMPLETE``) is a repair that died in step 1 and is removed by the
next repair; the server ignores it.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from .wal.files import fsync_dir

WAL = "wal"
STAGING = "wal.repair"
COMPLETE = "COMPLETE"
DAMAGED = "damaged"


def finish_repair(data_dir: Path) -> None:
    """Complete a repair that was interrupted after the old log was moved away."""
    staging = data_dir / STAGING
    if not (data_dir / WAL).exists() and (staging / COMPLETE).exists():
        os.rename(staging, data_dir / WAL)
        fsync_dir(data_dir)
        (data_dir / WAL / COMPLETE).unlink()


def new_staging(data_dir: Path) -> Path:
    """An empty staging directory (an older incomplete one is removed)."""
    staging = data_dir / STAGING
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    fsync_dir(data_dir)
    return staging


def swap_in(data_dir: Path, staging: Path) -> Path:
    """Steps 2 and 3: keep the old log under ``damaged/``, make the staged log the log."""
    (staging / COMPLETE).write_bytes(b"")
    with open(staging / COMPLETE, "rb") as fh:
        os.fsync(fh.fileno())
    fsync_dir(staging)
    keep = data_dir / DAMAGED / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    suffix = 0
    while keep.exists():
        suffix += 1
        keep = keep.with_name(f"{keep.name.split('.')[0]}.{suffix}")
    keep.mkdir(parents=True)
    fsync_dir(keep.parent)
    os.rename(data_dir / WAL, keep / WAL)
    fsync_dir(keep)
    fsync_dir(data_dir)
    os.rename(staging, data_dir / WAL)
    fsync_dir(data_dir)
    (data_dir / WAL / COMPLETE).unlink()
    return keep / WAL
