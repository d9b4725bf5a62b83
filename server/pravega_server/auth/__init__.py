"""Authentication and authorization, independent of gRPC and of the wire protocol, so
the controller, the segment store and an HTTP API share one implementation.

* :class:`Authenticator` checks an ``Authorization`` header value (``Basic
  base64(user:password)`` against the password file, see :mod:`.passwords`) and
  answers with a :class:`Principal` whose ACL (:mod:`.acl`) decides what it may do;
* :class:`~.tokens.TokenSigner` hands out and checks delegation tokens.

An HTTP layer uses it as the controller does (a running server's is
``PravegaServer.authenticator``, None when authentication is off)::

    principal = authenticator.authenticate(request.headers.get("Authorization"))  # AuthenticationFailed: 401
    principal.require(acl.stream_resource(scope, stream), Permission.READ_UPDATE)  # PermissionDenied: 403
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from pathlib import Path

from .acl import Acl, Permission
from .passwords import PasswordFile
from .tokens import DEFAULT_TTL, TokenSigner, load_secret

__all__ = [
    "AuthError",
    "AuthenticationFailed",
    "Authenticator",
    "AuthConfig",
    "Permission",
    "PermissionDenied",
    "Principal",
]


class AuthError(Exception):
    """Base of the refusals below; the message is meant for the client."""


class AuthenticationFailed(AuthError):
    """Missing, malformed or wrong credentials (gRPC UNAUTHENTICATED, HTTP 401)."""


class PermissionDenied(AuthError):
    """Known user, operation not allowed (gRPC PERMISSION_DENIED, HTTP 403)."""


@dataclass(frozen=True)
class Principal:
    name: str
    acl: Acl = field(default_factory=Acl)

    def permission(self, resource: str) -> Permission:
        return self.acl.permission(resource)

    def require(self, resource: str, needed: Permission, *, data: bool = False) -> Permission:
        """The permission held on ``resource`` (on its data with ``data``, see
        :meth:`~.acl.Acl.data_permission`); raises PermissionDenied below ``needed``."""
        held = self.acl.data_permission(resource) if data else self.acl.permission(resource)
        if held < needed:
            raise PermissionDenied(f"user {self.name!r} lacks {needed.name} permission on {resource}")
        return held


@dataclass(frozen=True)
class AuthConfig:
    password_file: Path
    #: File holding the delegation-token signing key (None: the server keeps one in its data
    #: directory, or a random one per process in memory).
    token_key_file: Path | None = None
    token_ttl: float = DEFAULT_TTL


class Authenticator:
    def __init__(self, config: AuthConfig) -> None:
        self.config = config
        self.passwords = PasswordFile(config.password_file)
        self.tokens = TokenSigner(load_secret(config.token_key_file), config.token_ttl)

    def authenticate(self, authorization: str | None) -> Principal:
        """The principal of an ``Authorization`` header value, or AuthenticationFailed."""
        if not authorization:
            raise AuthenticationFailed("authentication is required: send 'authorization: Basic base64(user:password)'")
        method, _, credentials = authorization.strip().partition(" ")
        if method.lower() != "basic":
            raise AuthenticationFailed(f"unsupported authentication method {method!r} (only Basic)")
        try:
            user, sep, password = base64.b64decode(credentials.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise AuthenticationFailed("malformed Basic credentials (expected base64 of user:password)") from None
        if not sep:
            raise AuthenticationFailed("malformed Basic credentials (expected base64 of user:password)")
        entry = self.passwords.check(user, password)
        if entry is None:
            raise AuthenticationFailed(f"wrong user name or password for {user!r}")
        return Principal(entry.name, entry.acl)
