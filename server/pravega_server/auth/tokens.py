"""Delegation tokens: signed (HS256), time-limited JWTs the controller hands out and the
segment store checks.

Claims, as Pravega's: ``sub`` (the user), ``aud`` ``"segmentstore"``, ``iat``, ``exp``
(the official client reads ``exp`` to refresh the token in time), and one claim per
granted resource, ``"prn::/scope:sc/stream:st": "READ_UPDATE"``.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

import jwt

from .acl import ROOT, Acl, AclError, Permission

AUDIENCE = "segmentstore"
DEFAULT_TTL = 600.0


class TokenError(Exception):
    """A delegation token that does not allow the operation."""

    expired = False


class TokenExpired(TokenError):
    expired = True


def load_secret(path: Path | None) -> bytes:
    """The signing key: the file's bytes (stripped), or a random one for this process
    (tokens then do not survive a restart; clients fetch new ones)."""
    if path is None:
        return secrets.token_bytes(32)
    try:
        data = path.read_bytes().strip()
    except OSError as exc:
        raise ValueError(f"cannot read the token signing key {path}: {exc}") from None
    if len(data) < 32:
        raise ValueError(f"the token signing key in {path} is shorter than 32 bytes (HS256 needs 32)")
    return data


class TokenSigner:
    def __init__(self, secret: bytes, ttl: float = DEFAULT_TTL) -> None:
        self.secret = secret
        self.ttl = ttl
        self._cache: dict[str, tuple[float, Acl]] = {}

    def issue(self, subject: str, resource: str, permission: Permission, ttl: float | None = None) -> str:
        now = int(time.time())
        claims = {
            "sub": subject,
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + int(self.ttl if ttl is None else ttl),
            resource: permission.name,
        }
        return jwt.encode(claims, self.secret, algorithm="HS256")

    def grants(self, token: str) -> Acl:
        """The resource claims of a valid token; raises TokenError / TokenExpired."""
        cached = self._cache.get(token)
        if cached is not None:
            if cached[0] > time.time():
                return cached[1]
            raise TokenExpired("the delegation token has expired")
        if not token:
            raise TokenError("a delegation token is required (the server has authentication on)")
        try:
            claims = jwt.decode(token, self.secret, algorithms=["HS256"], audience=AUDIENCE)
        except jwt.ExpiredSignatureError:
            raise TokenExpired("the delegation token has expired") from None
        except jwt.InvalidTokenError as exc:
            raise TokenError(f"invalid delegation token: {exc}") from None
        entries = []
        for key, value in claims.items():
            if key.startswith(ROOT) or key == "prn::*":
                entries.append(f"{key},{value}")
        try:
            acl = Acl.parse(";".join(entries))
        except AclError as exc:
            raise TokenError(f"invalid delegation token: {exc}") from None
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[token] = (float(claims["exp"]), acl)
        return acl

    def check(self, token: str, resource: str, needed: Permission) -> None:
        granted = self.grants(token).permission(resource)
        if granted < needed:
            raise TokenError(f"the delegation token does not grant {needed.name} on {resource}")


def persistent_secret_file(data_dir: Path) -> Path:
    """``<data_dir>/auth-token.key``, created with a random key on first use: without a
    key file, tokens handed out before a restart (or a crash) stay valid after it."""
    path = data_dir / "auth-token.key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        new_secret_file(tmp)
        os.replace(tmp, path)
    return path


def new_secret_file(path: Path) -> None:
    """Write a random signing key (for ``pravega-server`` setups and tests)."""
    path.write_text(secrets.token_hex(32) + "\n")
    os.chmod(path, 0o600)
