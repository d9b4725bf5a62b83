"""Argument types shared by the command modules."""

from __future__ import annotations

import argparse
import base64

from .. import naming


def scoped(text: str) -> tuple[str, str]:
    """``scope/name`` -> (scope, name), for argparse (a bad value is a usage error)."""
    parts = text.split("/")
    if len(parts) != 2 or not all(parts):
        raise argparse.ArgumentTypeError(f"expected scope/name, got {text!r}")
    return parts[0], parts[1]


def name(text: str) -> str:
    if not naming.is_user_name(text):
        raise argparse.ArgumentTypeError(f"invalid name {text!r}: letters, digits, '.' and '-' only")
    return text


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {value}")
    return value


FORMATS = ("text", "hex", "base64")


def render(data: bytes, fmt: str) -> str:
    """An event's bytes as text: UTF-8 (undecodable bytes replaced), hex or base64."""
    if fmt == "hex":
        return data.hex()
    if fmt == "base64":
        return base64.b64encode(data).decode()
    return data.decode("utf-8", errors="replace")
