"""Writers of one job take their row locks in one order (the job's sub-jobs, then the
job), so a worker writing a sub-job's progress and a person cancelling the job queue up
instead of deadlocking. Row locks are PostgreSQL's; SQLite has a single writer."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from db.models import JobEvent, SubJob, SubJobStatus
from gql.ids import encode
from services.generation import state
from services.runtime import Runtime
from services.uow import unit_of_work
from tests.client import GraphQLClient
from tests.jobs import CANCEL
from tests.scripted import scripted_job


async def _waiting_on_a_lock(dsn: str, within: float = 15.0) -> None:
    """Until some backend of this database waits for a row lock (a real condition)."""
    conn = await asyncpg.connect(dsn)
    try:
        async with asyncio.timeout(within):
            # Another backend's lock wait raises no event here: PostgreSQL is asked.
            while not await conn.fetchval(  # noqa: ASYNC110
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ):
                await asyncio.sleep(0.01)
    finally:
        await conn.close()


async def test_cancel_queues_behind_a_sub_job_writer_instead_of_deadlocking(
    app: Starlette, runtime: Runtime, tenant: GraphQLClient, database_url: str | None
) -> None:
    if database_url is None:
        pytest.skip("row locks and deadlocks are PostgreSQL's; SQLite has one writer")
    assert tenant.client_id
    job_id = await scripted_job(runtime, await tenant.create_campaign(tenant.client_id, "Locks"))
    async with unit_of_work(runtime.session_factory) as session:
        sub = SubJob(
            job_id=job_id, index=0, model="google/nano-banana", provider="local", input={},
            status=SubJobStatus.PROCESSING,
        )  # fmt: skip
        session.add(sub)
        await session.flush()
        sub_id: uuid.UUID = sub.id

    # A worker's progress write holds the sub-job's lock; a cancel arrives meanwhile.
    async with unit_of_work(runtime.session_factory) as session:
        found = await state.lock_sub_job(session, sub_id)
        assert found is not None
        job, locked = found
        cancel = asyncio.create_task(
            tenant.mutate(CANCEL, {"input": {"jobId": encode("Job", job_id)}})
        )
        await _waiting_on_a_lock(database_url)  # the cancel waits for our sub-job's lock
        # Appending the event locks the job row: had the cancel locked the job first and
        # then waited for the sub-job, this would be a deadlock and one side would fail.
        assert await state.report_progress(session, app.state.broker, job, locked, 0.5)

    payload = await cancel
    assert payload["job"]["status"] == "CANCELED", payload
    async with runtime.session_factory() as session:
        sub_row = await session.get(SubJob, sub_id)
        events = list(
            await session.scalars(
                select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.seq)
            )
        )
    assert sub_row is not None
    assert sub_row.status is SubJobStatus.CANCELED
    assert [(e.type, e.status) for e in events] == [
        ("subjob.progress", "processing"),
        ("subjob.status", "canceled"),
        ("job.status", "canceled"),
    ]
