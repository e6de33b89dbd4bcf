"""ETA rules through GraphQL, on every path a client reads them from: `SubJob` fields
(as of now), `Job.events` (as of each event) and the `jobProgress` subscription.

Unknown (null) before the model has history. Once it has, within 50 % of the time a
sub-job has left when it behaves like its history, scaled to its size; a render slower
than any before is never "0 s left" at 5 %, and one late without progress is unknown."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from starlette.applications import Starlette

from db.base import utcnow
from db.models import Job, JobStatus, SubJob, SubJobStatus
from gql.ids import encode
from services.broker import Broker
from services.eta import EtaEstimator
from services.events import append_event
from services.runtime import Runtime
from services.uow import unit_of_work
from tests.client import GraphQLClient
from tests.fakes.server import serve_app
from tests.scripted import scripted_job
from tests.wsclient import JOB_PROGRESS, WsClient

SHAPE = {"duration": 4, "resolution": "480p", "aspect_ratio": "16:9"}
QUERY = """query($id: ID!) { node(id: $id) { ... on Job {
  subJobs { id index status progress expectedSeconds etaSeconds }
  events { seq subJobId status progress expectedSeconds etaSeconds } } } }"""
S = SubJobStatus


@pytest.fixture(scope="module")
async def base_url(app: Starlette) -> AsyncIterator[str]:
    async with serve_app(app, ws="websockets-sansio", lifespan="off") as url:
        yield url


@pytest.fixture
async def job_id(runtime: Runtime, tenant: GraphQLClient) -> uuid.UUID:
    assert tenant.client_id
    return await scripted_job(runtime, await tenant.create_campaign(tenant.client_id, "ETA"))


@pytest.fixture
def model() -> str:
    return f"test/eta-{uuid.uuid4().hex[:8]}"  # a model no other test has history for


async def finished_runs(
    runtime: Runtime,
    job_id: uuid.UUID,
    model: str,
    seconds: list[float],
    first_index: int,
    curve: Sequence[tuple[float, float]] = (),
    broker: Broker | None = None,
    storing: float | None = None,
) -> None:
    """Succeeded sub-jobs of `model` that ran `seconds` each, the latest last; each
    reported progress p at share s of its run for every (p, s) of `curve`, and went
    `downloading` `storing` seconds before its end."""
    now = utcnow()
    async with unit_of_work(runtime.session_factory) as session:
        job = await session.get(Job, job_id)
        assert job is not None
        for i, ran in enumerate(seconds):
            finished = now - timedelta(seconds=len(seconds) - i)
            sub = SubJob(
                job_id=job_id, index=first_index + i, model=model, provider="local",
                input=SHAPE, status=S.SUCCEEDED, progress=1.0,
                started_at=finished - timedelta(seconds=ran), finished_at=finished,
            )  # fmt: skip
            session.add(sub)
            await session.flush()
            for progress, share in curve:
                assert broker is not None
                event = await append_event(
                    session, broker, job, sub_job=sub, type="subjob.progress",
                    status="processing", progress=progress,
                )  # fmt: skip
                event.created_at = finished - timedelta(seconds=ran * (1 - share))
            if storing is not None:
                assert broker is not None
                event = await append_event(
                    session, broker, job, sub_job=sub, type="subjob.status",
                    status=S.DOWNLOADING.value, progress=0.9,
                )  # fmt: skip
                event.created_at = finished - timedelta(seconds=storing)


async def running(
    app: Starlette,
    job_id: uuid.UUID,
    index: int,
    model: str,
    *,
    ran: float | None,
    progress: float | None,
    status: SubJobStatus = S.PROCESSING,
    duration: int = 4,
) -> None:
    """A sub-job `ran` seconds into its run (None: not started), at `progress`, and the
    event that says so, written together as the worker writes them."""
    runtime: Runtime = app.state.runtime
    async with unit_of_work(runtime.session_factory) as session:
        job = await session.get(Job, job_id)
        assert job is not None
        sub = SubJob(
            job_id=job_id, index=index, model=model, provider="local",
            input={**SHAPE, "duration": duration}, status=status, progress=progress,
            started_at=None if ran is None else utcnow() - timedelta(seconds=ran),
        )  # fmt: skip
        session.add(sub)
        await session.flush()
        kind = "subjob.progress" if progress is not None else "subjob.status"
        await append_event(
            session, app.state.broker, job, sub_job=sub, type=kind, status=status.value,
            progress=progress, data={"index": index},
        )  # fmt: skip


async def three_ways(
    client: GraphQLClient, base_url: str, job_id: uuid.UUID
) -> dict[int, dict[str, dict[str, Any]]]:
    """Each sub-job's figures by index: its fields now, its (last) event in `events`, and
    that event as the subscription replays it."""
    gid = encode("Job", job_id)
    node = (await client.execute(QUERY, {"id": gid}))["node"]
    async with WsClient.open(base_url, key=client.key) as ws:
        op = await ws.subscribe(JOB_PROGRESS, {"jobId": gid, "afterSeq": 0})
        live = [await ws.event(op) for _ in node["events"]]
    logged = {e["subJobId"]: e for e in node["events"]}  # one event per running sub-job
    replayed = {e["subJobId"]: e for e in live}
    return {
        sub["index"]: {"field": sub, "event": logged[sub["id"]], "live": replayed[sub["id"]]}
        for sub in node["subJobs"]
        if sub["id"] in logged
    }


async def test_unknown_until_the_model_has_history(
    app: Starlette, runtime: Runtime, admin: GraphQLClient, base_url: str, job_id: uuid.UUID,
    model: str,
) -> None:  # fmt: skip
    await running(app, job_id, 0, model, ran=3.0, progress=0.3)
    await running(app, job_id, 1, model, ran=None, progress=None, status=S.QUEUED)
    for by_way in (await three_ways(admin, base_url, job_id)).values():
        for way, seen in by_way.items():
            assert seen["expectedSeconds"] is None and seen["etaSeconds"] is None, (way, seen)

    await finished_runs(runtime, job_id, model, [10.0], first_index=10)  # its first run ends
    await running(app, job_id, 2, model, ran=3.0, progress=0.3)
    figures = await three_ways(admin, base_url, job_id)
    for way in ("field", "event", "live"):
        assert figures[2][way]["expectedSeconds"] == pytest.approx(10.0), way
        assert figures[2][way]["etaSeconds"] == pytest.approx(7.0, rel=0.5), way
        assert figures[1][way]["etaSeconds"] is None  # queued: no countdown
    assert figures[0]["field"]["etaSeconds"] == pytest.approx(7.0, rel=0.5)  # known now


@pytest.mark.parametrize(
    ("ran", "progress", "left"),
    [(0.0, None, 10.0), (2.0, 0.2, 8.0), (5.0, 0.5, 5.0), (8.0, 0.8, 2.0), (6.0, None, 4.0)],
)
async def test_with_history_within_half_of_the_time_left(
    app: Starlette, runtime: Runtime, admin: GraphQLClient, base_url: str, job_id: uuid.UUID,
    model: str, ran: float, progress: float | None, left: float,
) -> None:  # fmt: skip
    """Past runs of this size took 9 to 11 s; this one goes at the same pace."""
    await finished_runs(runtime, job_id, model, [9.0, 10.0, 11.0, 10.0, 9.5], first_index=10)
    await running(app, job_id, 0, model, ran=ran, progress=progress)
    for way, seen in (await three_ways(admin, base_url, job_id))[0].items():
        assert seen["expectedSeconds"] == pytest.approx(10.0), way
        assert seen["etaSeconds"] == pytest.approx(left, rel=0.5), (way, seen)


async def test_scaled_to_the_size_of_the_clip(
    app: Starlette, runtime: Runtime, admin: GraphQLClient, base_url: str, job_id: uuid.UUID,
    model: str,
) -> None:  # fmt: skip
    """4 s clips took 10 s: a 12 s clip of the same resolution is expected to take 30."""
    await finished_runs(runtime, job_id, model, [10.0] * 5, first_index=10)
    await running(app, job_id, 0, model, ran=0.0, progress=None, status=S.SUBMITTED, duration=12)
    for way, seen in (await three_ways(admin, base_url, job_id))[0].items():
        assert seen["expectedSeconds"] == pytest.approx(30.0, rel=0.01), way
        assert seen["etaSeconds"] == pytest.approx(30.0, rel=0.5), way


async def test_a_slow_or_late_render_is_never_zero_seconds_left(
    app: Starlette, runtime: Runtime, admin: GraphQLClient, base_url: str, job_id: uuid.UUID,
    model: str,
) -> None:  # fmt: skip
    await finished_runs(runtime, job_id, model, [10.0] * 5, first_index=10)
    # 12 s in, at 5 %: slower than every run before; its own pace says 228 s to go.
    await running(app, job_id, 0, model, ran=12.0, progress=0.05)
    # 15 s in without any progress: later than every run before, no pace to go by.
    await running(app, job_id, 1, model, ran=15.0, progress=None)
    # Downloading its output: the render is done, little is left.
    await running(app, job_id, 2, model, ran=10.0, progress=1.0, status=S.DOWNLOADING)
    figures = await three_ways(admin, base_url, job_id)
    for way in ("field", "event", "live"):
        assert figures[0][way]["etaSeconds"] == pytest.approx(228.0, rel=0.5), way
        assert figures[1][way]["etaSeconds"] is None, way  # unknown, not 0
        assert 0 < figures[2][way]["etaSeconds"] <= 1.0, way


async def test_a_restarted_sub_job_counts_from_its_new_start(
    runtime: Runtime, job_id: uuid.UUID, model: str
) -> None:
    """The estimator keeps a started sub-job's start; a new run (a retry, a regenerated
    clip: `queued`, then `submitted`) is read again."""
    await finished_runs(runtime, job_id, model, [10.0] * 5, first_index=10)
    estimator = EtaEstimator(runtime.session_factory)
    sub_id = uuid.uuid4()
    async with unit_of_work(runtime.session_factory) as session:
        session.add(
            SubJob(
                id=sub_id, job_id=job_id, index=0, model=model, provider="local", input=SHAPE,
                status=S.PROCESSING, started_at=utcnow() - timedelta(seconds=8),
            )
        )  # fmt: skip
    assert (await estimator.for_event(sub_id, "processing", utcnow(), 0.8))[1] == pytest.approx(
        2.0, rel=0.5
    )
    async with unit_of_work(runtime.session_factory) as session:  # regenerated: a new run
        sub = await session.get(SubJob, sub_id)
        assert sub is not None
        sub.status, sub.started_at = S.SUBMITTED, utcnow()
    assert (await estimator.for_event(sub_id, "queued", utcnow(), None))[1] is None
    assert (await estimator.for_event(sub_id, "submitted", utcnow(), None))[1] == pytest.approx(
        10.0, rel=0.5
    )
    assert (await estimator.for_event(sub_id, "processing", utcnow(), 0.1))[1] == pytest.approx(
        9.0, rel=0.5
    )


async def test_progress_is_calibrated_by_the_models_past_runs(
    app: Starlette, runtime: Runtime, admin: GraphQLClient, base_url: str, job_id: uuid.UUID,
    model: str,
) -> None:  # fmt: skip
    """Past runs of 10 s reported progress late (half done at 80 % of their time, as an
    encoder whose output lags what it has read): at 50 % after 8 s, 2 s are left, not
    the 8 s a straight line through the progress would say."""
    lagging = [(0.1, 0.3), (0.3, 0.55), (0.5, 0.8), (0.7, 0.9), (0.9, 0.97)]
    await finished_runs(
        runtime, job_id, model, [10.0] * 3, first_index=10, curve=lagging,
        broker=app.state.broker,
    )  # fmt: skip
    await running(app, job_id, 0, model, ran=8.0, progress=0.5)
    await running(app, job_id, 1, model, ran=3.0, progress=0.1)  # 7 s left, not 27
    figures = await three_ways(admin, base_url, job_id)
    for way in ("field", "event", "live"):
        assert figures[0][way]["etaSeconds"] == pytest.approx(2.0, rel=0.5), way
        assert figures[1][way]["etaSeconds"] == pytest.approx(7.0, rel=0.5), way


@pytest.mark.parametrize("storing", [0.05, 4.0])
async def test_storing_the_output_takes_what_it_took_past_runs(
    app: Starlette, runtime: Runtime, admin: GraphQLClient, base_url: str, job_id: uuid.UUID,
    model: str, storing: float,
) -> None:  # fmt: skip
    """Once a render is done its output is copied (a download from a provider, a move on
    the local one): as long as the copies of the model's past runs took, whatever the
    length of the render."""
    await finished_runs(
        runtime, job_id, model, [10.0] * 3, first_index=10, broker=app.state.broker,
        storing=storing,
    )  # fmt: skip
    await running(app, job_id, 0, model, ran=9.0, progress=0.9, status=S.DOWNLOADING)
    figures = await three_ways(admin, base_url, job_id)
    for way in ("field", "event", "live"):
        assert figures[0][way]["etaSeconds"] == pytest.approx(storing, rel=0.5), way


async def renders(
    runtime: Runtime,
    job_id: uuid.UUID,
    model: str,
    batches: list[tuple[int, float]],
    first_index: int,
) -> None:
    """Succeeded sub-jobs of `model`, batch after batch: each (n, seconds) is n renders
    that ran side by side for `seconds`; the last batch ended a second ago."""
    end = utcnow() - timedelta(seconds=1)
    async with unit_of_work(runtime.session_factory) as session:
        index = first_index
        for together, seconds in reversed(batches):
            start = end - timedelta(seconds=seconds)
            for _ in range(together):
                session.add(
                    SubJob(
                        job_id=job_id, index=index, model=model, provider="local",
                        input=SHAPE, status=S.SUCCEEDED, progress=1.0,
                        started_at=start, finished_at=end,
                    )
                )  # fmt: skip
                index += 1
            end = start - timedelta(seconds=0.5)


async def test_scaled_to_how_many_renders_share_the_machine(
    app: Starlette, runtime: Runtime, admin: GraphQLClient, job_id: uuid.UUID, model: str
) -> None:
    """A clip rendered alone took 2 s, and 6 s when three rendered at once (the cores
    were shared). Now, with three of the model's clips in flight, each is expected to
    take about 6 s; one alone, of another model with the same history, about 2."""
    alone = f"{model}-alone"
    for first, name in ((100, model), (200, alone)):
        batches = [(1, 2.0), (3, 6.0), (1, 2.1), (3, 5.8), (1, 1.9)]
        await renders(runtime, job_id, name, batches, first_index=first)
    for index in range(2):
        await running(app, job_id, index, model, ran=0.0, progress=None, status=S.SUBMITTED)
    await running(app, job_id, 2, model, ran=None, progress=None, status=S.QUEUED)  # starting
    await running(app, job_id, 3, alone, ran=0.0, progress=None, status=S.SUBMITTED)
    # Sub-jobs queued or running for an hour are stuck: they do not share the cores. They
    # sit under a job that has ended, so that the worker's reconciler never runs them.
    async with unit_of_work(runtime.session_factory) as session:
        job = await session.get(Job, job_id)
        assert job is not None
        ended = Job(campaign_id=job.campaign_id, kind=job.kind, status=JobStatus.FAILED)
        session.add(ended)
    await running(app, ended.id, 4, alone, ran=None, progress=None, status=S.QUEUED)
    await running(app, ended.id, 5, alone, ran=3600.0, progress=None, status=S.PROCESSING)
    async with unit_of_work(runtime.session_factory) as session:
        stuck = update(SubJob).where(SubJob.job_id == ended.id, SubJob.index == 4)
        await session.execute(stuck.values(updated_at=utcnow() - timedelta(hours=1)))
    query = """query($id: ID!) { node(id: $id) { ... on Job {
      subJobs { index model expectedSeconds etaSeconds } } } }"""
    try:
        node = (await admin.execute(query, {"id": encode("Job", job_id)}))["node"]
    finally:  # nor its queued sub-job, once it is a minute old
        async with unit_of_work(runtime.session_factory) as session:
            done = update(Job).where(Job.id == job_id).values(status=JobStatus.FAILED)
            await session.execute(done)
    running_now = {s["index"]: s for s in node["subJobs"] if s["index"] < 4}
    for index in range(3):
        assert running_now[index]["expectedSeconds"] == pytest.approx(6.0, rel=0.25)
    for index in range(2):
        assert running_now[index]["etaSeconds"] == pytest.approx(6.0, rel=0.5)
    assert running_now[3]["expectedSeconds"] == pytest.approx(2.0, rel=0.25)
    assert running_now[3]["etaSeconds"] == pytest.approx(2.0, rel=0.5)


async def test_outrunning_the_load_scaled_runs_is_not_unknown(
    app: Starlette, runtime: Runtime, admin: GraphQLClient, job_id: uuid.UUID, model: str
) -> None:
    """Alone, a clip is expected in about 2 s, scaled down from runs that took 6 s three
    at a time. One that has run 4 s alone has outrun every past run as scaled, not as
    they ran: its estimate comes from those (about 2 s left), it does not turn unknown.
    Past every run as they ran too, it is unknown, as without load."""
    batches = [(1, 2.0), (3, 6.0), (1, 2.1), (3, 5.8), (1, 1.9)]
    await renders(runtime, job_id, model, batches, first_index=100)
    await running(app, job_id, 0, model, ran=4.0, progress=None, status=S.SUBMITTED)
    await running(app, job_id, 1, model, ran=30.0, progress=None, status=S.SUBMITTED)
    query = """query($id: ID!) { node(id: $id) { ... on Job {
      subJobs { index expectedSeconds etaSeconds } } } }"""
    node = (await admin.execute(query, {"id": encode("Job", job_id)}))["node"]
    now = {s["index"]: s for s in node["subJobs"] if s["index"] < 2}
    assert now[0]["etaSeconds"] == pytest.approx(2.0, rel=0.5)
    assert now[1]["etaSeconds"] is None
