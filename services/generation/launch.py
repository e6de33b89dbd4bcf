"""Launching jobs and the people-facing actions on them: estimate, cancel, approve,
reject, retry and regenerate. Rows and events commit together; tasks leave after."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Client, Job, JobKind, JobStatus, SubJob, SubJobStatus
from services import catalog
from services.broker import Broker, abort_after_commit, enqueue_after_commit
from services.errors import Conflict, InvalidInput, NotFound
from services.generation import tasks
from services.generation.budget import check_budget, committed_spend, lock_campaign
from services.generation.plan import (
    Plan,
    PlannedSubJob,
    _image,
    clean_prompt,
    make_plan,
    pair_clips,
)
from services.generation.prompts import branded_prompt
from services.generation.requests import GenerationRequest, Pair
from services.generation.state import (
    SUB_FINAL,
    job_created,
    job_may,
    lock_job,
    lock_sub_jobs,
    set_job_status,
    set_sub_status,
    sub_jobs_of,
)
from services.jobs import get_job
from services.viewer import Viewer


@dataclass(frozen=True, slots=True)
class Estimate:
    plan: Plan
    budget_usd: Decimal | None
    committed_usd: Decimal

    @property
    def remaining_usd(self) -> Decimal | None:
        if self.budget_usd is None:
            return None
        return max(Decimal(0), self.budget_usd - self.committed_usd)

    @property
    def within_budget(self) -> bool:
        return self.budget_usd is None or self.committed_usd + self.plan.total <= self.budget_usd


async def estimate_cost(session: AsyncSession, viewer: Viewer, req: GenerationRequest) -> Estimate:
    plan = await make_plan(session, viewer, req)
    spent = await committed_spend(session, plan.campaign.id)
    return Estimate(plan=plan, budget_usd=plan.campaign.budget_usd, committed_usd=spent)


def _new_sub(job: Job, index: int, planned: PlannedSubJob, provider: str) -> SubJob:
    return SubJob(
        job_id=job.id,
        index=index,
        model=planned.model,
        provider=provider,
        input=planned.logical,
        status=SubJobStatus.QUEUED,
        progress=None,
        cost_usd=Decimal(0),
    )


def _enqueue_runnable(session: AsyncSession, broker: Broker, subs: list[SubJob]) -> None:
    for sub in subs:
        if sub.status is SubJobStatus.QUEUED and "image_from_sub_job" not in sub.input:
            enqueue_after_commit(
                session, broker, tasks.RUN_SUB_JOB, str(sub.id), job_id=tasks.run_id(sub)
            )


async def launch(
    session: AsyncSession, broker: Broker, viewer: Viewer, req: GenerationRequest, provider: str
) -> Job:
    plan = await make_plan(session, viewer, req)
    campaign = await check_budget(session, plan.campaign.id, plan.total)
    job = Job(
        campaign_id=campaign.id,
        kind=plan.kind,
        status=JobStatus.QUEUED,
        model=plan.model,
        params=plan.params,
        cost_estimate_usd=plan.total,
        cost_actual_usd=Decimal(0),
        last_seq=0,
    )
    session.add(job)
    await session.flush()
    subs = [_new_sub(job, i, p, provider) for i, p in enumerate(plan.sub_jobs)]
    session.add_all(subs)
    await session.flush()
    await job_created(
        session,
        broker,
        job,
        message=f"{plan.kind.value} job queued",
        data={"costEstimateUsd": str(plan.total)},
    )
    if plan.kind is JobKind.PAIR_VIDEO:
        enqueue_after_commit(
            session, broker, tasks.SELECT_PAIRS, str(job.id), job_id=tasks.pairs_id(job.id)
        )
    else:
        _enqueue_runnable(session, broker, subs)
    return job


def _words(status: JobStatus) -> str:
    return status.value.replace("_", " ")


async def _locked_job(
    session: AsyncSession, viewer: Viewer, job_id: uuid.UUID, field: str = "jobId"
) -> Job:
    await get_job(session, viewer, job_id, field=field)  # tenancy
    await lock_sub_jobs(session, job_id)  # the lock order: sub-jobs, then their job
    job = await lock_job(session, job_id)
    if job is None:
        raise NotFound("no such job", field=field)
    return job


async def cancel_job(
    session: AsyncSession, broker: Broker, viewer: Viewer, job_id: uuid.UUID, reason: str
) -> Job:
    job = await _locked_job(session, viewer, job_id)
    if not job_may(job.status, JobStatus.CANCELED):
        raise Conflict(f"the job has already ended ({_words(job.status)})", field="jobId")
    for sub in await sub_jobs_of(session, job.id):
        if sub.status not in SUB_FINAL:
            await set_sub_status(session, broker, job, sub, SubJobStatus.CANCELED, message=reason)
            abort_after_commit(session, broker, tasks.run_id(sub))
    await set_job_status(session, broker, job, JobStatus.CANCELED, message=reason)
    enqueue_after_commit(
        session, broker, tasks.CANCEL_PREDICTIONS, str(job.id), job_id=f"cancel:{job.id}"
    )
    return job


async def approve_job(
    session: AsyncSession,
    broker: Broker,
    viewer: Viewer,
    job_id: uuid.UUID,
    pairs: list[Pair] | None,
) -> Job:
    job = await _locked_job(session, viewer, job_id)
    if job.status is not JobStatus.AWAITING_APPROVAL:
        raise Conflict("only a job awaiting approval can be approved", field="jobId")
    subs = await sub_jobs_of(session, job.id)
    if pairs is not None:
        subs = await _replace_pairs(session, job, subs, pairs)
    new_estimate = sum(
        (catalog.estimate(catalog.MODELS[s.model], s.input) for s in subs), Decimal(0)
    )
    await check_budget(session, job.campaign_id, new_estimate - job.cost_estimate_usd)
    job.cost_estimate_usd = new_estimate
    await set_job_status(session, broker, job, JobStatus.RUNNING, message="storyboard approved")
    _enqueue_runnable(session, broker, subs)
    return job


async def _replace_pairs(
    session: AsyncSession, job: Job, old: list[SubJob], pairs: list[Pair]
) -> list[SubJob]:
    if not pairs:
        raise InvalidInput("give at least one pair", field="pairs")
    if len(pairs) > 20:
        raise InvalidInput("at most 20 pairs", field="pairs")
    campaign = await lock_campaign(session, job.campaign_id)
    assert campaign is not None
    for i, pair in enumerate(pairs):
        if pair.first_asset_id == pair.last_asset_id:
            raise InvalidInput("a pair needs two different images", field=f"pairs.{i}")
        await _image(session, campaign, pair.first_asset_id, f"pairs.{i}.firstAssetId")
        await _image(session, campaign, pair.last_asset_id, f"pairs.{i}.lastAssetId")
    await session.execute(delete(SubJob).where(SubJob.job_id == job.id))
    provider = old[0].provider if old else "local"
    subs, storyboard = pair_clips(
        job, [(pair, None, "chosen by a person") for pair in pairs], provider
    )
    session.add_all(subs)
    await session.flush()
    job.params = {**job.params, "storyboard": storyboard}
    return subs


async def rerun_sub_job(
    session: AsyncSession,
    broker: Broker,
    viewer: Viewer,
    sub_job_id: uuid.UUID,
    *,
    prompt: str | None,
    regenerate: bool,
) -> Job:
    sub = await session.get(SubJob, sub_job_id)
    if sub is None:
        raise NotFound("no such sub-job", field="subJobId")
    job = await _locked_job(session, viewer, sub.job_id, field="subJobId")
    await session.refresh(sub)
    # Not while it is queued, awaiting approval, combining (its video is being made from
    # the clips as they are) or canceled.
    if not job_may(job.status, JobStatus.RUNNING):
        raise Conflict(f"the job is {_words(job.status)}", field="subJobId")
    if not regenerate and sub.status is not SubJobStatus.FAILED:
        raise Conflict("only a failed sub-job can be retried", field="subJobId")
    if regenerate and sub.status not in SUB_FINAL:
        raise Conflict("the sub-job is still running", field="subJobId")
    campaign = await lock_campaign(session, job.campaign_id)
    assert campaign is not None
    if prompt is not None:  # checked and branded like a launch's prompt
        client = await session.get(Client, campaign.client_id)
        assert client is not None
        text = branded_prompt(clean_prompt(prompt), client, campaign)
        sub.input = {**sub.input, "prompt": text}
    extra = catalog.estimate(catalog.MODELS[sub.model], sub.input)
    await check_budget(session, campaign.id, extra)
    job.cost_estimate_usd += extra
    sub.prediction_id = None
    sub.attempts = 0
    sub.progress = None
    sub.started_at = sub.finished_at = None  # the timings of this render
    await set_sub_status(
        session,
        broker,
        job,
        sub,
        SubJobStatus.QUEUED,
        message="regenerating" if regenerate else "retrying",
    )
    await set_job_status(
        session, broker, job, JobStatus.RUNNING, message=f"re-rendering #{sub.index}"
    )
    enqueue_after_commit(session, broker, tasks.RUN_SUB_JOB, str(sub.id), job_id=tasks.run_id(sub))
    return job
