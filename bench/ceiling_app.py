"""The ceiling for `graph_bench`: a plain Starlette endpoint, no GraphQL.

`POST /page` with `{"clients": 5, "campaigns": 10, "assets": 20}` and an admin (or
client) key answers the same JSON as the benchmark's GraphQL query, from the same
SQL: the same service functions issue the same four statements (key lookup, clients
with their stats, campaign pages with their stats, asset pages). The dicts are built
by hand, so what is left is the cost of the SQL, the ORM and the JSON encoding.

`?sessions=each` opens one short session per statement, as the GraphQL path does
(the key lookup in `get_context`, the clients resolver, one per DataLoader batch),
but one after another; the default `one` runs all four statements in one session.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services import assets, campaigns, clients, stats
from services.api_keys import authenticate
from services.assets import AssetFilter
from services.pagination import Cursor, Page, PageArgs
from services.runtime import Runtime
from services.settings import Settings

JSONDict = dict[str, Any]


def global_id(type_name: str, row_id: uuid.UUID) -> str:
    """Relay's global ID, as Strawberry writes it: base64("Type:uuid")."""
    return base64.b64encode(f"{type_name}:{row_id}".encode()).decode()


def money(value: Decimal | None) -> str | None:
    """Strawberry's Decimal scalar serializes with `str`."""
    return None if value is None else str(value)


def page_info(page: Page[Any]) -> JSONDict:
    end = Cursor.of(page.rows[-1]).encode() if page.rows else None
    return {"hasNextPage": page.has_next, "endCursor": end}


Sessions = Callable[[], AbstractAsyncContextManager[AsyncSession]]


@dataclass(slots=True)
class PageData:
    clients: Page[clients.ClientRow]
    campaign_pages: dict[uuid.UUID, Page[campaigns.CampaignRow]]
    client_stats: dict[uuid.UUID, stats.ClientStats]
    campaign_stats: dict[uuid.UUID, stats.CampaignStats]
    asset_pages: dict[uuid.UUID, Page[assets.AssetRow]]


async def fetch(
    sessions: Sessions, token: str, n_clients: PageArgs, n_campaigns: PageArgs, n_assets: PageArgs
) -> PageData | None:
    """The same service calls, in the same order, as the GraphQL path's resolvers and loaders."""
    async with sessions() as session:
        viewer = await authenticate(session, token)
    if viewer is None:
        return None
    async with sessions() as session:
        client_page = await clients.list_clients(session, viewer, n_clients, with_stats=True)
    client_ids = [c.id for c in client_page.rows]
    async with sessions() as session:
        campaign_pages = await campaigns.pages_for_clients(
            session, client_ids, None, n_campaigns, with_stats=True
        )
    client_stats = client_page.extra or {}
    ids = [c.id for cid in client_ids for c in campaign_pages[cid].rows]
    campaign_stats = {
        k: v for cid in client_ids for k, v in (campaign_pages[cid].extra or {}).items()
    }
    async with sessions() as session:
        asset_pages = await assets.pages_for_campaigns(session, ids, AssetFilter(), n_assets)
    return PageData(client_page, campaign_pages, client_stats, campaign_stats, asset_pages)


def render(data: PageData, runtime: Runtime, base_url: str) -> JSONDict:
    url = runtime.signer.urls(base_url)
    client_edges = []
    for client in data.clients.rows:
        cstats = data.client_stats[client.id]
        campaign_page = data.campaign_pages[client.id]
        campaign_edges = []
        for campaign in campaign_page.rows:
            s = data.campaign_stats[campaign.id]
            asset_page = data.asset_pages[campaign.id]
            asset_edges = [
                {
                    "node": {
                        "id": global_id("Asset", a.id),
                        "kind": a.kind.name,
                        "mimeType": a.mime_type,
                        "width": a.width,
                        "height": a.height,
                        "url": url(a.id),
                    }
                }
                for a in asset_page.rows
            ]
            campaign_edges.append(
                {
                    "node": {
                        "id": global_id("Campaign", campaign.id),
                        "name": campaign.name,
                        "status": campaign.status.name,
                        "budgetUsd": money(campaign.budget_usd),
                        "stats": {
                            "videoCount": s.video_count,
                            "totalSpendUsd": money(s.total_spend_usd),
                            "averageCostUsd": money(s.average_cost_usd),
                            "jobCount": s.job_count,
                        },
                        "assets": {"pageInfo": page_info(asset_page), "edges": asset_edges},
                    }
                }
            )
        client_edges.append(
            {
                "node": {
                    "id": global_id("Client", client.id),
                    "name": client.name,
                    "stats": {
                        "campaignCount": cstats.campaign_count,
                        "videoCount": cstats.video_count,
                        "totalSpendUsd": money(cstats.total_spend_usd),
                    },
                    "campaigns": {"pageInfo": page_info(campaign_page), "edges": campaign_edges},
                }
            }
        )
    return {"data": {"clients": {"pageInfo": page_info(data.clients), "edges": client_edges}}}


async def page(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    settings = runtime.settings
    body = await request.json()

    def args(name: str) -> PageArgs:
        return PageArgs.parse(
            body.get(name), None, default=settings.default_page_size, maximum=settings.max_page_size
        )

    sizes = args("clients"), args("campaigns"), args("assets")
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    data: PageData | None = None
    if scheme.lower() == "bearer" and token.strip():
        if request.query_params.get("sessions", "one") == "each":
            data = await fetch(runtime.session_factory, token.strip(), *sizes)
        else:
            async with runtime.session_factory() as session:

                @asynccontextmanager
                async def same() -> AsyncIterator[AsyncSession]:
                    yield session

                data = await fetch(same, token.strip(), *sizes)
    if data is None:
        return JSONResponse({"error": "unauthenticated"}, status_code=401)
    base_url = str(request.base_url).rstrip("/")
    return JSONResponse(render(data, runtime, base_url))


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        runtime = Runtime.open(settings)
        app.state.runtime = runtime
        try:
            yield
        finally:
            await runtime.close()

    return Starlette(routes=[Route("/page", page, methods=["POST"])], lifespan=lifespan)
