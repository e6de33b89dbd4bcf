"""A prediction succeeded: copy its output into storage at once (providers delete
outputs, Replicate after an hour), check it is the media it claims to be, and store it
as the sub-job's asset, priced."""

from __future__ import annotations

import shutil
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Asset, AssetOrigin, Job, SubJob, SubJobStatus
from services import assets, catalog
from services.errors import ServiceError
from services.generation.completion import after_sub_job, fail_now, retry_or_fail
from services.generation.deps import Deps
from services.generation.error_codes import JobErrorCode
from services.generation.state import campaign_of, lock_sub_job_and_job, set_sub_status
from services.providers.base import Prediction, ProviderError


async def download(deps: Deps, sub_id: uuid.UUID, prediction: Prediction) -> None:
    """Called with the sub-job `downloading`."""
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
                storage, staged, max_pixels=deps.settings.max_image_pixels, thumbnail=False
            )
            bad_output = None
        except ServiceError as exc:
            inspected, bad_output = None, exc.message
        async with deps.transaction() as session:
            found = await lock_sub_job_and_job(session, sub_id)
            if found is None or found[1].status is not SubJobStatus.DOWNLOADING:
                if inspected is not None:
                    assets.discard(storage, inspected)
                return
            job, sub = found
            if inspected is None:
                await fail_now(
                    session, deps, job, sub,
                    f"the provider returned an unusable file: {bad_output}",
                    JobErrorCode.BAD_OUTPUT,
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
    # after the success and its clean-up, off the render's critical path
    await assets.add_thumbnail(deps.runtime, asset)


def output_filename(job: Job, sub: SubJob, extension: str) -> str:
    """`image-1a2b3c4d-1.png`: the job's kind and id, the sub-job's number, its type."""
    return f"{job.kind.value}-{str(job.id)[:8]}-{sub.index + 1}.{extension.lstrip('.')}"


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
        filename=output_filename(job, sub, inspected.extension),
        origin=AssetOrigin.GENERATED,
        job_id=job.id,
        sub_job_id=sub.id,
    )
