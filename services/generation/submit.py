"""The run task: submit a sub-job's attempt to its provider and store the prediction's
id in the same breath; a rerun finds the stored id and follows it instead of paying for
a new prediction.

The work a worker does inside itself (a create, which for the local provider is the
whole render) is claimed in `liveness` first; when that worker dies,
`maintenance.resume_lost` picks the sub-job up on another within about
`worker_dead_seconds`.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.base import utcnow
from db.models import Asset, Client, Job, JobStatus, SubJob, SubJobStatus
from services import catalog
from services.broker import enqueue_after_commit
from services.generation import tasks, webhook_urls
from services.generation.completion import fail_now, retry_or_fail
from services.generation.deps import Deps
from services.generation.error_codes import JobErrorCode
from services.generation.faults import sub_job_task
from services.generation.liveness import SUB_JOB, Claim, Liveness
from services.generation.outcome import apply_prediction
from services.generation.prompts import brand_colours
from services.generation.running import HEARTBEAT_SECONDS
from services.generation.state import (
    CREATING,
    age,
    campaign_of,
    in_play,
    lock_sub_job,
    report_progress,
    set_job_status,
    set_sub_status,
    since_start,
    sub_may,
)
from services.providers.base import ProgressCallback, ProviderError

log = logging.getLogger(__name__)
# A sub-job `submitted` without a prediction id has a create under way, or its worker
# died during one. Only after this long, far beyond any create (ReplicateProvider gives
# up after CREATE_TIMEOUT), is it submitted again: a second create would pay twice.
SUBMIT_LOST_SECONDS = 300
# A 429 gives its try back for this long after the first submission; after it, a
# throttled account's 429s count like any failure, so the sub-job ends.
THROTTLE_PATIENCE_SECONDS = 30 * 60
Submission = tuple[catalog.ModelSpec, dict[str, Any]]


@sub_job_task
async def run_sub_job(deps: Deps, sub_id: uuid.UUID, owner: Liveness | None = None) -> None:
    """`owner`: the running worker's liveness, which claims the sub-job while this task
    works on it in-process, so that it resumes elsewhere should this worker die."""
    claim: Claim | None = None
    async with deps.transaction() as session:
        # The sub-job's lock only: siblings submit in parallel, and the job row is locked
        # just while the event is written (a failure here ends the sub-job after that).
        found = await lock_sub_job(session, sub_id)
        if found is None:
            return
        job, sub = found
        if not in_play(job, sub):
            return
        if sub.status in CREATING and not sub.prediction_id:
            if age(sub) < SUBMIT_LOST_SECONDS:
                return  # another task is creating its prediction
            if sub.attempts >= deps.settings.max_attempts:
                reason = f"no answer to {sub.attempts} creates from {sub.provider}"
                await fail_now(session, deps, job, sub, reason, JobErrorCode.PROVIDER_ERROR)
                return
            log.warning("sub-job %s: its create was lost; submitting again", sub.id)
        resume = bool(sub.prediction_id)
        submission = None if resume else await _prepare(session, deps, job, sub)
        if submission is not None and owner is not None:
            claim = await owner.claim(SUB_JOB, sub.id, sub.attempts)  # before `submitted` commits
    if resume:  # a rerun after a crash: poll the stored prediction, never pay twice
        for n in (0, 1):
            if await deps.broker.enqueue(
                tasks.POLL_SUB_JOB, str(sub.id), n, job_id=tasks.poll_id(sub, n)
            ):
                break
        return
    if submission is None:
        return
    stopping = False
    try:
        await _create(deps, sub, submission)
    except asyncio.CancelledError:
        stopping = True  # the worker is stopping: the claim stays, and another resumes it
        raise
    finally:
        if claim is not None and owner is not None and not stopping:
            await owner.release(claim)


async def _prepare(session: AsyncSession, deps: Deps, job: Job, sub: SubJob) -> Submission | None:
    """Under the sub-job's lock: its inputs and a provider slot, then `submitted`. None
    when it cannot go now (it failed, it waits for its start image or for a slot)."""
    try:
        urls = await _input_urls(session, deps, sub)
    except ProviderError as exc:
        await fail_now(session, deps, job, sub, str(exc), JobErrorCode.INPUT_MISSING)
        return None
    if urls is None:
        return None  # waits for the sub-job that makes its start image
    settings = deps.settings
    slot_pool = f"provider:{sub.provider}"
    if not await deps.broker.acquire_slot(
        slot_pool, str(sub.id), settings.provider_concurrency
    ):  # every slot of this provider is busy: try again shortly
        if age(sub) > HEARTBEAT_SECONDS:
            sub.updated_at = utcnow()  # waiting, not lost: the reconciler leaves it be
        enqueue_after_commit(
            session, deps.broker, tasks.RUN_SUB_JOB, str(sub.id),
            job_id=tasks.wait_id(sub), defer_seconds=0.5,
        )  # fmt: skip
        return None
    spec = catalog.MODELS[sub.model]
    provider_input = catalog.build_provider_input(spec, sub.input, urls)
    if sub.provider == "local":
        client = await session.get(Client, (await campaign_of(session, job)).client_id)
        provider_input["brand_colors"] = brand_colours(client) if client else []
    if job.status is JobStatus.QUEUED:
        await set_job_status(session, deps.broker, job, JobStatus.RUNNING, message="rendering")
    sub.attempts += 1
    await set_sub_status(
        session, deps.broker, job, sub, SubJobStatus.SUBMITTED,
        message=f"attempt {sub.attempts}: submitting to {sub.provider}",
    )  # fmt: skip
    return spec, provider_input


async def _input_urls(session: AsyncSession, deps: Deps, sub: SubJob) -> dict[str, str] | None:
    """Asset ids of the sub-job's inputs, mapped to URLs its provider can read; None
    while the sibling that makes its start image has not succeeded."""
    logical = sub.input
    if "image_from_sub_job" in logical:
        source = await session.scalar(
            select(SubJob).where(
                SubJob.job_id == sub.job_id, SubJob.index == int(logical["image_from_sub_job"])
            )
        )
        if (
            source is None
            or source.status is not SubJobStatus.SUCCEEDED
            or source.output_asset_id is None
        ):
            return None
        logical = {**logical, "image_asset_id": str(source.output_asset_id)}
        sub.input = logical
    ids = [logical[key] for key in ("image_asset_id", "last_image_asset_id") if logical.get(key)]
    if not ids:
        return {}
    stmt = select(Asset).where(Asset.id.in_([uuid.UUID(i) for i in ids]))
    found = {str(asset.id): asset for asset in await session.scalars(stmt)}
    urls: dict[str, str] = {}
    for asset_id in ids:
        if asset_id not in found:
            raise ProviderError(f"input asset {asset_id} was deleted")
        urls[asset_id] = _asset_url(deps, sub.provider, found[asset_id])
    return urls


def _asset_url(deps: Deps, provider: str, asset: Asset) -> str:
    path = deps.runtime.storage.path(asset.storage_key)
    if provider == "local":
        return path.as_uri()
    settings = deps.settings
    if settings.public_url:
        return settings.public_url.rstrip("/") + deps.runtime.signer.path(asset.id)
    try:
        data = path.read_bytes()
    except OSError as exc:  # the stored file is gone: as good as a deleted input
        raise ProviderError(f"input asset {asset.id} cannot be read: {exc.strerror}") from exc
    return f"data:{asset.mime_type};base64," + base64.b64encode(data).decode()


def _progress_reporter(deps: Deps, sub_id: uuid.UUID, attempt: int) -> ProgressCallback:
    """Progress of a create that works while it runs (the local provider renders inside
    it): the first tick says the sub-job is `processing`."""

    async def report(fraction: float) -> None:
        async with deps.transaction() as session:
            found = await lock_sub_job(session, sub_id)
            if found is None:
                return
            job, sub = found
            if sub.attempts != attempt or not in_play(job, sub):
                return  # an attempt given up on (its worker was taken for dead)
            if fraction > 0 and sub_may(sub.status, SubJobStatus.PROCESSING):
                await set_sub_status(session, deps.broker, job, sub, SubJobStatus.PROCESSING)
            await report_progress(session, deps.broker, job, sub, fraction)

    return report


async def _create(deps: Deps, sub: SubJob, submission: Submission) -> None:
    """Create the attempt's prediction, store its id, and follow it (download at once
    when it has already succeeded, as a local render has)."""
    spec, provider_input = submission
    sub_id, attempt = sub.id, sub.attempts
    settings = deps.settings
    try:
        async with deps.slot(sub.provider):
            prediction = await deps.provider(sub.provider).create(
                spec.name,
                provider_input,
                webhook_url=webhook_urls.webhook_url(settings, sub.provider, sub_id, attempt),
                cancel_after=settings.prediction_deadline,
                on_progress=_progress_reporter(deps, sub_id, attempt),
            )
    except ProviderError as exc:
        throttled = exc.throttled and since_start(sub) < THROTTLE_PATIENCE_SECONDS
        if exc.unsure and webhook_urls.enabled(settings, sub.provider):
            # The POST went out and its answer was lost: the prediction may exist. Its
            # webhook names this sub-job and is adopted; if none comes, the reconciler
            # submits again after SUBMIT_LOST_SECONDS.
            log.warning("sub-job %s: %s; waiting for its webhook", sub_id, exc)
            return
        await retry_or_fail(  # a 429 made no prediction: for a while, it costs no attempt
            deps, sub_id, str(exc), retry_after=exc.retry_after, count_attempt=not throttled
        )
        return
    await apply_prediction(deps, sub_id, prediction, poll_n=0, store_id=True, attempt=attempt)
