"""Job and sub-job statuses move only along the lifecycle (DESIGN.md, Lifecycles): every
pair of statuses is tried on a real row, through `services.generation.state`, the one
place that writes them. Allowed moves write the row and its event; any other raises and
writes nothing. The lifecycle is spelled out here again, so the table cannot drift
from it unnoticed."""

from __future__ import annotations

import itertools
import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.applications import Starlette

from db.models import Job, JobKind, JobStatus, SubJob, SubJobStatus
from gql.ids import encode
from services.generation import state
from services.generation.state import IllegalTransition
from services.runtime import Runtime
from tests.client import GraphQLClient, decode_gid
from tests.jobs import CANCEL, GENERATE_IMAGE, RETRY, launch, wait_for_job

JOB_LIFECYCLE = """
queued -> running | awaiting_approval | succeeded | failed | canceled
awaiting_approval -> running | canceled
running -> running | combining | succeeded | failed | canceled
combining -> succeeded | failed | canceled
succeeded -> running
failed -> running
"""
SUB_LIFECYCLE = """
queued -> submitted | failed | canceled
submitted -> submitted | processing | downloading | queued | failed | canceled
processing -> submitted | downloading | queued | failed | canceled
downloading -> downloading | succeeded | queued | failed | canceled
succeeded -> queued
failed -> queued
canceled -> queued
"""


def _moves(spec: str) -> set[tuple[str, str]]:
    moves = set()
    for line in spec.strip().splitlines():
        source, _, targets = line.partition(" -> ")
        moves |= {(source, target.strip()) for target in targets.split("|")}
    return moves


@pytest.fixture
async def campaign_id(tenant: GraphQLClient) -> uuid.UUID:
    assert tenant.client_id
    return decode_gid(await tenant.create_campaign(tenant.client_id, "Transitions"))


async def _job(session: AsyncSession, campaign_id: uuid.UUID, status: JobStatus) -> Job:
    job = Job(campaign_id=campaign_id, kind=JobKind.IMAGE, status=status, last_seq=0)
    session.add(job)
    await session.flush()
    return job


async def test_job_statuses_move_only_along_the_lifecycle(
    app: Starlette, runtime: Runtime, campaign_id: uuid.UUID
) -> None:
    allowed = _moves(JOB_LIFECYCLE)
    for source, target in itertools.product(JobStatus, JobStatus):
        async with runtime.session_factory() as session:  # rolled back at the end
            job = await _job(session, campaign_id, source)
            move = state.set_job_status(session, app.state.broker, job, target)
            if (source.value, target.value) in allowed:
                await move
                assert (job.status, job.last_seq) == (target, 1), (source, target)
            else:
                with pytest.raises(IllegalTransition):
                    await move
                assert (job.status, job.last_seq) == (source, 0), "nothing written"
            assert state.job_may(source, target) == ((source.value, target.value) in allowed)


async def test_sub_job_statuses_move_only_along_the_lifecycle(
    app: Starlette, runtime: Runtime, campaign_id: uuid.UUID
) -> None:
    allowed = _moves(SUB_LIFECYCLE)
    for source, target in itertools.product(SubJobStatus, SubJobStatus):
        async with runtime.session_factory() as session:  # rolled back at the end
            job = await _job(session, campaign_id, JobStatus.RUNNING)
            sub = SubJob(
                job_id=job.id, index=0, model="google/nano-banana", provider="local", input={},
                status=source,
            )  # fmt: skip
            session.add(sub)
            await session.flush()
            move = state.set_sub_status(session, app.state.broker, job, sub, target)
            if (source.value, target.value) in allowed:
                await move
                assert (sub.status, job.last_seq) == (target, 1), (source, target)
            else:
                with pytest.raises(IllegalTransition):
                    await move
                assert (sub.status, job.last_seq) == (source, 0), "nothing written"


async def test_only_a_new_job_is_logged_as_created(
    app: Starlette, runtime: Runtime, campaign_id: uuid.UUID
) -> None:
    async with runtime.session_factory() as session:
        job = await _job(session, campaign_id, JobStatus.QUEUED)
        await state.job_created(session, app.state.broker, job, message="queued")
        assert job.last_seq == 1
        with pytest.raises(IllegalTransition):  # a second creation
            await state.job_created(session, app.state.broker, job, message="queued")
        running = await _job(session, campaign_id, JobStatus.RUNNING)
        with pytest.raises(IllegalTransition):
            await state.job_created(session, app.state.broker, running, message="queued")


async def test_refused_moves_say_why_through_the_api(
    tenant: GraphQLClient, app: Starlette, campaign_id: uuid.UUID
) -> None:
    queued = await launch(
        tenant, GENERATE_IMAGE, campaignId=encode("Campaign", campaign_id), prompt="a cup"
    )
    canceled = await tenant.mutate(CANCEL, {"input": {"jobId": queued["id"]}})
    assert canceled["job"]["status"] == "CANCELED", canceled
    done = await wait_for_job(tenant, app, queued["id"])
    again = await tenant.mutate(CANCEL, {"input": {"jobId": queued["id"]}})
    assert (again["code"], again["message"]) == (
        "CONFLICT",
        "the job has already ended (canceled)",
    )
    sub_id = done["subJobs"][0]["id"]
    retried = await tenant.mutate(RETRY, {"input": {"subJobId": sub_id}})
    assert (retried["code"], retried["message"]) == ("CONFLICT", "the job is canceled")
