"""Testing against a Pravega server in a container with the ``pravega_server`` fixture.

The fixture comes with pravega-native (a pytest plugin); nothing to import. Run:

    pytest examples/test_with_container.py

``pytestmark`` below asks for a container (``pravega-native:dev``; build it with
``bash scripts/docker_setup.sh``); without the mark the fixture is a ``pravega-server``
subprocess, which is faster and needs no Docker. ``--pravega-container`` or
``PRAVEGA_TEST_CONTAINER=1`` switch every module to containers. The tests skip, saying why,
where Docker or the image is missing.

Beam and PyFlink jobs take the same address: ``pravega_server.controller_uri`` (or the
``pravega_controller_uri`` fixture) is the ``tcp://host:port`` they connect to.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from pravega import Client, StringSerializer
from pravega.aio import Client as AsyncClient

pytestmark = pytest.mark.pravega_container


def test_write_then_read_back(pravega_server) -> None:
    scope = "example" + uuid.uuid4().hex[:8]  # one server serves the session: unique names
    with Client(pravega_server.controller_uri) as client:
        client.create_scope(scope)
        client.create_stream(scope, "greetings", 2)
        with client.create_writer(scope, "greetings", StringSerializer()) as writer:
            for name in ("ada", "grace", "edsger"):
                writer.write(f"hello {name}", routing_key=name)
            writer.flush()

    async def read_all() -> list[str]:
        async with AsyncClient(pravega_server.controller_uri) as client:
            group = await client.create_reader_group("readers", scope, ["greetings"])
            reader = await group.create_reader("r1", StringSerializer())
            events = []
            while len(events) < 3:
                event = await reader.read_next_event(timeout=5.0)
                assert event is not None, f"only {events} arrived"
                if not event.is_checkpoint:
                    events.append(event.event)
            await reader.close()
            return events

    assert sorted(asyncio.run(read_all())) == ["hello ada", "hello edsger", "hello grace"]


def test_controller_uri_for_pipelines(pravega_controller_uri: str) -> None:
    # e.g. beam.Pipeline(...) | pravega_beam.ReadFromPravega(controller_uri=pravega_controller_uri, ...)
    assert pravega_controller_uri.startswith("tcp://")
