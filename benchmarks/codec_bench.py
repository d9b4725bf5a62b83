"""Micro-benchmark of the wire codec hot paths.

Run from the repository root:  PYTHONPATH=core python benchmarks/codec_bench.py

Prints ns/op (best and median of several timing runs) for the two operations that sit on every
append: the server decoding an AppendBlockEnd of 500 events x 108 bytes, and encoding the
DataAppended reply.  A few related operations are shown for context.  No assertions.
"""

from __future__ import annotations

import statistics
import timeit
from collections.abc import Callable

from pravega.protocol import AppendBlockEnd, Connection, DataAppended, Event, Role, decode, encode

WRITER = 0x0123456789ABCDEF0011223344556677
EVENTS = 500
EVENT_SIZE = 108  # 8-byte event header + 100 bytes of payload


def bench(name: str, fn: Callable[[], object], repeat: int = 7) -> None:
    timer = timeit.Timer(fn)
    number, _ = timer.autorange()
    runs = [t / number * 1e9 for t in timer.repeat(repeat=repeat, number=number)]
    print(f"{name:<52} {min(runs):9.0f} ns/op (best)  {statistics.median(runs):9.0f} ns/op (median)")


def main() -> None:
    data = encode(Event(bytes(EVENT_SIZE - 8))) * EVENTS
    block = AppendBlockEnd(WRITER, len(data), data, EVENTS, 1000, 42)
    block_frame = encode(block)
    block_payload = block_frame[8:]
    reply = DataAppended(WRITER, 1000, 500, 42, 1 << 30)
    reply_payload = encode(reply)[8:]

    def connection_receive() -> object:
        conn = Connection(Role.SERVER)
        conn.receive_data(block_frame)
        return conn.next_event()

    print(f"AppendBlockEnd frame: {len(block_frame)} bytes ({EVENTS} events x {EVENT_SIZE} bytes)")
    bench("decode AppendBlockEnd", lambda: decode(4, block_payload))
    bench("encode DataAppended", lambda: encode(reply))
    bench("decode DataAppended", lambda: decode(7, reply_payload))
    bench("encode AppendBlockEnd (one 54 KB copy)", lambda: encode(block))
    bench("construct DataAppended (validating)", lambda: DataAppended(WRITER, 1000, 500, 42, 1 << 30))
    bench("Connection: new + receive_data + next_event (ABE)", connection_receive)


if __name__ == "__main__":
    main()
