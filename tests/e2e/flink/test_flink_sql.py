"""The Flink SQL connector (``'connector' = 'pravega'``) from PyFlink's Table API against a real
server: an exactly-once ``INSERT INTO`` through a Python function that fails once, bounded
``SELECT``s with the json and raw formats, and the options' validation."""

from __future__ import annotations

import collections
import json
from typing import Any

import pytest
from flink_testkit import FlinkRun


def _t_env(run: FlinkRun, parallelism: int = 2) -> Any:
    from pyflink.table import StreamTableEnvironment

    return StreamTableEnvironment.create(run.env(parallelism=parallelism, checkpoint_ms=500))


def _with(run: FlinkRun, options: dict[str, str | None]) -> str:
    """A WITH clause: the common options, then ``options`` (None drops an option)."""
    settings: dict[str, str | None] = {"connector": "pravega", "controller-uri": run.uri, "scope": run.scope}
    settings["format"] = "json"
    settings.update(options)
    return ", ".join(f"'{k}' = '{v}'" for k, v in settings.items() if v is not None)


def test_insert_exactly_once_through_a_failure_and_bounded_selects(run: FlinkRun) -> None:
    from pyflink.table import DataTypes
    from pyflink.table.udf import udf

    run.stream("in", 2)
    run.stream("out", 3)
    users, per_user = 6, 150
    texts = [json.dumps({"user": f"u{u}", "seq": s}) for s in range(per_user) for u in range(users)]
    run.write(f"{run.scope}/in", ((json.loads(t)["user"], t) for t in texts))

    marker = str(run.tmp / "udf-failed")

    @udf(result_type=DataTypes.STRING())
    def tag(user: str, seq: int) -> str:
        import os

        if user == "u3" and seq == 100 and not os.path.exists(marker):
            open(marker, "w").close()
            raise RuntimeError("injected failure in a Python function of the SQL job")
        return f"{user}-{seq}"

    t_env = _t_env(run)
    t_env.create_temporary_function("tag", tag)
    t_env.execute_sql(
        f"CREATE TABLE src (`user` STRING, seq INT) WITH ({_with(run, {'scan.streams': 'in', 'scan.bounded': 'true'})})"
    )
    t_env.execute_sql(
        "CREATE TABLE dst (`user` STRING, seq INT, label STRING) WITH ("
        + _with(
            run,
            {
                "stream": "out",
                "sink.delivery-guarantee": "exactly-once",
                "sink.routing-key.field": "user",
                "sink.transaction-lease": "1 min",
            },
        )
        + ")"
    )
    t_env.execute_sql("INSERT INTO dst SELECT `user`, seq, tag(`user`, seq) FROM src").wait()
    assert (run.tmp / "udf-failed").exists(), "the Python function did not fail"

    # Every row once; rows of one user in one segment, in order (the routing-key column).
    per_segment = run.read_segments(f"{run.scope}/out")
    seqs: dict[str, list[int]] = collections.defaultdict(list)
    segments_of: dict[str, set[int]] = collections.defaultdict(set)
    for segment, events in per_segment.items():
        for text in events:
            row = json.loads(text)
            assert row["label"] == f"{row['user']}-{row['seq']}"
            seqs[row["user"]].append(row["seq"])
            segments_of[row["user"]].add(segment)
    assert sorted(seqs) == [f"u{u}" for u in range(users)]
    for user, got in seqs.items():
        assert got == list(range(per_user)), f"{user}: {len(got)} rows, duplicates or order broken"
        assert len(segments_of[user]) == 1, f"{user} was routed to {sorted(segments_of[user])}"
    assert len({s for ss in segments_of.values() for s in ss}) > 1, "all users landed in one segment"

    # A bounded SELECT over what the INSERT wrote, and the raw format over the input.
    t_env.execute_sql(
        "CREATE TABLE written (`user` STRING, seq INT, label STRING) WITH ("
        + _with(run, {"scan.streams": "out", "scan.bounded": "true"})
        + ")"
    )
    with t_env.execute_sql("SELECT `user`, seq, label FROM written WHERE seq < 10").collect() as rows:
        got_rows = sorted((r[0], r[1], r[2]) for r in rows)
    assert got_rows == sorted((f"u{u}", s, f"u{u}-{s}") for u in range(users) for s in range(10))
    t_env.execute_sql(
        f"CREATE TABLE raw_in (line STRING) WITH ({_with(run, {'stream': 'in', 'scan.bounded': 'true', 'format': 'raw'})})"
    )
    with t_env.execute_sql("SELECT line FROM raw_in").collect() as rows:
        lines = sorted(r[0] for r in rows)
    assert lines == sorted(texts)


@pytest.mark.parametrize(
    "options,message",
    [
        ({"stream": "nope/too/deep"}, "scope/stream"),
        ({"sink.routing-key.field": "missing"}, "not a physical column"),
        ({"sink.delivery-guarantee": "twice"}, "sink.delivery-guarantee"),
        ({"scope": None}, "without a scope"),
    ],
)
def test_invalid_options_are_named(run: FlinkRun, options: dict[str, str | None], message: str) -> None:
    from py4j.protocol import Py4JJavaError

    t_env = _t_env(run, parallelism=1)
    settings: dict[str, str | None] = {"stream": "out"}
    settings.update(options)
    t_env.execute_sql(f"CREATE TABLE bad (`user` STRING, n INT) WITH ({_with(run, settings)})")
    with pytest.raises(Py4JJavaError) as failure:
        t_env.execute_sql("INSERT INTO bad VALUES ('a', 1)")
    assert message in str(failure.value), str(failure.value)[-2000:]
