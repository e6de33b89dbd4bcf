"""A webhook for a prediction no sub-job knows: its URL names the sub-job and attempt
it was created for (`webhook_urls`), because the create's answer never arrived (the
worker died in the call, or the connection dropped after the POST). Its id is stored,
so that it is followed and not paid for again."""

from __future__ import annotations

import logging

from db.base import utcnow
from db.models import SubJob
from services.generation.completion import cancel_after_commit
from services.generation.deps import Core
from services.generation.running import schedule_poll
from services.generation.state import CREATING, RUNNABLE, lock_sub_job
from services.generation.webhook_urls import Named
from services.providers.base import Prediction

log = logging.getLogger(__name__)


async def adopt_prediction(core: Core, named: Named, prediction: Prediction) -> SubJob | None:
    """The sub-job that now follows `prediction`, or None. A running prediction the
    sub-job no longer wants (it ended, or has another) is canceled."""
    async with core.transaction() as session:
        found = await lock_sub_job(session, named.sub_id)
        if found is None:
            return None
        job, sub = found
        if sub.prediction_id == prediction.id:
            return sub  # its create's answer came after all (since the caller looked)
        wanted = (
            sub.status in CREATING
            and job.status in RUNNABLE
            and named.attempt == sub.attempts  # not an earlier attempt's late news
        )
        if wanted and not sub.prediction_id:
            # Often just a race (the delivery beat the create's answer); after a lost
            # answer, what keeps the prediction from being paid twice.
            log.info("sub-job %s: prediction %s taken from its webhook", sub.id, prediction.id)
            sub.prediction_id = prediction.id
            sub.updated_at = utcnow()
            schedule_poll(session, core, sub, 0)  # the safety net, as after a create
            return sub
        if not prediction.status.terminal:
            cancel_after_commit(session, core, job, sub.provider, prediction.id)
    return None
