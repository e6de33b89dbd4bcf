"""Every table, importable from one place (Alembic reads `Base.metadata` from here)."""

from db.base import Base
from db.models.api_keys import ApiKey
from db.models.assets import Asset
from db.models.campaigns import Campaign
from db.models.clients import Client
from db.models.creative import Brief, Scene, Storyboard, StoryboardVersion
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
from db.models.jobs import Job, JobEvent, SubJob
from db.models.metrics import VideoMetric

__all__ = [
    "ApiKey",
    "ApiKeyRole",
    "Asset",
    "AssetKind",
    "AssetOrigin",
    "Base",
    "Brief",
    "Campaign",
    "CampaignStatus",
    "Client",
    "Job",
    "JobEvent",
    "JobKind",
    "JobStatus",
    "Scene",
    "ShotType",
    "Storyboard",
    "StoryboardStatus",
    "StoryboardVersion",
    "SubJob",
    "SubJobStatus",
    "VideoMetric",
]
