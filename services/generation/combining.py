"""The last step of a pair or storyboard job: join the clips (and the audio track or
music bed) into the final video."""

from __future__ import annotations

import asyncio
import shutil
import uuid

from db.models import Asset, AssetOrigin, Job, JobKind, JobStatus, SubJobStatus
from services import assets
from services.creative.rendering import mark_rendered
from services.errors import ServiceError
from services.generation import tasks
from services.generation.deps import Deps
from services.generation.error_codes import JobErrorCode
from services.generation.faults import job_task
from services.generation.state import (
    campaign_of,
    lock_job,
    report_job_progress,
    set_job_status,
    sub_jobs_of,
)
from services.media.combine import combine_clips
from services.media.ffmpeg_run import MediaError

TRANSITION_SECONDS = 0.5


@job_task(JobStatus.COMBINING, "combining", tasks.COMBINE_JOB, tasks.combine_id)
async def combine_job(deps: Deps, job_id: uuid.UUID, attempt: int = 1) -> None:
    storage = deps.runtime.storage
    async with deps.runtime.session_factory() as session:
        job = await session.get(Job, job_id)
        if job is None or job.status is not JobStatus.COMBINING:
            return
        outputs: dict[str, list[Asset]] = {"clip": [], "music": []}
        for sub in await sub_jobs_of(session, job.id):
            asset = await session.get(Asset, sub.output_asset_id) if sub.output_asset_id else None
            if sub.status is not SubJobStatus.SUCCEEDED or asset is None:
                return
            role = str(sub.input.get("role", "clip"))  # a pair job's are all clips
            if role in outputs:  # a scene's start image went into its clip
                outputs[role].append(asset)
        clips = [storage.path(a.storage_key) for a in outputs["clip"]]
        audio_id = job.params.get("audioAssetId")
        audio = await session.get(Asset, uuid.UUID(audio_id)) if audio_id else None
        audio = outputs["music"][0] if outputs["music"] else audio
        transitions = job.params.get("transitions") or str(job.params.get("transition") or "none")
        fps = int(job.params.get("fps") or 24)
    work = storage.tmp / f"combine-{job_id}-{uuid.uuid4().hex[:8]}"
    work.mkdir(parents=True)

    async def progress(fraction: float) -> None:
        async with deps.transaction() as s:
            locked = await lock_job(s, job_id)
            if locked is not None and locked.status is JobStatus.COMBINING:
                await report_job_progress(s, deps.broker, locked, fraction, "combining")

    limit = deps.runtime.settings.combine_timeout_seconds
    try:
        try:
            try:
                async with asyncio.timeout(limit):  # ends ffmpeg: it never outlives its task
                    result = await combine_clips(
                        work / "final.mp4",
                        clips,
                        transition=transitions,
                        transition_duration=TRANSITION_SECONDS,
                        fps=fps,
                        audio=storage.path(audio.storage_key) if audio else None,
                        loop_audio=bool(outputs["music"]),  # a bed lasts the whole video
                        on_progress=progress,
                    )
            except TimeoutError:
                # Fail rather than have the reconciler start the same long join again.
                await _fail(deps, job_id, f"combining took longer than {limit:g} s")
                return
            staged = await storage.stage_file(work / "final.mp4")
            inspected = await assets.inspect(
                storage, staged, max_pixels=deps.runtime.settings.max_image_pixels,
                thumbnail=False,
            )  # fmt: skip
        except (MediaError, ValueError, ServiceError) as exc:
            await _fail(deps, job_id, f"combining failed: {exc}")
            return
        video = await _store(deps, job_id, inspected, result.method)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if video is not None:  # after the job's success and its clean-up: nothing waits for it
        await assets.add_thumbnail(deps.runtime, video)


async def _store(
    deps: Deps, job_id: uuid.UUID, inspected: assets.Inspected, method: str
) -> Asset | None:
    async with deps.transaction() as session:
        job = await lock_job(session, job_id)
        if job is None or job.status is not JobStatus.COMBINING:
            assets.discard(deps.runtime.storage, inspected)
            return None
        campaign = await campaign_of(session, job)
        asset = await assets.store(
            session,
            deps.runtime.storage,
            inspected,
            client_id=campaign.client_id,
            campaign_id=campaign.id,
            filename=f"video-{str(job.id)[:8]}.mp4",
            origin=AssetOrigin.GENERATED,
            job_id=job.id,
        )
        job.output_asset_id = asset.id
        if job.kind is JobKind.STORYBOARD:
            await mark_rendered(session, job)
        await set_job_status(
            session, deps.broker, job, JobStatus.SUCCEEDED,
            message=f"video ready ({method.replace('_', ' ')})", data={"combine": method},
        )  # fmt: skip
    return asset


async def _fail(deps: Deps, job_id: uuid.UUID, reason: str) -> None:
    async with deps.transaction() as session:
        job = await lock_job(session, job_id)
        if job is not None and job.status is JobStatus.COMBINING:
            await set_job_status(
                session, deps.broker, job, JobStatus.FAILED, error=reason,
                error_code=JobErrorCode.COMBINE_FAILED,
            )  # fmt: skip
