"""``scope`` and ``stream`` commands."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import uuid
from collections.abc import AsyncIterator
from typing import Any

from .. import errors
from ..client.client import Client, StreamInfo
from ..client.event_reader import EventReader
from ..model import RetentionPolicy, ScaleType, ScalingPolicy, StreamCut
from . import FAILED, OK
from .args import FORMATS, name, positive, render, scoped
from .output import Output

# -- scopes -------------------------------------------------------------------------


def add_scope_commands(sub: Any) -> None:
    scope = sub.add_parser("scope", help="create, list and delete scopes")
    cmds = scope.add_subparsers(dest="command", required=True)
    p = cmds.add_parser("create", help="create a scope")
    p.add_argument("scope", type=name)
    p.set_defaults(handler=scope_create)
    p = cmds.add_parser("list", help="list the scopes")
    p.set_defaults(handler=scope_list)
    p = cmds.add_parser("delete", help="delete an empty scope")
    p.add_argument("scope")
    p.set_defaults(handler=scope_delete)


async def scope_create(client: Client, args: argparse.Namespace, out: Output) -> int:
    created = await client.create_scope(args.scope)
    out.done(
        f"scope {args.scope} {'created' if created else 'already exists'}", {"scope": args.scope, "created": created}
    )
    return OK


async def scope_list(client: Client, args: argparse.Namespace, out: Output) -> int:
    scopes = sorted(await client.list_scopes())
    out.table("scopes", ("scope",), [(s,) for s in scopes], scopes)
    return OK


async def scope_delete(client: Client, args: argparse.Namespace, out: Output) -> int:
    if not await client.delete_scope(args.scope):
        out.error(f"no scope {args.scope!r}")
        return FAILED
    out.done(f"scope {args.scope} deleted", {"scope": args.scope, "deleted": True})
    return OK


# -- streams ------------------------------------------------------------------------


def add_stream_commands(sub: Any) -> None:
    stream = sub.add_parser("stream", help="create, inspect, read and manage streams")
    cmds = stream.add_subparsers(dest="command", required=True)

    p = cmds.add_parser("create", help="create a stream")
    p.add_argument("stream", type=scoped, help="scope/stream")
    p.add_argument("--segments", type=positive, default=1, help="(minimum) number of segments (default 1)")
    p.add_argument(
        "--scaling",
        choices=("fixed", "events", "kbytes"),
        default="fixed",
        help="fixed segments, or auto-scaling by events/s or KiB/s per segment (default fixed)",
    )
    p.add_argument("--target-rate", type=positive, help="auto-scaling: the rate per segment that triggers a split")
    p.add_argument("--scale-factor", type=positive, default=2, help="auto-scaling: parts a segment splits into")
    keep = p.add_mutually_exclusive_group()
    keep.add_argument("--retention-time", type=positive, metavar="MS", help="keep data for at least MS milliseconds")
    keep.add_argument("--retention-size", type=positive, metavar="BYTES", help="keep at least BYTES bytes")
    p.add_argument("--tag", action="append", default=[], help="a tag (repeatable)")
    p.set_defaults(handler=stream_create)

    p = cmds.add_parser("list", help="list the streams of a scope")
    p.add_argument("scope")
    p.add_argument("--tag", help="only streams with this tag")
    p.set_defaults(handler=stream_list)

    p = cmds.add_parser("info", help="a stream's configuration, head and tail")
    p.add_argument("stream", type=scoped, help="scope/stream")
    p.set_defaults(handler=stream_info)

    p = cmds.add_parser("seal", help="seal a stream (no more writes)")
    p.add_argument("stream", type=scoped, help="scope/stream")
    p.set_defaults(handler=stream_seal)

    p = cmds.add_parser("delete", help="seal and delete a stream")
    p.add_argument("stream", type=scoped, help="scope/stream")
    p.set_defaults(handler=stream_delete)

    p = cmds.add_parser("truncate", help="drop the data before a stream cut")
    p.add_argument("stream", type=scoped, help="scope/stream")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--cut", help="a stream cut in text form (as `stream info` prints it)")
    where.add_argument("--to-tail", action="store_true", help="drop everything written so far")
    p.set_defaults(handler=stream_truncate)

    p = cmds.add_parser("scale", help="replace the current segments by N segments of equal key ranges")
    p.add_argument("stream", type=scoped, help="scope/stream")
    p.add_argument("--segments", type=positive, required=True, help="number of segments after the scale")
    p.set_defaults(handler=stream_scale)

    for cmd, helptext in (
        ("cat", "print the events between the head (or --from cut) and the current tail"),
        ("tail", "follow a stream: print events appended from now on"),
    ):
        p = cmds.add_parser(cmd, help=helptext)
        p.add_argument("stream", type=scoped, help="scope/stream")
        p.add_argument("--max-events", type=positive, help="stop after this many events")
        p.add_argument("--format", choices=FORMATS, default="text", help="how to print events (default text)")
        if cmd == "cat":
            p.add_argument("--from", dest="from_cut", help="start at this stream cut (text form)")
            p.set_defaults(handler=stream_cat)
        else:
            p.add_argument("--idle-timeout", type=float, help="stop when no event came for this many seconds")
            p.set_defaults(handler=stream_tail)


def _scaling(args: argparse.Namespace) -> ScalingPolicy:
    if args.scaling == "fixed":
        return ScalingPolicy.fixed(args.segments)
    if args.target_rate is None:
        raise errors.InterfaceError("--target-rate is needed with --scaling events|kbytes")
    kind = ScaleType.BY_RATE_IN_EVENTS_PER_SEC if args.scaling == "events" else ScaleType.BY_RATE_IN_KBYTES_PER_SEC
    return ScalingPolicy(kind, args.target_rate, args.scale_factor, args.segments)


def _retention(args: argparse.Namespace) -> RetentionPolicy:
    if args.retention_time is not None:
        return RetentionPolicy.by_time(args.retention_time)
    if args.retention_size is not None:
        return RetentionPolicy.by_size(args.retention_size)
    return RetentionPolicy.none()


async def stream_create(client: Client, args: argparse.Namespace, out: Output) -> int:
    scope, stream = args.stream
    created = await client.create_stream(scope, stream, _scaling(args), _retention(args), args.tag)
    what = "created" if created else "already exists"
    out.done(f"stream {scope}/{stream} {what}", {"scope": scope, "stream": stream, "created": created})
    return OK


async def stream_list(client: Client, args: argparse.Namespace, out: Output) -> int:
    names = sorted(await client.list_streams(args.scope, args.tag))
    out.table(f"streams in {args.scope}", ("stream",), [(s,) for s in names], names)
    return OK


def info_dict(info: StreamInfo) -> dict[str, Any]:
    scaling, retention = info.config.scaling, info.config.retention
    return {
        "scope": info.scope,
        "stream": info.stream,
        "sealed": info.sealed,
        "scaling": {
            "type": scaling.scale_type.name,
            "targetRate": scaling.target_rate,
            "scaleFactor": scaling.scale_factor,
            "minSegments": scaling.min_num_segments,
        },
        "retention": {"type": retention.retention_type.name, "value": retention.retention_param},
        "tags": list(info.config.tags),
        "head": {str(sid): off for sid, off in info.head.positions.items()},
        "tail": {str(sid): off for sid, off in info.tail.positions.items()},
        "headCut": info.head.to_text(),
        "tailCut": info.tail.to_text(),
    }


async def stream_info(client: Client, args: argparse.Namespace, out: Output) -> int:
    scope, stream = args.stream
    out.fields(f"stream {scope}/{stream}", info_dict(await client.stream_info(scope, stream)))
    return OK


async def stream_seal(client: Client, args: argparse.Namespace, out: Output) -> int:
    scope, stream = args.stream
    await client.seal_stream(scope, stream)
    out.done(f"stream {scope}/{stream} sealed", {"scope": scope, "stream": stream, "sealed": True})
    return OK


async def stream_delete(client: Client, args: argparse.Namespace, out: Output) -> int:
    scope, stream = args.stream
    with out.progress(f"deleting {scope}/{stream}"):
        if not await client.stream_exists(scope, stream):
            out.error(f"no stream {scope}/{stream}")
            return FAILED
        await client.seal_stream(scope, stream)
        deleted = await client.delete_stream(scope, stream)
    if not deleted:
        out.error(f"no stream {scope}/{stream}")
        return FAILED
    out.done(f"stream {scope}/{stream} deleted", {"scope": scope, "stream": stream, "deleted": True})
    return OK


async def stream_truncate(client: Client, args: argparse.Namespace, out: Output) -> int:
    scope, stream = args.stream
    if args.to_tail:
        cut = (await client.stream_info(scope, stream)).tail
    else:
        cut = StreamCut.from_text(args.cut)
        if (cut.scope, cut.stream) != (scope, stream):
            raise errors.InterfaceError(f"the cut is a cut of {cut.scope}/{cut.stream}, not of {scope}/{stream}")
    with out.progress(f"truncating {scope}/{stream}"):
        await client.truncate_stream(cut)
    head = (await client.stream_info(scope, stream)).head
    out.done(
        f"stream {scope}/{stream} truncated at {cut.to_text()}",
        {
            "scope": scope,
            "stream": stream,
            "cut": cut.to_text(),
            "head": {str(k): v for k, v in head.positions.items()},
        },
    )
    return OK


async def stream_scale(client: Client, args: argparse.Namespace, out: Output) -> int:
    scope, stream = args.stream
    current = await client.ctx.controller.get_current_segments(scope, stream)
    if not current:
        out.error(f"stream {scope}/{stream} is sealed")
        return FAILED
    n = args.segments
    ranges = [(i / n, (i + 1) / n) for i in range(n)]
    with out.progress(f"scaling {scope}/{stream} to {n} segments"):
        created = await client.scale_stream(scope, stream, [r.segment_id for r in current], ranges)
    rows = [(r.segment_id, r.number, r.epoch, f"{r.min_key:.4f}", f"{r.max_key:.4f}") for r in created]
    data = {
        "scope": scope,
        "stream": stream,
        "sealed": [r.segment_id for r in current],
        "created": [{"segmentId": r.segment_id, "minKey": r.min_key, "maxKey": r.max_key} for r in created],
    }
    out.table(f"new segments of {scope}/{stream}", ("segment id", "number", "epoch", "from", "to"), rows, data)
    return OK


def _print_event(out: Output, args: argparse.Namespace, segment: str, offset: int, data: bytes) -> None:
    text = render(data, args.format)
    if out.as_json:
        out.json({"segment": segment, "offset": offset, "event": text})
    else:
        out.line(text)


async def stream_cat(client: Client, args: argparse.Namespace, out: Output) -> int:
    scope, stream = args.stream
    start = StreamCut.from_text(args.from_cut) if args.from_cut else None
    if not await client.stream_exists(scope, stream):
        raise errors.NoSuchStreamError(f"no stream {scope}/{stream}")
    batch = client.batch_client()
    count = 0
    for piece in await batch.list_segments(scope, stream, start):
        events: AsyncIterator[tuple[int, bytes]] = batch.read_segment_with_offsets(piece)
        async for offset, data in events:
            _print_event(out, args, piece.segment, offset, data)
            count += 1
            if args.max_events is not None and count >= args.max_events:
                return OK
    return OK


async def stream_tail(client: Client, args: argparse.Namespace, out: Output) -> int:
    """A reader group of its own, starting at the current tail; deleted on exit."""
    scope, stream = args.stream
    if not await client.stream_exists(scope, stream):
        raise errors.NoSuchStreamError(f"no stream {scope}/{stream}")
    group_name = f"cli-tail-{uuid.uuid4().hex[:12]}"
    group = await client.create_reader_group(group_name, scope, [stream], from_tail=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        reader: EventReader[bytes] = await group.create_reader("cli")
        out.note(f"following {scope}/{stream} (Ctrl-C to stop)")
        count = 0
        last_event = loop.time()
        while not stop.is_set():
            read = await reader.read_next_event(timeout=0.5)
            if read is None or read.is_checkpoint or read.position is None:
                if args.idle_timeout is not None and loop.time() - last_event >= args.idle_timeout:
                    break
                continue
            last_event = loop.time()
            _print_event(out, args, read.position[0], read.event_offset, read.data)
            count += 1
            if args.max_events is not None and count >= args.max_events:
                break
        await reader.close()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        with contextlib.suppress(errors.PravegaError):
            await group.delete()
    return OK
