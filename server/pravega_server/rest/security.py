"""The REST authorizer of a server with ``--auth-password-file``: the principal's ACL
(:mod:`pravega_server.auth.acl`) decides, as it does for the gRPC API."""

from __future__ import annotations

from typing import Any

from ..auth.acl import Permission, reader_group_resource, scope_resource, stream_resource
from .authz import Resource


def authorize_principal(principal: Any, resource: Resource, write: bool) -> None:
    """Raises :class:`~pravega_server.auth.PermissionDenied` when the ACL falls short."""
    kind, scope, *rest = resource
    if kind == "stream":
        target = stream_resource(scope, rest[0])
    elif kind == "reader-group":
        target = reader_group_resource(scope, rest[0])
    else:
        target = scope_resource(scope)
    principal.require(target, Permission.READ_UPDATE if write else Permission.READ)
