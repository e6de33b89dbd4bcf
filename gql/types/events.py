from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import strawberry
from strawberry.scalars import JSON

from db import models
from gql import ids


@strawberry.type(description="One entry of a job's progress log; `seq` increases per job.")
class JobEvent:
    job_id: strawberry.ID
    sub_job_id: strawberry.ID | None
    seq: int
    type: str = strawberry.field(
        description="job.status, job.progress, subjob.status or subjob.progress"
    )
    status: str
    progress: float | None = strawberry.field(description="0..1, or null when unknown.")
    message: str | None
    data: JSON
    created_at: datetime
    expected_seconds: float | None = strawberry.field(
        default=None,
        description="Sub-job events: the sub-job's expected run time in seconds (as "
        "SubJob.expectedSeconds); null without history.",
    )
    eta_seconds: float | None = strawberry.field(
        default=None,
        description="Sub-job events while it runs: seconds left at the event's time (as "
        "SubJob.etaSeconds, from past runs and the progress so far); null when unknown.",
    )
    sub_job_uuid: strawberry.Private[uuid.UUID | None] = None

    @strawberry.field(description="The sub-job's index within its job, for sub-job events.")
    def sub_job_index(self) -> int | None:
        index = self.data.get("index") if isinstance(self.data, dict) else None
        return int(index) if index is not None else None

    @strawberry.field(description="Cost so far: the sub-job's, or the job's actual cost.")
    def cost_usd(self) -> Decimal | None:
        data: dict[str, Any] = self.data if isinstance(self.data, dict) else {}
        value = data.get("costUsd") or data.get("costActualUsd")
        return Decimal(value) if value is not None else None

    @strawberry.field(description="The output asset's global ID once one exists.")
    def output_asset_id(self) -> strawberry.ID | None:
        data: dict[str, Any] = self.data if isinstance(self.data, dict) else {}
        value = data.get("outputAssetId")
        return strawberry.ID(ids.encode("Asset", value)) if value else None

    @classmethod
    def from_row(cls, row: models.JobEvent) -> JobEvent:
        return cls(
            job_id=strawberry.ID(ids.encode("Job", row.job_id)),
            sub_job_id=strawberry.ID(ids.encode("SubJob", row.sub_job_id))
            if row.sub_job_id
            else None,
            seq=row.seq,
            type=row.type,
            status=row.status,
            progress=row.progress,
            message=row.message,
            data=JSON(row.data),
            created_at=row.created_at,
            sub_job_uuid=row.sub_job_id,
        )

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> JobEvent:
        """From the JSON that `services.events.event_payload` publishes."""
        sub_job = uuid.UUID(payload["subJobId"]) if payload.get("subJobId") else None
        return cls(
            job_id=strawberry.ID(ids.encode("Job", uuid.UUID(payload["jobId"]))),
            sub_job_id=strawberry.ID(ids.encode("SubJob", sub_job)) if sub_job else None,
            seq=int(payload["seq"]),
            type=payload["type"],
            status=payload["status"],
            progress=payload.get("progress"),
            message=payload.get("message"),
            data=JSON(payload.get("data") or {}),
            created_at=datetime.fromisoformat(payload["createdAt"]),
            sub_job_uuid=sub_job,
        )
