"""A pipeline run as a process by the re-run tests (test_beam_rerun.py), so that it can
be killed from outside: ``ReadFromPravega(<scope>/in, with_metadata, resume_from_sink)
| Map | WriteToPravega(<scope>/out, sink_id)``.

Input events are ``b"<key>:<seq>"``; each is written as ``b"<key>:<seq>:out"`` with
its key as routing key. ``--fail-at EVENT`` makes the Map raise on that input event
(a failing user function); ``--delay-ms`` slows the Map so that a run spans several
bundles. Prints ``started`` once the pipeline is built and ``finished`` when it returned.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import apache_beam as beam
from beam_testing import options

from pravega_beam import PravegaEvent, ReadFromPravega, WriteToPravega


class UserFailure(RuntimeError):
    pass


class _Transform(beam.DoFn):
    def __init__(self, fail_at: bytes | None, delay: float) -> None:
        self._fail_at = fail_at
        self._delay = delay

    def process(self, e: PravegaEvent):  # type: ignore[no-untyped-def]
        if self._fail_at is not None and e.event == self._fail_at:
            raise UserFailure(f"the user function fails on {e.event!r}")
        if self._delay:
            time.sleep(self._delay)
        yield e._replace(event=e.event + b":out")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--uri", required=True)
    parser.add_argument("--scope", required=True)
    parser.add_argument("--runner", default="direct")
    parser.add_argument("--sink-id", default="job")
    parser.add_argument("--end", default=None, help="a stream cut: bounded; none: unbounded (--streaming)")
    parser.add_argument("--fail-at", default=None)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    args = parser.parse_args()
    bounded = args.end is not None
    p = beam.Pipeline(options=options(args.runner, streaming=not bounded))
    _ = (
        p
        | ReadFromPravega(args.uri, f"{args.scope}/in", end=args.end, with_metadata=True, resume_from_sink=args.sink_id)
        | beam.ParDo(_Transform(args.fail_at.encode() if args.fail_at else None, args.delay_ms / 1000.0))
        | WriteToPravega(
            args.uri, f"{args.scope}/out", routing_key_fn=lambda v: v.split(b":")[0].decode(), sink_id=args.sink_id
        )
    )
    print("started", flush=True)
    p.run().wait_until_finish()
    print("finished", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
