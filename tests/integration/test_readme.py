"""The README's client example runs as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_readme_quickstart_runs_as_written(tmp_path: Path) -> None:
    text = (ROOT / "README.md").read_text()
    match = re.search(r"<!-- readme-example: quickstart -->\n```python\n(.*?)```", text, re.S)
    assert match, "the README lost its quickstart example"
    script = tmp_path / "quickstart.py"
    script.write_text(match.group(1))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("[0, 1, 2, 3, 4, 5, 6] sc1:"), done.stdout
