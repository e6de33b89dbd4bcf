"""Briefs: typed by a person, or read from free text by the writer; refined a bounded
number of times with feedback; listed per campaign, newest first."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Asset, AssetKind, Brief
from services.campaigns import get_campaign
from services.creative.parts import (
    CONFIDENCE_PARTS,
    MAX_TEXT,
    BriefParts,
    ParsedBrief,
    check_parts,
    clean_text,
)
from services.errors import Conflict, InvalidInput, NotFound
from services.pagination import (
    NO_FILTER,
    Columns,
    Page,
    PageArgs,
    count_by_parent,
    fetch_pages_by_parent,
)
from services.viewer import Viewer

MAX_REFINEMENTS = 5
MAX_BRIEF_TEXT = 20_000
BRIEF_COLUMNS: Columns[Brief] = Columns(Brief)


async def get_brief(
    session: AsyncSession, viewer: Viewer, brief_id: uuid.UUID, field: str = "briefId"
) -> Brief:
    brief = await session.get(Brief, brief_id)
    if brief is None or not viewer.can_access(brief.client_id):
        raise NotFound("no such brief", field=field)
    return brief


async def _check_references(
    session: AsyncSession, client_id: uuid.UUID, parts: BriefParts, field: str
) -> None:
    for asset_id in parts.reference_asset_ids:
        asset = await session.get(Asset, asset_id)
        if asset is None or asset.client_id != client_id:
            raise NotFound("no such asset", field=field)
        if asset.kind is not AssetKind.IMAGE:
            raise InvalidInput("reference assets are images", field=field)


async def create_brief(
    session: AsyncSession,
    viewer: Viewer,
    campaign_id: uuid.UUID,
    parts: BriefParts,
    *,
    auto_approve: bool = False,
) -> Brief:
    """A brief a person typed: every part they gave is certain."""
    campaign = await get_campaign(session, viewer, campaign_id, field="campaignId")
    parts = check_parts(parts)
    await _check_references(session, campaign.client_id, parts, "referenceAssetIds")
    given = {p: 1.0 if _is_set(parts, p) else 0.0 for p in CONFIDENCE_PARTS}
    return await _store(session, campaign.client_id, campaign.id, ParsedBrief(parts, given),
                        reader="person", source_text=None, auto_approve=auto_approve)  # fmt: skip


def _is_set(parts: BriefParts, name: str) -> bool:
    return bool(getattr(parts, name))


def check_text(text: str, field: str, limit: int = MAX_BRIEF_TEXT) -> str:
    cleaned = clean_text(text, field, limit)
    if cleaned is None:
        raise InvalidInput("say something", field=field)
    return cleaned


async def check_campaign(
    session: AsyncSession, viewer: Viewer, campaign_id: uuid.UUID, text: str
) -> str:
    """Before the writer reads `text` for this campaign: the text, cleaned."""
    cleaned = check_text(text, "text")
    await get_campaign(session, viewer, campaign_id, field="campaignId")
    return cleaned


async def store_parsed(
    session: AsyncSession,
    viewer: Viewer,
    campaign_id: uuid.UUID,
    text: str,
    parsed: ParsedBrief,
    *,
    reader: str,
    auto_approve: bool = False,
) -> Brief:
    """A brief the writer read from free text, each part with its confidence."""
    campaign = await get_campaign(session, viewer, campaign_id, field="campaignId")
    parts = _checked_reading(parsed.parts, "text")
    return await _store(
        session, campaign.client_id, campaign.id, ParsedBrief(parts, parsed.confidence),
        reader=reader, source_text=text, auto_approve=auto_approve,
    )  # fmt: skip


def _checked_reading(parts: BriefParts, field: str) -> BriefParts:
    """Parts the writer read from `field`: a part it read that cannot be used is that
    field's fault (the text asks for a length no model makes, say)."""
    try:
        return check_parts(parts)
    except InvalidInput as exc:
        raise InvalidInput(f"the brief's {exc.field}: {exc.message}", field=field) from exc


def _check_refinable(brief: Brief) -> None:
    done = len(brief.refinements)
    if done >= MAX_REFINEMENTS:
        raise Conflict(
            f"this brief has been refined {done} times, the most it may be; "
            "create a new brief from it instead",
            field="briefId",
        )


async def brief_to_refine(
    session: AsyncSession, viewer: Viewer, brief_id: uuid.UUID, feedback: str
) -> tuple[BriefParts, str]:
    """Before the writer refines the brief: its parts and the feedback, cleaned."""
    feedback = check_text(feedback, "feedback", MAX_TEXT)
    brief = await get_brief(session, viewer, brief_id)
    _check_refinable(brief)
    return BriefParts.from_json(brief.parts), feedback


async def store_refined(
    session: AsyncSession,
    viewer: Viewer,
    brief_id: uuid.UUID,
    feedback: str,
    parsed: ParsedBrief,
    *,
    reader: str,
) -> Brief:
    brief = await get_brief(session, viewer, brief_id)
    # the count is checked again under the row's write: two refinements sent together
    await session.execute(update(Brief).where(Brief.id == brief.id).values(reader=Brief.reader))
    await session.refresh(brief)
    _check_refinable(brief)
    parts = _checked_reading(parsed.parts, "feedback")
    brief.parts = parts.to_json()
    brief.confidence = _confidence(parsed.confidence)
    brief.refinements = [*brief.refinements, {"feedback": feedback, "by": reader}]
    await session.flush()
    return brief


def _confidence(found: dict[str, float]) -> dict[str, float]:
    return {p: round(min(1.0, max(0.0, float(found.get(p, 0.0)))), 3) for p in CONFIDENCE_PARTS}


async def _store(
    session: AsyncSession,
    client_id: uuid.UUID,
    campaign_id: uuid.UUID,
    parsed: ParsedBrief,
    *,
    reader: str,
    source_text: str | None,
    auto_approve: bool,
) -> Brief:
    brief = Brief(
        campaign_id=campaign_id,
        client_id=client_id,
        parts=parsed.parts.to_json(),
        confidence=_confidence(parsed.confidence),
        source_text=source_text,
        reader=reader,
        refinements=[],
        auto_approve=auto_approve,
    )
    session.add(brief)
    await session.flush()
    return brief


async def pages_for_campaigns(
    session: AsyncSession, campaign_ids: Sequence[uuid.UUID], args: PageArgs
) -> dict[uuid.UUID, Page[Brief]]:
    return await fetch_pages_by_parent(
        session, BRIEF_COLUMNS, Brief.campaign_id, campaign_ids, NO_FILTER, args
    )


async def counts_for_campaigns(
    session: AsyncSession, campaign_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    return await count_by_parent(session, Brief.campaign_id, campaign_ids, [])


async def load_briefs(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[Brief]:
    return await BRIEF_COLUMNS.where(session, Brief.id.in_(ids))
