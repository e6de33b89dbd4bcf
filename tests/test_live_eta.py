"""Progress honesty: ETAs from a model's past run times, and progress ticks coalesced
per sub-job without ever holding back a status change."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from starlette.applications import Starlette

from db.base import utcnow
from db.models import Job, JobEvent, SubJob, SubJobStatus
from gql.ids import encode
from services import eta
from services.generation import state
from services.runtime import Runtime
from services.uow import unit_of_work
from tests.client import GraphQLClient
from tests.scripted import scripted_job


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def add_sub_job(
    runtime: Runtime,
    job_id: uuid.UUID,
    index: int,
    model: str,
    status: SubJobStatus,
    ran: float | None = None,
    started_ago: float | None = None,
) -> uuid.UUID:
    now = utcnow()
    async with unit_of_work(runtime.session_factory) as session:
        sub = SubJob(
            job_id=job_id, index=index, model=model, provider="local", input={}, status=status,
            started_at=now - timedelta(seconds=ran or started_ago or 0)
            if ran is not None or started_ago is not None else None,
            finished_at=now if ran is not None else None,
        )  # fmt: skip
        session.add(sub)
        await session.flush()
        return sub.id


@pytest.fixture
async def job_id(runtime: Runtime, tenant: GraphQLClient) -> uuid.UUID:
    assert tenant.client_id
    return await scripted_job(runtime, await tenant.create_campaign(tenant.client_id, "ETA"))


async def test_expected_is_the_median_of_past_runs_and_is_cached(
    runtime: Runtime, job_id: uuid.UUID
) -> None:
    model = f"test/eta-{uuid.uuid4().hex[:6]}"
    clock = Clock()
    estimator = eta.EtaEstimator(runtime.session_factory, sample=3, ttl=60, clock=clock)
    assert await estimator.expected(model) is None  # no history: no guess
    for index, seconds in enumerate([2.0, 4.0, 9.0]):
        await add_sub_job(runtime, job_id, index, model, SubJobStatus.SUCCEEDED, ran=seconds)
    await add_sub_job(runtime, job_id, 3, model, SubJobStatus.FAILED, ran=100.0)  # not counted
    assert await estimator.expected(model) == pytest.approx(4.0, abs=0.01)  # 2, 4, 9
    await add_sub_job(runtime, job_id, 4, model, SubJobStatus.SUCCEEDED, ran=100.0)
    # the latest three runs now: 4, 9 and 100 (ordered by finish time) -> 9
    clock.now += 59
    assert await estimator.expected(model) == pytest.approx(4.0, abs=0.01)  # cached
    clock.now += 2
    assert await estimator.expected(model) == pytest.approx(9.0, abs=0.01)  # expired
    # what is left of a running sub-job: tests/test_eta.py


async def test_a_short_history_is_read_again_sooner(runtime: Runtime, job_id: uuid.UUID) -> None:
    """One run of a sample of 50 is cached for a second, not the full minute: the
    model's next runs are what its figures most need."""
    model = f"test/eta-{uuid.uuid4().hex[:6]}"
    clock = Clock()
    estimator = eta.EtaEstimator(runtime.session_factory, sample=50, ttl=60, clock=clock)
    await add_sub_job(runtime, job_id, 0, model, SubJobStatus.SUCCEEDED, ran=2.0)
    assert await estimator.expected(model) == pytest.approx(2.0, abs=0.01)
    await add_sub_job(runtime, job_id, 1, model, SubJobStatus.SUCCEEDED, ran=8.0)
    await add_sub_job(runtime, job_id, 2, model, SubJobStatus.SUCCEEDED, ran=9.0)
    clock.now += 0.5
    assert await estimator.expected(model) == pytest.approx(2.0, abs=0.01)  # cached
    clock.now += 1.0
    assert await estimator.expected(model) == pytest.approx(8.0, abs=0.01)  # 2, 8, 9


async def test_sub_jobs_carry_expected_and_remaining_seconds(
    admin: GraphQLClient, runtime: Runtime, job_id: uuid.UUID
) -> None:
    model = f"test/eta-{uuid.uuid4().hex[:6]}"
    for index in range(3):
        await add_sub_job(runtime, job_id, index, model, SubJobStatus.SUCCEEDED, ran=6.0)
    before = utcnow()  # the running one started 2 s before this, or later
    await add_sub_job(runtime, job_id, 3, model, SubJobStatus.PROCESSING, started_ago=2.0)
    await add_sub_job(runtime, job_id, 4, model, SubJobStatus.QUEUED)
    data = await admin.execute(
        "query($id: ID!) { node(id: $id) { ... on Job { subJobs {"
        " index status expectedSeconds etaSeconds } } } }",
        {"id": encode("Job", job_id)},
    )
    elapsed = (utcnow() - before).total_seconds()  # at most this long has it run beyond 2 s
    subs = {s["index"]: s for s in data["node"]["subJobs"]}
    assert subs[3]["expectedSeconds"] == pytest.approx(6.0, abs=0.01)
    # 6 s expected, 2 s (and up to `elapsed` more) run; figures are rounded to 1 ms
    assert max(4.0 - elapsed, 0.0) - 0.001 <= subs[3]["etaSeconds"] <= 4.0
    assert subs[4]["expectedSeconds"] == pytest.approx(6.0, abs=0.01)
    assert subs[4]["etaSeconds"] is None  # not running: no countdown
    assert subs[0]["etaSeconds"] is None


async def test_progress_ticks_are_coalesced_status_changes_never(
    app: Starlette, runtime: Runtime, job_id: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    monkeypatch.setattr(state, "PROGRESS_THROTTLE", state.ProgressThrottle(0.25, clock=clock))
    sub_id = await add_sub_job(runtime, job_id, 0, "google/nano-banana", SubJobStatus.PROCESSING)
    broker = app.state.broker

    async def tick(progress: float | None) -> bool:
        async with unit_of_work(runtime.session_factory) as session:
            job, sub = await session.get(Job, job_id), await session.get(SubJob, sub_id)
            assert job is not None and sub is not None
            return await state.report_progress(session, broker, job, sub, progress)

    assert await tick(None) is False  # the provider says nothing: no event, progress stays null
    assert await tick(0.10) is True
    clock.now += 0.1
    assert await tick(0.20) is False  # 100 ms later: coalesced
    async with unit_of_work(runtime.session_factory) as session:  # a status change goes through
        job, sub = await session.get(Job, job_id), await session.get(SubJob, sub_id)
        assert job is not None and sub is not None
        await state.set_sub_status(session, broker, job, sub, SubJobStatus.DOWNLOADING)
    clock.now += 0.2
    assert await tick(0.30) is True
    assert await tick(0.305) is False  # under 1 %: nothing new anyway
    async with runtime.session_factory() as session:
        from sqlalchemy import select

        events = list(
            await session.scalars(
                select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.seq)
            )
        )
    assert [(e.type, e.progress) for e in events] == [
        ("subjob.progress", 0.10),
        ("subjob.status", 0.10),
        ("subjob.progress", 0.30),
    ]
