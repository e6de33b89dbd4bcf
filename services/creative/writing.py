"""The storyboard job's one step: the writer proposes scenes, they are fitted and
stored as the storyboard's first version, and the job succeeds naming it."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable

from db.models import Brief, Job, JobStatus
from services.creative.parts import BriefParts, SceneDraft
from services.creative.property_tour import tour_from_json, write_tour
from services.creative.rendering import start_render
from services.creative.storyboards import store_storyboard, story_context, tour_images
from services.errors import BudgetExceeded, InvalidInput
from services.generation import tasks
from services.generation.deps import Deps
from services.generation.error_codes import JobErrorCode
from services.generation.faults import job_task
from services.generation.model_steps import ModelStep, model_failed
from services.generation.state import lock_job, set_job_status
from services.llm import LlmError

WRITING = ModelStep(
    "writing the storyboard", tasks.WRITE_STORYBOARD, tasks.writing_id, JobErrorCode.WRITING_FAILED
)


@job_task(JobStatus.QUEUED, "storyboard writing", tasks.WRITE_STORYBOARD, tasks.writing_id)
async def write_storyboard(deps: Deps, job_id: uuid.UUID, attempt: int = 1) -> None:
    async with deps.runtime.session_factory() as session:
        job = await session.get(Job, job_id)
        if job is None or job.status is not JobStatus.QUEUED:
            return
        brief = await session.get(Brief, uuid.UUID(job.params["briefId"]))
        if brief is None:
            error = LlmError("the brief was deleted before its storyboard was written")
            await model_failed(deps, WRITING, job_id, error, attempt)
            return
        parts = BriefParts.from_json(brief.parts)
        writer = deps.runtime.writer
        write: Callable[[], Awaitable[list[SceneDraft]]]
        if "tour" in job.params:  # a template's own facts and photos, not the campaign's
            tour = tour_from_json(job.params["tour"])
            images = await tour_images(session, tour, deps.runtime.storage)
            write = functools.partial(write_tour, writer, tour, parts, images)
        else:
            context = await story_context(session, brief, parts)
            write = functools.partial(writer.write_storyboard, parts, context)
    try:
        drafts = await write()
    except LlmError as exc:
        await model_failed(deps, WRITING, job_id, exc, attempt)
        return
    except (InvalidInput, KeyError) as exc:  # the photos lack a room, or one was deleted
        reason = exc.message if isinstance(exc, InvalidInput) else "a photo was deleted"
        await model_failed(deps, WRITING, job_id, LlmError(reason), attempt)
        return
    await _store(deps, job_id, drafts, writer.name)


async def _store(deps: Deps, job_id: uuid.UUID, drafts: list[SceneDraft], writer: str) -> None:
    async with deps.transaction() as session:
        job = await lock_job(session, job_id)
        if job is None or job.status is not JobStatus.QUEUED:
            return
        brief = await session.get(Brief, uuid.UUID(job.params["briefId"]))
        if brief is None:
            await set_job_status(
                session, deps.broker, job, JobStatus.FAILED,
                error="the brief was deleted while its storyboard was being written",
                error_code=JobErrorCode.WRITING_FAILED,
            )  # fmt: skip
            return
        parts = BriefParts.from_json(brief.parts)
        board = await store_storyboard(session, job, brief, parts, drafts, writer)
        if brief.auto_approve:
            provider = deps.runtime.settings.generation_provider
            try:  # refused before it writes anything: the storyboard stays a draft
                await start_render(session, deps.broker, board, board.version, provider)
            except BudgetExceeded as exc:
                board.notes = [*board.notes, f"Not rendered: {exc.message}."]
        job.params = {**job.params, "storyboardId": str(board.id)}
        data = {
            "briefId": str(brief.id),
            "storyboardId": str(board.id),
            "costEstimateUsd": str(board.cost_estimate_usd),
            "notes": board.notes,
        }
        await set_job_status(
            session, deps.broker, job, JobStatus.SUCCEEDED,
            message=f"storyboard written: {board.total_seconds} s, "
            f"estimated render ${board.cost_estimate_usd}", data=data,
        )  # fmt: skip
