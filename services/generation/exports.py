"""Exports: renditions of a video for each channel, made as a job with progress. Each
rendition is an asset of its own, linked to the original (`source_asset_id`); a job
that runs again makes only the renditions it has not stored yet."""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Asset, AssetKind, AssetOrigin, Job, JobKind, JobStatus
from services import assets
from services.assets import get_asset
from services.broker import Broker, enqueue_after_commit
from services.errors import InvalidInput, ServiceError
from services.generation import tasks
from services.generation.deps import Deps
from services.generation.error_codes import JobErrorCode
from services.generation.faults import job_task
from services.generation.state import (
    job_created,
    lock_job,
    report_job_progress,
    set_job_status,
)
from services.media.ffmpeg_run import MediaError
from services.media.renditions import Fit, Rendition, render
from services.viewer import Viewer

MAX_RENDITIONS = 10


@dataclass(frozen=True, slots=True)
class Wanted:
    rendition: Rendition
    fit: Fit = Fit.PAD

    @property
    def label(self) -> str:
        """How the rendition is named: "720p", "9:16 crop", "1:1 pad"."""
        if self.rendition in (Rendition.VERTICAL_9_16, Rendition.SQUARE_1_1):
            return f"{self.rendition.value} {self.fit.value}"
        return self.rendition.value


async def export_video(
    session: AsyncSession, broker: Broker, viewer: Viewer, asset_id: uuid.UUID,
    wanted: list[Wanted],
) -> Job:  # fmt: skip
    if not wanted:
        raise InvalidInput("ask for at least one rendition", field="renditions")
    if len(wanted) > MAX_RENDITIONS:
        raise InvalidInput(f"at most {MAX_RENDITIONS} renditions", field="renditions")
    asset = await get_asset(session, viewer, asset_id, field="assetId")
    if asset.kind is not AssetKind.VIDEO:
        raise InvalidInput("renditions are made of videos", field="assetId")
    if asset.campaign_id is None:
        raise InvalidInput("the video belongs to no campaign", field="assetId")
    labels = list(dict.fromkeys(w.label for w in wanted))  # each once
    job = Job(
        campaign_id=asset.campaign_id,
        kind=JobKind.EXPORT,
        status=JobStatus.QUEUED,
        model=None,
        params={"assetId": str(asset.id), "renditions": labels},
        cost_estimate_usd=Decimal(0),
        cost_actual_usd=Decimal(0),
        last_seq=0,
    )
    session.add(job)
    await session.flush()
    await job_created(
        session, broker, job, message=f"export queued: {', '.join(labels)}",
        data={"assetId": str(asset.id), "renditions": labels},
    )  # fmt: skip
    enqueue_after_commit(
        session, broker, tasks.EXPORT_VIDEO, str(job.id), job_id=tasks.export_id(job.id)
    )
    return job


def parse_label(label: str) -> Wanted:
    name, _, fit = label.partition(" ")
    return Wanted(Rendition(name), Fit(fit) if fit else Fit.PAD)


@job_task(JobStatus.RUNNING, "export", tasks.EXPORT_VIDEO, tasks.export_id)
async def export_renditions(deps: Deps, job_id: uuid.UUID, attempt: int = 1) -> None:
    async with deps.transaction() as session:
        job = await lock_job(session, job_id)
        if job is None or job.status not in (JobStatus.QUEUED, JobStatus.RUNNING):
            return
        if job.status is JobStatus.QUEUED:
            await set_job_status(session, deps.broker, job, JobStatus.RUNNING,
                                 message="making renditions")  # fmt: skip
        source = await session.get(Asset, uuid.UUID(job.params["assetId"]))
        labels: list[str] = list(job.params["renditions"])
        made = set(await session.scalars(select(Asset.rendition).where(Asset.job_id == job.id)))
    if source is None:
        await _fail(deps, job_id, "the video was deleted before its renditions were made")
        return
    storage = deps.runtime.storage
    work = storage.tmp / f"export-{job_id}-{uuid.uuid4().hex[:8]}"
    work.mkdir(parents=True)
    try:
        for n, label in enumerate(labels):
            if label in made:
                continue
            wanted = parse_label(label)

            async def progress(fraction: float, n: int = n, label: str = label) -> None:
                async with deps.transaction() as s:
                    locked = await lock_job(s, job_id)
                    if locked is not None and locked.status is JobStatus.RUNNING:
                        overall = (n + fraction) / len(labels)
                        await report_job_progress(
                            s, deps.broker, locked, overall, f"making {label}"
                        )

            dest = work / f"{n}.mp4"
            try:
                await render(storage.path(source.storage_key), dest, wanted.rendition,
                             wanted.fit, on_progress=progress)  # fmt: skip
                staged = await storage.stage_file(dest)
                inspected = await assets.inspect(
                    storage, staged, max_pixels=deps.runtime.settings.max_image_pixels
                )
            except (MediaError, ValueError, ServiceError) as exc:
                await _fail(deps, job_id, f"making {label} failed: {exc}")
                return
            if not await _store(deps, job_id, source, inspected, label, n, len(labels)):
                return
    finally:
        shutil.rmtree(work, ignore_errors=True)
    async with deps.transaction() as session:
        job = await lock_job(session, job_id)
        if job is None or job.status is not JobStatus.RUNNING:
            return
        stored = list(await session.scalars(select(Asset).where(Asset.job_id == job.id)))
        by_label = {a.rendition: a for a in stored}
        job.output_asset_id = by_label[labels[0]].id
        await set_job_status(
            session, deps.broker, job, JobStatus.SUCCEEDED,
            message=f"{len(labels)} renditions ready",
            data={"renditions": {label: str(by_label[label].id) for label in labels}},
        )  # fmt: skip


async def _store(
    deps: Deps, job_id: uuid.UUID, source: Asset, inspected: assets.Inspected, label: str,
    n: int, count: int,
) -> bool:  # fmt: skip
    async with deps.transaction() as session:
        job = await lock_job(session, job_id)
        if job is None or job.status is not JobStatus.RUNNING:
            assets.discard(deps.runtime.storage, inspected)
            return False
        stem = source.filename.rsplit(".", 1)[0]
        suffix = label.replace(":", "x").replace(" ", "-")  # "9x16-crop"
        asset = await assets.store(
            session, deps.runtime.storage, inspected, client_id=source.client_id,
            campaign_id=source.campaign_id, filename=f"{stem}-{suffix}.mp4",
            origin=AssetOrigin.GENERATED, job_id=job.id,
        )  # fmt: skip
        asset.source_asset_id = source.id
        asset.rendition = label
        await report_job_progress(
            session,
            deps.broker,
            job,
            (n + 1) / count,
            f"{label} ready ({asset.width}x{asset.height})",
        )
    return True


async def _fail(deps: Deps, job_id: uuid.UUID, reason: str) -> None:
    async with deps.transaction() as session:
        job = await lock_job(session, job_id)
        if job is not None and job.status in (JobStatus.QUEUED, JobStatus.RUNNING):
            await set_job_status(
                session, deps.broker, job, JobStatus.FAILED, error=reason,
                error_code=JobErrorCode.EXPORT_FAILED,
            )  # fmt: skip
