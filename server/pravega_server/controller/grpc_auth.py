"""Authentication and authorization of controller RPCs.

Each RPC names the resource it acts on (taken from its request) and the permission it
needs; reads need READ, changes READ_UPDATE. The caller is authenticated from the
``authorization`` metadata (see :mod:`pravega_server.auth`). Replies with a
``delegationToken`` field get a token for the request's resource.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from ..auth import AuthenticationFailed, Authenticator, PermissionDenied, Principal
from ..auth.acl import ROOT, Permission, kvt_resource, reader_group_resource, scope_resource, stream_resource

R, W = Permission.READ, Permission.READ_UPDATE


def _stream(r: Any) -> str:
    return stream_resource(r.scope, r.stream)


def _info(r: Any) -> str:
    return _stream(r.streamInfo)


def _scope(r: Any) -> str:
    return scope_resource(r.scope)


def _nested_scope(r: Any) -> str:
    return scope_resource(r.scope.scope)


def _kvt(r: Any) -> str:
    return kvt_resource(r.scope, r.kvtName)


def _root(r: Any) -> str:
    return ROOT


#: RPC name -> (resource of the request, permission needed); None: authentication only.
RULES: dict[str, tuple[Callable[[Any], str], Permission] | None] = {
    "getControllerServerList": None,
    "getControllerToBucketMapping": None,
    "listScopes": None,
    "getDelegationToken": (_stream, R),
    "getURI": (_info, R),
    "createScope": (_scope, W),
    "checkScopeExists": (_scope, R),
    "deleteScope": (_scope, W),
    "deleteScopeRecursive": (_scope, W),
    "createStream": (_info, W),
    "updateStream": (_info, W),
    "truncateStream": (_info, W),
    "sealStream": (_stream, W),
    "deleteStream": (_stream, W),
    "checkStreamExists": (_stream, R),
    "listStreamsInScope": (_nested_scope, R),
    "listStreamsInScopeForTag": (_nested_scope, R),
    "getStreamConfiguration": (_stream, R),
    "getCurrentSegments": (_stream, R),
    "getEpochSegments": (_info, R),
    "getSegments": (_info, R),
    "getSegmentsImmediatelyFollowing": (_info, R),
    "getSegmentsImmediatlyFollowing": (_info, R),
    "getSegmentsBetween": (_info, R),
    "isSegmentValid": (_info, R),
    "isStreamCutValid": (_info, R),
    "scale": (_info, W),
    "checkScale": (_info, R),
    "createTransaction": (_info, W),
    "commitTransaction": (_info, W),
    "abortTransaction": (_info, W),
    "pingTransaction": (_info, W),
    "checkTransactionState": (_info, R),
    "listCompletedTransactions": (_info, R),
    "createKeyValueTable": (_kvt, W),
    "getCurrentSegmentsKeyValueTable": (_kvt, R),
    "listKeyValueTablesInScope": (_nested_scope, R),
    "getKeyValueTableConfiguration": (_kvt, R),
    "deleteKeyValueTable": (_kvt, W),
    "createReaderGroup": (lambda r: reader_group_resource(r.scope, r.readerGroupName), W),
    "getReaderGroupConfig": (lambda r: reader_group_resource(r.scope, r.readerGroup), R),
    "updateReaderGroup": (lambda r: reader_group_resource(r.scope, r.readerGroupName), W),
    "deleteReaderGroup": (lambda r: reader_group_resource(r.scope, r.readerGroup), W),
    "listSubscribers": (_stream, R),
    "updateSubscriberStreamCut": (lambda r: reader_group_resource(r.streamCut.streamInfo.scope, r.subscriber), W),
    "removeWriter": (lambda r: _stream(r.stream), W),
    "noteTimestampFromWriter": (lambda r: _info(r.position), W),
    "getScalingEvents": (_info, R),
}


#: Listing RPC -> (repeated reply field, resource of one item): items the caller cannot
#: READ are left out, as Pravega does.
_LISTINGS: dict[str, tuple[str, Callable[[Any, Any], str]]] = {
    "listScopes": ("scopes", lambda req, item: scope_resource(item)),
    "listStreamsInScope": ("streams", lambda req, item: stream_resource(item.scope, item.stream)),
    "listStreamsInScopeForTag": ("streams", lambda req, item: stream_resource(item.scope, item.stream)),
    "listKeyValueTablesInScope": ("kvtables", lambda req, item: kvt_resource(item.scope, item.kvtName)),
}


#: RPCs about a resource's segments: they take the data permission (Acl.data_permission).
_DATA_RPCS = frozenset({"getDelegationToken", "getURI"})


class GrpcGuard:
    def __init__(self, authenticator: Authenticator) -> None:
        self.authenticator = authenticator

    async def check(
        self, name: str, request: Any, context: grpc.aio.ServicerContext
    ) -> tuple[Principal, str, Permission]:
        """Authenticate and authorize one call; aborts it with UNAUTHENTICATED /
        PERMISSION_DENIED. Returns the principal, the resource and the permission held."""
        header = None
        for key, value in context.invocation_metadata() or ():
            if key == "authorization":
                header = value if isinstance(value, str) else value.decode()
        try:
            principal = self.authenticator.authenticate(header)
            rule = RULES.get(name, (_root, W))
            if rule is None:
                return principal, ROOT, principal.permission(ROOT)
            resource_of, needed = rule
            resource = resource_of(request)
            return principal, resource, principal.require(resource, needed, data=name in _DATA_RPCS)
        except AuthenticationFailed as exc:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, f"{name}: {exc}")
        except PermissionDenied as exc:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, f"{name}: {exc}")
        raise AssertionError("unreachable")  # context.abort raises

    async def call(
        self,
        name: str,
        invoke: Callable[[Any], Awaitable[Any]],
        request: Any,
        context: grpc.aio.ServicerContext,
    ) -> Any:
        """Check, run ``invoke(request)``, hide what the caller may not read from
        listings, and stamp delegation tokens into the reply."""
        principal, resource, held = await self.check(name, request, context)
        reply = await invoke(request)
        listing = _LISTINGS.get(name)
        if listing is not None:
            field, visible = listing
            reply = await self._filtered(reply, request, invoke, principal, field, visible)
        self.stamp(reply, principal, resource, held)
        return reply

    async def _filtered(
        self,
        reply: Any,
        request: Any,
        invoke: Callable[[Any], Awaitable[Any]],
        principal: Principal,
        field: str,
        visible: Callable[[Any, Any], str],
    ) -> Any:
        # A page filtered down to nothing would end the client's paging (an empty page
        # means "no more"): fetch the next page instead.
        while True:
            items = getattr(reply, field)
            kept = [i for i in items if principal.permission(visible(request, i)) >= Permission.READ]
            if kept or not len(items) or not reply.continuationToken.token:
                if len(kept) != len(items):
                    del items[:]
                    items.extend(kept)
                return reply
            following = type(request)()
            following.CopyFrom(request)
            following.continuationToken.token = reply.continuationToken.token
            request, reply = following, await invoke(following)

    def token(self, principal: Principal, resource: str, held: Permission) -> str:
        return self.authenticator.tokens.issue(principal.name, resource, held)

    def stamp(self, reply: Any, principal: Principal, resource: str, held: Permission) -> None:
        """Put a delegation token into a reply that has a ``delegationToken`` field."""
        if held > Permission.NONE and "delegationToken" in type(reply).DESCRIPTOR.fields_by_name:
            reply.delegationToken = self.token(principal, resource, held)
