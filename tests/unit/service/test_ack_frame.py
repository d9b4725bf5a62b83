"""The segment store packs every append's ``DataAppended`` itself (the hot path): the bytes
must be the codec's, in every protocol version a client may negotiate."""

from __future__ import annotations

import random

from pravega.protocol import commands as c
from pravega.protocol.codec import encode
from pravega.protocol.framing import OLDEST_COMPATIBLE_VERSION, WIRE_VERSION
from pravega_server.transport.tcp import data_appended_frame


def test_packed_ack_equals_the_codec_in_every_version() -> None:
    rng = random.Random(7)
    cases = [
        c.DataAppended(0, 0, -1, -1, -1),
        c.DataAppended((1 << 128) - 1, 2**63 - 1, -(2**63), 2**63 - 1, 0),
        c.DataAppended(1 << 64, 5, 4, 3, 1000),
    ]
    for _ in range(200):
        cases.append(
            c.DataAppended(
                rng.getrandbits(128),
                rng.randint(-(2**63), 2**63 - 1),
                rng.randint(-(2**63), 2**63 - 1),
                rng.randint(-(2**63), 2**63 - 1),
                rng.randint(-(2**63), 2**63 - 1),
            )
        )
    for reply in cases:
        for version in range(OLDEST_COMPATIBLE_VERSION, WIRE_VERSION + 1):
            assert data_appended_frame(reply) == encode(reply, version), (reply, version)
