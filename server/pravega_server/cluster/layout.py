"""The data directory of a server with several containers, and its fixed container count.

    DATA_DIR/containers.json        {"containers": N}, written when the directory is created
    DATA_DIR/controller/            the controller's metadata log (an engine of its own)
    DATA_DIR/containers/<i>/        container i's log and checkpoints
    DATA_DIR/containers/ports.json  the ports the containers last served on
    tier 2                          <lts>/container-<i>/ per container

A directory written by a single-process server (``--containers 1``: ``wal/`` at the top,
no ``containers.json``) cannot be opened with more containers, nor the other way round:
segments are placed by a hash modulo the count, so another count would look for them in
the wrong place.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

COUNT_FILE = "containers.json"
PORTS_FILE = "ports.json"


class LayoutError(OSError):
    pass


def stored_count(data_dir: Path) -> int | None:
    """The container count the directory was created with (1 for a single-process
    directory that holds data, None for a new one)."""
    path = data_dir / COUNT_FILE
    if path.exists():
        return int(json.loads(path.read_text())["containers"])
    if (data_dir / "wal").exists() or any(data_dir.glob("checkpoint-*.ckpt")):
        return 1
    return None


def check_count(data_dir: Path, containers: int) -> None:
    """Refuse a container count other than the directory's; record it for a new
    directory with several containers."""
    stored = stored_count(data_dir) if data_dir.exists() else None
    if stored is not None and stored != containers:
        raise LayoutError(
            f"data directory {data_dir} was created with --containers {stored}; it cannot be opened with "
            f"--containers {containers} (segments are placed by container count, which is fixed at creation)"
        )
    if stored is None and containers > 1:
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = data_dir / f"{COUNT_FILE}.tmp"
        tmp.write_text(json.dumps({"containers": containers}))
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, data_dir / COUNT_FILE)


def container_dir(data_dir: Path, index: int) -> Path:
    return data_dir / "containers" / str(index)


def controller_dir(data_dir: Path) -> Path:
    return data_dir / "controller"


def recorded_ports(data_dir: Path | None) -> list[int]:
    if data_dir is None:
        return []
    try:
        return [int(p) for p in json.loads((data_dir / "containers" / PORTS_FILE).read_text())]
    except (OSError, ValueError):
        return []


def record_ports(data_dir: Path | None, ports: list[int]) -> None:
    if data_dir is None:
        return
    path = data_dir / "containers" / PORTS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(ports))


def lts_of_container(lts: str, index: int) -> str:
    return f"{lts.rstrip('/')}/container-{index}"
