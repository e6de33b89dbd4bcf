"""Task bodies for the worker: short, idempotent, safe to run twice.

run_sub_job creates a prediction and stores its id at once; news comes from a short
poll task that re-enqueues itself, or from webhooks: a running prediction's news is
written where the webhook arrives (`record_running`), an ended one becomes an
`apply_webhook` task. A rerun finds the stored prediction id and resumes it instead of
paying for a new one.

The work a worker does inside itself (a create, which for the local provider is the
whole render, and a download) is claimed in `liveness` first; when that worker dies,
`resume_lost` picks the sub-job up on another within about `worker_dead_seconds`.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.base import utcnow
from db.models import Asset, AssetOrigin, Client, Job, JobKind, JobStatus, SubJob, SubJobStatus
from services import assets, catalog
from services.broker import Broker, enqueue_after_commit
from services.errors import ServiceError
from services.generation import tasks, webhook_urls
from services.generation.deps import Deps
from services.generation.liveness import SUB_JOB, Claim, Liveness
from services.generation.prompts import brand_colours
from services.generation.state import (
    PROGRESS_THROTTLE,
    SUB_FINAL,
    campaign_of,
    lock_job,
    lock_sub_job,
    report_progress,
    set_job_status,
    set_sub_status,
    sub_jobs_of,
    total_cost,
)
from services.providers.base import Prediction, PredictionStatus, ProviderError
from services.runtime import Runtime
from services.settings import Settings

log = logging.getLogger(__name__)
RUNNABLE = (JobStatus.QUEUED, JobStatus.RUNNING)
# Without a prediction id, a sub-job in these has a create under way (a local render
# is `processing` inside its create).
CREATING = (SubJobStatus.SUBMITTED, SubJobStatus.PROCESSING)
HEARTBEAT_SECONDS = 20  # a running sub-job's row is touched at least this often
# With webhooks, polls only catch a lost delivery (Replicate retries the final one):
# the first after 5 s, then backing off to one every 30 s.
WEBHOOK_POLL_INITIAL, WEBHOOK_POLL_MAX = 5.0, 30.0
# A sub-job `submitted` without a prediction id has a create under way, or its worker
# died during one. Only after this long, far beyond any create (ReplicateProvider gives
# up after CREATE_TIMEOUT), is it submitted again: a second create would pay twice.
SUBMIT_LOST_SECONDS = 300
# A 429 gives its try back for this long after the first submission; after it, a
# throttled account's 429s count like any failure, so the sub-job ends.
THROTTLE_PATIENCE_SECONDS = 30 * 60


async def _locked(session: AsyncSession, sub_id: uuid.UUID) -> tuple[Job, SubJob] | None:
    """Lock the sub-job, then its job (the lock order in `state`): for changes that may
    end the sub-job, and so must see every sibling as it is."""
    found = await lock_sub_job(session, sub_id)
    if found is None:
        return None
    job = await lock_job(session, found[0].id)
    return None if job is None else (job, found[1])


def _progress_reporter(deps: Deps, sub_id: uuid.UUID, attempt: int) -> Any:
    """Progress of a create that works while it runs (the local provider renders inside
    it): the first tick says the sub-job is `processing`."""

    async def report(fraction: float) -> None:
        async with deps.transaction() as session:
            found = await lock_sub_job(session, sub_id)
            if found is None:
                return
            job, sub = found
            if sub.attempts != attempt or job.status not in RUNNABLE:
                return  # an attempt given up on (its worker was taken for dead)
            if sub.status is SubJobStatus.SUBMITTED and fraction > 0:
                await set_sub_status(session, deps.broker, job, sub, SubJobStatus.PROCESSING)
            await report_progress(session, deps.broker, job, sub, fraction)

    return report


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
    settings = deps.runtime.settings
    if settings.public_url:
        return settings.public_url.rstrip("/") + deps.runtime.signer.path(asset.id)
    import base64

    return f"data:{asset.mime_type};base64," + base64.b64encode(path.read_bytes()).decode()


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
        if job.status not in RUNNABLE or sub.status in SUB_FINAL:
            return
        if sub.status in CREATING and not sub.prediction_id:
            if _age(sub) < SUBMIT_LOST_SECONDS:
                return  # another task is creating its prediction
            if sub.attempts >= deps.runtime.settings.max_attempts:
                reason = f"no answer to {sub.attempts} creates from {sub.provider}"
                await _fail_now(session, deps, job, sub, reason, "PROVIDER_ERROR")
                return
            log.warning("sub-job %s: its create was lost; submitting again", sub.id)
        resume = bool(sub.prediction_id)
        submission = None if resume else await _prepare_submission(session, deps, job, sub)
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
        await _create(deps, sub, *submission)
    except asyncio.CancelledError:
        stopping = True  # the worker is stopping: the claim stays, and another resumes it
        raise
    finally:
        if claim is not None and owner is not None and not stopping:
            await owner.release(claim)


async def _create(
    deps: Deps, sub: SubJob, spec: catalog.ModelSpec, provider_input: dict[str, Any]
) -> None:
    """Create the attempt's prediction, store its id, and follow it (download at once
    when it has already succeeded, as a local render has)."""
    sub_id, attempt = sub.id, sub.attempts
    provider = deps.provider(sub.provider)
    try:
        async with deps.slot(sub.provider):
            prediction = await provider.create(
                spec.name,
                provider_input,
                webhook_url=webhook_urls.webhook_url(
                    deps.runtime.settings, sub.provider, sub.id, sub.attempts
                ),
                cancel_after=deps.runtime.settings.prediction_deadline,
                on_progress=_progress_reporter(deps, sub_id, attempt),
            )
    except ProviderError as exc:
        throttled = exc.throttled and _since_start(sub) < THROTTLE_PATIENCE_SECONDS
        if exc.unsure and webhook_urls.enabled(deps.runtime.settings, sub.provider):
            # The POST went out and its answer was lost: the prediction may exist. Its
            # webhook names this sub-job and is adopted; if none comes, the reconciler
            # submits again after SUBMIT_LOST_SECONDS.
            log.warning("sub-job %s: %s; waiting for its webhook", sub_id, exc)
            return
        await retry_or_fail(  # a 429 made no prediction: for a while, it costs no attempt
            deps, sub_id, str(exc), retry_after=exc.retry_after, count_attempt=not throttled
        )
        return
    await _apply(deps, sub_id, prediction, poll_n=0, store_id=True, attempt=attempt)


async def resume_lost(
    session: AsyncSession, deps: Deps, job: Job, sub: SubJob, reason: str
) -> bool:
    """Under the sub-job's lock: the worker that worked on it is gone. A stored
    prediction is followed (never paid for twice); a create that died with its worker is
    made again only where that is free (a local render: rendering again is the resume),
    and counts as an attempt, so a render that kills its workers ends. A paid create is
    left to the SUBMIT_LOST_SECONDS rule: it may have reached the provider. Returns
    whether the sub-job was resumed."""
    if sub.prediction_id:
        enqueue_after_commit(
            session, deps.broker, tasks.RUN_SUB_JOB, str(sub.id),
            job_id=f"{tasks.run_id(sub)}:resume",
        )  # fmt: skip
        return True
    if not getattr(deps.providers.get(sub.provider), "rerun_is_free", False):
        log.warning("sub-job %s: %s during a create; waiting for its answer", sub.id, reason)
        return False
    if sub.attempts >= deps.runtime.settings.max_attempts:
        await _fail_now(
            session, deps, job, sub, f"{reason} ({sub.attempts} attempts)", "WORKER_LOST"
        )
        return True
    await set_sub_status(
        session, deps.broker, job, sub, SubJobStatus.QUEUED,
        message=f"attempt {sub.attempts} stopped: {reason}; rendering again",
    )  # fmt: skip
    enqueue_after_commit(
        session, deps.broker, tasks.RUN_SUB_JOB, str(sub.id), job_id=tasks.run_id(sub)
    )
    return True


async def adopt_prediction(
    runtime: Runtime, broker: Broker, named: webhook_urls.Named, prediction: Prediction
) -> SubJob | None:
    """A webhook for a prediction no sub-job knows names the sub-job it was created for:
    its create's answer never arrived (the worker died in the call, or the connection
    dropped after the POST). Store its id, so that it is followed and not paid for again.
    A running prediction the sub-job no longer wants (it ended, or has another) is
    canceled."""
    async with runtime.transaction() as session:
        found = await lock_sub_job(session, named.sub_id)
        if found is None:
            return None
        job, sub = found
        if sub.prediction_id == prediction.id:
            return sub  # its create's answer came after all (since the caller looked)
        wanted = (
            sub.status in CREATING
            and job.status in RUNNABLE
            and named.attempt == sub.attempts  # not an earlier attempt's late news
        )
        if wanted and not sub.prediction_id:
            # Often just a race (the delivery beat the create's answer); after a lost
            # answer, what keeps the prediction from being paid twice.
            log.info("sub-job %s: prediction %s taken from its webhook", sub.id, prediction.id)
            sub.prediction_id = prediction.id
            sub.updated_at = utcnow()
            _schedule_poll(session, runtime, broker, sub, 0)  # the safety net, as after a create
            return sub
        if not prediction.status.terminal:
            cancel_after_commit(session, broker, job, sub.provider, prediction.id)
    return None


def _since_start(sub: SubJob) -> float:
    """Seconds since the sub-job was first submitted (this render of it)."""
    return time.time() - (sub.started_at or utcnow()).timestamp()


def _age(sub: SubJob) -> float:
    """Seconds since the sub-job's row last changed (progress and heartbeats touch it)."""
    return time.time() - sub.updated_at.timestamp()


async def _prepare_submission(
    session: AsyncSession, deps: Deps, job: Job, sub: SubJob
) -> tuple[catalog.ModelSpec, dict[str, Any]] | None:
    """Under the sub-job's lock: its inputs and a provider slot, then `submitted`. None
    when it cannot go now (it failed, it waits for its start image or for a slot)."""
    try:
        urls = await _input_urls(session, deps, sub)
    except ProviderError as exc:
        await _fail_now(session, deps, job, sub, str(exc), "INPUT_MISSING")
        return None
    if urls is None:
        return None  # waits for the sub-job that makes its start image
    settings = deps.runtime.settings
    slot_pool = f"provider:{sub.provider}"
    if not await deps.broker.acquire_slot(
        slot_pool, str(sub.id), settings.provider_concurrency
    ):  # every slot of this provider is busy: try again shortly
        if _age(sub) > HEARTBEAT_SECONDS:
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


async def poll_sub_job(deps: Deps, sub_id: uuid.UUID, n: int) -> None:
    async with deps.runtime.session_factory() as session:
        sub = await session.get(SubJob, sub_id)
        job = await session.get(Job, sub.job_id) if sub else None
        if sub is None or job is None or sub.status in SUB_FINAL or not sub.prediction_id:
            return
        if job.status not in RUNNABLE:
            return
    try:
        prediction = await deps.provider(sub.provider).get(sub.prediction_id)
    except ProviderError as exc:
        if not exc.retryable:
            await retry_or_fail(deps, sub_id, str(exc))
            return
        await _next_poll(deps.runtime, deps.broker, sub, n + 1, exc.retry_after)
        return
    if prediction.status.terminal:
        await _apply(deps, sub_id, prediction, poll_n=n + 1, store_id=False)
    else:  # `sub` was read before the request: stale only in ways that cause a write
        await record_running(deps.runtime, deps.broker, sub, prediction, poll_n=n + 1)


async def apply_webhook(deps: Deps, sub_id: uuid.UUID, body: dict[str, Any]) -> None:
    """A verified webhook saying a prediction ended: applied like a poll's news, without
    starting a chain. (News of a running prediction is applied where it arrives.)"""
    from services.providers.replicate import prediction_from_json

    try:
        prediction = prediction_from_json(body)
    except ProviderError:
        log.warning("ignoring a webhook body that is not a prediction")
        return
    await _apply(deps, sub_id, prediction, poll_n=None, store_id=False)


def _poll_delay(settings: Settings, sub: SubJob, n: int) -> float:
    initial, ceiling = settings.poll_initial_seconds, settings.poll_max_seconds
    if webhook_urls.enabled(settings, sub.provider):  # webhooks lead; polls are the safety net
        initial, ceiling = max(initial, WEBHOOK_POLL_INITIAL), max(ceiling, WEBHOOK_POLL_MAX)
    return float(min(initial * (1.5 ** min(n, 20)), ceiling))


def _schedule_poll(
    session: AsyncSession, runtime: Runtime, broker: Broker, sub: SubJob, n: int
) -> None:
    enqueue_after_commit(
        session, broker, tasks.POLL_SUB_JOB, str(sub.id), n,
        job_id=tasks.poll_id(sub, n), defer_seconds=_poll_delay(runtime.settings, sub, n),
    )  # fmt: skip


async def _next_poll(
    runtime: Runtime, broker: Broker, sub: SubJob, n: int, delay: float | None = None
) -> None:
    await broker.enqueue(
        tasks.POLL_SUB_JOB, str(sub.id), n,
        job_id=tasks.poll_id(sub, n),
        defer_seconds=delay if delay is not None else _poll_delay(runtime.settings, sub, n),
    )  # fmt: skip


def _nothing_new(sub: SubJob, prediction: Prediction) -> bool:
    """A running prediction with no news worth a write: same state, progress moved
    less than 1% or too soon after the last tick (PROGRESS_THROTTLE), no heartbeat due."""
    if sub.status in SUB_FINAL:
        return True
    if prediction.status is PredictionStatus.PROCESSING and sub.status is SubJobStatus.SUBMITTED:
        return False
    if _age(sub) > HEARTBEAT_SECONDS:
        return False
    progress = prediction.progress
    if progress is None or (sub.progress is not None and progress - sub.progress < 0.01):
        return True
    return not PROGRESS_THROTTLE.due(sub.id)


async def record_running(
    runtime: Runtime, broker: Broker, sub: SubJob, prediction: Prediction, *, poll_n: int | None
) -> None:
    """News of a prediction that is still running (it started, it moved on): written
    only when it says something new. A poll (`poll_n` set) schedules the next one; a
    webhook's news is applied by whoever received it, with no worker round trip."""
    if _nothing_new(sub, prediction):  # read-only: no transaction, no lock, no event
        if poll_n is not None:
            await _next_poll(runtime, broker, sub, poll_n)
        return
    async with runtime.transaction() as session:
        found = await lock_sub_job(session, sub.id)
        if found is None:
            return
        job, sub = found
        if sub.status in SUB_FINAL or job.status not in RUNNABLE:
            return
        if prediction.id != sub.prediction_id:
            return  # news of an earlier attempt's prediction
        await _note_running(session, runtime, broker, job, sub, prediction, poll_n)


async def _note_running(
    session: AsyncSession,
    runtime: Runtime,
    broker: Broker,
    job: Job,
    sub: SubJob,
    prediction: Prediction,
    poll_n: int | None,
) -> None:
    if prediction.status is PredictionStatus.PROCESSING and sub.status is SubJobStatus.SUBMITTED:
        await set_sub_status(session, broker, job, sub, SubJobStatus.PROCESSING)
    changed = await report_progress(session, broker, job, sub, prediction.progress)
    if not changed and _age(sub) > HEARTBEAT_SECONDS:
        sub.updated_at = utcnow()  # heartbeat for the reconciler
    if poll_n is not None:
        _schedule_poll(session, runtime, broker, sub, poll_n)


async def _apply(
    deps: Deps,
    sub_id: uuid.UUID,
    prediction: Prediction,
    *,
    poll_n: int | None,
    store_id: bool,
    attempt: int | None = None,
) -> None:
    """Record what the provider says when a prediction was just created (`store_id`, by
    `attempt`) or has ended; download at once when it has succeeded. `poll_n` None (a
    webhook) applies the news without scheduling a poll."""
    status = prediction.status
    async with deps.transaction() as session:
        found = await lock_sub_job(session, sub_id)
        if found is None:
            return
        job, sub = found
        if store_id and prediction.id != sub.prediction_id and _given_up(sub, attempt):
            # This worker was taken for dead and the sub-job moved on without it.
            if not status.terminal:
                cancel_after_commit(session, deps.broker, job, sub.provider, prediction.id)
            return
        if store_id:
            sub.prediction_id = prediction.id
        elif prediction.id != sub.prediction_id:
            return  # late news of an earlier attempt's prediction
        if sub.status in SUB_FINAL or job.status not in RUNNABLE:
            if store_id and not status.terminal:
                cancel_after_commit(session, deps.broker, job, sub.provider, prediction.id)
            return
        if status is PredictionStatus.SUCCEEDED:
            if sub.status is SubJobStatus.DOWNLOADING and _age(sub) < 60:
                return  # a webhook and a poll both said so: one download is under way
            await set_sub_status(
                session, deps.broker, job, sub, SubJobStatus.DOWNLOADING,
                message="copying the output into storage",
            )  # fmt: skip
        elif not status.terminal:
            await _note_running(session, deps.runtime, deps.broker, job, sub, prediction, poll_n)
            return
    if status is PredictionStatus.SUCCEEDED:
        await _download(deps, sub_id, prediction)
    else:
        reason = prediction.error or f"the prediction was {status.value}"
        await retry_or_fail(deps, sub_id, reason)


def _given_up(sub: SubJob, attempt: int | None) -> bool:
    """Whether the attempt that made a prediction is no longer the sub-job's own."""
    if attempt is None:
        return False
    return sub.attempts != attempt or sub.status is SubJobStatus.QUEUED


def cancel_after_commit(
    session: AsyncSession, broker: Broker, job: Job, provider: str, prediction_id: str
) -> None:
    """Have a worker cancel a prediction nobody wants, once this transaction (which may
    remember it) has committed: a failing cancel must not undo that write."""
    enqueue_after_commit(
        session, broker, tasks.CANCEL_PREDICTIONS, str(job.id), [[provider, prediction_id]],
        job_id=f"cancel:{prediction_id}",
    )  # fmt: skip


async def _download(deps: Deps, sub_id: uuid.UUID, prediction: Prediction) -> None:
    storage = deps.runtime.storage
    work = storage.tmp / f"sub-{sub_id}-{uuid.uuid4().hex[:8]}"
    try:
        if not prediction.output:
            raise ProviderError("the provider returned no output")
        async with deps.runtime.session_factory() as session:
            sub = await session.get(SubJob, sub_id)
            assert sub is not None
            provider = deps.provider(sub.provider)
        path = await provider.download(prediction.output[0], work / "output")
        staged = await storage.stage_file(path)
    except (ProviderError, OSError) as exc:  # OSError: a full disk, say
        exc = exc if isinstance(exc, ProviderError) else ProviderError(repr(exc))
        shutil.rmtree(work, ignore_errors=True)
        await retry_or_fail(deps, sub_id, f"download failed: {exc}", retry_after=exc.retry_after)
        return
    try:
        try:  # probe before taking the job's lock: other sub-jobs keep moving meanwhile
            inspected: assets.Inspected | None = await assets.inspect(
                storage, staged, max_pixels=deps.runtime.settings.max_image_pixels
            )
            bad_output = None
        except ServiceError as exc:
            inspected, bad_output = None, exc.message
        async with deps.transaction() as session:
            found = await _locked(session, sub_id)
            if found is None or found[1].status is not SubJobStatus.DOWNLOADING:
                if inspected is not None:
                    storage.discard(inspected.staged)
                return
            job, sub = found
            if inspected is None:
                await _fail_now(
                    session, deps, job, sub,
                    f"the provider returned an unusable file: {bad_output}", "BAD_OUTPUT",
                )  # fmt: skip
                return
            asset = await _store_output(session, deps, job, sub, inspected)
            spec = catalog.MODELS[sub.model]
            seconds = asset.duration_seconds or sub.input.get("duration")
            price = spec.price.cost(seconds=seconds, variant=catalog.variant(sub.input))
            sub.cost_usd = (sub.cost_usd or 0) + price  # a regenerated clip was paid for twice
            sub.output_asset_id = asset.id
            await set_sub_status(session, deps.broker, job, sub, SubJobStatus.SUCCEEDED)
            await after_sub_job(session, deps, job)
    finally:
        shutil.rmtree(work, ignore_errors=True)


async def _store_output(
    session: AsyncSession, deps: Deps, job: Job, sub: SubJob, inspected: assets.Inspected
) -> Asset:
    campaign = await campaign_of(session, job)
    return await assets.store(
        session,
        deps.runtime.storage,
        inspected,
        client_id=campaign.client_id,
        campaign_id=campaign.id,
        filename=f"{job.kind.value}-{str(job.id)[:8]}-{sub.index + 1}",
        origin=AssetOrigin.GENERATED,
        job_id=job.id,
        sub_job_id=sub.id,
    )


async def retry_or_fail(
    deps: Deps,
    sub_id: uuid.UUID,
    reason: str,
    *,
    retry_after: float | None = None,
    count_attempt: bool = True,
) -> None:
    """Queue the sub-job for another attempt after a backoff, or fail it once it has
    had `max_attempts`. `count_attempt=False`: the provider refused before starting
    anything (a 429), so the try is given back."""
    settings = deps.runtime.settings
    async with deps.transaction() as session:
        found = await _locked(session, sub_id)
        if found is None:
            return
        job, sub = found
        if sub.status in SUB_FINAL or job.status not in RUNNABLE:
            return
        if not count_attempt:
            sub.attempts = max(0, sub.attempts - 1)
        if sub.attempts < settings.max_attempts:
            delay = retry_after or settings.retry_backoff_seconds * 2 ** max(0, sub.attempts - 1)
            sub.prediction_id = None
            what = "refused" if not count_attempt else f"attempt {sub.attempts} failed"
            await set_sub_status(
                session, deps.broker, job, sub, SubJobStatus.QUEUED,
                message=f"{what}: {reason}; retrying in {delay:g}s",
            )  # fmt: skip
            # A given-back try's id may be this very task's: queue it under a new one.
            job_id = tasks.run_id(sub) if count_attempt else tasks.wait_id(sub)
            enqueue_after_commit(
                session, deps.broker, tasks.RUN_SUB_JOB, str(sub.id),
                job_id=job_id, defer_seconds=delay,
            )  # fmt: skip
            return
        await _fail_now(session, deps, job, sub, reason, "PROVIDER_ERROR")


async def _fail_now(
    session: AsyncSession, deps: Deps, job: Job, sub: SubJob, reason: str, code: str
) -> None:
    await set_sub_status(
        session, deps.broker, job, sub, SubJobStatus.FAILED, error=reason, error_code=code
    )
    await after_sub_job(session, deps, job)


async def after_sub_job(session: AsyncSession, deps: Deps, job: Job) -> None:
    """A sub-job ended: start what waited on it, and end the job when all have ended."""
    subs = await sub_jobs_of(session, job.id)
    job.cost_actual_usd = total_cost(subs)
    for sub in subs:
        source_index = sub.input.get("image_from_sub_job")
        if sub.status is not SubJobStatus.QUEUED or source_index is None:
            continue
        source = subs[int(source_index)]
        if source.status is SubJobStatus.SUCCEEDED:
            enqueue_after_commit(
                session, deps.broker, tasks.RUN_SUB_JOB, str(sub.id), job_id=tasks.run_id(sub)
            )
        elif source.status in SUB_FINAL:
            await set_sub_status(
                session, deps.broker, job, sub, SubJobStatus.CANCELED,
                message="its start image could not be made",
            )  # fmt: skip
    if any(s.status not in SUB_FINAL for s in subs):
        return
    failed = [s for s in subs if s.status is not SubJobStatus.SUCCEEDED]
    if job.kind is JobKind.PAIR_VIDEO:
        if not failed:
            await set_job_status(
                session, deps.broker, job, JobStatus.COMBINING, message="combining the clips"
            )
            enqueue_after_commit(
                session, deps.broker, tasks.COMBINE_JOB, str(job.id), job_id=f"combine:{job.id}"
            )
            return
        first = failed[0]
        await set_job_status(
            session, deps.broker, job, JobStatus.FAILED, error_code="SUBJOBS_FAILED",
            error=f"{len(failed)} of {len(subs)} clips failed (#{first.index + 1}: {first.error}); "
            "retry them to finish the video",
        )  # fmt: skip
        return
    last = subs[-1]
    if last.status is SubJobStatus.SUCCEEDED:
        job.output_asset_id = last.output_asset_id
        await set_job_status(session, deps.broker, job, JobStatus.SUCCEEDED, message="done")
    else:
        await set_job_status(
            session, deps.broker, job, JobStatus.FAILED,
            error=failed[0].error or "the generation failed", error_code="SUBJOBS_FAILED",
        )  # fmt: skip
