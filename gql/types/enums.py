"""The database enums, exposed to GraphQL under their own names."""

import strawberry

from db.models import enums

CampaignStatus = strawberry.enum(enums.CampaignStatus, name="CampaignStatus")
AssetKind = strawberry.enum(enums.AssetKind, name="AssetKind")
AssetOrigin = strawberry.enum(enums.AssetOrigin, name="AssetOrigin")
JobKind = strawberry.enum(enums.JobKind, name="JobKind")
JobStatus = strawberry.enum(enums.JobStatus, name="JobStatus")
SubJobStatus = strawberry.enum(enums.SubJobStatus, name="SubJobStatus")
ApiKeyRole = strawberry.enum(enums.ApiKeyRole, name="ApiKeyRole")
