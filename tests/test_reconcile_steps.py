"""The reconciler starts again a job's own step whose task was lost with a worker:
here an export left running, untouched for longer than `reconcile_stale_seconds`."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import update
from starlette.applications import Starlette

from db.base import utcnow
from db.models import Job, JobKind, JobStatus
from gql.ids import encode
from services.generation import maintenance
from services.generation.deps import build_deps
from services.runtime import Runtime
from tests.client import GraphQLClient, decode_gid
from tests.jobs import wait_for_job
from tests.samples import Samples


async def test_a_lost_export_is_made_after_all(
    tenant: GraphQLClient, app: Starlette, runtime: Runtime, samples: Samples
) -> None:
    assert tenant.client_id
    campaign = await tenant.create_campaign(tenant.client_id, "Lost")
    video = await tenant.upload_ok(samples.mp4, "a.mp4", campaign_id=campaign)
    job = Job(
        campaign_id=decode_gid(campaign), kind=JobKind.EXPORT, status=JobStatus.RUNNING,
        params={"assetId": str(decode_gid(video["id"])), "renditions": ["480p"]},
        cost_estimate_usd=Decimal(0), cost_actual_usd=Decimal(0), last_seq=0,
    )  # fmt: skip
    async with runtime.transaction() as session:  # as a worker that died left it
        session.add(job)
        await session.flush()
        stale = utcnow() - timedelta(seconds=runtime.settings.reconcile_stale_seconds + 60)
        await session.execute(update(Job).where(Job.id == job.id).values(updated_at=stale))
    deps = build_deps(runtime, app.state.broker)
    try:
        assert await maintenance.reconcile(deps) >= 1
    finally:
        await deps.aclose()
    done = await wait_for_job(tenant, app, encode("Job", job.id))
    assert done["status"] == "SUCCEEDED", done["error"]
    assert done["outputAsset"]["height"] == 480
