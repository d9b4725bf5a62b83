"""TLS and credentials of a client: the controller channel's credentials and metadata,
the segment-store connections' SSL context, and delegation tokens.

With credentials configured, every controller call carries ``authorization: Basic
base64(user:password)``, and every segment-store request that has a delegation-token
field gets a token for its stream, fetched from the controller (``getDelegationToken``)
and cached until shortly before it expires.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import json
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from .. import errors
from ..protocol import commands as c

if TYPE_CHECKING:
    from .context import ClientConfig

_SEGMENT_FIELDS = ("segment", "segment_name", "parent_segment", "target", "target_segment_id")
_TLS_SCHEMES = ("tls", "ssl", "tcps", "pravegas")


#: ClientConfig fields that may ride in the controller URI's query string (so a string
#: alone can configure a client, e.g. in a connector that passes only a URI around).
URI_OPTIONS = ("tls", "trust_cert", "disable_cert_verification", "client_cert", "client_key", "username", "password")
_BOOL_OPTIONS = ("tls", "disable_cert_verification")


def uri_with_options(uri: str, options: Mapping[str, Any]) -> str:
    """``uri`` with security ``options`` in its query string (see :func:`split_uri_options`)."""
    unknown = set(options) - set(URI_OPTIONS)
    if unknown:
        raise errors.InterfaceError(f"unknown client options {sorted(unknown)}; known: {', '.join(URI_OPTIONS)}")
    pairs = []
    for key, value in options.items():
        if value is None:
            continue
        if key in _BOOL_OPTIONS:
            if not isinstance(value, bool):
                raise errors.InterfaceError(f"client option {key} must be True or False, got {value!r}")
            value = "true" if value else "false"
        elif not isinstance(value, str):
            raise errors.InterfaceError(f"client option {key} must be a string, got {value!r}")
        pairs.append((key, value))
    if not pairs:
        return uri
    return f"{uri}{'&' if '?' in uri else '?'}{urlencode(pairs)}"


def split_uri_options(uri: str) -> tuple[str, dict[str, Any]]:
    """``tls://host:9090?trust_cert=/ca.pem&username=u`` -> (``tls://host:9090``, options)."""
    base, sep, query = uri.partition("?")
    if not sep:
        return uri, {}
    options: dict[str, Any] = {}
    for key, value in parse_qsl(query, keep_blank_values=True, strict_parsing=True):
        if key not in URI_OPTIONS:
            raise errors.InterfaceError(f"unknown option {key!r} in controller URI; known: {', '.join(URI_OPTIONS)}")
        if key in _BOOL_OPTIONS:
            if value.lower() not in ("true", "false"):
                raise errors.InterfaceError(f"option {key} in controller URI must be true or false, got {value!r}")
            options[key] = value.lower() == "true"
        else:
            options[key] = value
    return base, options


def tls_enabled(config: ClientConfig) -> bool:
    if config.tls is not None:
        return config.tls
    scheme = config.controller_uri.partition("://")[0].lower() if "://" in config.controller_uri else ""
    return scheme in _TLS_SCHEMES


def _read(path: str | None) -> bytes | None:
    if path is None:
        return None
    with open(path, "rb") as fh:
        return fh.read()


def ssl_context(config: ClientConfig) -> ssl.SSLContext:
    """For segment-store connections."""
    ctx = ssl.create_default_context(cafile=config.trust_cert)
    if config.disable_cert_verification:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if config.client_cert is not None:
        ctx.load_cert_chain(config.client_cert, config.client_key)
    return ctx


def grpc_credentials(config: ClientConfig) -> Any:
    """``grpc.ChannelCredentials`` for the controller channel.

    gRPC has no "do not verify" switch: with ``disable_cert_verification`` the server's
    own certificate is fetched and trusted as presented (encryption without identity).
    """
    import grpc

    root = _read(config.trust_cert)
    if config.disable_cert_verification and root is None:
        from .controller import parse_controller_uri

        target, _ = parse_controller_uri(config.controller_uri)
        host, _, port = target.rpartition(":")
        root = ssl.get_server_certificate((host.strip("[]"), int(port))).encode()
    return grpc.ssl_channel_credentials(
        root_certificates=root,
        private_key=_read(config.client_key) if config.client_cert is not None else None,
        certificate_chain=_read(config.client_cert),
    )


def auth_metadata(config: ClientConfig) -> tuple[tuple[str, str], ...]:
    if config.username is None:
        return ()
    raw = f"{config.username}:{config.password or ''}".encode()
    return (("authorization", "Basic " + base64.b64encode(raw).decode()),)


def _expiry(token: str) -> float:
    """``exp`` of a JWT (read, not verified: the server verifies)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, KeyError, ValueError, TypeError, binascii.Error):
        return time.time() + 60.0


class TokenProvider:
    """Delegation tokens per (scope, stream), fetched with ``fetch`` and cached until a
    quarter of their lifetime (at most 30 s) before they expire."""

    MAX_REFRESH_MARGIN = 30.0

    def __init__(self, fetch: Callable[[str, str], Awaitable[str]]) -> None:
        self._fetch = fetch
        #: (scope, stream) -> (token, time to fetch a new one)
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    def _cached(self, key: tuple[str, str]) -> str | None:
        cached = self._tokens.get(key)
        if cached is not None and cached[1] > time.time():
            return cached[0]
        return None

    async def token(self, scope: str, stream: str) -> str:
        key = (scope, stream)
        token = self._cached(key)
        if token is not None:
            return token
        async with self._locks.setdefault(key, asyncio.Lock()):
            token = self._cached(key)
            if token is not None:
                return token
            token = await self._fetch(scope, stream)
            now = time.time()
            expires = _expiry(token) if token else now + 3600.0
            margin = min(self.MAX_REFRESH_MARGIN, max(0.0, expires - now) / 4)
            self._tokens[key] = (token, expires - margin)
            return token

    def forget(self, cmd: c.Command) -> None:
        key = _stream_of(cmd)
        if key is not None:
            self._tokens.pop(key, None)

    async def fill(self, cmd: c.Command) -> c.Command:
        """``cmd`` with its (empty) delegation token filled in."""
        key = _stream_of(cmd)
        if key is None:
            return cmd
        return dataclasses.replace(cmd, delegation_token=await self.token(*key))  # type: ignore[type-var]


def _stream_of(cmd: c.Command) -> tuple[str, str] | None:
    for name in _SEGMENT_FIELDS:
        segment = getattr(cmd, name, None)
        if isinstance(segment, str):
            parts = segment.split("/")
            if len(parts) >= 3:
                return parts[0], parts[1]
    return None
