"""Money is atomic: concurrent launches against one budget are accepted exactly as many
times as the budget fits, on SQLite and on PostgreSQL, never one more."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from starlette.applications import Starlette

from services import catalog
from tests.client import GraphQLClient
from tests.jobs import GENERATE_IMAGE, REGENERATE, launch, wait_for_job

PRICE = catalog.estimate(catalog.MODELS[catalog.DEFAULT_IMAGE_MODEL], {})
RACERS = 20

ESTIMATE = """query($input: EstimateCostInput!) { estimateCost(input: $input) {
  __typename ... on CostEstimate { totalUsd budgetUsd committedUsd withinBudget }
  ... on Error { code field message } } }"""
JOB_COUNT = "query($id: ID!) { node(id: $id) { ... on Campaign { jobs { totalCount } } } }"


async def _campaign(tenant: GraphQLClient, budget: Decimal) -> str:
    assert tenant.client_id
    return await tenant.create_campaign(tenant.client_id, "Race", budgetUsd=str(budget))


async def _committed(tenant: GraphQLClient, campaign: str) -> Decimal:
    """The campaign's spend as the API reports it."""
    data = await tenant.execute(
        ESTIMATE, {"input": {"image": {"campaignId": campaign, "prompt": "x"}}}
    )
    estimate = data["estimateCost"]
    assert estimate["__typename"] == "CostEstimate", estimate
    return Decimal(estimate["committedUsd"])


def _accepted(payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    jobs = [p["job"] for p in payloads if p["__typename"] == "JobPayload"]
    refused = [p for p in payloads if p["__typename"] != "JobPayload"]
    assert {(p["__typename"], p["code"], p["field"]) for p in refused} <= {
        ("UserError", "BUDGET_EXCEEDED", "campaignId")
    }, refused
    return jobs


async def _finish(tenant: GraphQLClient, app: Starlette, jobs: list[dict[str, Any]]) -> None:
    done = await asyncio.gather(*(wait_for_job(tenant, app, j["id"]) for j in jobs))
    assert [d["status"] for d in done] == ["SUCCEEDED"] * len(jobs), done


@pytest.mark.parametrize("fits", [1, 3])
async def test_concurrent_launches_take_exactly_what_the_budget_fits(
    tenant: GraphQLClient, app: Starlette, fits: int
) -> None:
    budget = PRICE * fits
    campaign = await _campaign(tenant, budget)
    variables = {"input": {"campaignId": campaign, "prompt": "A red sneaker"}}

    payloads = await asyncio.gather(
        *(tenant.mutate(GENERATE_IMAGE, variables) for _ in range(RACERS))
    )

    jobs = _accepted(payloads)
    assert len(jobs) == fits, [p["__typename"] for p in payloads]
    assert await _committed(tenant, campaign) == budget
    count = await tenant.execute(JOB_COUNT, {"id": campaign})
    assert count["node"]["jobs"]["totalCount"] == fits
    await _finish(tenant, app, jobs)
    assert await _committed(tenant, campaign) == budget  # actual cost, still within it


async def test_a_regenerate_races_launches_for_the_last_of_the_budget(
    tenant: GraphQLClient, app: Starlette
) -> None:
    budget = PRICE * 2
    campaign = await _campaign(tenant, budget)
    first = await launch(tenant, GENERATE_IMAGE, campaignId=campaign, prompt="A red sneaker")
    (sub,) = (await wait_for_job(tenant, app, first["id"]))["subJobs"]

    regenerate = tenant.mutate(REGENERATE, {"input": {"subJobId": sub["id"]}})
    launches = [
        tenant.mutate(GENERATE_IMAGE, {"input": {"campaignId": campaign, "prompt": "A shoe"}})
        for _ in range(RACERS - 1)
    ]
    payloads = await asyncio.gather(regenerate, *launches)

    jobs = _accepted(payloads)
    assert len(jobs) == 1, [p["__typename"] for p in payloads]
    assert await _committed(tenant, campaign) == budget
    await _finish(tenant, app, jobs)
    assert await _committed(tenant, campaign) <= budget
