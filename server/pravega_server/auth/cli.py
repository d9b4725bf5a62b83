"""``pravega-server passwd``: add or replace a user in a password file."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from .acl import AclError
from .passwords import PasswordFileError, set_user


def passwd_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="pravega-server passwd",
        description="Add a user to a password file (or replace its password and ACL).",
    )
    p.add_argument("--file", type=Path, required=True, help="the password file (created if missing)")
    p.add_argument(
        "--acl",
        default="prn::/,READ_UPDATE",
        help="the user's permissions, e.g. 'prn::/scope:sc1/stream:st1,READ_UPDATE;prn::/,READ' "
        "(default: everything, prn::/,READ_UPDATE)",
    )
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p.add_argument("user")
    args = p.parse_args(argv)
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {args.user}: ")
        if getpass.getpass("again: ") != password:
            print("pravega-server passwd: the passwords differ", file=sys.stderr)
            return 1
    if not password:
        print("pravega-server passwd: the password is empty", file=sys.stderr)
        return 1
    try:
        set_user(args.file, args.user, password, args.acl)
    except (PasswordFileError, AclError, OSError) as exc:
        print(f"pravega-server passwd: {exc}", file=sys.stderr)
        return 1
    print(f"user {args.user} written to {args.file}")
    return 0
