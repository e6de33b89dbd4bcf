"""Enumerations shared by the models, the services and the API."""

from __future__ import annotations

import enum


class CampaignStatus(enum.StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"
    ARCHIVED = "archived"


class AssetKind(enum.StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"
    DOCUMENT = "document"


class AssetOrigin(enum.StrEnum):
    UPLOADED = "uploaded"
    GENERATED = "generated"


class JobKind(enum.StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"
    PAIR_VIDEO = "pair_video"
    STORYBOARD = "storyboard"  # an approved storyboard rendered: a clip per scene, combined
    STORYBOARD_WRITING = "storyboard_writing"  # a storyboard written from a brief
    EXPORT = "export"  # renditions of a video


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    AWAITING_APPROVAL = "awaiting_approval"
    COMBINING = "combining"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


class SubJobStatus(enum.StrEnum):
    QUEUED = "queued"
    SUBMITTED = "submitted"
    PROCESSING = "processing"
    DOWNLOADING = "downloading"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


class StoryboardStatus(enum.StrEnum):
    DRAFT = "draft"  # editable
    APPROVED = "approved"  # read-only from here on
    RENDERING = "rendering"
    RENDERED = "rendered"


class ShotType(enum.StrEnum):
    WIDE = "wide"
    MEDIUM = "medium"
    CLOSE_UP = "close_up"
    EXTREME_CLOSE_UP = "extreme_close_up"
    OVERHEAD = "overhead"
    TRACKING = "tracking"
    POV = "pov"


class ApiKeyRole(enum.StrEnum):
    ADMIN = "admin"
    CLIENT = "client"
