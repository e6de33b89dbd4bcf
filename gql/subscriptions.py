"""Live progress over WebSocket (graphql-transport-ws and the legacy graphql-ws).

The resolvers check access before the stream exists, so a key that cannot see the
job or campaign gets an `error` (NOT_FOUND), never events; the feeds do the rest.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing

import strawberry

from gql import ids
from gql.context import Info
from gql.live.cohort import DirectDelivery
from gql.live.cursor import CampaignCursor, Cursor, JobCursor
from gql.live.feeds import Live, Source, campaign_feed, job_feed
from gql.live.inbox import Inbox
from gql.live.lanes import Member
from gql.live.live_event import LiveEvent
from gql.types.events import JobEvent
from services.campaigns import get_campaign
from services.jobs import get_job


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Every event of a job (sub-jobs included) after `afterSeq`, in `seq` "
        "order and each once; completes after the job succeeds, fails or is canceled. "
        "Resume after a disconnect with the last `seq` received."
    )
    async def job_progress(
        self, info: Info, job_id: strawberry.ID, after_seq: int | None = 0
    ) -> AsyncGenerator[JobEvent, None]:
        live = info.context.require_live()
        viewer = info.context.require_viewer()
        job_uuid = ids.decode(job_id, "Job", "jobId")
        async with live.factory() as session:
            job = await get_job(session, viewer, job_uuid, field="jobId")
        direct = DirectDelivery.for_operation(info, live.eta)
        cursor = JobCursor(last=max(after_seq or 0, 0))
        feed = job_feed(live, job.id, job.campaign_id, cursor, _source(live, direct, cursor))
        return _deliver(live, direct, feed)

    @strawberry.subscription(
        description="Every event of every job of a campaign from now on, each (jobId, seq) once."
    )
    async def campaign_activity(
        self, info: Info, campaign_id: strawberry.ID
    ) -> AsyncGenerator[JobEvent, None]:
        live = info.context.require_live()
        viewer = info.context.require_viewer()
        campaign_uuid = ids.decode(campaign_id, "Campaign", "campaignId")
        async with live.factory() as session:
            campaign = await get_campaign(session, viewer, campaign_uuid, field="campaignId")
        direct = DirectDelivery.for_operation(info, live.eta)
        cursor = CampaignCursor()
        feed = campaign_feed(live, campaign.id, cursor, _source(live, direct, cursor))
        return _deliver(live, direct, feed)


def _source(live: Live, direct: DirectDelivery | None, cursor: Cursor) -> Source:
    """Over our WebSocket handlers a subscriber joins its cohort's lane; anywhere else
    (tests, other transports) it listens to the hub and yields every event itself."""
    if direct is None:
        return live.hub.listen
    return lambda channel: live.lanes.join(
        channel, direct.key, direct.render, Member(cursor, Inbox(live.inbox_limit), direct.write)
    )


async def _deliver(
    live: Live, direct: DirectDelivery | None, feed: AsyncGenerator[LiveEvent, None]
) -> AsyncGenerator[JobEvent, None]:
    """What the feed hands over (replays, refills; everything when not direct)."""
    async with aclosing(feed):
        async for event in feed:
            if direct is None:
                yield await event.node(live.eta)
            else:
                await direct.send(event)
