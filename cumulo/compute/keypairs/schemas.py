"""Keypair request bodies and query strings, one model per microversion that changed them."""

from __future__ import annotations

from typing import Annotated, Any, TypeAlias

from pydantic import BaseModel, ConfigDict, PlainValidator

from cumulo.compute import query
from cumulo.compute.microversions import Feature
from cumulo.compute.validation import enum, keypair_name, string

NAME_PATTERN = r"^[_\- a-zA-Z0-9]+$"
NAME_PATTERN_V292 = r"^[_\-\@\. a-zA-Z0-9]+$"

KeypairName: TypeAlias = Annotated[str, PlainValidator(keypair_name(NAME_PATTERN))]
KeypairNameV292: TypeAlias = Annotated[str, PlainValidator(keypair_name(NAME_PATTERN_V292))]
Text: TypeAlias = Annotated[str, PlainValidator(string())]
# Optional, but never null: the validator runs only on a value the client sent.
MaybeText: TypeAlias = Annotated[str | None, PlainValidator(string())]
KeyType: TypeAlias = Annotated[str, PlainValidator(enum("ssh", "x509"))]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NewKeypair(_Strict):
    """``POST /os-keypairs`` at 2.1: a name, and the public key to import (else one is made)."""

    name: KeypairName
    public_key: MaybeText = None

    @property
    def key_type(self) -> str:
        return "ssh"

    @property
    def owner(self) -> str | None:
        return None


class NewKeypairV22(_Strict):
    name: KeypairName
    type: KeyType = "ssh"
    public_key: MaybeText = None

    @property
    def key_type(self) -> str:
        return self.type

    @property
    def owner(self) -> str | None:
        return None


class NewKeypairV210(NewKeypairV22):
    user_id: MaybeText = None

    @property
    def owner(self) -> str | None:
        return self.user_id


class NewKeypairV292(NewKeypairV210):
    name: KeypairNameV292
    public_key: Text


class CreateBody(_Strict):
    keypair: NewKeypair


class CreateBodyV22(_Strict):
    keypair: NewKeypairV22


class CreateBodyV210(_Strict):
    keypair: NewKeypairV210


class CreateBodyV292(_Strict):
    keypair: NewKeypairV292


AnyCreateBody: TypeAlias = CreateBody | CreateBodyV22 | CreateBodyV210 | CreateBodyV292

CREATE: dict[Feature | None, type[AnyCreateBody]] = {
    None: CreateBody,
    Feature.KEYPAIR_TYPE: CreateBodyV22,
    Feature.KEYPAIR_USER_ID: CreateBodyV210,
    Feature.KEYPAIR_IMPORT_ONLY: CreateBodyV292,
}

QueryTable: TypeAlias = dict[Feature | None, dict[str, query.Check]]
_USER: dict[str, query.Check] = {"user_id": query.any_string}

LIST_QUERY: QueryTable = {
    None: {},
    Feature.KEYPAIR_USER_ID: _USER,
    Feature.KEYPAIR_PAGINATION: {**_USER, **query.PAGINATION},
}

ONE_QUERY: QueryTable = {
    None: {},
    Feature.KEYPAIR_USER_ID: _USER,
}


def first(params: query.Params, name: str) -> Any:
    """Nova reads ``user_id`` as the first value given."""
    values = params.get(name)
    return values[0] if values else None
