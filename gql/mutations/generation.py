from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from gql import ids
from gql.context import Info
from gql.inputs_generation import (
    ApproveJobInput,
    CreateVideoFromImagePairsInput,
    GenerateAudioInput,
    GenerateImageInput,
    GenerateVideoInput,
    JobInput,
    SubJobInput,
)
from gql.mutations.base import mutate
from gql.types.errors import UserError
from gql.types.jobs import Job
from services import rate_limits
from services.errors import ServiceError
from services.generation import launch
from services.generation.requests import GenerationRequest
from services.viewer import Viewer


@strawberry.type
class JobPayload:
    job: Job


JobResult = Annotated[JobPayload | UserError, strawberry.union("JobResult")]


@strawberry.type
class GenerationMutations:
    @strawberry.mutation(description="Make an image. Returns the queued job at once.")
    async def generate_image(self, info: Info, input: GenerateImageInput) -> JobResult:
        return await mutate_request(info, input.request)

    @strawberry.mutation(description="Make a video clip. Returns the queued job at once.")
    async def generate_video(self, info: Info, input: GenerateVideoInput) -> JobResult:
        return await mutate_request(info, input.request)

    @strawberry.mutation(description="Make a music bed. Returns the queued job at once.")
    async def generate_audio(self, info: Info, input: GenerateAudioInput) -> JobResult:
        return await mutate_request(info, input.request)

    @strawberry.mutation(
        description="Pick the best image pairs of the campaign, render a clip per pair in "
        "parallel, and combine them into one video."
    )
    async def create_video_from_image_pairs(
        self, info: Info, input: CreateVideoFromImagePairsInput
    ) -> JobResult:
        return await mutate_request(info, input.request)

    @strawberry.mutation(description="Stop every unfinished sub-job and end the job canceled.")
    async def cancel_job(self, info: Info, input: JobInput) -> JobResult:
        return await _act(info, input.job_id, "canceled by a person")

    @strawberry.mutation(description="Reject a storyboard: the job ends canceled.")
    async def reject_job(self, info: Info, input: JobInput) -> JobResult:
        return await _act(info, input.job_id, "storyboard rejected")

    @strawberry.mutation(description="Approve a storyboard (optionally with new pairs).")
    async def approve_job(self, info: Info, input: ApproveJobInput) -> JobResult:
        broker = info.context.broker

        async def work(session: AsyncSession, viewer: Viewer) -> JobPayload:
            job_id = ids.decode(input.job_id, "Job", "jobId")
            job = await launch.approve_job(session, broker, viewer, job_id, input.pair_list())
            return JobPayload(job=Job.from_row(job))

        return await mutate(info, work)

    @strawberry.mutation(description="Render a failed sub-job again, then re-combine.")
    async def retry_sub_job(self, info: Info, input: SubJobInput) -> JobResult:
        return await _rerun(info, input, regenerate=False)

    @strawberry.mutation(description="Render one clip again (new prompt optional), re-combine.")
    async def regenerate_sub_job(self, info: Info, input: SubJobInput) -> JobResult:
        return await _rerun(info, input, regenerate=True)


async def mutate_request(
    info: Info, build: Callable[[], GenerationRequest]
) -> JobPayload | UserError:
    info.context.require_viewer()
    try:  # counted before the unit of work: a refused launch opens no transaction
        request = build()
        await info.context.check_rate(rate_limits.launch_limit(request))
    except ServiceError as exc:
        return UserError.of(exc)

    async def work(session: AsyncSession, viewer: Viewer) -> JobPayload:
        job = await launch.launch(
            session,
            info.context.broker,
            viewer,
            request,
            info.context.runtime.settings.generation_provider,
        )
        return JobPayload(job=Job.from_row(job))

    return await mutate(info, work)


async def _act(info: Info, job_gid: strawberry.ID, reason: str) -> JobPayload | UserError:
    async def work(session: AsyncSession, viewer: Viewer) -> JobPayload:
        job_id = ids.decode(job_gid, "Job", "jobId")
        job = await launch.cancel_job(session, info.context.broker, viewer, job_id, reason)
        return JobPayload(job=Job.from_row(job))

    return await mutate(info, work)


async def _rerun(info: Info, input: SubJobInput, *, regenerate: bool) -> JobPayload | UserError:
    async def work(session: AsyncSession, viewer: Viewer) -> JobPayload:
        sub_id = ids.decode(input.sub_job_id, "SubJob", "subJobId")
        # A rerun is a new paid prediction: it counts as a launch of the sub-job's medium,
        # checked after one indexed read and before anything is locked or written.
        limit = await rate_limits.rerun_limit(session, sub_id)
        if limit is not None:
            await info.context.check_rate(limit)
        job = await launch.rerun_sub_job(
            session, info.context.broker, viewer, sub_id, prompt=input.prompt, regenerate=regenerate
        )
        return JobPayload(job=Job.from_row(job))

    return await mutate(info, work)
