"""Mutation inputs. `fields()` returns only what the caller set (UNSET means untouched)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import strawberry
from starlette.datastructures import UploadFile
from strawberry.file_uploads import Upload
from strawberry.scalars import JSON

from gql import ids
from gql.types.enums import CampaignStatus
from services.errors import InvalidInput


def provided(obj: object, renames: dict[str, str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, f.name)
        if value is strawberry.UNSET:
            continue
        if dataclasses.is_dataclass(value):
            value = provided(value)
        elif isinstance(value, list):
            value = [provided(v) if dataclasses.is_dataclass(v) else v for v in value]
        out[(renames or {}).get(f.name, f.name)] = value
    return out


@strawberry.input
class BrandColorInput:
    hex: str
    name: str | None = None


@strawberry.input
class BrandGuidelinesInput:
    colors: list[BrandColorInput] | None = strawberry.UNSET
    tone: str | None = strawberry.UNSET
    dos: list[str] | None = strawberry.UNSET
    donts: list[str] | None = strawberry.UNSET
    logo_asset_id: strawberry.ID | None = strawberry.UNSET

    def values(self) -> dict[str, Any]:
        out = provided(self)
        if out.get("logo_asset_id") is not None:
            out["logo_asset_id"] = ids.decode(
                out["logo_asset_id"], "Asset", "brandGuidelines.logoAssetId"
            )
        return out


@strawberry.input
class CreateClientInput:
    name: str
    homepage: str | None = strawberry.UNSET
    notes: str | None = strawberry.UNSET
    brand_guidelines: BrandGuidelinesInput | None = strawberry.UNSET
    metadata: JSON | None = strawberry.UNSET

    def values(self) -> dict[str, Any]:
        out = provided(self)
        if isinstance(self.brand_guidelines, BrandGuidelinesInput):
            out["brand_guidelines"] = self.brand_guidelines.values()
        return out


@strawberry.input
class UpdateClientInput:
    id: strawberry.ID
    name: str | None = strawberry.UNSET
    homepage: str | None = strawberry.UNSET
    notes: str | None = strawberry.UNSET
    brand_guidelines: BrandGuidelinesInput | None = strawberry.UNSET
    metadata: JSON | None = strawberry.UNSET

    def values(self) -> dict[str, Any]:
        out = provided(self)
        out.pop("id")
        if isinstance(self.brand_guidelines, BrandGuidelinesInput):
            out["brand_guidelines"] = self.brand_guidelines.values()
        return out


@strawberry.input
class CreateCampaignInput:
    client_id: strawberry.ID
    name: str
    goal: str | None = strawberry.UNSET
    audience: str | None = strawberry.UNSET
    status: CampaignStatus | None = strawberry.UNSET
    product_url: str | None = strawberry.UNSET
    budget_usd: Decimal | None = strawberry.UNSET
    metadata: JSON | None = strawberry.UNSET

    def values(self) -> dict[str, Any]:
        out = provided(self)
        out.pop("client_id")
        return out


@strawberry.input
class UpdateCampaignInput:
    id: strawberry.ID
    name: str | None = strawberry.UNSET
    goal: str | None = strawberry.UNSET
    audience: str | None = strawberry.UNSET
    status: CampaignStatus | None = strawberry.UNSET
    product_url: str | None = strawberry.UNSET
    budget_usd: Decimal | None = strawberry.UNSET
    metadata: JSON | None = strawberry.UNSET

    def values(self) -> dict[str, Any]:
        out = provided(self)
        out.pop("id")
        return out


@strawberry.input(description="Give `campaignId`, or `clientId` for client-wide files (logos).")
class UploadAssetInput:
    file: Upload
    campaign_id: strawberry.ID | None = None
    client_id: strawberry.ID | None = None

    def __post_init__(self) -> None:
        # Strawberry's Upload scalar lets any value in: a literal, a string or object in
        # `variables`, a multipart map that missed this variable. Only a file part is one.
        if not isinstance(self.file, UploadFile):
            raise InvalidInput("must be a file part of a GraphQL multipart request", field="file")


@strawberry.input
class DeleteInput:
    id: strawberry.ID
