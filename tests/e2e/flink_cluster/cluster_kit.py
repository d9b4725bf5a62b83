"""A standalone Flink cluster from the apache-flink distribution, for tests.

One JobManager and any number of TaskManagers, each its own JVM process started in the
foreground by this kit (so each has a PID of ours to SIGKILL), with a private copy of the
configuration directory: free ports on 127.0.0.1, small memory, this interpreter for the
Python workers, logs and temp files in the test's directory. Jobs are submitted with the
distribution's ``flink run -py``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml


def pyflink_home() -> Path:
    import pyflink

    return Path(pyflink.__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FlinkCluster:
    def __init__(self, base: Path, *, slots_per_taskmanager: int = 1) -> None:
        self.base = base
        self.home = pyflink_home()
        self.conf = base / "conf"
        self.logs = base / "log"
        self.tmp = base / "tmp"
        for d in (self.logs, self.tmp, base / "checkpoints"):
            d.mkdir(parents=True, exist_ok=True)
        self.rest_port = free_port()
        self.slots = slots_per_taskmanager
        self.jobmanager: subprocess.Popen[bytes] | None = None
        self.taskmanagers: list[subprocess.Popen[bytes]] = []
        self._write_conf()

    def _write_conf(self) -> None:
        shutil.copytree(self.home / "conf", self.conf, dirs_exist_ok=True)
        config = yaml.safe_load((self.conf / "config.yaml").read_text())
        config["jobmanager"] = {
            "bind-host": "127.0.0.1",
            "rpc": {"address": "127.0.0.1", "port": free_port()},
            "memory": {"process": {"size": "1024m"}},
            "execution": {"failover-strategy": "region"},
        }
        config["taskmanager"] = {
            "bind-host": "127.0.0.1",
            "host": "127.0.0.1",
            "numberOfTaskSlots": self.slots,
            "memory": {"process": {"size": "1280m"}},
        }
        config["rest"] = {"address": "127.0.0.1", "bind-address": "127.0.0.1", "port": self.rest_port}
        config["blob"] = {"server": {"port": "0"}}
        # A killed TaskManager is noticed within seconds, not the default 50 s.
        config["heartbeat"] = {"interval": 1000, "timeout": 6000}
        config["restart-strategy"] = {"type": "fixed-delay", "fixed-delay": {"attempts": 20, "delay": "1 s"}}
        config["execution"] = {"checkpointing": {"dir": f"file://{self.base / 'checkpoints'}"}}
        config["python"] = {"executable": sys.executable, "client": {"executable": sys.executable}}
        config["io"] = {"tmp": {"dirs": str(self.tmp)}}
        config["env"].setdefault("java", {}).setdefault("opts", {})
        config["env"]["java"]["opts"]["all"] = (
            config["env"]["java"]["opts"].get("all", "") + f" -Djava.io.tmpdir={self.tmp}"
        ).strip()
        (self.conf / "config.yaml").write_text(yaml.safe_dump(config))

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            FLINK_CONF_DIR=str(self.conf),
            FLINK_LOG_DIR=str(self.logs),
            FLINK_HOME=str(self.home),
            TMPDIR=str(self.tmp),
        )
        return env

    def _daemon(self, script: str, name: str) -> subprocess.Popen[bytes]:
        out = open(self.logs / f"{name}.out", "ab")
        try:
            return subprocess.Popen(
                ["bash", str(self.home / "bin" / script), "start-foreground"],
                env=self._env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            out.close()

    # -- life cycle -------------------------------------------------------------

    def start(self, taskmanagers: int) -> FlinkCluster:
        self.jobmanager = self._daemon("jobmanager.sh", "jobmanager")
        for _ in range(taskmanagers):
            self.add_taskmanager()
        self.wait_for_slots(taskmanagers * self.slots)
        return self

    def add_taskmanager(self) -> subprocess.Popen[bytes]:
        tm = self._daemon("taskmanager.sh", f"taskmanager-{len(self.taskmanagers)}")
        self.taskmanagers.append(tm)
        return tm

    def kill_taskmanager(self, tm: subprocess.Popen[bytes]) -> None:
        """SIGKILL the TaskManager's JVM (and the shell that runs it in the foreground)."""
        os.killpg(tm.pid, signal.SIGKILL)
        tm.wait()

    def stop(self) -> None:
        for proc in [*self.taskmanagers, self.jobmanager]:
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in [*self.taskmanagers, self.jobmanager]:
            if proc is None:
                continue
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    # -- REST -------------------------------------------------------------------

    def rest(self, path: str) -> Any:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.rest_port}{path}", timeout=5) as reply:
            return json.loads(reply.read())

    def live_taskmanagers(self) -> int:
        return len(self.rest("/taskmanagers")["taskmanagers"])

    def wait_for_slots(self, slots: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.rest("/overview")["slots-total"] >= slots:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"the cluster did not offer {slots} slots in {timeout} s; logs in {self.logs}")
            if self.jobmanager is not None and self.jobmanager.poll() is not None:
                raise AssertionError(f"the JobManager exited; logs in {self.logs}")
            time.sleep(0.5)

    def jobs(self) -> list[dict[str, Any]]:
        return list(self.rest("/jobs/overview")["jobs"])

    def job_state(self, job_id: str) -> str:
        return str(self.rest(f"/jobs/{job_id}")["state"])

    # -- jobs -------------------------------------------------------------------

    def submit_python(self, script: Path, args: list[str], jar: Path) -> str:
        """``flink run -d -py script --jarfile jar -- args``; returns the job id."""
        cmd = [
            "bash",
            str(self.home / "bin" / "flink"),
            "run",
            "-m",
            f"127.0.0.1:{self.rest_port}",
            "-d",
            "-py",
            str(script),
            "-pyexec",
            sys.executable,
            "-pyclientexec",
            sys.executable,
            "--jarfile",
            str(jar),
            *args,
        ]
        done = subprocess.run(cmd, env=self._env(), capture_output=True, text=True, timeout=300)
        output = done.stdout + done.stderr
        for line in output.splitlines():
            if "JobID" in line:
                return line.rsplit(" ", 1)[-1].strip()
        raise AssertionError(f"flink run failed (exit {done.returncode}):\n{output[-4000:]}")
