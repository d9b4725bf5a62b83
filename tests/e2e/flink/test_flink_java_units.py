"""The connector's Java parts without a Flink cluster: codecs and serializers, the routing hash
against the Python client's, stream-cut text shared with ``pravega.StreamCut``, the split
enumerator's successor / failover protocol against a real server, and the event writer moving
to successor segments when its stream is scaled under it.

The checks live in ``connectors/flink/java/src/test/java/org/pravega/flink/SelfTest.java``
(there is no Maven or JUnit here); it runs from the connector's test jar (``_jar.test_jar_path``).
"""

from __future__ import annotations

import random
import shutil
import string
import subprocess
from pathlib import Path

import pytest

import pravega
import pravega_flink
from pravega.routing import hash_routing_key
from pravega_flink import _jar

TEST_SOURCES = _jar.SOURCE_ROOT.parents[1] / "test" / "java"


@pytest.fixture(scope="module")
def selftest(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    if not TEST_SOURCES.is_dir():
        pytest.skip("the Java test sources are not part of this installation")
    java = shutil.which("java")
    if java is None:
        pytest.skip("no java")
    jar = pravega_flink.jar_path()
    classpath = [str(jar)] + [str(p) for p in _jar.flink_classpath()]
    tests_jar = _jar.test_jar_path()
    out = tmp_path_factory.mktemp("selftest")
    log_config = out / "log4j2.properties"
    log_config.write_text(
        "rootLogger.level = WARN\nrootLogger.appenderRef.c.ref = C\n"
        "appender.c.type = Console\nappender.c.name = C\nappender.c.target = SYSTEM_ERR\n"
        "appender.c.layout.type = PatternLayout\nappender.c.layout.pattern = %m%n\n"
    )
    lib = Path(classpath[1]).parent
    logging = [str(p) for p in lib.glob("log4j-*.jar")]
    return [
        java,
        f"-Dlog4j2.configurationFile={log_config}",
        "-cp",
        ":".join([str(out), str(tests_jar), *classpath, *logging]),
        "org.pravega.flink.SelfTest",
    ]


def _run(cmd: list[str], *args: str, **kw) -> str:
    result = subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=120, **kw)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_codecs_serializers_and_extractors(selftest):
    assert _run(selftest, "unit").strip().startswith("OK")


def test_routing_hash_matches_the_python_client(selftest):
    rng = random.Random(7)
    keys = ["hello", "k0", "user-7", "ü-ñ-😀", "a" * 33] + [
        "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(rng.randint(1, 40))) for _ in range(50)
    ]
    lines = _run(selftest, "hash", *keys).splitlines()
    assert len(lines) == len(keys)
    for key, line in zip(keys, lines):
        name, value = line.rsplit("\t", 1)
        assert name == key
        assert float(value) == hash_routing_key(key), key


def test_stream_cut_text_is_shared_with_the_python_client(selftest):
    cut = pravega.StreamCut("sc", "st", {0: 120, (3 << 32) | 7: 4096})
    assert _run(selftest, "cut", cut.to_text()).strip() == cut.to_text()


def test_enumerator_follows_splits_and_merges_and_undoes_failed_finishes(selftest, run):
    run.stream("split", 1)
    run.client.scale_stream(run.scope, "split", [0], [(0.0, 0.5), (0.5, 1.0)])
    run.stream("merge", 2)
    run.client.scale_stream(run.scope, "merge", [0, 1], [(0.0, 1.0)])
    assert _run(selftest, "enumerator", run.uri, run.scope).strip().startswith("OK")


def test_event_writer_moves_to_successors_when_the_stream_scales(selftest, run):
    run.stream("scaled", 2)
    proc = subprocess.Popen(
        [*selftest, "writer", run.uri, run.scope, "scaled"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    stdin, stdout, stderr = proc.stdin, proc.stdout, proc.stderr

    def command(line: str) -> str:
        stdin.write(line + "\n")
        stdin.flush()
        return stdout.readline().strip()

    try:
        assert command("write 4000") == "written 4000"
        # Scale while events are still in flight; the writer finds out on its next appends.
        run.client.scale_stream(run.scope, "scaled", [0], [(0.0, 0.25), (0.25, 0.5)])
        assert command("write 4000") == "written 4000"
        assert command("flush") == "flushed"
        run.client.scale_stream(run.scope, "scaled", [1], [(0.5, 0.75), (0.75, 1.0)])
        assert command("write 4000") == "written 4000"
        assert command("flush") == "flushed"
        stdin.write("exit\n")
        stdin.flush()
        assert proc.wait(30) == 0, stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    # Per key: the events of older segments come first (read segments by creation epoch).
    per_segment = run.read_segments(f"{run.scope}/scaled")
    seqs: dict[str, list[int]] = {}
    for sid in sorted(per_segment, key=lambda s: (s >> 32, s & 0xFFFFFFFF)):
        for text in per_segment[sid]:
            key, _, seq = text.partition(":")
            seqs.setdefault(key, []).append(int(seq))
    assert sorted(seqs) == [f"k{k}" for k in range(8)]
    for key, got in seqs.items():
        assert got == list(range(1500)), f"{key}: {len(got)} events, order broken or duplicates"
    assert any(sid >> 32 == 2 and per_segment[sid] for sid in per_segment), "nothing reached the last epoch"


def test_pravega_watermark_tracking_per_split(selftest):
    """Per-split rules (cut reached, newer / older segments not in the cut), the tracker's
    shortcut against recomputation, the emitter's watermarks, idleness and restore, and the
    serializers that carry watermarks (``source/reader/WatermarkChecks.java``)."""
    out = _run(selftest, "watermarks").strip()
    assert out.startswith("OK"), out
    assert int(out.split()[1]) > 100, out
