from __future__ import annotations

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
        )
