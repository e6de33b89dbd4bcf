"""The pair job's first step: choose the image pairs, then render or wait for approval."""

from __future__ import annotations

import logging
import uuid
from decimal import Decimal

from db.models import Client, Job, JobStatus
from services.broker import enqueue_after_commit
from services.generation import tasks
from services.generation.deps import Deps
from services.generation.error_codes import JobErrorCode
from services.generation.faults import job_task
from services.generation.model_steps import ModelStep, model_failed
from services.generation.plan import campaign_images, pair_clips
from services.generation.requests import Pair
from services.generation.state import campaign_of, lock_job, set_job_status
from services.pairing import CampaignBrief, ImageCandidate, PairChoice, PairingError

log = logging.getLogger(__name__)
SELECTION = ModelStep(
    "pair selection", tasks.SELECT_PAIRS, tasks.pairs_id, JobErrorCode.PAIRING_FAILED
)


@job_task(JobStatus.QUEUED, "pair selection", tasks.SELECT_PAIRS, tasks.pairs_id)
async def select_pairs(deps: Deps, job_id: uuid.UUID, attempt: int = 1) -> None:
    storage = deps.runtime.storage
    async with deps.runtime.session_factory() as session:
        job = await session.get(Job, job_id)
        if job is None or job.status is not JobStatus.QUEUED:
            return
        campaign = await campaign_of(session, job)
        client = await session.get(Client, campaign.client_id)
        assert client is not None
        images = await campaign_images(session, campaign.id)
        guide = client.brand_guidelines or {}
        brief = CampaignBrief(
            client_name=client.name,
            campaign_name=campaign.name,
            goal=campaign.goal,
            audience=campaign.audience,
            product_url=campaign.product_url,
            tone=guide.get("tone"),
            colors=[f"{c.get('name') or ''} {c['hex']}".strip() for c in guide.get("colors", [])],
            dos=list(guide.get("dos", [])),
            donts=list(guide.get("donts", [])),
        )
        num_pairs = int(job.params["numPairs"])
    candidates = [
        ImageCandidate(
            asset_id=a.id,
            path=storage.path(a.storage_key),
            mime_type=a.mime_type,
            width=a.width,
            height=a.height,
        )
        for a in images
    ]
    try:
        choices = await deps.selector.select(candidates, brief, num_pairs)
    except PairingError as exc:
        await model_failed(deps, SELECTION, job_id, exc, attempt)
        return
    except Exception:  # a bug or an unreadable image: fail the job rather than loop
        log.exception("pair selection of job %s failed", job_id)
        unexpected = PairingError("an unexpected error; the server log has the details")
        await model_failed(deps, SELECTION, job_id, unexpected, attempt)
        return
    await _store_choices(deps, job_id, choices)


async def _store_choices(deps: Deps, job_id: uuid.UUID, choices: list[PairChoice]) -> None:
    async with deps.transaction() as session:
        job = await lock_job(session, job_id)
        if job is None or job.status is not JobStatus.QUEUED:
            return
        subs, storyboard = pair_clips(
            job,
            [(Pair(c.first, c.last), c.score, c.reason) for c in choices],
            deps.runtime.settings.generation_provider,
        )
        session.add_all(subs)
        await session.flush()
        job.cost_estimate_usd = sum((Decimal(str(s["costUsd"])) for s in storyboard), Decimal(0))
        job.params = {**job.params, "storyboard": storyboard, "selector": deps.selector.name}
        data = {"storyboard": storyboard, "costEstimateUsd": str(job.cost_estimate_usd)}
        if job.params.get("requireApproval"):
            await set_job_status(
                session, deps.broker, job, JobStatus.AWAITING_APPROVAL,
                message=f"{len(subs)} pairs chosen; waiting for approval", data=data,
            )  # fmt: skip
            return
        await set_job_status(
            session, deps.broker, job, JobStatus.RUNNING,
            message=f"{len(subs)} pairs chosen; rendering", data=data,
        )  # fmt: skip
        for sub in subs:
            enqueue_after_commit(
                session, deps.broker, tasks.RUN_SUB_JOB, str(sub.id), job_id=tasks.run_id(sub)
            )
