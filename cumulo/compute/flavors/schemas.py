"""Flavor request bodies and query strings, one model per microversion that changed them."""

from __future__ import annotations

from typing import Annotated, Any, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, PlainValidator

from cumulo.compute import query
from cumulo.compute.microversions import Feature
from cumulo.compute.validation import (
    Boolean,
    FlavorId,
    Name,
    RxtxFactor,
    description,
    flavor_integer,
    string,
)

# The sort keys Nova accepts; changing them needs a new microversion.
SORT_KEYS = (
    "created_at", "description", "disabled", "ephemeral_gb", "flavorid", "id",
    "is_public", "memory_mb", "name", "root_gb", "rxtx_factor", "swap",
    "updated_at", "vcpu_weight", "vcpus",
)  # fmt: skip

LIST_QUERY: dict[str, query.Check] = {
    **query.PAGINATION,
    "is_public": query.any_string,
    "minRam": query.any_string,
    "minDisk": query.any_string,
    "sort_key": query.one_of(*SORT_KEYS),
    "sort_dir": query.one_of("asc", "desc"),
}

Positive: TypeAlias = Annotated[Any, PlainValidator(flavor_integer(1))]
NonNegative: TypeAlias = Annotated[Any, PlainValidator(flavor_integer(0))]
Description: TypeAlias = Annotated[str | None, PlainValidator(description(65535))]
Tenant: TypeAlias = Annotated[str, PlainValidator(string(1, 255))]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NewFlavor(_Strict):
    """``POST /flavors`` from 2.1: fields in the order Nova's schema checks them."""

    name: Name
    id: FlavorId = None
    ram: Positive
    vcpus: Positive
    disk: NonNegative
    ephemeral: NonNegative = Field(0, alias="OS-FLV-EXT-DATA:ephemeral")
    swap: NonNegative = 0
    rxtx_factor: RxtxFactor = 1.0
    is_public: Boolean = Field(True, alias="os-flavor-access:is_public")

    def described(self) -> str | None:
        return None


class NewFlavorV255(NewFlavor):
    description: Description = None

    def described(self) -> str | None:
        return self.description


class CreateBody(_Strict):
    flavor: NewFlavor


class CreateBodyV255(_Strict):
    flavor: NewFlavorV255


CREATE: dict[Feature | None, type[CreateBody] | type[CreateBodyV255]] = {
    None: CreateBody,
    Feature.FLAVOR_DESCRIPTION: CreateBodyV255,
}


class FlavorDescription(_Strict):
    description: Description


class UpdateBody(_Strict):
    """``PUT /flavors/{id}`` (2.55+): only the description may change."""

    flavor: FlavorDescription


class TenantAccess(_Strict):
    tenant: Tenant


class AddTenantAccess(_Strict):
    addTenantAccess: TenantAccess


class RemoveTenantAccess(_Strict):
    removeTenantAccess: TenantAccess
