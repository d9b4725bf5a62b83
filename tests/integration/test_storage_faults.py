"""The crash test with storage faults injected from outside: EIO, ENOSPC and short writes at random
moments (an LD_PRELOAD shim compiled here with gcc, seeded, rate from $FAULT_RATE), while official-
client writers write and the server is SIGKILLed. Every acknowledged event is read back exactly
once (more only if the writer itself wrote it again after an error), nothing torn."""

from __future__ import annotations

import json
import os
import random
import shutil
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from test_crash import WRITERS, load_results, start_writer, stop_writers, verify

from pravega.testing import ServerProcess

pravega_client = pytest.importorskip("pravega_client")

SHIM_SOURCE = Path(__file__).parent / "faults" / "storage_faults.c"
KILLS = 3


def build_shim(out: Path) -> Path:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed: the fault shim cannot be built")
    shim = out / "storage_faults.so"
    subprocess.run([gcc, "-shared", "-fPIC", "-O2", "-o", str(shim), str(SHIM_SOURCE), "-ldl"], check=True)
    return shim


def faulty_python(tmp: Path, shim: Path, data: Path, seed: int, rate: float, log: Path) -> Path:
    """A python launcher that runs the server with the shim preloaded (only the server)."""
    script = tmp / "python-with-faults"
    script.write_text(
        "#!/bin/sh\n"
        f"export LD_PRELOAD={shim} FAULT_DIR={data} FAULT_SEED={seed} FAULT_RATE={rate} FAULT_LOG={log}\n"
        f'exec {sys.executable} "$@"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def start_with_retries(server: ServerProcess, attempts: int = 10) -> None:
    """A fault can hit recovery's own writes (cutting a torn tail): the start then fails cleanly
    and an operator (here: the test) starts again."""
    for attempt in range(attempts):
        try:
            server.start()
            return
        except RuntimeError:
            if attempt == attempts - 1:
                raise


@pytest.mark.slow
def test_acknowledged_events_survive_storage_faults_and_sigkill(tmp_path: Path) -> None:
    seed = int(os.environ.get("FAULT_SEED", random.randrange(1 << 30)))
    rate = float(os.environ.get("FAULT_RATE", "0.01"))
    rng = random.Random(seed)
    data = tmp_path / "data"
    data.mkdir()
    fault_log = tmp_path / "faults.log"
    shim = build_shim(tmp_path)
    python = faulty_python(tmp_path, shim, data, seed, rate, fault_log)
    server = ServerProcess(data, python=str(python), extra_args=["--log-file-size", str(1 << 20)])
    try:
        start_with_retries(server)
        manager = pravega_client.StreamManager(server.controller_uri)
        scope, stream = "faults" + uuid.uuid4().hex[:6], "events"
        # Control calls may meet a fault too: the test retries them as an application would.
        for call in (lambda: manager.create_scope(scope), lambda: manager.create_stream(scope, stream, 4)):
            for attempt in range(20):
                try:
                    call()
                    break
                except Exception:
                    if attempt == 19:
                        raise
                    time.sleep(0.5)

        stop_file = tmp_path / "stop"
        outs = [tmp_path / f"writer{i}.json" for i in range(WRITERS)]
        procs = [
            start_writer(
                server.controller_uri,
                scope,
                stream,
                f"w{i}",
                stop_file,
                out,
                **({"sync": ""} if i == WRITERS - 1 else {}),
            )
            for i, out in enumerate(outs)
        ]
        kill_times: list[float] = []
        try:
            time.sleep(2.0)
            for _ in range(KILLS):
                time.sleep(rng.uniform(1.0, 3.0))
                assert all(p.poll() is None for p in procs), "a writer process died"
                assert server.alive(), "a storage fault stopped the server"
                server.kill()
                start_with_retries(server)
                kill_times.append(time.time())
            time.sleep(4.0)
            assert server.alive(), "a storage fault stopped the server"
            stop_writers(procs, stop_file, outs)
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()

        faults = fault_log.read_text().splitlines() if fault_log.exists() else []
        # Read back from a server without faults (reader groups write state too).
        server.kill()
        server.python = sys.executable
        server.start()
        results = load_results(outs)
        report = verify(server.controller_uri, scope, stream, results, kill_times)
        kinds = sorted({" ".join(line.split()[1:]) for line in faults})
        print(json.dumps({"seed": seed, "rate": rate, "faults": len(faults), "kinds": kinds, **report}, indent=1))
        assert faults, "no fault was injected: the test proved nothing"
        assert all(len(r["acked"]) > 0 for r in results.values())
        assert not report["problems"], f"storage-fault test failed (seed {seed}): " + "; ".join(report["problems"])
    finally:
        server.close()
