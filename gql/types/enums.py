"""The database enums, registered with Strawberry under their own names.

`strawberry.enum` decorates the class in place, so the names exported here are the
very classes the models and services use.
"""

import strawberry

from db.models.enums import (
    ApiKeyRole,
    AssetKind,
    AssetOrigin,
    CampaignStatus,
    JobKind,
    JobStatus,
    ShotType,
    StoryboardStatus,
    SubJobStatus,
)

for _enum in (
    ApiKeyRole,
    AssetKind,
    AssetOrigin,
    CampaignStatus,
    JobKind,
    JobStatus,
    ShotType,
    StoryboardStatus,
    SubJobStatus,
):
    strawberry.enum(_enum)

__all__ = [
    "ApiKeyRole",
    "AssetKind",
    "AssetOrigin",
    "CampaignStatus",
    "JobKind",
    "JobStatus",
    "ShotType",
    "StoryboardStatus",
    "SubJobStatus",
]
