"""DataLoaders: each batch reads through `sessions`, a request's one `ReadSession` over
HTTP (batches take turns on its connection), a new session per batch over a WebSocket."""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from db.models import (
    Brief,
    CampaignStatus,
    JobEvent,
    Scene,
    Storyboard,
    StoryboardVersion,
    SubJob,
    VideoMetric,
)
from services import assets, campaigns, clients, events, jobs, metrics, stats
from services.assets import AssetFilter, AssetRow
from services.campaigns import CampaignRow
from services.clients import ClientRow
from services.creative import briefs, storyboards
from services.jobs import JobFilter, JobRow
from services.pagination import Page, PageArgs
from services.reads import Sessions

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
G = TypeVar("G", bound=Hashable)
P = TypeVar("P")

log = logging.getLogger("reelgraph.reads")

Factory = Sessions


def _by_id(
    factory: Factory, fetch: Callable[[AsyncSession, Sequence[uuid.UUID]], Awaitable[list[V]]]
) -> DataLoader[uuid.UUID, V | None]:
    async def load(ids: list[uuid.UUID]) -> list[V | None]:
        async with factory() as session:
            rows = {getattr(r, "id"): r for r in await fetch(session, ids)}  # noqa: B009
        return [rows.get(i) for i in ids]

    return DataLoader(load_fn=load)


def _grouped(
    factory: Factory,
    group: Callable[[K], tuple[uuid.UUID, G]],
    fetch: Callable[[AsyncSession, list[uuid.UUID], G], Awaitable[dict[uuid.UUID, V]]],
) -> DataLoader[K, V]:
    """Keys are (parent, options); one statement per distinct options, all parents in it."""

    async def load(keys: list[K]) -> list[V]:
        by_options: dict[G, list[uuid.UUID]] = defaultdict(list)
        for key in keys:
            parent, options = group(key)
            by_options[options].append(parent)
        results: dict[tuple[uuid.UUID, G], V] = {}
        async with factory() as session:
            for options, parents in by_options.items():
                for parent, value in (await fetch(session, parents, options)).items():
                    results[(parent, options)] = value
        return [results[group(k)] for k in keys]

    return DataLoader(load_fn=load)


async def page_with_stats(read: Callable[[bool], Awaitable[P]], stats: bool) -> P:
    """A page read by `read(True)` with its nodes' stats (`Page.extra`, in the page's own
    statement) when they ask for them (`stats`), else by `read(False)`. If reading the
    stats fails, the page is read alone: each node then reads its own stats, and a
    failure is reported at its own `stats`, where it always was."""
    if stats:
        try:
            return await read(True)
        except Exception as exc:  # each node reports it, reading its own
            log.warning("a page's stats failed (%s): its nodes read their own", type(exc).__name__)
    return await read(False)


def _split(key: tuple[Any, ...]) -> tuple[uuid.UUID, tuple[Any, ...]]:
    return key[0], key[1:]


class Loaders:
    def __init__(self, factory: Factory) -> None:
        self.client: DataLoader[uuid.UUID, ClientRow | None] = _by_id(factory, clients.load_clients)
        self.campaign: DataLoader[uuid.UUID, CampaignRow | None] = _by_id(
            factory, campaigns.load_campaigns
        )
        self.asset: DataLoader[uuid.UUID, AssetRow | None] = _by_id(factory, assets.load_assets)
        self.job: DataLoader[uuid.UUID, JobRow | None] = _by_id(factory, jobs.load_jobs)

        async def campaign_pages(
            s: AsyncSession,
            ids: list[uuid.UUID],
            o: tuple[CampaignStatus | None, PageArgs, frozenset[str] | None, bool],
        ) -> dict[uuid.UUID, Page[CampaignRow]]:
            return await campaigns.pages_for_clients(s, ids, *o)

        async def campaign_counts(
            s: AsyncSession, ids: list[uuid.UUID], o: tuple[CampaignStatus | None]
        ) -> dict[uuid.UUID, int]:
            return await campaigns.counts_for_clients(s, ids, o[0])

        async def asset_pages(
            s: AsyncSession,
            ids: list[uuid.UUID],
            o: tuple[AssetFilter, PageArgs, frozenset[str] | None],
        ) -> dict[uuid.UUID, Page[AssetRow]]:
            return await assets.pages_for_campaigns(s, ids, o[0], o[1], o[2])

        async def asset_counts(
            s: AsyncSession, ids: list[uuid.UUID], o: tuple[AssetFilter]
        ) -> dict[uuid.UUID, int]:
            return await assets.counts_for_campaigns(s, ids, o[0])

        async def job_pages(
            s: AsyncSession, ids: list[uuid.UUID], o: tuple[JobFilter, PageArgs]
        ) -> dict[uuid.UUID, Page[JobRow]]:
            return await jobs.pages_for_campaigns(s, ids, o[0], o[1])

        async def job_counts(
            s: AsyncSession, ids: list[uuid.UUID], o: tuple[JobFilter]
        ) -> dict[uuid.UUID, int]:
            return await jobs.counts_for_campaigns(s, ids, o[0])

        async def client_stats(
            s: AsyncSession, ids: list[uuid.UUID], _: tuple[()]
        ) -> dict[uuid.UUID, stats.ClientStats]:
            return await stats.client_stats(s, ids)

        async def campaign_stats(
            s: AsyncSession, ids: list[uuid.UUID], _: tuple[()]
        ) -> dict[uuid.UUID, stats.CampaignStats]:
            return await stats.campaign_stats(s, ids)

        async def sub_jobs(
            s: AsyncSession, ids: list[uuid.UUID], _: tuple[()]
        ) -> dict[uuid.UUID, list[SubJob]]:
            return await jobs.sub_jobs_for_jobs(s, ids)

        async def job_events(
            s: AsyncSession, ids: list[uuid.UUID], o: tuple[int, int]
        ) -> dict[uuid.UUID, list[JobEvent]]:
            return await events.events_for_jobs(s, ids, o[0], o[1])

        self.campaign_page: DataLoader[
            tuple[uuid.UUID, CampaignStatus | None, PageArgs, frozenset[str] | None, bool],
            Page[CampaignRow],
        ] = _grouped(factory, _split, campaign_pages)
        self.campaign_count: DataLoader[tuple[uuid.UUID, CampaignStatus | None], int] = _grouped(
            factory, _split, campaign_counts
        )
        self.asset_page: DataLoader[
            tuple[uuid.UUID, AssetFilter, PageArgs, frozenset[str] | None], Page[AssetRow]
        ] = _grouped(factory, _split, asset_pages)
        self.asset_count: DataLoader[tuple[uuid.UUID, AssetFilter], int] = _grouped(
            factory, _split, asset_counts
        )
        self.job_page: DataLoader[tuple[uuid.UUID, JobFilter, PageArgs], Page[JobRow]] = _grouped(
            factory, _split, job_pages
        )
        self.job_count: DataLoader[tuple[uuid.UUID, JobFilter], int] = _grouped(
            factory, _split, job_counts
        )
        self.client_stats: DataLoader[tuple[uuid.UUID], stats.ClientStats] = _grouped(
            factory, _split, client_stats
        )
        self.campaign_stats: DataLoader[tuple[uuid.UUID], stats.CampaignStats] = _grouped(
            factory, _split, campaign_stats
        )
        self.sub_jobs: DataLoader[tuple[uuid.UUID], list[SubJob]] = _grouped(
            factory, _split, sub_jobs
        )
        self.asset_results: DataLoader[tuple[uuid.UUID, metrics.Period | None], metrics.Results] = (
            _grouped(factory, _split, lambda s, ids, o: metrics.results_for_assets(s, ids, o[0]))
        )
        self.asset_metrics: DataLoader[
            tuple[uuid.UUID, metrics.Period | None], list[VideoMetric]
        ] = _grouped(factory, _split, lambda s, ids, o: metrics.metrics_for_assets(s, ids, o[0]))
        self.campaign_results: DataLoader[
            tuple[uuid.UUID, metrics.Period | None], tuple[int, int, int]
        ] = _grouped(factory, _split, lambda s, ids, o: metrics.sums_for_campaigns(s, ids, o[0]))
        self.client_results: DataLoader[
            tuple[uuid.UUID, metrics.Period | None], tuple[int, int, int]
        ] = _grouped(factory, _split, lambda s, ids, o: metrics.sums_for_clients(s, ids, o[0]))
        self.job_events: DataLoader[tuple[uuid.UUID, int, int], list[JobEvent]] = _grouped(
            factory, _split, job_events
        )
        self.renditions: DataLoader[tuple[uuid.UUID], list[AssetRow]] = _grouped(
            factory, _split, lambda s, ids, _: assets.renditions_of(s, ids)
        )
        self.brief: DataLoader[uuid.UUID, Brief | None] = _by_id(factory, briefs.load_briefs)
        self.storyboard: DataLoader[uuid.UUID, Storyboard | None] = _by_id(
            factory, storyboards.load_storyboards
        )
        self.scene: DataLoader[uuid.UUID, Scene | None] = _by_id(factory, storyboards.load_scenes)
        self.brief_page: DataLoader[tuple[uuid.UUID, PageArgs], Page[Brief]] = _grouped(
            factory, _split, lambda s, ids, o: briefs.pages_for_campaigns(s, ids, o[0])
        )
        self.brief_count: DataLoader[tuple[uuid.UUID], int] = _grouped(
            factory, _split, lambda s, ids, _: briefs.counts_for_campaigns(s, ids)
        )
        self.storyboard_page: DataLoader[tuple[uuid.UUID, PageArgs], Page[Storyboard]] = _grouped(
            factory, _split, lambda s, ids, o: storyboards.pages_for_briefs(s, ids, o[0])
        )
        self.storyboard_count: DataLoader[tuple[uuid.UUID], int] = _grouped(
            factory, _split, lambda s, ids, _: storyboards.counts_for_briefs(s, ids)
        )
        self.scenes: DataLoader[tuple[uuid.UUID], list[Scene]] = _grouped(
            factory, _split, lambda s, ids, _: storyboards.scenes_for_storyboards(s, ids)
        )
        self.storyboard_versions: DataLoader[tuple[uuid.UUID], list[StoryboardVersion]] = _grouped(
            factory,
            _split,
            lambda s, ids, _: storyboards.versions_for_storyboards(s, ids),
        )
