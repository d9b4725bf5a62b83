"""Segment containers: one server process per core.

With ``--containers N`` (N > 1) the ``pravega-server`` process is a *supervisor*: it
runs the controller (gRPC, REST) over its own metadata log and N container processes,
each serving the segment-store protocol over its own engine (log, checkpoints, tier-2
namespace) on its own port. A segment belongs to the container its stream-level name
hashes to (``placement.py``); the controller drives the containers over the wire
protocol (``store.py``), recording every multi-step operation as an intent before its
idempotent steps run. ``--containers 1`` is the single-process server of ``app.py``.
"""
