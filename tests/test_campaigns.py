"""Campaigns: CRUD, status filter, cursor pagination with a size cap, stats in SQL."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from db.models import Job, JobKind, JobStatus
from services.runtime import Runtime
from services.uow import unit_of_work
from tests.client import CREATE_CAMPAIGN, GraphQLClient, decode_gid

PAGE = """
query($id: ID!, $first: Int, $after: String, $status: CampaignStatus) {
  node(id: $id) { ... on Client {
    campaigns(first: $first, after: $after, status: $status) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage endCursor startCursor }
      edges { cursor node { id name status } }
    }
  } }
}"""

UPDATE = """
mutation($input: UpdateCampaignInput!) {
  updateCampaign(input: $input) {
    __typename
    ... on CampaignPayload { campaign { id name status budgetUsd productUrl goal } }
    ... on Error { code field message }
  }
}"""

STATS = """
query($id: ID!) { node(id: $id) { ... on Campaign {
  stats { videoCount totalSpendUsd averageCostUsd jobCount }
  client { stats { campaignCount videoCount totalSpendUsd } }
  jobs { totalCount edges { node { status costActualUsd } } }
} } }"""


async def test_create_and_update_campaign(tenant: GraphQLClient) -> None:
    assert tenant.client_id
    payload = await tenant.mutate(
        CREATE_CAMPAIGN,
        {
            "input": {
                "clientId": tenant.client_id,
                "name": "Spring drop",
                "goal": "Sell the new runner",
                "audience": "urban runners 25-40",
                "productUrl": "https://shop.example/runner",
                "budgetUsd": "250.5",
            }
        },
    )
    campaign = payload["campaign"]
    assert campaign["status"] == "DRAFT"
    assert Decimal(campaign["budgetUsd"]) == Decimal("250.50")
    updated = await tenant.mutate(
        UPDATE, {"input": {"id": campaign["id"], "status": "ACTIVE", "budgetUsd": "300"}}
    )
    assert updated["campaign"]["status"] == "ACTIVE"
    assert updated["campaign"]["goal"] == "Sell the new runner"
    assert Decimal(updated["campaign"]["budgetUsd"]) == Decimal(300)


async def test_campaign_validation(tenant: GraphQLClient, admin: GraphQLClient) -> None:
    assert tenant.client_id
    bad: list[tuple[dict[str, Any], str, str]] = [
        ({"name": ""}, "INVALID_INPUT", "name"),
        ({"name": "x", "productUrl": "javascript:alert(1)"}, "INVALID_INPUT", "productUrl"),
        ({"name": "x", "budgetUsd": "-1"}, "INVALID_INPUT", "budgetUsd"),
        # NUL: PostgreSQL refuses it in text, so it is refused before any write
        ({"name": "Spring\u0000drop"}, "INVALID_INPUT", "name"),
        ({"name": "x", "goal": "Sell\u0000"}, "INVALID_INPUT", "goal"),
        ({"name": "x", "audience": "\u0000runners"}, "INVALID_INPUT", "audience"),
        ({"name": "x", "audience": "runners\u001f"}, "INVALID_INPUT", "audience"),
        ({"name": "x", "productUrl": "https://shop.example/\u0000"}, "INVALID_INPUT", "productUrl"),
    ]
    for fields, code, field in bad:
        payload = await tenant.mutate(
            CREATE_CAMPAIGN, {"input": {"clientId": tenant.client_id, **fields}}
        )
        assert (payload["code"], payload["field"]) == (code, field), payload
    other = await admin.create_client("Not yours")
    foreign = await tenant.mutate(CREATE_CAMPAIGN, {"input": {"clientId": other, "name": "x"}})
    assert (foreign["code"], foreign["field"]) == ("NOT_FOUND", "clientId")
    page = await tenant.execute(PAGE, {"id": tenant.client_id})
    assert page["node"]["campaigns"]["totalCount"] == 0


async def test_control_characters_are_refused_on_update_and_in_prompts(
    tenant: GraphQLClient,
) -> None:
    assert tenant.client_id
    campaign = await tenant.create_campaign(tenant.client_id, goal="Sell")
    refused = await tenant.mutate(
        UPDATE, {"input": {"id": campaign, "name": "Renamed", "goal": "Sell\u0000more"}}
    )
    assert (refused["code"], refused["field"]) == ("INVALID_INPUT", "goal")
    kept = await tenant.mutate(UPDATE, {"input": {"id": campaign}})
    assert (kept["campaign"]["name"], kept["campaign"]["goal"]) == ("Launch", "Sell")

    estimate = await tenant.execute(
        """query($input: EstimateCostInput!) { estimateCost(input: $input) {
          __typename ... on Error { code field } } }""",
        {"input": {"image": {"campaignId": campaign, "prompt": "a shoe\u0000"}}},
    )
    assert estimate["estimateCost"] == {
        "__typename": "UserError",
        "code": "INVALID_INPUT",
        "field": "prompt",
    }


async def test_cursor_pagination_and_status_filter(tenant: GraphQLClient) -> None:
    assert tenant.client_id
    created = [await tenant.create_campaign(tenant.client_id, f"c{i}") for i in range(7)]
    for gid in created[:3]:
        await tenant.mutate(UPDATE, {"input": {"id": gid, "status": "ACTIVE"}})

    seen: list[str] = []
    after = None
    while True:
        data = await tenant.execute(PAGE, {"id": tenant.client_id, "first": 3, "after": after})
        conn = data["node"]["campaigns"]
        assert conn["totalCount"] == 7
        seen += [e["node"]["id"] for e in conn["edges"]]
        assert conn["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert seen == list(reversed(created)), "newest first, each exactly once"

    active = await tenant.execute(PAGE, {"id": tenant.client_id, "status": "ACTIVE"})
    conn = active["node"]["campaigns"]
    assert conn["totalCount"] == 3
    assert {e["node"]["id"] for e in conn["edges"]} == set(created[:3])


async def test_page_size_is_capped(tenant: GraphQLClient) -> None:
    response = await tenant.post(PAGE, {"id": tenant.client_id, "first": 1000})
    body = response.json()
    assert response.status_code == 200
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "INVALID_INPUT", "field": "first"}
    bad_cursor = await tenant.post(PAGE, {"id": tenant.client_id, "after": "garbage"})
    assert bad_cursor.json()["errors"][0]["extensions"]["field"] == "after"


async def test_stats_are_computed_from_jobs_and_assets(
    tenant: GraphQLClient, runtime: Runtime, samples: Any
) -> None:
    assert tenant.client_id
    campaign = await tenant.create_campaign(tenant.client_id, "With spend")
    await tenant.create_campaign(tenant.client_id, "Empty")
    await tenant.upload_ok(samples.mp4, "clip.mp4", campaign_id=campaign)
    await tenant.upload_ok(samples.png, "still.png", campaign_id=campaign)
    async with unit_of_work(runtime.session_factory) as session:
        for cost, status in [("1.25", JobStatus.SUCCEEDED), ("0.75", JobStatus.SUCCEEDED),
                             ("0.50", JobStatus.FAILED)]:  # fmt: skip
            session.add(
                Job(
                    campaign_id=decode_gid(campaign),
                    kind=JobKind.VIDEO,
                    status=status,
                    cost_actual_usd=Decimal(cost),
                )
            )
    data = await tenant.execute(STATS, {"id": campaign})
    node = data["node"]
    assert node["stats"] == {
        "videoCount": 1,
        "totalSpendUsd": "2.5000",
        "averageCostUsd": "1.0000",
        "jobCount": 3,
    }
    assert node["client"]["stats"] == {
        "campaignCount": 2,
        "videoCount": 1,
        "totalSpendUsd": "2.5000",
    }
    assert node["jobs"]["totalCount"] == 3
