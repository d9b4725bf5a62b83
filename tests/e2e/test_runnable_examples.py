"""The runnable programs in examples/ work as written (each starts its own server)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "script, expect",
    [
        ("demo.py", "exactly once: yes"),
        ("beam_wordcount.py", "OK"),
        ("beam_batch.py", "OK"),
        ("beam_watermarks.py", "OK: every one-minute window is complete"),
    ],
)
def test_example_runs(script: str, expect: str) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script)], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert done.returncode == 0, f"{script} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    assert expect in done.stdout, done.stdout[-2000:]
