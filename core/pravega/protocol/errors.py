"""The two ways the segment-store wire protocol can go wrong.

`LocalProtocolError` means *we* misused the protocol (built or sent something that cannot be
encoded, or used a connection after it failed); `RemoteProtocolError` means the *peer* sent bytes
that are not a valid frame.  Both derive from `ProtocolError` and carry optional context.
"""

from __future__ import annotations

__all__ = ["ProtocolError", "LocalProtocolError", "RemoteProtocolError"]


class ProtocolError(Exception):
    """Base class of all wire-protocol errors.

    ``type_code`` is the command type involved, if known; ``detail`` is free-form extra context
    (a field name, a byte count...).  Both may be filled in by an outer layer that knows more.
    """

    def __init__(self, message: str, *, type_code: int | None = None, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.type_code = type_code
        self.detail = detail

    def __str__(self) -> str:
        context = []
        if self.type_code is not None:
            context.append(f"type code {self.type_code}")
        if self.detail:
            context.append(self.detail)
        return f"{self.message} ({', '.join(context)})" if context else self.message


class LocalProtocolError(ProtocolError):
    """We tried to do something the protocol does not allow (e.g. encode an out-of-range field)."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something malformed (unknown type, bad length, truncated field, bad UTF-8...)."""
