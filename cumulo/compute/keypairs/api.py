"""``/os-keypairs``: import (or, before 2.92, generate), list, show and delete a user's keys.

Keypairs belong to a user, not a project; from 2.10 an admin may name the
user with ``user_id``. Their number counts against the caller's project
``key_pairs`` limit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from fastapi import Depends
from starlette.requests import Request
from starlette.responses import Response

from cumulo.api import policy
from cumulo.api.factory import JSON
from cumulo.api.validation import read_json
from cumulo.compute import errors, http, query
from cumulo.compute import quota as quotas
from cumulo.compute.keypairs import crypto, schemas, views
from cumulo.compute.keypairs import db as keypairs_db
from cumulo.compute.microversions import Feature, pick, supports
from cumulo.compute.validation import validate_body
from cumulo.context import RequestContext
from cumulo.db.models.compute import KeyPair

COLLECTION = "os-keypairs"


async def create(request: Request, ctx: RequestContext = Depends(http.caller)) -> JSON:
    version = http.version(request)
    body = await read_json(request, http.runtime(request).settings.api.max_body_bytes)
    new = validate_body(pick(version, schemas.CREATE), body).keypair
    user_id = new.owner or ctx.user_id or ""
    policy.enforce(ctx, "compute:keypairs:create", {"user_id": user_id})
    draft = KeyPair(user_id=user_id, name=new.name.strip(), type=new.key_type)
    private_key = None
    if new.public_key is not None:
        draft.public_key = new.public_key
        keypair = await _store(request, ctx, draft, lambda: _fingerprint(draft))
    else:
        async with http.db(request).read() as session:
            await quotas.check_key_pairs(session, http.settings(request), ctx.project_id, user_id)
        key = await asyncio.to_thread(crypto.generate, draft.type, user_id)
        draft.public_key, private_key = key.public_key, key.private_key
        keypair = await _store(request, ctx, draft, lambda: key.fingerprint)
    status = 201 if supports(version, Feature.KEYPAIR_TYPE) else 200
    return JSON(views.created(keypair, version, private_key), status)


def _fingerprint(draft: KeyPair) -> str:
    return crypto.fingerprint(draft.public_key, draft.type)


async def _store(
    request: Request, ctx: RequestContext, draft: KeyPair, fingerprint: Callable[[], str]
) -> KeyPair:
    """Check the quota, fingerprint and insert; then recheck, undoing a create that raced."""
    settings = http.settings(request)
    async with http.db(request).write() as session:
        await quotas.check_key_pairs(session, settings, ctx.project_id, draft.user_id)
        draft.fingerprint = fingerprint()
        keypair = await keypairs_db.create_keypair(session, draft)
    async with http.db(request).write() as session:
        try:
            await quotas.check_key_pairs(session, settings, ctx.project_id, draft.user_id, 0)
            raced = False
        except errors.KeypairLimitExceeded:
            await keypairs_db.delete_keypair(session, draft.user_id, draft.name)
            raced = True
    if raced:  # raised only once the delete is committed
        raise errors.KeypairLimitExceeded()
    return keypair


async def index(request: Request, ctx: RequestContext = Depends(http.caller)) -> JSON:
    version = http.version(request)
    params = _params(request, schemas.LIST_QUERY)
    user_id = schemas.first(params, "user_id") or ctx.user_id or ""
    policy.enforce(ctx, "compute:keypairs:index", {"user_id": user_id})
    paged = supports(version, Feature.KEYPAIR_PAGINATION)
    limit = http.page_limit(request, params) if paged else None
    async with http.db(request).read() as session:
        keypairs = await keypairs_db.list_keypairs(
            session, user_id, limit, query.last(params, "marker") if paged else None
        )
    body: dict[str, Any] = {"keypairs": [views.listed(k, version) for k in keypairs]}
    if paged:
        links = http.collection_links(request, COLLECTION, keypairs, params, _name)
        if links:
            body["keypairs_links"] = links
    return JSON(body)


async def show(
    request: Request, keypair_name: str, ctx: RequestContext = Depends(http.caller)
) -> JSON:
    user_id = _owner(request, ctx, "compute:keypairs:show")
    async with http.db(request).read() as session:
        keypair = await keypairs_db.get_keypair(session, user_id, keypair_name)
    return JSON(views.shown(keypair, http.version(request)))


async def delete(
    request: Request, keypair_name: str, ctx: RequestContext = Depends(http.caller)
) -> Response:
    user_id = _owner(request, ctx, "compute:keypairs:delete")
    async with http.db(request).write() as session:
        await keypairs_db.delete_keypair(session, user_id, keypair_name)
    deleted = 204 if supports(http.version(request), Feature.KEYPAIR_TYPE) else 202
    return Response(status_code=deleted)


def _name(keypair: KeyPair) -> str:
    return keypair.name


def _params(request: Request, table: schemas.QueryTable) -> query.Params:
    version = http.version(request)
    strict = supports(version, Feature.STRICT_QUERY)
    return query.validate_query(request, pick(version, table), strict)


def _owner(request: Request, ctx: RequestContext, action: str) -> str:
    """The user whose keypair a show/delete means, once policy allows the caller to act."""
    params = _params(request, schemas.ONE_QUERY)
    user_id: str = schemas.first(params, "user_id") or ctx.user_id or ""
    policy.enforce(ctx, action, {"user_id": user_id})
    return user_id
