"""``reader-group`` commands: list (through the REST API), describe, reset."""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from .. import errors
from ..client.client import Client
from ..model import StreamCut
from . import OK
from .args import scoped
from .output import Output

DEFAULT_REST_PORT = 9091


def add_commands(sub: Any) -> None:
    rg = sub.add_parser("reader-group", help="list, describe and reset reader groups")
    cmds = rg.add_subparsers(dest="command", required=True)
    p = cmds.add_parser("list", help="list the reader groups of a scope (needs the server's REST API)")
    p.add_argument("scope")
    p.set_defaults(handler=group_list)
    p = cmds.add_parser("describe", help="streams, readers, positions and unread bytes of a group")
    p.add_argument("group", type=scoped, help="scope/group")
    p.set_defaults(handler=group_describe)
    p = cmds.add_parser("reset", help="restart a group from its start cuts, or from the given cuts")
    p.add_argument("group", type=scoped, help="scope/group")
    p.add_argument("--cut", action="append", default=[], help="restart this stream at this cut (repeatable)")
    p.set_defaults(handler=group_reset)


def rest_uri(args: argparse.Namespace) -> str:
    """``--rest``, or the controller's host on Pravega's REST port."""
    if args.rest:
        return str(args.rest).rstrip("/")
    host = urllib.parse.urlsplit(args.controller.replace("tcp://", "http://").replace("tls://", "https://"))
    scheme = "https" if args.controller.startswith(("tls://", "ssl://")) else "http"
    hostname = host.hostname or "127.0.0.1"
    if ":" in hostname:
        hostname = f"[{hostname}]"
    return f"{scheme}://{hostname}:{DEFAULT_REST_PORT}"


def _get_json(url: str, args: argparse.Namespace) -> tuple[int, Any]:
    request = urllib.request.Request(url)
    if args.username:
        token = base64.b64encode(f"{args.username}:{args.password or ''}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    context = ssl.create_default_context(cafile=args.trust_cert) if url.startswith("https") else None
    try:
        with urllib.request.urlopen(request, timeout=30, context=context) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, None


async def group_list(client: Client, args: argparse.Namespace, out: Output) -> int:
    base = rest_uri(args)
    url = f"{base}/v1/scopes/{urllib.parse.quote(args.scope, safe='')}/readergroups"
    try:
        status, body = await asyncio.to_thread(_get_json, url, args)
    except (urllib.error.URLError, OSError) as exc:
        raise errors.ConnectionLostError(f"cannot reach the REST API at {base} (set --rest): {exc}") from None
    if status in (401, 403):
        raise errors.PravegaError(f"the REST API refused the request ({status}): check --username/--password")
    if status == 404:
        raise errors.NoSuchScopeError(f"no scope {args.scope!r}")
    if status != 200:
        raise errors.ServerError(f"GET {url} answered {status}")
    names = sorted(g["readerGroupName"] for g in body.get("readerGroups", []))
    out.table(f"reader groups in {args.scope}", ("reader group",), [(n,) for n in names], names)
    return OK


async def group_describe(client: Client, args: argparse.Namespace, out: Output) -> int:
    scope, name = args.group
    group = await client.reader_group(name, scope)
    cuts = await group.get_streamcut()
    data = {
        "scope": scope,
        "group": name,
        "streams": list(group.config.streams),
        "onlineReaders": sorted(await group.online_readers()),
        "positions": {s: {str(k): v for k, v in c.positions.items()} for s, c in cuts.items()},
        "cuts": {s: c.to_text() for s, c in cuts.items()},
        "unreadBytes": await group.unread_bytes(),
    }
    if out.as_json:
        out.json(data)
        return OK
    rows = [("streams", ", ".join(data["streams"])), ("online readers", ", ".join(data["onlineReaders"]) or "-")]
    rows.append(("unread bytes", str(data["unreadBytes"])))
    for stream, positions in data["positions"].items():
        rows.append((f"position {stream}", ", ".join(f"{k}@{v}" for k, v in positions.items()) or "-"))
    out.table(f"reader group {scope}/{name}", ("field", "value"), rows, data)
    return OK


async def group_reset(client: Client, args: argparse.Namespace, out: Output) -> int:
    scope, name = args.group
    group = await client.reader_group(name, scope)
    cuts = [StreamCut.from_text(text) for text in args.cut]
    await group.reset(cuts or None)
    positions = await group.get_streamcut()
    data = {"scope": scope, "group": name, "cuts": {s: c.to_text() for s, c in positions.items()}}
    out.done(f"reader group {scope}/{name} reset", data)
    return OK
