"""Where a request's reads run: on an SQLite file, each Core statement is one call in a
thread of `ThreadedReads` (the stdlib driver, services/reads.py); on PostgreSQL, on the
request's one connection. Either way a read sees what has just committed, requests read
side by side get their own answers, and every connection a request read on goes back."""

from __future__ import annotations

import asyncio
import threading
import uuid
from typing import Any

import pytest
from sqlalchemy import literal_column, select, table
from sqlalchemy.exc import OperationalError

from db import base
from services.runtime import Runtime
from tests.client import GraphQLClient
from tests.live_support import eventually
from tests.statements import statements_of_this_task

ESTIMATE = """query($input: EstimateCostInput!) { estimateCost(input: $input) {
  __typename ... on CostEstimate { totalUsd budgetUsd } } }"""
CAMPAIGNS = """query($id: ID!) { node(id: $id) { ... on Client {
  campaigns(first: 50) { totalCount edges { node { id name } } } } } }"""


async def test_reads_run_where_the_database_reads_fastest(
    tenant: GraphQLClient, runtime: Runtime
) -> None:
    assert tenant.client_id
    created = await tenant.create_campaign(tenant.client_id, "Read at once")
    with statements_of_this_task(runtime) as seen:
        data = await tenant.execute(CAMPAIGNS, {"id": tenant.client_id})
    names = {e["node"]["id"]: e["node"]["name"] for e in data["node"]["campaigns"]["edges"]}
    assert names[created] == "Read at once"  # committed by the async engine, read here
    selects = [s for s in seen if s.sql.startswith("SELECT")]
    assert selects, seen
    if runtime.engine.dialect.name == "sqlite":
        assert runtime.reads is not None
        assert all(s.engine is runtime.reads.engine for s in selects), seen
        assert all(s.thread.startswith("reelgraph-reads") for s in selects), seen
    else:
        assert runtime.reads is None
        assert all(s.engine is runtime.engine.sync_engine for s in selects), seen
        assert all(s.thread == threading.current_thread().name for s in selects), seen


async def test_requests_read_side_by_side(tenant: GraphQLClient, admin: GraphQLClient) -> None:
    """More requests at once than there are read threads: each gets its own client's rows."""
    clients = [await admin.create_client(f"Side {i}") for i in range(12)]
    made = {c: [await admin.create_campaign(c, f"{c[-6:]} {j}") for j in range(i % 3 + 1)]
            for i, c in enumerate(clients)}  # fmt: skip
    answers: list[Any] = await asyncio.gather(
        *(admin.execute(CAMPAIGNS, {"id": c}) for c in clients for _ in range(3))
    )
    for i, answer in enumerate(answers):
        client = clients[i // 3]
        edges = answer["node"]["campaigns"]["edges"]
        assert sorted(e["node"]["id"] for e in edges) == sorted(made[client]), (client, answer)
        assert answer["node"]["campaigns"]["totalCount"] == len(made[client])


async def test_every_connection_a_request_read_on_goes_back(
    tenant: GraphQLClient, runtime: Runtime
) -> None:
    """Core reads, and reads through the ORM (the estimate reads its campaign so), at once."""
    assert tenant.client_id
    campaign = await tenant.create_campaign(tenant.client_id, "Pool", budgetUsd="20")
    estimate = {"input": {"image": {"campaignId": campaign, "prompt": "a shoe"}}}
    answers: list[Any] = await asyncio.gather(
        *(tenant.execute(ESTIMATE, estimate) for _ in range(10)),
        *(tenant.execute(CAMPAIGNS, {"id": tenant.client_id}) for _ in range(10)),
    )
    assert all(a["estimateCost"]["budgetUsd"] == "20.0000" for a in answers[:10]), answers[:10]
    assert all(a["node"]["campaigns"]["totalCount"] == 1 for a in answers[10:]), answers[10:]
    pools: list[Any] = [engine.pool for engine in runtime.sync_engines]
    # the in-process worker may hold one for a moment; one a request kept never comes back
    await eventually(lambda: not any(p.checkedout() for p in pools), 10, "a connection kept")


def test_ids_read_from_sqlite_are_shared_and_their_table_is_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One UUID object per id text (a page's rows repeat their campaign's id), equal to
    the one the constructor makes; the table of them never grows past its bound."""
    monkeypatch.setattr(base, "INTERNED_UUIDS", 8)
    monkeypatch.setattr(base, "_interned", {})
    texts = [uuid.uuid4().hex for _ in range(20)]
    first = [base._uuid_from_hex(t) for t in texts]
    assert first == [uuid.UUID(hex=t) for t in texts]
    assert len(base._interned) <= 8
    assert base._uuid_from_hex(texts[-1]) is first[-1]
    assert base._uuid_from_hex(texts[0]) == first[0]  # made again after the table started over
    assert base._uuid_from_hex(None) is None


async def test_a_failed_threaded_read_raises_in_its_caller_and_the_threads_go_on(
    runtime: Runtime,
) -> None:
    """A statement that fails in a read thread raises where it was awaited; a read whose
    caller went away is dropped; either way the threads serve the next read."""
    if runtime.reads is None:
        pytest.skip("reads run in threads on an SQLite file only")
    reads = runtime.reads
    with pytest.raises(OperationalError, match="no such table"):
        await reads.execute(select(literal_column("x")).select_from(table("no_such_table")))
    abandoned: asyncio.Future[Any] = asyncio.ensure_future(
        reads.execute(select(literal_column("1")))
    )
    abandoned.cancel()
    answers: list[Any] = await asyncio.gather(
        *(reads.execute(select(literal_column(str(i)))) for i in range(20))
    )
    assert [a[0][0] for a in answers] == list(range(20))
    assert abandoned.cancelled()
