"""``kvt`` commands: key-value tables with UTF-8 keys and values."""

from __future__ import annotations

import argparse
from typing import Any

from ..client.client import Client
from ..serializers import StringSerializer
from . import FAILED, OK
from .args import positive, scoped
from .output import Output


def add_commands(sub: Any) -> None:
    kvt = sub.add_parser("kvt", help="key-value tables: create, get, put, list, delete")
    cmds = kvt.add_subparsers(dest="command", required=True)
    p = cmds.add_parser("create", help="create a key-value table")
    p.add_argument("table", type=scoped, help="scope/table")
    p.add_argument("--partitions", type=positive, default=1, help="number of partitions (default 1)")
    p.set_defaults(handler=kvt_create)
    p = cmds.add_parser("get", help="print a key's value and version")
    p.add_argument("table", type=scoped, help="scope/table")
    p.add_argument("key")
    p.set_defaults(handler=kvt_get)
    p = cmds.add_parser("put", help="set a key's value")
    p.add_argument("table", type=scoped, help="scope/table")
    p.add_argument("key")
    p.add_argument("value")
    p.set_defaults(handler=kvt_put)
    p = cmds.add_parser("list", help="list a table's entries")
    p.add_argument("table", type=scoped, help="scope/table")
    p.add_argument("--limit", type=positive, help="at most this many entries")
    p.set_defaults(handler=kvt_list)
    p = cmds.add_parser("delete", help="delete a table, or one key with --key")
    p.add_argument("table", type=scoped, help="scope/table")
    p.add_argument("--key", help="remove only this key")
    p.set_defaults(handler=kvt_delete)


def _table(client: Client, args: argparse.Namespace) -> Any:
    scope, name = args.table
    return client.key_value_table(scope, name, StringSerializer(), StringSerializer())


async def kvt_create(client: Client, args: argparse.Namespace, out: Output) -> int:
    scope, name = args.table
    created = await client.create_key_value_table(scope, name, args.partitions)
    what = "created" if created else "already exists"
    out.done(f"key-value table {scope}/{name} {what}", {"scope": scope, "table": name, "created": created})
    return OK


async def kvt_get(client: Client, args: argparse.Namespace, out: Output) -> int:
    found = await _table(client, args).get(args.key)
    if found is None:
        out.error(f"no key {args.key!r}")
        return FAILED
    data = {"key": args.key, "value": found.value, "version": found.version}
    if out.as_json:
        out.json(data)
    else:
        out.line(found.value)
    return OK


async def kvt_put(client: Client, args: argparse.Namespace, out: Output) -> int:
    version = await _table(client, args).put(args.key, args.value)
    out.done(f"{args.key} = {args.value} (version {version})", {"key": args.key, "version": version})
    return OK


async def kvt_list(client: Client, args: argparse.Namespace, out: Output) -> int:
    entries = []
    async for entry in _table(client, args).entries():
        entries.append({"key": entry.key, "value": entry.value, "version": entry.version})
        if args.limit is not None and len(entries) >= args.limit:
            break
    entries.sort(key=lambda e: e["key"])
    rows = [(e["key"], e["value"], e["version"]) for e in entries]
    scope, name = args.table
    out.table(f"{scope}/{name}", ("key", "value", "version"), rows, entries)
    return OK


async def kvt_delete(client: Client, args: argparse.Namespace, out: Output) -> int:
    scope, name = args.table
    if args.key is not None:
        table = _table(client, args)
        if await table.get(args.key) is None:
            out.error(f"no key {args.key!r}")
            return FAILED
        await table.remove(args.key)
        out.done(f"{args.key} removed", {"key": args.key, "removed": True})
        return OK
    if not await client.delete_key_value_table(scope, name):
        out.error(f"no key-value table {scope}/{name}")
        return FAILED
    out.done(f"key-value table {scope}/{name} deleted", {"scope": scope, "table": name, "deleted": True})
    return OK
