"""A progress-log event as live subscriptions carry it: decoded once per Redis message
(or read from the log), shared by every local subscriber, with its GraphQL object and
its rendered payloads (one per cohort) built at most once."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from db import models
from gql.types.events import JobEvent
from services.eta import EtaEstimator
from services.events import event_payload
from services.live import is_final_event


@dataclass(eq=False, slots=True)
class LiveEvent:
    job_id: uuid.UUID
    seq: int
    final: bool
    payload: dict[str, Any]
    """The JSON shape `services.events.event_payload` publishes."""
    renders: dict[Hashable, str] = field(default_factory=dict)
    _node: asyncio.Future[JobEvent] | None = None

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> LiveEvent:
        return cls(
            job_id=uuid.UUID(payload["jobId"]),
            seq=int(payload["seq"]),
            final=is_final_event(payload["type"], payload["status"]),
            payload=payload,
        )

    @classmethod
    def decode(cls, raw: bytes | str) -> LiveEvent:
        return cls.from_payload(json.loads(raw))

    @classmethod
    def from_row(cls, row: models.JobEvent, campaign_id: uuid.UUID) -> LiveEvent:
        return cls.from_payload(event_payload(row, campaign_id))

    async def node(self, eta: EtaEstimator | None) -> JobEvent:
        """The GraphQL object, ETA included; built once however many subscribers ask."""
        node = self._node
        if node is None:
            event = JobEvent.from_payload(self.payload)
            if eta is None or event.sub_job_uuid is None:
                node = asyncio.get_running_loop().create_future()
                node.set_result(event)
            else:
                node = asyncio.ensure_future(_with_eta(event, eta))
            self._node = node
        if node.done():
            return node.result()
        return await asyncio.shield(node)  # one subscriber leaving must not cancel the others'


async def _with_eta(event: JobEvent, eta: EtaEstimator) -> JobEvent:
    assert event.sub_job_uuid is not None
    event.expected_seconds, event.eta_seconds = await eta.for_event(
        event.sub_job_uuid, event.status, event.created_at, event.progress
    )
    return event
