"""Live progress subscriptions over real WebSockets (both protocols): replay, resume,
de-duplication, gap refill, access and cohorts, on jobs whose log the test writes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.applications import Starlette

from db.models import JobStatus
from gql.ids import encode
from gql.live import cohort
from services.events import event_payload
from services.runtime import Runtime
from tests.client import GraphQLClient, decode_gid
from tests.fakes.server import serve_app
from tests.live_support import eventually, live_stats
from tests.scripted import MuteBroker, emit, scripted_job
from tests.wsclient import CAMPAIGN_ACTIVITY, JOB_PROGRESS, LEGACY_WS, TRANSPORT_WS, WsClient

PROTOCOLS = [TRANSPORT_WS, LEGACY_WS]


@pytest.fixture(scope="module")
async def base_url(app: Starlette) -> AsyncIterator[str]:
    async with serve_app(app, ws="websockets-sansio", lifespan="off") as url:
        yield url


@pytest.fixture
async def campaign(tenant: GraphQLClient) -> str:
    assert tenant.client_id
    return await tenant.create_campaign(tenant.client_id, "Live")


def seqs(events: list[dict[str, Any]]) -> list[int]:
    return [e["seq"] for e in events]


async def redis_subscribers(app: Starlette, channel: str) -> int:
    """How many connections Redis itself has subscribed to exactly `channel`."""
    reply = await app.state.broker.pool.execute_command("PUBSUB", "NUMSUB", channel)
    return int(reply[1])


async def subscribed(app: Starlette, channel: str, before: int) -> None:
    """Wait until Redis counts one subscriber more on `channel` than `before`: the hub's
    SUBSCRIBE has been applied, so whatever is published from now on reaches the feed's
    inbox. (The hub counts a channel as soon as it sends SUBSCRIBE, before Redis has it.)"""
    count = before
    try:
        async with asyncio.timeout(15):
            # polling: Redis's subscriber count has no event to wait on
            while (count := await redis_subscribers(app, channel)) != before + 1:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"{channel}: {count} subscribers, expected {before + 1}") from None


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_replay_then_live_then_complete(
    protocol: str, base_url: str, app: Starlette, runtime: Runtime, tenant: GraphQLClient,
    campaign: str,
) -> None:  # fmt: skip
    broker = app.state.broker
    job_id = await scripted_job(runtime, campaign)
    for i in range(3):
        await emit(runtime, broker, job_id, progress=i / 10)
    async with WsClient.open(base_url, protocol=protocol, key=tenant.key) as ws:
        op = await ws.subscribe(JOB_PROGRESS, {"jobId": encode("Job", job_id)})
        seen = [await ws.event(op) for _ in range(3)]  # replayed from the log
        await emit(runtime, broker, job_id, progress=0.5)
        seen.append(await ws.event(op))  # live
        await emit(runtime, broker, job_id, status=JobStatus.SUCCEEDED)
        seen += await ws.until_complete(op)
    assert seqs(seen) == [1, 2, 3, 4, 5]
    assert [e["progress"] for e in seen] == [0.0, 0.1, 0.2, 0.5, None]
    assert (seen[-1]["type"], seen[-1]["status"]) == ("job.status", "succeeded")
    assert seen[0]["jobId"] == encode("Job", job_id)


async def test_resume_after_seq_gets_exactly_the_missing_events(
    base_url: str, app: Starlette, runtime: Runtime, tenant: GraphQLClient, campaign: str
) -> None:
    broker = app.state.broker
    job_id = await scripted_job(runtime, campaign)
    variables = {"jobId": encode("Job", job_id)}
    async with WsClient.open(base_url, key=tenant.key) as ws:
        op = await ws.subscribe(JOB_PROGRESS, variables)
        for i in range(4):
            await emit(runtime, broker, job_id, progress=i / 10)
        first = [await ws.event(op) for _ in range(4)]
        ws.drop()  # the network goes away mid-job
    for i in range(4, 7):  # ... while the job goes on
        await emit(runtime, broker, job_id, progress=i / 10)
    async with WsClient.open(base_url, key=tenant.key) as ws:
        op = await ws.subscribe(JOB_PROGRESS, {**variables, "afterSeq": first[-1]["seq"]})
        missing = [await ws.event(op) for _ in range(3)]
        await emit(runtime, broker, job_id, status=JobStatus.FAILED, message="boom")
        rest = await ws.until_complete(op)
    assert seqs(first) == [1, 2, 3, 4]
    assert seqs(missing) == [5, 6, 7]
    assert seqs(rest) == [8] and rest[0]["status"] == "failed"


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_finished_job_replays_and_completes(
    protocol: str, base_url: str, app: Starlette, runtime: Runtime, tenant: GraphQLClient,
    campaign: str,
) -> None:  # fmt: skip
    broker = app.state.broker
    job_id = await scripted_job(runtime, campaign)
    await emit(runtime, broker, job_id, progress=0.3)
    await emit(runtime, broker, job_id, status=JobStatus.CANCELED)
    async with WsClient.open(base_url, protocol=protocol, key=tenant.key) as ws:
        everything = await ws.until_complete(
            await ws.subscribe(JOB_PROGRESS, {"jobId": encode("Job", job_id)})
        )
        nothing_left = await ws.until_complete(
            await ws.subscribe(JOB_PROGRESS, {"jobId": encode("Job", job_id), "afterSeq": 2})
        )
    assert seqs(everything) == [1, 2]
    assert nothing_left == []


async def test_lost_message_is_refilled_from_the_log(
    base_url: str, app: Starlette, runtime: Runtime, tenant: GraphQLClient, campaign: str
) -> None:
    broker = app.state.broker
    job_id = await scripted_job(runtime, campaign)
    async with WsClient.open(base_url, key=tenant.key) as ws:
        op = await ws.subscribe(JOB_PROGRESS, {"jobId": encode("Job", job_id)})
        await emit(runtime, broker, job_id, progress=0.1)
        assert (await ws.event(op))["seq"] == 1
        await emit(runtime, MuteBroker(broker), job_id, progress=0.2)  # Redis loses seq 2
        await emit(runtime, MuteBroker(broker), job_id, progress=0.3)  # ... and seq 3
        await emit(runtime, broker, job_id, progress=0.4)  # seq 4 shows the gap
        refilled = [await ws.event(op) for _ in range(3)]
        await emit(runtime, broker, job_id, status=JobStatus.SUCCEEDED)
        rest = await ws.until_complete(op)
    assert seqs(refilled) == [2, 3, 4]
    assert [e["progress"] for e in refilled] == [0.2, 0.3, 0.4]
    assert seqs(rest) == [5]


async def test_duplicates_and_stale_messages_are_dropped(
    base_url: str, app: Starlette, runtime: Runtime, tenant: GraphQLClient, campaign: str
) -> None:
    broker = app.state.broker
    job_id = await scripted_job(runtime, campaign)
    channel = broker.channel("job", job_id)
    before = await redis_subscribers(app, channel)
    async with WsClient.open(base_url, key=tenant.key) as ws:
        op = await ws.subscribe(JOB_PROGRESS, {"jobId": encode("Job", job_id)})
        await subscribed(app, channel, before)  # the repeats below reach the feed
        for i in range(3):
            await emit(runtime, broker, job_id, progress=i / 10)
        async with runtime.session_factory() as session:
            from services.events import events_after

            rows = await events_after(session, job_id, 0)
        campaign_uuid = await _campaign_of(runtime, job_id)
        for row in (rows[1], rows[0], rows[2]):  # Redis (or a retrying writer) repeats itself
            await broker.publish(
                broker.channel("job", job_id), json.dumps(event_payload(row, campaign_uuid))
            )
        await emit(runtime, broker, job_id, status=JobStatus.SUCCEEDED)
        events = [await ws.event(op) for _ in range(3)] + await ws.until_complete(op)
    assert seqs(events) == [1, 2, 3, 4]


async def _campaign_of(runtime: Runtime, job_id: Any) -> Any:
    from db.models import Job

    async with runtime.session_factory() as session:
        job = await session.get(Job, job_id)
        assert job is not None
        return job.campaign_id


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_another_tenant_gets_not_found_not_events(
    protocol: str, base_url: str, app: Starlette, runtime: Runtime, tenant: GraphQLClient,
    admin: GraphQLClient, campaign: str,
) -> None:  # fmt: skip
    other = await admin.create_campaign(await admin.create_client("Someone else"))
    foreign_job = await scripted_job(runtime, other)
    await emit(runtime, app.state.broker, foreign_job, progress=0.5)
    async with WsClient.open(base_url, protocol=protocol, key=tenant.key) as ws:
        for query, variables in (
            (JOB_PROGRESS, {"jobId": encode("Job", foreign_job)}),
            (JOB_PROGRESS, {"jobId": "not-an-id"}),
            (CAMPAIGN_ACTIVITY, {"campaignId": other}),
        ):
            message = await ws.message(await ws.subscribe(query, variables))
            assert message["type"] == "error", message
            errors = message["payload"]
            errors = errors if isinstance(errors, list) else [errors]
            assert errors[0]["extensions"]["code"] == "NOT_FOUND", errors
    async with WsClient.open(base_url, protocol=protocol, key=admin.key) as ws:
        op = await ws.subscribe(JOB_PROGRESS, {"jobId": encode("Job", foreign_job)})
        assert (await ws.event(op))["progress"] == 0.5  # the admin sees it


async def test_campaign_activity_follows_every_job_once(
    base_url: str, app: Starlette, runtime: Runtime, tenant: GraphQLClient, campaign: str,
    admin: GraphQLClient,
) -> None:  # fmt: skip
    broker = app.state.broker
    running = await scripted_job(runtime, campaign)
    await emit(runtime, broker, running, progress=0.1)  # before: not delivered
    sentinel = await scripted_job(runtime, campaign)
    channel = broker.channel("campaign", decode_gid(campaign))
    before = await redis_subscribers(app, channel)
    async with WsClient.open(base_url, key=tenant.key) as ws:
        op = await ws.subscribe(CAMPAIGN_ACTIVITY, {"campaignId": campaign})
        await subscribed(app, channel, before)
        # The feed reads the log once it is subscribed: what it finds there counts as seen.
        # A message only Redis carries reaches the socket once the feed follows the channel,
        # past that read; every event from here on is new to it.
        await broker.publish(
            channel, _fabricated(sentinel, decode_gid(campaign), 1, "feed is following")
        )
        following = await ws.event(op)
        assert (following["jobId"], following["seq"]) == (encode("Job", sentinel), 1)
        second = await scripted_job(runtime, campaign)  # a job that starts afterwards
        elsewhere = await scripted_job(
            runtime, await admin.create_campaign(await admin.create_client("Other"))
        )
        await emit(runtime, broker, elsewhere, progress=0.9)  # another campaign: not ours
        await emit(runtime, broker, running, progress=0.2)
        await emit(runtime, MuteBroker(broker), second, progress=0.1)  # lost ...
        await emit(runtime, broker, second, progress=0.2)  # ... and refilled
        await emit(runtime, MuteBroker(broker), running, progress=0.3)  # lost ...
        await emit(runtime, broker, running, status=JobStatus.SUCCEEDED)  # ... and refilled
        got = [await ws.event(op) for _ in range(5)]
    keyed = [(e["jobId"], e["seq"]) for e in got]
    first_id, second_id = encode("Job", running), encode("Job", second)
    assert sorted(keyed) == sorted(
        [(first_id, 2), (first_id, 3), (first_id, 4), (second_id, 1), (second_id, 2)]
    )
    assert [s for j, s in keyed if j == first_id] == [2, 3, 4]
    assert [s for j, s in keyed if j == second_id] == [1, 2]


async def test_a_cohort_renders_each_live_event_once(
    base_url: str, app: Starlette, runtime: Runtime, tenant: GraphQLClient, campaign: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    broker = app.state.broker
    job_id = await scripted_job(runtime, campaign)
    for i in range(3):
        await emit(runtime, broker, job_id, progress=i / 10)
    renders: list[int] = []
    original = cohort.Renderer.render

    def counting(self: cohort.Renderer, node: Any) -> Any:
        renders.append(node.seq)
        return original(self, node)

    monkeypatch.setattr(cohort.Renderer, "render", counting)
    gid = encode("Job", job_id)
    before = live_stats(app).subscribers
    async with (
        WsClient.open(base_url, key=tenant.key) as a,
        WsClient.open(base_url, protocol=LEGACY_WS, key=tenant.key) as b,
    ):
        ops = [
            (a, await a.subscribe(JOB_PROGRESS, {"jobId": gid})),
            (a, await a.subscribe(JOB_PROGRESS, {"jobId": gid, "afterSeq": 2})),
            (b, await b.subscribe(JOB_PROGRESS, {"jobId": gid, "afterSeq": 3})),
        ]
        await eventually(
            lambda: live_stats(app).subscribers == before + 3, what="all three listening"
        )
        assert seqs([await a.event(ops[0][1]) for _ in range(3)]) == [1, 2, 3]  # replays ...
        assert (await a.event(ops[1][1]))["seq"] == 3
        await emit(runtime, broker, job_id, progress=0.5)
        await emit(runtime, broker, job_id, status=JobStatus.SUCCEEDED)
        results = [await ws.until_complete(op) for ws, op in ops]
    assert [seqs(r) for r in results] == [[4, 5], [4, 5], [4, 5]]
    # replays are rendered per subscriber, each live event once for the three of them
    assert sorted(renders) == [1, 2, 3, 3, 4, 5]


async def test_the_same_document_with_other_variables_is_another_cohort() -> None:
    from graphql import parse

    document = parse(
        "subscription($j: ID!, $a: Int, $x: Boolean!) {"
        " jobProgress(jobId: $j, afterSeq: $a) { seq message @include(if: $x) } }"
    )
    operation = document.definitions[0]
    assert cohort.stream_only_variables(operation, []) == {"j", "a"}  # type: ignore[arg-type]
    document = parse(
        "subscription($j: ID!) { jobProgress(jobId: $j) { seq ...F } }"
        " fragment F on JobEvent { data @skip(if: false) jobId }"
    )
    assert cohort.stream_only_variables(document.definitions[0], document.definitions[1:]) == {  # type: ignore[arg-type]
        "j"
    }


async def test_a_slow_reader_neither_loses_events_nor_holds_up_the_others(
    base_url: str, app: Starlette, runtime: Runtime, tenant: GraphQLClient, campaign: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """One socket cannot take writes for a while (as when its buffers are full): the
    lane's write to it waits in a task of its own, the other subscriber keeps getting
    every event, and once the socket drains the slow one gets them all, in order."""
    from gql.live import protocols

    drained = asyncio.Event()
    drained.set()
    sockets: list[object] = []
    real_sender = protocols._sender

    def sender(adapter: Any) -> Any:
        send_text = real_sender(adapter)
        slow = len(sockets) == 1  # the second subscription below
        sockets.append(adapter)

        async def gated(text: str) -> None:
            if slow:
                await drained.wait()
            await send_text(text)

        return gated

    monkeypatch.setattr(protocols, "_sender", sender)
    broker = app.state.broker
    job_id = await scripted_job(runtime, campaign)
    campaign_id = await _campaign_of(runtime, job_id)
    variables = {"jobId": encode("Job", job_id)}
    count = 200
    async with (
        WsClient.open(base_url, key=tenant.key) as fast,
        WsClient.open(base_url, key=tenant.key) as slow,
    ):
        fast_op = await fast.subscribe(JOB_PROGRESS, variables)
        await eventually(lambda: live_stats(app).subscribers == 1, what="the fast one listens")
        slow_op = await slow.subscribe(JOB_PROGRESS, variables)
        await eventually(lambda: live_stats(app).subscribers == 2, what="both listen")
        channel = broker.channel("job", job_id)
        await broker.publish(channel, _fabricated(job_id, campaign_id, 1, "tick 1"))
        assert (await fast.event(fast_op))["seq"] == (await slow.event(slow_op))["seq"] == 1
        drained.clear()  # from now on the slow socket takes no writes
        for seq in range(2, count + 1):
            await broker.publish(channel, _fabricated(job_id, campaign_id, seq, f"tick {seq}"))
        got = [(await fast.event(fast_op))["seq"] for _ in range(2, count + 1)]
        assert got == list(range(2, count + 1)), "the fast reader is not held up"
        assert slow.ops[slow_op].empty()
        drained.set()
        late = [(await slow.event(slow_op))["seq"] for _ in range(2, count + 1)]
        assert late == list(range(2, count + 1))


def _fabricated(job_id: Any, campaign_id: Any, seq: int, message: str) -> str:
    """A live message in `event_payload`'s shape that only Redis carries."""
    return json.dumps({
        "jobId": str(job_id), "campaignId": str(campaign_id), "subJobId": None, "seq": seq,
        "type": "job.progress", "status": "running", "progress": seq / 1000, "message": message,
        "data": {}, "createdAt": "2026-11-22T00:00:00+00:00",
    })  # fmt: skip
