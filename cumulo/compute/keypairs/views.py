"""Keypair response bodies, shaped by the request's microversion."""

from __future__ import annotations

import datetime
from typing import Any

from cumulo.api.microversion import APIVersion
from cumulo.compute.microversions import Feature, supports
from cumulo.db.models.compute import KeyPair


def _timestamp(value: datetime.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f")


def _typed(body: dict[str, Any], keypair: KeyPair, version: APIVersion) -> dict[str, Any]:
    if supports(version, Feature.KEYPAIR_TYPE):
        body["type"] = keypair.type
    return body


def listed(keypair: KeyPair, version: APIVersion) -> dict[str, Any]:
    """One entry of ``GET /os-keypairs`` (wrapped in ``{"keypair": …}`` as Nova wraps it)."""
    body = {
        "name": keypair.name,
        "public_key": keypair.public_key,
        "fingerprint": keypair.fingerprint,
    }
    return {"keypair": _typed(body, keypair, version)}


def created(keypair: KeyPair, version: APIVersion, private_key: str | None) -> dict[str, Any]:
    """The answer to a create; ``private_key`` only when cumulo generated the key."""
    body: dict[str, Any] = {} if private_key is None else {"private_key": private_key}
    body.update(
        name=keypair.name,
        public_key=keypair.public_key,
        fingerprint=keypair.fingerprint,
        user_id=keypair.user_id,
    )
    return {"keypair": _typed(body, keypair, version)}


def shown(keypair: KeyPair, version: APIVersion) -> dict[str, Any]:
    """``GET /os-keypairs/{name}``, with the soft-delete fields Nova still shows (never set)."""
    body = {
        "name": keypair.name,
        "public_key": keypair.public_key,
        "fingerprint": keypair.fingerprint,
        "user_id": keypair.user_id,
        "created_at": _timestamp(keypair.created_at),
        "deleted": False,
        "deleted_at": None,
        "id": keypair.id,
        "updated_at": None,
    }
    return {"keypair": _typed(body, keypair, version)}
