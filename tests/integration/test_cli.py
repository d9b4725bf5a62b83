"""``pravega-cli``: the installed command, run as a subprocess against a real server.

Every subcommand is run; the tests check what it prints (tables and ``--json``) and its
exit code (0 done, 1 not found or failed, 2 wrong usage).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pravega
from pravega.testing import ServerProcess

CLI = Path(sys.executable).parent / "pravega-cli"


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with ServerProcess(in_memory=True) as proc:
        yield proc


def cli(server: ServerProcess, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRAVEGA_CONTROLLER_URI": server.controller_uri, "PRAVEGA_REST_URI": server.rest_uri}
    return subprocess.run([str(CLI), *args], capture_output=True, text=True, env=env, timeout=timeout)


def ok_json(server: ServerProcess, *args: str) -> Any:
    done = cli(server, "--json", *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def write(server: ServerProcess, scope: str, stream: str, events: list[str]) -> None:
    with pravega.Client(server.controller_uri) as client:
        writer = client.create_writer(scope, stream, pravega.StringSerializer())
        for i, event in enumerate(events):
            writer.write(event, routing_key=f"k{i}")
        writer.flush()
        writer.close()


def test_the_command_is_installed_and_explains_itself(server: ServerProcess) -> None:
    done = subprocess.run([str(CLI), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    for group in ("scope", "stream", "reader-group", "kvt"):
        assert group in done.stdout
    assert "Exit codes" in done.stdout


def test_scope_create_list_delete(server: ServerProcess) -> None:
    scope = unique("clisc")
    done = cli(server, "scope", "create", scope)
    assert done.returncode == 0 and f"scope {scope} created" in done.stdout
    assert ok_json(server, "scope", "create", scope) == {"scope": scope, "created": False}
    table = cli(server, "scope", "list")
    assert table.returncode == 0 and scope in table.stdout and "scope" in table.stdout
    assert scope in ok_json(server, "scope", "list")
    assert ok_json(server, "scope", "delete", scope) == {"scope": scope, "deleted": True}
    assert scope not in ok_json(server, "scope", "list")
    missing = cli(server, "scope", "delete", scope)
    assert missing.returncode == 1 and "no scope" in missing.stderr


def test_scope_delete_refuses_a_scope_with_streams(server: ServerProcess) -> None:
    scope = unique("clifull")
    assert cli(server, "scope", "create", scope).returncode == 0
    assert cli(server, "stream", "create", f"{scope}/s").returncode == 0
    done = cli(server, "scope", "delete", scope)
    assert done.returncode == 1 and "not empty" in done.stderr
    assert scope in ok_json(server, "scope", "list")


def test_usage_errors_exit_2(server: ServerProcess) -> None:
    assert cli(server, "stream", "info", "no-slash").returncode == 2
    assert cli(server, "stream", "create", "a/b", "--segments", "0").returncode == 2
    assert cli(server, "bogus").returncode == 2
    assert cli(server, "stream", "truncate", "a/b").returncode == 2  # needs --cut or --to-tail
    done = cli(server, "stream", "cat", "a/b", "--from", "not-a-cut")
    assert done.returncode == 2 and "not a stream cut" in done.stderr
    scaling = cli(server, "stream", "create", "a/b", "--scaling", "events")
    assert scaling.returncode == 2 and "--target-rate" in scaling.stderr


def test_stream_create_with_policies_then_info_and_list(server: ServerProcess) -> None:
    scope = unique("clist")
    cli(server, "scope", "create", scope)
    done = cli(
        server, "stream", "create", f"{scope}/auto", "--segments", "2", "--scaling", "events",
        "--target-rate", "100", "--scale-factor", "3", "--retention-size", "1048576", "--tag", "blue",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert ok_json(server, "stream", "create", f"{scope}/timed", "--retention-time", "60000")["created"] is True
    info = ok_json(server, "stream", "info", f"{scope}/auto")
    assert info["scaling"] == {
        "type": "BY_RATE_IN_EVENTS_PER_SEC",
        "targetRate": 100,
        "scaleFactor": 3,
        "minSegments": 2,
    }
    assert info["retention"] == {"type": "SIZE", "value": 1048576}
    assert info["tags"] == ["blue"] and info["sealed"] is False
    assert ok_json(server, "stream", "info", f"{scope}/timed")["retention"] == {"type": "TIME", "value": 60000}
    assert ok_json(server, "stream", "list", scope) == ["auto", "timed"]
    assert ok_json(server, "stream", "list", scope, "--tag", "blue") == ["auto"]
    table = cli(server, "stream", "list", scope)
    assert "auto" in table.stdout and "timed" in table.stdout
    missing = cli(server, "stream", "info", f"{scope}/nope")
    assert missing.returncode == 1 and "does not exist" in missing.stderr
    assert cli(server, "stream", "list", unique("noscope")).returncode == 1


def test_stream_info_head_and_tail_move_with_writes_and_truncation(server: ServerProcess) -> None:
    scope = unique("clitr")
    cli(server, "scope", "create", scope)
    cli(server, "stream", "create", f"{scope}/s")
    write(server, scope, "s", ["one", "two", "three"])
    info = ok_json(server, "stream", "info", f"{scope}/s")
    assert info["head"] == {"0": 0}
    assert info["tail"]["0"] == 3 * 8 + len("one") + len("two") + len("three")
    text = cli(server, "stream", "info", f"{scope}/s")
    assert text.returncode == 0 and info["tailCut"] in text.stdout  # the full cut, not cut short
    done = ok_json(server, "stream", "truncate", f"{scope}/s", "--cut", info["tailCut"])
    assert done["head"] == info["tail"]
    assert cli(server, "stream", "cat", f"{scope}/s").stdout == ""
    write(server, scope, "s", ["four"])
    assert ok_json(server, "stream", "truncate", f"{scope}/s", "--to-tail")["head"]["0"] > info["tail"]["0"]
    wrong = cli(server, "stream", "truncate", f"{scope}/other", "--cut", info["tailCut"])
    assert wrong.returncode == 2 and "is a cut of" in wrong.stderr


def test_stream_cat_prints_events_bounded(server: ServerProcess) -> None:
    scope = unique("clicat")
    cli(server, "scope", "create", scope)
    cli(server, "stream", "create", f"{scope}/s")
    events = [f"event-{i}" for i in range(20)]
    write(server, scope, "s", events)
    done = cli(server, "stream", "cat", f"{scope}/s")
    assert done.returncode == 0 and done.stdout.splitlines() == events
    assert cli(server, "stream", "cat", f"{scope}/s", "--max-events", "5").stdout.splitlines() == events[:5]
    lines = cli(server, "--json", "stream", "cat", f"{scope}/s", "--max-events", "2", "--format", "hex").stdout
    first = json.loads(lines.splitlines()[0])
    assert first == {"segment": f"{scope}/s/0.#epoch.0", "offset": 0, "event": b"event-0".hex()}
    missing = cli(server, "stream", "cat", f"{scope}/nope")
    assert missing.returncode == 1


def test_stream_tail_follows_new_events(server: ServerProcess) -> None:
    scope = unique("clitail")
    cli(server, "scope", "create", scope)
    cli(server, "stream", "create", f"{scope}/s")
    write(server, scope, "s", ["old"])
    env = {**os.environ, "PRAVEGA_CONTROLLER_URI": server.controller_uri}
    proc = subprocess.Popen(
        [str(CLI), "stream", "tail", f"{scope}/s", "--max-events", "3"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        ready = threading.Event()
        lines: list[str] = []

        def watch() -> None:
            for line in proc.stderr:  # type: ignore[union-attr]
                lines.append(line)
                if "following" in line:
                    ready.set()

        threading.Thread(target=watch, daemon=True).start()
        assert ready.wait(120), "".join(lines)
        write(server, scope, "s", ["new-1", "new-2", "new-3"])
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert sorted(out.splitlines()) == ["new-1", "new-2", "new-3"]  # not "old": the tail starts now


def test_stream_tail_stops_when_idle(server: ServerProcess) -> None:
    scope = unique("cliidle")
    cli(server, "scope", "create", scope)
    cli(server, "stream", "create", f"{scope}/s")
    done = cli(server, "stream", "tail", f"{scope}/s", "--idle-timeout", "1")
    assert done.returncode == 0 and done.stdout == ""


def test_stream_scale_seal_delete(server: ServerProcess) -> None:
    scope = unique("cliscale")
    cli(server, "scope", "create", scope)
    cli(server, "stream", "create", f"{scope}/s", "--segments", "2")
    write(server, scope, "s", ["a", "b", "c", "d"])
    scaled = ok_json(server, "stream", "scale", f"{scope}/s", "--segments", "3")
    assert len(scaled["created"]) == 3 and len(scaled["sealed"]) == 2
    bounds = [b for c in scaled["created"] for b in (c["minKey"], c["maxKey"])]
    assert bounds == pytest.approx([0, 1 / 3, 1 / 3, 2 / 3, 2 / 3, 1])
    table = cli(server, "stream", "scale", f"{scope}/s", "--segments", "1")
    assert table.returncode == 0 and "new segments" in table.stdout
    write(server, scope, "s", ["e"])
    assert sorted(cli(server, "stream", "cat", f"{scope}/s").stdout.split()) == ["a", "b", "c", "d", "e"]
    assert ok_json(server, "stream", "seal", f"{scope}/s")["sealed"] is True
    assert ok_json(server, "stream", "info", f"{scope}/s")["sealed"] is True
    sealed = cli(server, "stream", "scale", f"{scope}/s", "--segments", "2")
    assert sealed.returncode == 1 and "sealed" in sealed.stderr
    assert ok_json(server, "stream", "delete", f"{scope}/s")["deleted"] is True
    assert ok_json(server, "stream", "list", scope) == []
    assert cli(server, "stream", "delete", f"{scope}/s").returncode == 1


def test_stream_delete_seals_an_open_stream_first(server: ServerProcess) -> None:
    scope = unique("clidel")
    cli(server, "scope", "create", scope)
    cli(server, "stream", "create", f"{scope}/s")
    done = cli(server, "stream", "delete", f"{scope}/s")
    assert done.returncode == 0 and "deleted" in done.stdout


def test_reader_group_list_describe_reset(server: ServerProcess) -> None:
    scope = unique("clirg")
    cli(server, "scope", "create", scope)
    cli(server, "stream", "create", f"{scope}/s")
    write(server, scope, "s", ["e1", "e2", "e3"])
    with pravega.Client(server.controller_uri) as client:
        group = client.create_reader_group("grp", scope, ["s"])
        reader = group.create_reader("r1")
        seen = []
        while len(seen) < 3:
            read = reader.read_next_event(timeout=5)
            if read is not None and not read.is_checkpoint:
                seen.append(read.data)
        reader.close()  # writes its positions back
        assert ok_json(server, "reader-group", "list", scope) == ["grp"]
        assert "grp" in cli(server, "reader-group", "list", scope).stdout
        described = ok_json(server, "reader-group", "describe", f"{scope}/grp")
        assert described["streams"] == [f"{scope}/s"]
        assert described["unreadBytes"] == 0
        assert described["positions"][f"{scope}/s"] == {"0": 3 * 8 + 6}
        write(server, scope, "s", ["e4"])
        assert ok_json(server, "reader-group", "describe", f"{scope}/grp")["unreadBytes"] == 8 + 2
        text = cli(server, "reader-group", "describe", f"{scope}/grp")
        assert "unread bytes" in text.stdout and "10" in text.stdout
        reset = ok_json(server, "reader-group", "reset", f"{scope}/grp")
        assert reset["group"] == "grp"
        after = ok_json(server, "reader-group", "describe", f"{scope}/grp")
        assert after["unreadBytes"] == 4 * 8 + 8 and after["positions"][f"{scope}/s"] == {"0": 0}
        mid_cut = pravega.StreamCut(scope, "s", {0: 8 + 2})
        moved = ok_json(server, "reader-group", "reset", f"{scope}/grp", "--cut", mid_cut.to_text())
        assert moved["cuts"][f"{scope}/s"] == mid_cut.to_text()
    missing = cli(server, "reader-group", "describe", f"{scope}/nope")
    assert missing.returncode == 1
    assert cli(server, "reader-group", "list", unique("none")).returncode == 1


def test_reader_group_list_without_rest_api_says_so(server: ServerProcess) -> None:
    env = {**os.environ, "PRAVEGA_CONTROLLER_URI": server.controller_uri}
    env.pop("PRAVEGA_REST_URI", None)
    done = subprocess.run(
        [str(CLI), "--rest", "http://127.0.0.1:1", "reader-group", "list", "x"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1 and "REST API" in done.stderr


def test_kvt_create_put_get_list_delete(server: ServerProcess) -> None:
    scope = unique("clikvt")
    cli(server, "scope", "create", scope)
    assert ok_json(server, "kvt", "create", f"{scope}/t", "--partitions", "2")["created"] is True
    put = ok_json(server, "kvt", "put", f"{scope}/t", "k1", "v1")
    assert put["key"] == "k1" and put["version"] >= 0
    assert cli(server, "kvt", "put", f"{scope}/t", "k2", "v2").returncode == 0
    got = cli(server, "kvt", "get", f"{scope}/t", "k1")
    assert got.returncode == 0 and got.stdout.strip() == "v1"
    assert ok_json(server, "kvt", "get", f"{scope}/t", "k2")["value"] == "v2"
    assert cli(server, "kvt", "get", f"{scope}/t", "k3").returncode == 1
    entries = ok_json(server, "kvt", "list", f"{scope}/t")
    assert [(e["key"], e["value"]) for e in entries] == [("k1", "v1"), ("k2", "v2")]
    assert "k2" in cli(server, "kvt", "list", f"{scope}/t").stdout
    assert ok_json(server, "kvt", "delete", f"{scope}/t", "--key", "k1")["removed"] is True
    assert cli(server, "kvt", "get", f"{scope}/t", "k1").returncode == 1
    assert cli(server, "kvt", "delete", f"{scope}/t", "--key", "k1").returncode == 1
    assert ok_json(server, "kvt", "delete", f"{scope}/t")["deleted"] is True
    assert cli(server, "kvt", "get", f"{scope}/t", "k2").returncode == 1
    assert cli(server, "kvt", "delete", f"{scope}/t").returncode == 1


def test_unreachable_controller_fails_with_exit_1() -> None:
    env = {**os.environ, "PRAVEGA_CONTROLLER_URI": "tcp://127.0.0.1:1"}
    done = subprocess.run([str(CLI), "scope", "list"], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 1 and "error" in done.stderr


def test_stream_tail_stops_on_ctrl_c_and_removes_its_reader_group(server: ServerProcess) -> None:
    scope = unique("clisig")
    cli(server, "scope", "create", scope)
    cli(server, "stream", "create", f"{scope}/s")
    env = {**os.environ, "PRAVEGA_CONTROLLER_URI": server.controller_uri}
    proc = subprocess.Popen(
        [str(CLI), "stream", "tail", f"{scope}/s"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()  # "following ..." once its reader group exists
        assert "following" in line, line
        assert len(ok_json(server, "reader-group", "list", scope)) == 1
        proc.send_signal(signal.SIGINT)
        proc.wait(120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert ok_json(server, "reader-group", "list", scope) == []
